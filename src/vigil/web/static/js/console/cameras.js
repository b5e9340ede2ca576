// The cameras screen: live status of every camera (refreshed every 2 s while shown), a recent snapshot,
// pause / resume / remove, and the form to add one.
//
// data-testid:
//   screen-title, cameras-summary, cameras-error, camera-table, cameras-empty,
//   camera-row (data-camera-id, data-state, data-enabled), camera-name, camera-url, camera-state,
//   camera-fps-in, camera-fps-processed, camera-faces, camera-dropped, camera-reconnects,
//   camera-last-frame, camera-last-error, camera-snapshot, camera-toggle, camera-remove, camera-error,
//   camera-place, camera-advice (data-verdict: good | marginal | unsuitable | unknown),
//   camera-advice-summary, camera-advice-reasons, camera-advice-stats,
//   camera-form, camera-name-input, camera-url-input, camera-loop-input, camera-maxfps-input,
//   camera-site-input, camera-lat-input, camera-lon-input,
//   camera-reason-input, camera-submit, camera-form-error, camera-form-done
//   (the remove dialog: see dialog.js)

import { allows, api } from "../api.js";
import { busy, errorBox, h, replace, showError, syncRows, timeEl } from "../dom.js";
import { actionDialog } from "./dialog.js";

const REFRESH_MS = 2000;

// The reader's states (shown as the server names them), with what each means.
const STATE_HELP = {
  streaming: "Frames are flowing",
  connecting: "Opening the source, or waiting for its first frame",
  backoff: "The source failed or ended; waiting before the next attempt",
  paused: "Paused by an operator",
  ended: "The file reached its end (not looping)",
  stopped: "Not running",
  failed: "The camera could not be started",
  starting: "Waiting for the camera's first status",
};
const STREAMING = "streaming";

function stateOf(cam) {
  if (!cam.enabled) return "paused";
  return cam.status?.state || "starting";
}

/** Whether the server should have a snapshot of the camera by now: asking too early answers 404, which
 * the browser logs as an error. With `snapshot_at` in the status, that says it; otherwise (snapshots are
 * taken every few seconds from processed frames) wait until the camera has processed frames for ~7 s,
 * judged by its counters or by how long this page has watched it process. */
const SNAPSHOT_AFTER_S = 7;

function snapshotReady(s, watchedSince) {
  if (!s || !s.last_frame_at) return false;
  if ("snapshot_at" in s) return Boolean(s.snapshot_at);
  if (!(s.frames_processed > 0)) return false;
  if (s.fps_processed > 0 && s.frames_processed / s.fps_processed >= SNAPSHOT_AFTER_S) return true;
  return watchedSince !== null && Date.now() - watchedSince >= SNAPSHOT_AFTER_S * 1000;
}

// The suitability advisor's verdicts (GET /cameras/{id}/advice, also in each camera's status).
const VERDICT_LABEL = { good: "Good", marginal: "Marginal", unsuitable: "Unsuitable", unknown: "Not judged yet" };

function adviceStats(st) {
  if (!st) return "";
  const eyes = st.eye_px_p90 === null ? "" : `${Math.round(st.eye_px_p90)} px between the eyes at the nearest · `;
  return `${eyes}${Math.round(st.usable_share * 100)}% embeddable · sharpness ${st.sharpness.toFixed(2)} · ${st.faces} faces`;
}

function placeText(cam) {
  const parts = [];
  if (cam.site) parts.push(cam.site);
  if (typeof cam.latitude === "number" && typeof cam.longitude === "number") {
    parts.push(`${cam.latitude.toFixed(5)}, ${cam.longitude.toFixed(5)}`);
  }
  return parts.join(" · ");
}

function num(value, digits = 1) {
  return typeof value === "number" ? (Number.isInteger(value) && digits === 0 ? String(value) : value.toFixed(digits)) : "—";
}

export function mount(root, ctx) {
  const canOperate = allows(ctx.user, "operator");
  const rows = new Map(); // id -> {row, update(cam)}
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "table cameras-table", "data-testid": "camera-table" },
    h("caption", { class: "visually-hidden" }, "Cameras and their live status"),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Snapshot", "Camera", "State", "Throughput", "Frames", "Faces", canOperate ? "Actions" : null]
          .filter(Boolean)
          .map((label) => h("th", { scope: "col" }, label)),
      ),
    ),
    tbody,
  );
  const tableWrap = h("div", { class: "table-wrap", hidden: true }, table);
  const summary = h("p", { class: "muted small", "data-testid": "cameras-summary" }, "Loading…");
  const loadError = errorBox("cameras-error");
  const empty = h("p", { class: "empty", "data-testid": "cameras-empty", hidden: true }, "No cameras yet.");

  root.append(
    h("div", { class: "screen-head" }, h("h1", { "data-testid": "screen-title" }, "Cameras"), summary),
    loadError,
    tableWrap,
    empty,
    canOperate ? addForm(() => refresh()) : h("p", { class: "muted small" }, "Your role can watch cameras but not change them."),
  );

  function makeRow(cam) {
    const cells = {
      snapshot: h("td", { class: "cell-snapshot", "data-label": "Snapshot" }),
      name: h("strong", { "data-testid": "camera-name" }),
      url: h("code", { class: "cam-url", "data-testid": "camera-url" }),
      tags: h("span", { class: "cam-tags" }),
      lastError: h("p", { class: "cam-error", "data-testid": "camera-last-error", hidden: true }),
      state: h("span", { "data-testid": "camera-state" }),
      fpsIn: h("dd", { "data-testid": "camera-fps-in" }),
      fpsProc: h("dd", { "data-testid": "camera-fps-processed" }),
      faces: h("dd", { "data-testid": "camera-faces" }),
      dropped: h("dd", { "data-testid": "camera-dropped" }),
      reconnects: h("dd", { "data-testid": "camera-reconnects" }),
      lastFrame: h("span", { "data-testid": "camera-last-frame" }),
      place: h("p", { class: "small muted", "data-testid": "camera-place", hidden: true }),
      advice: h("span", { "data-testid": "camera-advice" }),
      adviceSummary: h("p", { class: "small", "data-testid": "camera-advice-summary" }),
      adviceReasons: h("ul", { class: "small advice-reasons", "data-testid": "camera-advice-reasons" }),
      adviceStats: h("p", { class: "small muted", "data-testid": "camera-advice-stats" }),
    };
    const stat = (label, dd) => h("div", null, h("dt", null, label), dd);
    const toggle = h("button", { type: "button", class: "btn btn-small", "data-testid": "camera-toggle" });
    const remove = h("button", { type: "button", class: "btn btn-small btn-danger", "data-testid": "camera-remove" }, "Remove");
    const error = errorBox("camera-error");
    const row = h(
      "tr",
      { "data-testid": "camera-row", dataset: { cameraId: String(cam.id) } },
      cells.snapshot,
      h("td", { class: "cell-camera", "data-label": "Camera" }, h("div", { class: "cam-title" }, cells.name, cells.tags), cells.url, cells.place, cells.lastError),
      h("td", { "data-label": "State" }, h("div", { class: "cam-state-cell" }, cells.state, h("span", { class: "small muted" }, "last frame ", cells.lastFrame))),
      h("td", { "data-label": "Throughput" }, h("dl", { class: "stats" }, stat("fps in", cells.fpsIn), stat("fps processed", cells.fpsProc), stat("faces/s", cells.faces))),
      h("td", { "data-label": "Frames" }, h("dl", { class: "stats" }, stat("dropped", cells.dropped), stat("reconnects", cells.reconnects))),
      h("td", { class: "cell-advice", "data-label": "Faces" }, cells.advice, cells.adviceSummary, cells.adviceReasons, cells.adviceStats),
      canOperate ? h("td", { class: "cell-actions", "data-label": "Actions" }, h("div", { class: "row-actions" }, toggle, remove), error) : null,
    );

    let current = cam;
    let shownFrame = null; // last_frame_at of the snapshot on screen
    let loading = false;
    let img = null;
    let watchedSince = null; // when this page first saw the camera process frames

    function updateSnapshot(c) {
      const processing = c.enabled && c.status?.frames_processed > 0;
      if (!processing) watchedSince = null;
      else if (watchedSince === null) watchedSince = Date.now();
      const ready = processing && (img !== null || snapshotReady(c.status, watchedSince));
      const frameAt = ready ? c.status.last_frame_at : null;
      if (!frameAt) {
        // No frame (yet): a placeholder, but a running camera keeps its last snapshot meanwhile.
        if (!c.enabled || !img) {
          img = null;
          shownFrame = null;
          const text = !c.enabled ? "Paused" : c.status?.last_frame_at ? "Snapshot soon…" : "No frame yet";
          if (cells.snapshot.textContent !== text) cells.snapshot.replaceChildren(h("div", { class: "snap-none" }, text));
        }
        return;
      }
      if (frameAt === shownFrame || loading) return;
      loading = true;
      // Load the next snapshot off-screen and swap it in once decoded: no flicker, no broken image.
      const next = new Image();
      next.alt = `Latest frame from ${c.name}`;
      next.className = "snapshot";
      next.dataset.testid = "camera-snapshot";
      next.decoding = "async";
      next.width = 160;
      next.height = 90;
      next.src = `/cameras/${encodeURIComponent(c.id)}/snapshot.jpg?t=${Date.now()}`;
      next
        .decode()
        .then(() => {
          if (!row.isConnected) return;
          shownFrame = frameAt;
          if (img) img.replaceWith(next);
          else cells.snapshot.replaceChildren(next);
          img = next;
        })
        .catch(() => {
          /* keep the previous snapshot */
        })
        .finally(() => {
          loading = false;
        });
    }

    function update(c) {
      current = c;
      const state = stateOf(c);
      row.dataset.state = state;
      row.dataset.enabled = String(c.enabled);
      cells.name.textContent = c.name;
      cells.url.textContent = c.url;
      cells.url.title = c.url;
      replace(
        cells.tags,
        c.loop ? h("span", { class: "badge" }, "loop") : null,
        c.from_config ? h("span", { class: "badge", title: "Defined in the configuration file" }, "config") : null,
        c.max_fps ? h("span", { class: "badge" }, `max ${c.max_fps} fps`) : null,
      );
      cells.state.className = `badge cam-state cam-state-${state}`;
      cells.state.textContent = state.charAt(0).toUpperCase() + state.slice(1);
      cells.state.title = STATE_HELP[state] || "";
      const s = c.status;
      cells.fpsIn.textContent = s ? num(s.fps_in) : "—";
      cells.fpsProc.textContent = s ? num(s.fps_processed) : "—";
      cells.faces.textContent = s ? num(s.faces_per_s) : "—";
      cells.dropped.textContent = s ? String(s.frames_dropped) : "—";
      cells.reconnects.textContent = s ? String(s.reconnects) : "—";
      const frameAt = s?.last_frame_at;
      const existing = cells.lastFrame.querySelector("time");
      if (!frameAt) replace(cells.lastFrame, "—");
      else if (!existing || existing.getAttribute("datetime") !== frameAt) cells.lastFrame.replaceChildren(timeEl(frameAt));
      const place = placeText(c);
      cells.place.textContent = place ? `At ${place}` : "";
      cells.place.hidden = !place;
      const advice = s?.advice || null;
      const verdict = advice?.verdict || "unknown";
      cells.advice.className = `badge advice advice-${verdict}`;
      cells.advice.dataset.verdict = verdict;
      cells.advice.textContent = VERDICT_LABEL[verdict] || verdict;
      cells.advice.title = "Fit for identification? Judged on the camera's recent faces";
      cells.adviceSummary.textContent = advice ? advice.summary : c.enabled ? "Waiting for the camera's first faces" : "Paused";
      const more = advice ? advice.reasons.filter((r) => r.message !== advice.summary) : [];
      const shown = [...cells.adviceReasons.children].map((li) => li.textContent).join("\n");
      if (shown !== more.map((r) => r.message).join("\n")) {
        cells.adviceReasons.replaceChildren(...more.map((r) => h("li", { dataset: { code: r.code } }, r.message)));
      }
      cells.adviceReasons.hidden = more.length === 0;
      cells.adviceStats.textContent = adviceStats(advice?.stats);
      cells.lastError.textContent = s?.last_error ? `Last error: ${s.last_error}` : "";
      cells.lastError.hidden = !s?.last_error;
      if (!toggle.hasAttribute("aria-busy")) {
        toggle.textContent = c.enabled ? "Pause" : "Resume";
        toggle.dataset.action = c.enabled ? "pause" : "resume";
      }
      toggle.setAttribute("aria-label", `${c.enabled ? "Pause" : "Resume"} ${c.name}`);
      remove.setAttribute("aria-label", `Remove ${c.name}`);
      updateSnapshot(c);
    }

    toggle.addEventListener("click", () => {
      showError(error, null);
      busy([toggle, remove], async () => {
        try {
          const changed = await api("PATCH", `/cameras/${encodeURIComponent(current.id)}`, { enabled: !current.enabled, reason: "" });
          toggle.removeAttribute("aria-busy");
          update(changed);
          ctx.announce(`${changed.name} ${changed.enabled ? "resumed" : "paused"}`);
        } catch (e) {
          showError(error, e);
        }
      });
    });

    remove.addEventListener("click", async () => {
      showError(error, null);
      const done = await actionDialog({
        title: `Remove camera “${current.name}”?`,
        message: "It stops at once. Its past events stay in the history.",
        confirmLabel: "Remove camera",
        run: (reason) => api("DELETE", `/cameras/${encodeURIComponent(current.id)}?reason=${encodeURIComponent(reason)}`),
      });
      if (done) {
        rows.delete(current.id);
        row.remove();
        ctx.announce(`${current.name} removed`);
        paintSummary();
        refresh();
      } else {
        remove.focus();
      }
    });

    update(cam);
    return { row, update };
  }

  let cameras = [];
  function paintSummary() {
    const running = cameras.filter((c) => c.enabled && c.status?.state === STREAMING).length;
    summary.textContent = `${cameras.length} camera${cameras.length === 1 ? "" : "s"} · ${running} streaming · refreshed every 2 s`;
    empty.hidden = cameras.length > 0;
    tableWrap.hidden = cameras.length === 0;
  }

  let inFlight = false;
  let stopped = false;
  async function refresh() {
    if (inFlight || stopped) return;
    inFlight = true;
    try {
      cameras = await api("GET", "/cameras");
      if (stopped) return;
      showError(loadError, null);
      syncRows(tbody, rows, cameras, makeRow);
      paintSummary();
    } catch (e) {
      if (!stopped) showError(loadError, e);
    } finally {
      inFlight = false;
    }
  }

  refresh();
  const timer = setInterval(() => {
    if (!document.hidden) refresh();
  }, REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

function addForm(onAdded) {
  const name = h("input", { id: "cam-name", name: "name", type: "text", required: true, maxlength: "64", autocomplete: "off", "data-testid": "camera-name-input" });
  const url = h("input", {
    id: "cam-url",
    name: "url",
    type: "text",
    required: true,
    maxlength: "2048",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "rtsp://host/stream or /path/to/video.mp4",
    "aria-describedby": "cam-url-hint",
    "data-testid": "camera-url-input",
  });
  const loop = h("input", { id: "cam-loop", name: "loop", type: "checkbox", "data-testid": "camera-loop-input" });
  const maxFps = h("input", { id: "cam-maxfps", name: "max_fps", type: "number", min: "0.1", max: "120", step: "0.1", inputmode: "decimal", "data-testid": "camera-maxfps-input" });
  const reason = h("input", { id: "cam-reason", name: "reason", type: "text", maxlength: "1000", autocomplete: "off", "data-testid": "camera-reason-input" });
  const site = h("input", { id: "cam-site", name: "site", type: "text", maxlength: "64", autocomplete: "off", "data-testid": "camera-site-input" });
  const lat = h("input", { id: "cam-lat", name: "latitude", type: "number", min: "-90", max: "90", step: "any", inputmode: "decimal", "data-testid": "camera-lat-input" });
  const lon = h("input", { id: "cam-lon", name: "longitude", type: "number", min: "-180", max: "180", step: "any", inputmode: "decimal", "data-testid": "camera-lon-input" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "camera-submit" }, "Add camera");
  const error = errorBox("camera-form-error");
  const done = h("p", { class: "notice", role: "status", hidden: true, "data-testid": "camera-form-done" });
  const form = h(
    "form",
    { class: "form form-grid", "data-testid": "camera-form", "aria-labelledby": "cam-form-title" },
    h("div", { class: "field" }, h("label", { for: "cam-name" }, "Name"), name),
    h(
      "div",
      { class: "field span-2" },
      h("label", { for: "cam-url" }, "Stream URL or absolute file path"),
      url,
      h("span", { id: "cam-url-hint", class: "hint" }, "rtsp(s)://, http(s)://, webcam:N, or a video file on the server such as /data/clip.mp4"),
    ),
    h("div", { class: "field" }, h("label", { for: "cam-maxfps" }, "Max FPS ", h("span", { class: "muted" }, "(optional)")), maxFps),
    h("div", { class: "field" }, h("label", { for: "cam-site" }, "Site ", h("span", { class: "muted" }, "(optional)")), site),
    h("div", { class: "field" }, h("label", { for: "cam-lat" }, "Latitude ", h("span", { class: "muted" }, "(optional, degrees)")), lat),
    h("div", { class: "field" }, h("label", { for: "cam-lon" }, "Longitude ", h("span", { class: "muted" }, "(optional, degrees)")), lon),
    h("div", { class: "field span-2" }, h("label", { for: "cam-reason" }, "Reason ", h("span", { class: "muted" }, "(audit log)")), reason),
    h("div", { class: "field field-check" }, h("label", { class: "check", for: "cam-loop" }, loop, "Loop the file (start again at its end)")),
    h("div", { class: "form-actions span-all" }, submit),
    h("div", { class: "span-all" }, error, done),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showError(error, null);
    done.hidden = true;
    busy(submit, async () => {
      try {
        const body = { name: name.value.trim(), url: url.value.trim(), loop: loop.checked, reason: reason.value.trim() };
        if (maxFps.value) body.max_fps = Number(maxFps.value);
        if (site.value.trim()) body.site = site.value.trim();
        if (lat.value) body.latitude = Number(lat.value);
        if (lon.value) body.longitude = Number(lon.value);
        const cam = await api("POST", "/cameras", body);
        form.reset();
        done.textContent = `Added “${cam.name}”.`;
        done.hidden = false;
        onAdded();
        name.focus();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return h("section", { class: "panel" }, h("h2", { id: "cam-form-title" }, "Add a camera"), form);
}

