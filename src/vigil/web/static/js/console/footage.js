// The footage screen (`#/footage`): upload recorded video to be processed into the archive under a
// virtual camera (operators and admins), and follow the processing jobs (everyone; refreshed every 2 s
// while shown), with a cancel button for queued and running jobs.
//
// data-testid:
//   screen-title, footage-form, footage-video, footage-camera, footage-start, footage-reason,
//   footage-submit, footage-upload-progress, footage-error, footage-done, footage-jobs-error,
//   footage-table, footage-empty, footage-job (data-job-id, data-status), footage-status,
//   footage-progress, footage-found, footage-job-error, footage-cancel, footage-cancel-error
//   (the cancel dialog: see dialog.js)

import { allows, api, query, upload } from "../api.js";
import { absolute, errorBox, h, localIso, replace, showError, syncRows, timeEl } from "../dom.js";
import { actionDialog } from "./dialog.js";

const REFRESH_MS = 2000;
const ACTIVE = new Set(["queued", "running"]);
const STATUS_LABEL = { queued: "Queued", running: "Running", done: "Done", failed: "Failed", cancelled: "Cancelled" };

export function mount(root, ctx) {
  const canUpload = allows(ctx.user, "operator");
  const rows = new Map(); // id -> {row, update(job)}
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "table footage-table", "data-testid": "footage-table" },
    h("caption", { class: "visually-hidden" }, "Footage jobs, newest first"),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Video", "Status", "Found", "Uploaded", canUpload ? "Actions" : null].filter(Boolean).map((label) => h("th", { scope: "col" }, label)),
      ),
    ),
    tbody,
  );
  const tableWrap = h("div", { class: "table-wrap", hidden: true }, table);
  const loadError = errorBox("footage-jobs-error");
  const empty = h("p", { class: "empty", hidden: true, "data-testid": "footage-empty" }, "No footage has been uploaded yet.");

  root.append(
    h("div", { class: "screen-head" }, h("h1", { "data-testid": "screen-title" }, "Footage")),
    canUpload ? uploadForm(ctx, () => refresh()) : h("p", { class: "muted small" }, "Your role can follow footage jobs but not upload or cancel them."),
    h(
      "section",
      { class: "stack", "aria-labelledby": "fo-jobs-title" },
      h("h2", { id: "fo-jobs-title" }, "Jobs ", h("span", { class: "muted small" }, "· refreshed every 2 s")),
      loadError,
      tableWrap,
      empty,
    ),
  );

  function makeRow(job) {
    const cells = {
      camera: h("strong"),
      file: h("span", { class: "small muted block file-name" }),
      filmed: h("span", { class: "small muted block" }),
      status: h("span", { "data-testid": "footage-status" }),
      progress: h("progress", { max: "1", "data-testid": "footage-progress" }),
      progressText: h("span", { class: "small muted" }),
      jobError: h("p", { class: "cam-error", "data-testid": "footage-job-error", hidden: true }),
      found: h("span", { "data-testid": "footage-found" }),
      created: h("span"),
      by: h("span", { class: "small muted block" }),
    };
    const progressWrap = h("div", { class: "job-progress" }, cells.progress, cells.progressText);
    const cancel = h("button", { type: "button", class: "btn btn-small btn-danger", "data-testid": "footage-cancel" }, "Cancel");
    const cancelError = errorBox("footage-cancel-error");
    const actions = h("td", { class: "cell-actions", "data-label": "Actions" }, h("div", { class: "row-actions" }, cancel), cancelError);
    const row = h(
      "tr",
      { "data-testid": "footage-job", dataset: { jobId: String(job.id) } },
      h("td", { class: "cell-camera", "data-label": "Video" }, cells.camera, cells.file, cells.filmed),
      h("td", { "data-label": "Status" }, h("div", { class: "cam-state-cell" }, cells.status, progressWrap, cells.jobError)),
      h("td", { "data-label": "Found" }, cells.found),
      h("td", { "data-label": "Uploaded" }, h("span", null, cells.created, cells.by)),
      canUpload ? actions : null,
    );
    let current = job;
    let cancelling = false;

    function update(j) {
      current = j;
      row.dataset.jobId = String(j.id);
      row.dataset.status = j.status;
      cells.camera.textContent = j.camera;
      cells.file.textContent = j.filename;
      cells.file.title = j.filename;
      cells.filmed.textContent = j.start_at ? `filmed ${absolute(j.start_at)}` : "";
      cells.status.className = `badge job-status job-status-${j.status}`;
      cells.status.textContent = (STATUS_LABEL[j.status] || j.status) + (j.cancel_requested && ACTIVE.has(j.status) ? " · cancelling…" : "");
      const running = j.status === "running";
      progressWrap.hidden = !running;
      if (running) {
        if (typeof j.progress === "number") {
          cells.progress.value = j.progress;
          cells.progressText.textContent = `${Math.round(j.progress * 100)} % · ${j.frames_done}${j.frames_total ? ` / ${j.frames_total}` : ""} frames`;
        } else {
          cells.progress.removeAttribute("value"); // indeterminate
          cells.progressText.textContent = `${j.frames_done} frames`;
        }
        cells.progress.setAttribute("aria-label", `Progress of ${j.filename}`);
      }
      cells.jobError.textContent = j.error || "";
      cells.jobError.hidden = !j.error;
      if (j.status === "done" || j.status === "cancelled" || j.status === "running") {
        const t = j.tracks ?? 0;
        const a = j.alerts ?? 0;
        cells.found.textContent = `${t} face track${t === 1 ? "" : "s"} · ${a} alert${a === 1 ? "" : "s"}`;
      } else {
        cells.found.textContent = "—";
      }
      const createdTime = cells.created.querySelector("time");
      if (!createdTime || createdTime.getAttribute("datetime") !== j.created_at) replace(cells.created, timeEl(j.created_at));
      cells.by.textContent = j.created_by ? `by ${j.created_by}` : "";
      const canCancel = ACTIVE.has(j.status) && !j.cancel_requested;
      if (!cancelling) cancel.hidden = !canCancel;
      actions.classList.toggle("cell-idle", cancel.hidden && cancelError.hidden);
      cancel.setAttribute("aria-label", `Cancel processing ${j.filename}`);
    }

    cancel.addEventListener("click", async () => {
      showError(cancelError, null);
      cancelling = true;
      actions.classList.remove("cell-idle");
      const done = await actionDialog({
        title: `Stop processing “${current.filename}”?`,
        message: "What was processed so far stays in the archive.",
        confirmLabel: "Cancel job",
        run: (reason) => api("POST", `/footage/jobs/${encodeURIComponent(current.id)}/cancel${query({ reason })}`),
      });
      cancelling = false;
      if (done && typeof done === "object") {
        update(done);
        ctx.announce(`Cancelling ${current.filename}`);
        refresh();
        root.querySelector("#fo-jobs-title")?.setAttribute("tabindex", "-1");
        root.querySelector("#fo-jobs-title")?.focus();
      } else if (row.isConnected && !cancel.hidden) {
        cancel.focus();
      }
    });

    update(job);
    return { row, update };
  }

  let stopped = false;
  let inFlight = false;
  async function refresh() {
    if (inFlight || stopped) return;
    inFlight = true;
    try {
      const jobs = await api("GET", "/footage/jobs");
      if (stopped) return;
      showError(loadError, null);
      syncRows(tbody, rows, jobs, makeRow);
      empty.hidden = jobs.length > 0;
      tableWrap.hidden = jobs.length === 0;
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

function uploadForm(ctx, onQueued) {
  const video = h("input", { id: "fo-video", name: "video", type: "file", accept: "video/*", required: true, "data-testid": "footage-video" });
  const camera = h("input", {
    id: "fo-camera",
    name: "camera",
    type: "text",
    required: true,
    minlength: "1",
    maxlength: "64",
    autocomplete: "off",
    "aria-describedby": "fo-camera-hint",
    "data-testid": "footage-camera",
  });
  const start = h("input", { id: "fo-start", name: "start", type: "datetime-local", step: "1", "aria-describedby": "fo-start-hint", "data-testid": "footage-start" });
  const reason = h("input", { id: "fo-reason", name: "reason", type: "text", required: true, maxlength: "500", autocomplete: "off", "aria-describedby": "fo-reason-hint", "data-testid": "footage-reason" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "footage-submit" }, "Upload");
  const bar = h("progress", { max: "1", value: "0", "aria-label": "Upload progress" });
  const barText = h("span", { class: "small muted" });
  const progress = h("div", { class: "job-progress", hidden: true, "data-testid": "footage-upload-progress" }, bar, barText);
  const error = errorBox("footage-error");
  const done = h("p", { class: "notice", role: "status", hidden: true, "data-testid": "footage-done" });
  const form = h(
    "form",
    { class: "form form-grid", "data-testid": "footage-form", "aria-labelledby": "fo-form-title", enctype: "multipart/form-data" },
    h("div", { class: "field span-2" }, h("label", { for: "fo-video" }, "Video file"), video),
    h(
      "div",
      { class: "field" },
      h("label", { for: "fo-camera" }, "Camera name"),
      camera,
      h("span", { id: "fo-camera-hint", class: "hint" }, "The virtual camera its sightings are filed under"),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "fo-start" }, "Filmed at ", h("span", { class: "muted" }, "(optional)")),
      start,
      h("span", { id: "fo-start-hint", class: "hint" }, "Blank: taken from the file"),
    ),
    h(
      "div",
      { class: "field span-2" },
      h("label", { for: "fo-reason" }, "Reason"),
      reason,
      h("span", { id: "fo-reason-hint", class: "hint" }, "Case reference; kept in the audit log"),
    ),
    h("div", { class: "form-actions span-all" }, submit, progress),
    h("div", { class: "span-all" }, error, done),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, null);
    done.hidden = true;
    const file = video.files[0];
    if (!file) {
      showError(error, new Error("Choose a video file."));
      video.focus();
      return;
    }
    const data = new FormData();
    data.set("video", file, file.name);
    data.set("camera", camera.value.trim());
    data.set("reason", reason.value.trim());
    const startIso = localIso(start.value);
    if (startIso) data.set("start", startIso);
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    bar.value = 0;
    barText.textContent = "Uploading…";
    progress.hidden = false;
    try {
      const job = await upload("/footage", data, (fraction) => {
        if (fraction === null) {
          bar.removeAttribute("value");
          barText.textContent = "Uploading…";
        } else {
          bar.value = fraction;
          barText.textContent = fraction >= 1 ? "Uploaded; queuing…" : `Uploading… ${Math.round(fraction * 100)} %`;
        }
      });
      form.reset();
      done.textContent = `Queued “${job.filename}” as job #${job.id} on camera “${job.camera}”.`;
      done.hidden = false;
      ctx.announce(`Footage queued as job ${job.id}`);
      onQueued();
    } catch (e) {
      showError(error, e);
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
      progress.hidden = true;
    }
  });
  return h("section", { class: "panel" }, h("h2", { id: "fo-form-title" }, "Upload footage"), form);
}
