// The search screen (`#/search`): a photo of someone → the enrolled people they resemble and the past
// sightings in the archive. Operators and admins; every search needs a reason and is audited. When the
// photo shows several faces the server asks which one (`choose_face` with `faces`): the photo is shown with a
// numbered box over each face and a button per face.
//
// data-testid:
//   screen-title, search-form, search-photo, search-reason, search-since, search-until, search-cameras,
//   search-lists, search-min-score, search-k, search-submit, search-error, search-results,
//   search-audit, search-faces (the chooser), search-face-box (data-face),
//   search-face-choice (data-face: the server's face index, 0 = largest), search-lists-empty,
//   search-list-hit (data-person-id), search-archive-empty, search-archive-hit (data-event-id)

import { allows, api } from "../api.js";
import { listChip } from "../alerts.js";
import { absolute, busy, errorBox, fixed, h, localIso, replace, showError, timeEl } from "../dom.js";

const K_DEFAULT = 20;
const K_MAX = 200;

export function mount(root, ctx) {
  root.append(h("div", { class: "screen-head" }, h("h1", { "data-testid": "screen-title" }, "Search")));
  if (!allows(ctx.user, "operator")) {
    root.append(
      h("p", { class: "notice", role: "note", "data-testid": "search-denied" }, `Searching by photo needs the operator role; you are ${ctx.user.role}.`),
    );
    return () => {};
  }

  const field = (id, label, control, { hint = null, cls = null, optional = false } = {}) =>
    h(
      "div",
      { class: ["field", cls] },
      h("label", { for: id }, label, optional ? h("span", { class: "muted" }, " (optional)") : null),
      control,
      hint ? h("span", { id: `${id}-hint`, class: "hint" }, hint) : null,
    );
  const photo = h("input", { id: "se-photo", name: "photo", type: "file", accept: "image/*", required: true, "data-testid": "search-photo" });
  const reason = h("input", {
    id: "se-reason",
    name: "reason",
    type: "text",
    required: true,
    maxlength: "500",
    autocomplete: "off",
    "aria-describedby": "se-reason-hint",
    "data-testid": "search-reason",
  });
  const since = h("input", { id: "se-since", name: "since", type: "datetime-local", step: "1", "data-testid": "search-since" });
  const until = h("input", { id: "se-until", name: "until", type: "datetime-local", step: "1", "data-testid": "search-until" });
  const cameras = h("select", { id: "se-cameras", name: "cameras", multiple: true, size: "4", "aria-describedby": "se-cameras-hint", "data-testid": "search-cameras" });
  const lists = h("select", { id: "se-lists", name: "watchlists", multiple: true, size: "4", "aria-describedby": "se-lists-hint", "data-testid": "search-lists" });
  const minScore = h("input", {
    id: "se-min-score",
    name: "min_score",
    type: "number",
    min: "-1",
    max: "1",
    step: "0.01",
    inputmode: "decimal",
    placeholder: "server default",
    "aria-describedby": "se-min-score-hint",
    "data-testid": "search-min-score",
  });
  const k = h("input", { id: "se-k", name: "k", type: "number", min: "1", max: String(K_MAX), step: "1", value: String(K_DEFAULT), required: true, inputmode: "numeric", "aria-describedby": "se-k-hint", "data-testid": "search-k" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "search-submit" }, "Search");
  const error = errorBox("search-error");
  const form = h(
    "form",
    { class: "form form-grid", "data-testid": "search-form", "aria-labelledby": "se-form-title", enctype: "multipart/form-data" },
    field("se-photo", "Photo", photo, { cls: "span-2" }),
    field("se-reason", "Reason", reason, { cls: "span-2", hint: "Case reference; kept in the audit log" }),
    field("se-since", "Seen from", since, { optional: true }),
    field("se-until", "Seen until", until, { optional: true }),
    field("se-cameras", "Cameras", cameras, { hint: "None selected: all cameras" }),
    field("se-lists", "Watchlists", lists, { hint: "None selected: all lists" }),
    field("se-min-score", "Minimum score", minScore, { optional: true, hint: "Cosine similarity, −1 to 1" }),
    field("se-k", "Results of each kind", k, { hint: `1 to ${K_MAX}` }),
    h("div", { class: "form-actions span-all" }, submit),
    h("div", { class: "span-all" }, error),
  );
  const results = h("div", { class: "search-results", "data-testid": "search-results", "aria-live": "polite" });

  root.append(h("section", { class: "panel" }, h("h2", { id: "se-form-title" }, "Search by photo"), form), results);

  let stopped = false;
  const colours = new Map(); // list name -> colour, for the chips
  let objectUrl = null; // the chosen photo, for the face chooser
  const dropUrl = () => {
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = null;
  };
  photo.addEventListener("change", () => {
    dropUrl();
    results.replaceChildren();
    showError(error, null);
  });

  // The choices (a failure leaves the select empty, which means "all").
  (async () => {
    const [cams, wls] = await Promise.all(["/cameras?include_footage=true", "/watchlists"].map((p) => api("GET", p).catch(() => [])));
    if (stopped) return;
    cameras.append(...(Array.isArray(cams) ? cams : []).map((c) => h("option", { value: String(c.id) }, c.name)));
    lists.append(...(Array.isArray(wls) ? wls : []).map((l) => h("option", { value: String(l.id) }, l.name)));
    for (const l of Array.isArray(wls) ? wls : []) colours.set(l.name, l.colour);
    for (const [select, what] of [[cameras, "cameras"], [lists, "watchlists"]]) {
      if (select.options.length === 0) select.append(h("option", { value: "", disabled: true }, `No ${what}`));
    }
  })();

  const selected = (select) =>
    [...select.selectedOptions].map((o) => o.value).filter(Boolean).join(",");

  async function run(face = null, focusAfter = null) {
    const file = photo.files[0];
    showError(error, null);
    if (!file) {
      showError(error, new Error("Choose a photo."));
      photo.focus();
      return;
    }
    if (!reason.value.trim()) {
      showError(error, new Error("Please give a reason (a case reference)."));
      reason.focus();
      return;
    }
    const data = new FormData();
    data.set("photo", file, file.name);
    data.set("reason", reason.value.trim());
    if (face !== null) data.set("face", String(face));
    const from = localIso(since.value);
    const to = localIso(until.value);
    if (from) data.set("since", from);
    if (to) data.set("until", to);
    const cams = selected(cameras);
    const wls = selected(lists);
    if (cams) data.set("cameras", cams);
    if (wls) data.set("watchlists", wls);
    if (minScore.value !== "") data.set("min_score", minScore.value);
    data.set("k", k.value || String(K_DEFAULT));
    const choices = [...results.querySelectorAll("button")];
    results.setAttribute("aria-busy", "true");
    await busy([submit, ...choices], async () => {
      try {
        const answer = await api("POST", "/search", data);
        if (stopped) return;
        if (answer.choose_face) {
          showChooser(file, answer.faces); // several faces: nothing was searched yet
          return;
        }
        showResults(answer);
        ctx.announce(`Search done: ${answer.lists.length} on watchlists, ${answer.archive.length} in the archive`);
        const target = focusAfter === "results" ? results.querySelector("h2") : null;
        if (target) {
          target.setAttribute("tabindex", "-1");
          target.focus();
        }
      } catch (e) {
        if (stopped) return;
        results.replaceChildren();
        showError(error, e);
      }
    });
    results.removeAttribute("aria-busy");
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(null);
  });

  function showChooser(file, faces) {
    if (!objectUrl) objectUrl = URL.createObjectURL(file);
    const frame = h("div", { class: "face-frame" });
    const img = h("img", { src: objectUrl, alt: `The chosen photo, with ${faces.length} faces marked`, class: "face-photo" });
    frame.append(img);
    const buttons = faces.map((f, i) => {
      const n = i + 1;
      const button = h(
        "button",
        { type: "button", class: "btn", "data-testid": "search-face-choice", dataset: { face: String(f.index) } },
        `Search face ${n}`,
      );
      button.addEventListener("click", () => run(f.index, "results"));
      return button;
    });
    const place = () => {
      const w = img.naturalWidth;
      const hh = img.naturalHeight;
      if (!w || !hh) return;
      for (const [i, f] of faces.entries()) {
        const [x0, y0, x1, y1] = f.xyxy;
        const box = h("div", { class: "face-box", "aria-hidden": "true", "data-testid": "search-face-box", dataset: { face: String(f.index) } }, h("span", null, String(i + 1)));
        const clamp = (v) => Math.min(100, Math.max(0, v));
        const left = clamp((x0 / w) * 100);
        const top = clamp((y0 / hh) * 100);
        box.style.setProperty("left", `${left}%`);
        box.style.setProperty("top", `${top}%`);
        box.style.setProperty("width", `${clamp((x1 / w) * 100) - left}%`);
        box.style.setProperty("height", `${clamp((y1 / hh) * 100) - top}%`);
        frame.append(box);
      }
    };
    if (img.complete && img.naturalWidth) place();
    else img.addEventListener("load", place, { once: true });
    replace(
      results,
      h(
        "section",
        { class: "panel face-chooser", "data-testid": "search-faces", "aria-labelledby": "se-faces-title" },
        h("h2", { id: "se-faces-title" }, "Which face?"),
        h("p", null, `The photo shows ${faces.length} faces, numbered largest first. Choose the one to search for.`),
        frame,
        h("div", { class: "row-actions face-choices" }, buttons),
      ),
    );
    buttons[0]?.focus();
  }

  function showResults(answer) {
    const faceNote =
      answer.faces && answer.faces.length > 1
        ? ` Face ${answer.faces.findIndex((f) => f.index === answer.face) + 1} of ${answer.faces.length} in the photo.`
        : "";
    const scoreText = fixed(answer.min_score, 2);
    replace(
      results,
      h(
        "p",
        { class: "notice", role: "status", "data-testid": "search-audit" },
        `Search #${answer.audit_id} recorded in the audit log with your reason.${faceNote}`,
      ),
      h(
        "section",
        { class: "panel", "aria-labelledby": "se-lists-title" },
        h("h2", { id: "se-lists-title" }, "On watchlists ", h("span", { class: "muted small" }, `(${answer.lists.length})`)),
        answer.lists.length
          ? h("ul", { class: "people-grid hit-grid", "aria-label": "People on watchlists who resemble the photo" }, answer.lists.map((hit) => listHit(hit, colours)))
          : h("p", { class: "empty", "data-testid": "search-lists-empty" }, `Nobody on a watchlist resembles this face with a score of at least ${scoreText}.`),
      ),
      h(
        "section",
        { class: "panel", "aria-labelledby": "se-archive-title" },
        h("h2", { id: "se-archive-title" }, "Seen in the archive ", h("span", { class: "muted small" }, `(${answer.archive.length})`)),
        answer.archive.length
          ? h("ul", { class: "hit-list", "aria-label": "Past sightings that resemble the photo, best first" }, answer.archive.map(archiveHit))
          : h("p", { class: "empty", "data-testid": "search-archive-empty" }, `No sighting in the archive resembles this face with a score of at least ${scoreText}.`),
      ),
    );
  }

  return () => {
    stopped = true;
    dropUrl();
  };
}

function picture(url, alt, cls) {
  const none = () => h("div", { class: ["shot-missing", cls] }, "No picture");
  if (!url) return none();
  const img = h("img", { src: url, alt, loading: "lazy", decoding: "async", class: cls, width: "96", height: "96" });
  img.addEventListener("error", () => img.replaceWith(none()), { once: true });
  return img;
}

function listHit(hit, colours) {
  return h(
    "li",
    { class: "card person-card", "data-testid": "search-list-hit", dataset: { personId: String(hit.person_id) } },
    picture(hit.photo_url, `Photo of ${hit.name}`, "photo"),
    h(
      "div",
      { class: "person-info" },
      h("h3", null, hit.name),
      h("p", { class: "hit-score" }, "score ", h("strong", null, fixed(hit.score))),
      h("div", { class: "chips" }, (hit.lists || []).map((name) => listChip(name, colours.get(name)))),
    ),
  );
}

function archiveHit(hit) {
  return h(
    "li",
    { class: "card person-card archive-hit", "data-testid": "search-archive-hit", dataset: { eventId: String(hit.event_id) } },
    picture(hit.image_url, `Face seen on ${hit.camera}`, "photo"),
    h(
      "div",
      { class: "person-info" },
      h("h3", null, hit.camera || `Camera #${hit.camera_id}`),
      h("p", null, h("span", { title: absolute(hit.start_at) }, absolute(hit.start_at)), " · ", timeEl(hit.start_at)),
      h("p", { class: "hit-score" }, "score ", h("strong", null, fixed(hit.score)), h("span", { class: "muted small" }, ` · event #${hit.event_id}`)),
      hit.person
        ? h("p", { class: "identified" }, `identified as ${hit.person}`, hit.watchlist ? ` (${hit.watchlist})` : "")
        : h("p", { class: "muted small" }, "not identified at the time"),
    ),
  );
}
