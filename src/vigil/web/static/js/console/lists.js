// Watchlists and the people on them: `#/lists` (all lists, create a list) and `#/lists/<name>` (its
// settings, its people, enrol a person with photos, remove people or the list).
//
// data-testid:
//   screen-title, lists-error, watchlist-grid, watchlist-row (data-name), watchlist-link,
//   watchlist-form, watchlist-name-input, watchlist-description-input, watchlist-threshold-input,
//   watchlist-severity-input, watchlist-colour-input, watchlist-review-input,
//   watchlist-retention-input, watchlist-reason-input, watchlist-submit, watchlist-form-error,
//   watchlist-detail (data-name), watchlist-remove, watchlist-back,
//   people-list, people-empty, person-row (data-person-id), person-photo, person-name, person-remove,
//   enrol-form, enrol-name, enrol-reason, enrol-photo-source, enrol-approved-by, enrol-expires,
//   enrol-notes, enrol-photos, enrol-force, enrol-submit, enrol-error, enrol-result,
//   photo-verdict (data-accepted="true|false", data-weak), verdict-reasons, verdict-looks-like
//   (remove dialogs: see dialog.js)

import { allows, api, query } from "../api.js";
import { listChip, severityBadge } from "../alerts.js";
import { absolute, busy, errorBox, fixed, h, replace, safeColour, showError } from "../dom.js";
import { actionDialog } from "./dialog.js";

export const SEVERITIES = ["low", "medium", "high", "critical"];
const REVIEWS = {
  none: "None (no review)",
  acknowledge: "Acknowledge (one person)",
  two_person: "Two-person confirmation",
};

export function mount(root, ctx, params) {
  if (params.length > 0) return mountDetail(root, ctx, params[0]);
  return mountIndex(root, ctx);
}

function swatch(colour) {
  const el = h("span", { class: "swatch", "aria-hidden": "true" });
  const c = safeColour(colour);
  if (c) el.style.setProperty("--list-colour", c);
  return el;
}

// A list's threshold now and why: calibrated for its size from the false-alert rate it accepts, or set by
// hand (flagged when under the calibrated one: it names more strangers than its rate allows).
function thresholdText(wl) {
  const eff = wl.effective_threshold ?? wl.threshold;
  if (wl.threshold === null || wl.threshold === undefined) {
    if (eff === null || eff === undefined) return "default";
    if (wl.effective_fpir === null || wl.effective_fpir === undefined) return `${fixed(eff)} (default)`;
    const size = wl.calibrated_for_size ?? wl.people ?? 0;
    const extra = wl.extrapolated ? ", extrapolated" : "";
    return `${fixed(eff)} (calibrated: FPIR ${wl.effective_fpir} at ${size} ${size === 1 ? "person" : "people"}${extra})`;
  }
  if (wl.below_calibrated) {
    return h(
      "span",
      { class: "warn", "data-testid": "watchlist-below-calibrated" },
      `${fixed(wl.threshold)} (set by hand, BELOW the calibrated ${fixed(wl.calibrated_threshold)})`,
    );
  }
  return `${fixed(wl.threshold)} (set by hand)`;
}

// --- all lists -----------------------------------------------------------------------------------

function mountIndex(root, ctx) {
  const canEdit = allows(ctx.user, "operator");
  const grid = h("ul", { class: "card-grid", "data-testid": "watchlist-grid", "aria-label": "Watchlists" });
  const loadError = errorBox("lists-error");
  const empty = h("p", { class: "empty", hidden: true, "data-testid": "lists-empty" }, "No watchlists yet. Create one below.");
  root.append(
    h("div", { class: "screen-head" }, h("h1", { "data-testid": "screen-title" }, "Watchlists")),
    loadError,
    grid,
    empty,
    canEdit ? createForm(load) : h("p", { class: "muted small" }, "Your role can view watchlists but not change them."),
  );

  let stopped = false;
  async function load() {
    try {
      const lists = await api("GET", "/watchlists");
      if (stopped) return;
      showError(loadError, null);
      grid.replaceChildren(...lists.map(listCard));
      empty.hidden = lists.length > 0;
    } catch (e) {
      if (!stopped) showError(loadError, e);
    }
  }
  load();
  return () => {
    stopped = true;
  };
}

function listCard(wl) {
  const card = h(
    "li",
    { class: "card list-card", "data-testid": "watchlist-row", dataset: { name: wl.name } },
    h(
      "h2",
      { class: "card-title" },
      swatch(wl.colour),
      h("a", { href: `#/lists/${encodeURIComponent(wl.name)}`, "data-testid": "watchlist-link" }, wl.name),
    ),
    wl.description ? h("p", { class: "muted" }, wl.description) : null,
    h(
      "dl",
      { class: "facts" },
      fact("Severity", severityBadge(wl.severity)),
      fact("Review", REVIEWS[wl.review] || wl.review || "—"),
      fact("Threshold", thresholdText(wl)),
      fact("People", wl.people ?? wl.people_count ?? "—"),
      fact("Keep events", wl.retention_days !== undefined ? `${wl.retention_days} days` : "—"),
    ),
  );
  const c = safeColour(wl.colour);
  if (c) card.style.setProperty("--list-colour", c);
  return card;
}

function fact(label, value) {
  return h("div", null, h("dt", null, label), h("dd", null, value));
}

function createForm(onCreated) {
  const f = {
    name: h("input", {
      id: "wl-name",
      type: "text",
      required: true,
      maxlength: "64",
      pattern: "[a-z0-9][a-z0-9_\\-]{0,63}",
      autocomplete: "off",
      autocapitalize: "none",
      spellcheck: "false",
      "aria-describedby": "wl-name-hint",
      "data-testid": "watchlist-name-input",
    }),
    description: h("input", { id: "wl-description", type: "text", maxlength: "500", "data-testid": "watchlist-description-input" }),
    threshold: h("input", {
      id: "wl-threshold",
      type: "number",
      min: "-1",
      max: "1",
      step: "0.01",
      inputmode: "decimal",
      placeholder: "default",
      "aria-describedby": "wl-threshold-hint",
      "data-testid": "watchlist-threshold-input",
    }),
    severity: h(
      "select",
      { id: "wl-severity", "data-testid": "watchlist-severity-input" },
      SEVERITIES.map((s) => h("option", { value: s, selected: s === "medium" }, s[0].toUpperCase() + s.slice(1))),
    ),
    colour: h("input", { id: "wl-colour", type: "color", value: "#d97706", "data-testid": "watchlist-colour-input" }),
    review: h(
      "select",
      { id: "wl-review", "data-testid": "watchlist-review-input" },
      Object.entries(REVIEWS).map(([v, label]) => h("option", { value: v, selected: v === "acknowledge" }, label)),
    ),
    retention: h("input", { id: "wl-retention", type: "number", min: "0", max: "36500", step: "1", value: "30", required: true, "data-testid": "watchlist-retention-input" }),
    reason: h("input", { id: "wl-reason", type: "text", required: true, maxlength: "1000", "data-testid": "watchlist-reason-input" }),
  };
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "watchlist-submit" }, "Create list");
  const error = errorBox("watchlist-form-error");
  const done = h("p", { class: "notice", role: "status", hidden: true });
  const form = h(
    "form",
    { class: "form form-grid", "data-testid": "watchlist-form", "aria-labelledby": "wl-form-title" },
    h(
      "div",
      { class: "field" },
      h("label", { for: "wl-name" }, "Name"),
      f.name,
      h("span", { id: "wl-name-hint", class: "hint" }, "Lowercase letters, digits, - and _"),
    ),
    h("div", { class: "field span-2" }, h("label", { for: "wl-description" }, "Description ", h("span", { class: "muted" }, "(optional)")), f.description),
    h(
      "div",
      { class: "field" },
      h("label", { for: "wl-threshold" }, "Threshold"),
      f.threshold,
      h(
        "span",
        { id: "wl-threshold-hint", class: "hint" },
        "Cosine similarity; blank: calibrated for the list's size from the accepted false-alert rate",
      ),
    ),
    h("div", { class: "field" }, h("label", { for: "wl-severity" }, "Severity"), f.severity),
    h("div", { class: "field" }, h("label", { for: "wl-review" }, "Review"), f.review),
    h("div", { class: "field" }, h("label", { for: "wl-colour" }, "Colour"), f.colour),
    h("div", { class: "field" }, h("label", { for: "wl-retention" }, "Keep events (days)"), f.retention),
    h("div", { class: "field span-2" }, h("label", { for: "wl-reason" }, "Reason (audit log)"), f.reason),
    h("div", { class: "form-actions span-all" }, submit),
    h("div", { class: "span-all" }, error, done),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showError(error, null);
    done.hidden = true;
    busy(submit, async () => {
      try {
        const body = {
          name: f.name.value.trim(),
          description: f.description.value.trim(),
          threshold: f.threshold.value === "" ? null : Number(f.threshold.value),
          severity: f.severity.value,
          colour: f.colour.value,
          review: f.review.value,
          retention_days: Number(f.retention.value),
          reason: f.reason.value.trim(),
        };
        const wl = await api("POST", "/watchlists", body);
        form.reset();
        done.replaceChildren("Created ", h("a", { href: `#/lists/${encodeURIComponent(wl.name)}` }, wl.name), ".");
        done.hidden = false;
        onCreated();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return h("section", { class: "panel" }, h("h2", { id: "wl-form-title" }, "Create a watchlist"), form);
}

// --- one list ------------------------------------------------------------------------------------

/** A person's lists as [{name, expires_at}], whether the server sends a mapping or a list. */
export function personLists(person) {
  const lists = person.lists ?? person.watchlists ?? [];
  if (Array.isArray(lists)) {
    return lists.map((l) => (typeof l === "string" ? { name: l, expires_at: null } : { name: l.name ?? l.watchlist, expires_at: l.expires_at ?? null }));
  }
  return Object.entries(lists).map(([name, expires]) => ({ name, expires_at: expires }));
}

function mountDetail(root, ctx, name) {
  const canEdit = allows(ctx.user, "operator");
  const loadError = errorBox("lists-error");
  const head = h("div", { class: "screen-head" });
  const settings = h("div");
  const people = h("ul", { class: "people-grid", "data-testid": "people-list", "aria-label": `People on ${name}` });
  const peopleEmpty = h("p", { class: "empty", hidden: true, "data-testid": "people-empty" }, "Nobody is on this list yet.");
  const peopleCount = h("span", { class: "muted small" });
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/lists", "data-testid": "watchlist-back" }, "← All watchlists")),
    head,
    loadError,
    h("div", { class: "detail", "data-testid": "watchlist-detail", dataset: { name } }, settings),
    h("section", { class: "panel", "aria-labelledby": "people-title" }, h("h2", { id: "people-title" }, "People ", peopleCount), people, peopleEmpty),
    canEdit
      ? enrolForm(name, () => {
          loadPeople();
          ctx.people.refresh(); // the new face can now be shown on alerts
        })
      : null,
  );
  head.append(h("h1", { "data-testid": "screen-title" }, name));

  let stopped = false;
  let list = null;
  let colours = new Map();

  async function loadList() {
    try {
      const lists = await api("GET", "/watchlists");
      if (stopped) return;
      colours = new Map(lists.map((l) => [l.name, l.colour]));
      list = lists.find((l) => l.name === name) || null;
      if (!list) {
        showError(loadError, new Error(`There is no watchlist named “${name}”.`));
        return;
      }
      showError(loadError, null);
      paintSettings();
    } catch (e) {
      if (!stopped) showError(loadError, e);
    }
  }

  function paintSettings() {
    const title = h("h1", { "data-testid": "screen-title", class: "with-swatch" }, swatch(list.colour), list.name);
    const remove = canEdit ? h("button", { type: "button", class: "btn btn-danger", "data-testid": "watchlist-remove" }, "Remove list") : null;
    if (remove) {
      remove.addEventListener("click", async () => {
        const done = await actionDialog({
          title: `Remove the watchlist “${list.name}”?`,
          message: "Its people stop raising alerts from this list. This cannot be undone.",
          confirmLabel: "Remove list",
          run: (reason) => api("DELETE", `/watchlists/${encodeURIComponent(list.name)}${query({ reason })}`),
        });
        if (done) {
          ctx.people.refresh();
          location.hash = "#/lists";
        } else {
          remove.focus();
        }
      });
    }
    const focused = head.contains(document.activeElement);
    replace(head, title, remove);
    if (focused) title.focus();
    replace(
      settings,
      list.description ? h("p", null, list.description) : null,
      h(
        "dl",
        { class: "facts facts-row" },
        fact("Severity", severityBadge(list.severity)),
        fact("Review", REVIEWS[list.review] || list.review || "—"),
        fact("Threshold", thresholdText(list)),
        fact("Keep events", list.retention_days !== undefined ? `${list.retention_days} days` : "—"),
        fact("Created", list.created_at ? h("span", { title: absolute(list.created_at) }, new Date(list.created_at).toLocaleDateString()) : "—"),
        list.created_by ? fact("By", list.created_by) : null,
      ),
    );
  }

  async function loadPeople() {
    try {
      const items = await api("GET", `/people${query({ watchlist: name })}`);
      if (stopped) return;
      people.replaceChildren(...items.map(personCard));
      peopleEmpty.hidden = items.length > 0;
      peopleCount.textContent = `(${items.length})`;
    } catch (e) {
      if (!stopped) showError(loadError, e);
    }
  }

  function personCard(person) {
    const entry = personLists(person).find((l) => l.name === name);
    const remove = canEdit ? h("button", { type: "button", class: "btn btn-small btn-danger", "data-testid": "person-remove" }, "Remove") : null;
    // One person, several lists: put them on another list too (their photos are shared, not copied).
    const others = [...colours.keys()].filter((l) => !personLists(person).some((m) => m.name === l));
    const addList =
      canEdit && others.length
        ? h("button", { type: "button", class: "btn btn-small", "data-testid": "person-add-list" }, "Add to list…")
        : null;
    if (addList) {
      addList.setAttribute("aria-label", `Put ${person.name} on another list`);
      addList.addEventListener("click", async () => {
        const pick = h(
          "select",
          { id: `add-list-${person.id}`, name: "watchlist", "data-testid": "person-add-list-select" },
          others.map((l) => h("option", { value: l }, l)),
        );
        const done = await actionDialog({
          title: `Put ${person.name} on another list`,
          message: "The same person, with the same photos: an alert names every list they are on.",
          confirmLabel: "Add to list",
          danger: false,
          fields: h("div", { class: "field" }, h("label", { for: pick.id }, "List"), pick),
          run: (reason) =>
            api("POST", `/people/${encodeURIComponent(person.id)}/lists`, { watchlist: pick.value, reason }),
        });
        if (done) {
          ctx.announce(`${person.name} is on ${pick.value} too`);
          ctx.people.refresh();
          await loadPeople();
        } else {
          addList.focus();
        }
      });
    }
    const noPhoto = () => h("div", { class: "shot-missing photo" }, "No photo");
    // `photo_url` null: the person has no face sample to show (asking would answer 404).
    const img =
      person.photo_url === null
        ? noPhoto()
        : h("img", {
            src: person.photo_url || `/people/${encodeURIComponent(person.id)}/photo.jpg`,
            alt: `Photo of ${person.name}`,
            loading: "lazy",
            decoding: "async",
            width: "96",
            height: "96",
            "data-testid": "person-photo",
          });
    if (img.tagName === "IMG") img.addEventListener("error", () => img.replaceWith(noPhoto()), { once: true });
    const card = h(
      "li",
      { class: "card person-card", "data-testid": "person-row", dataset: { personId: String(person.id) } },
      img,
      h(
        "div",
        { class: "person-info" },
        h("h3", { "data-testid": "person-name" }, person.name),
        h("div", { class: "chips" }, personLists(person).map((l) => listChip(l.name, colours.get(l.name)))),
        h(
          "p",
          { class: "small muted" },
          entry?.expires_at ? h("span", { title: absolute(entry.expires_at) }, `Expires ${new Date(entry.expires_at).toLocaleDateString()}`) : "No expiry",
          person.samples !== undefined ? ` · ${person.samples} photo${person.samples === 1 ? "" : "s"}` : null,
        ),
        addList,
        remove,
      ),
    );
    if (remove) {
      remove.setAttribute("aria-label", `Remove ${person.name}`);
      remove.addEventListener("click", async () => {
        const done = await actionDialog({
          title: `Remove ${person.name}?`,
          message: "They are removed from every list, with their photos and face samples.",
          confirmLabel: "Remove person",
          run: (reason) => api("DELETE", `/people/${encodeURIComponent(person.id)}${query({ reason })}`),
        });
        if (done) {
          ctx.announce(`${person.name} removed`);
          ctx.people.refresh();
          await loadPeople();
          people.querySelector("button") ? people.querySelector("button").focus() : root.querySelector("h1")?.focus();
        } else {
          remove.focus();
        }
      });
    }
    return card;
  }

  loadList().then(loadPeople);
  return () => {
    stopped = true;
  };
}

// --- enrolment -----------------------------------------------------------------------------------

function enrolForm(listName, onEnrolled) {
  const f = {
    name: h("input", { id: "en-name", name: "name", type: "text", required: true, maxlength: "200", autocomplete: "off", "data-testid": "enrol-name" }),
    reason: h("input", { id: "en-reason", name: "reason", type: "text", required: true, maxlength: "1000", "data-testid": "enrol-reason" }),
    source: h("input", { id: "en-source", name: "photo_source", type: "text", maxlength: "500", "data-testid": "enrol-photo-source" }),
    approvedBy: h("input", { id: "en-approved", name: "approved_by", type: "text", maxlength: "200", "data-testid": "enrol-approved-by" }),
    expires: h("input", { id: "en-expires", name: "expires_at", type: "date", "data-testid": "enrol-expires" }),
    notes: h("textarea", { id: "en-notes", name: "notes", rows: "2", maxlength: "2000", "data-testid": "enrol-notes" }),
    photos: h("input", { id: "en-photos", name: "photos", type: "file", accept: "image/*", multiple: true, required: true, "aria-describedby": "en-photos-hint", "data-testid": "enrol-photos" }),
    force: h("input", { id: "en-force", name: "force", type: "checkbox", "data-testid": "enrol-force" }),
  };
  const previews = h("ul", { class: "previews", "aria-label": "Chosen photos" });
  let urls = [];
  f.photos.addEventListener("change", () => {
    for (const u of urls) URL.revokeObjectURL(u);
    urls = [...f.photos.files].map((file) => URL.createObjectURL(file));
    previews.replaceChildren(
      ...[...f.photos.files].map((file, i) => h("li", null, h("img", { src: urls[i], alt: "", width: "64", height: "64" }), h("span", { class: "small" }, file.name))),
    );
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "enrol-submit" }, "Enrol");
  const error = errorBox("enrol-error");
  const result = h("div", { class: "enrol-result", "data-testid": "enrol-result", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "form form-grid", "data-testid": "enrol-form", "aria-labelledby": "en-title", enctype: "multipart/form-data" },
    h("div", { class: "field" }, h("label", { for: "en-name" }, "Name"), f.name),
    h("div", { class: "field span-2" }, h("label", { for: "en-reason" }, "Reason for listing"), f.reason),
    h("div", { class: "field" }, h("label", { for: "en-source" }, "Photo source"), f.source),
    h("div", { class: "field" }, h("label", { for: "en-approved" }, "Approved by"), f.approvedBy),
    h("div", { class: "field" }, h("label", { for: "en-expires" }, "Expires ", h("span", { class: "muted" }, "(optional)")), f.expires),
    h("div", { class: "field span-all" }, h("label", { for: "en-notes" }, "Notes ", h("span", { class: "muted" }, "(optional)")), f.notes),
    h(
      "div",
      { class: "field span-2" },
      h("label", { for: "en-photos" }, "Photos"),
      f.photos,
      h("span", { id: "en-photos-hint", class: "hint" }, "One face per photo, sharp and frontal. Several photos help."),
      previews,
    ),
    h(
      "div",
      { class: "field field-check" },
      h("label", { class: "check", for: "en-force" }, f.force, "Keep weak photos"),
      h("span", { class: "hint" }, "Also enrol photos that pass but score low on quality"),
    ),
    h("div", { class: "form-actions span-all" }, submit),
    h("div", { class: "span-all" }, error, result),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showError(error, null);
    result.replaceChildren();
    const files = [...f.photos.files];
    if (files.length === 0) {
      showError(error, new Error("Choose at least one photo."));
      f.photos.focus();
      return;
    }
    const data = new FormData();
    data.set("watchlist", listName);
    data.set("name", f.name.value.trim());
    data.set("reason", f.reason.value.trim());
    data.set("photo_source", f.source.value.trim());
    data.set("approved_by", f.approvedBy.value.trim());
    data.set("expires_at", f.expires.value || "");
    data.set("notes", f.notes.value.trim());
    data.set("force", f.force.checked ? "true" : "false");
    for (const file of files) data.append("photos", file, file.name);
    busy(submit, async () => {
      try {
        const answer = await api("POST", "/people", data);
        const accepted = (answer.verdicts || []).filter((v) => v.accepted).length;
        result.replaceChildren(
          h(
            "p",
            { class: "notice", role: "status" },
            `${answer.created === false ? "Updated" : "Enrolled"} ${answer.name} on ${answer.watchlist}: ${accepted} of ${(answer.verdicts || []).length} photo${(answer.verdicts || []).length === 1 ? "" : "s"} used.`,
          ),
          verdictList(answer.verdicts || []),
        );
        form.reset();
        previews.replaceChildren();
        onEnrolled();
      } catch (e) {
        showError(error, e);
        if (e.body && Array.isArray(e.body.verdicts)) result.replaceChildren(verdictList(e.body.verdicts));
      }
    });
  });
  return h("section", { class: "panel" }, h("h2", { id: "en-title" }, `Enrol a person on ${listName}`), form);
}

const QUALITY = [
  ["size_px", "size", 0, " px"],
  ["sharpness", "sharpness", 2, ""],
  ["frontal", "frontal", 2, ""],
  ["det_score", "detection", 2, ""],
  ["edge", "edge", 2, ""],
  ["total", "total", 2, ""],
];

function verdictList(verdicts) {
  return h(
    "ul",
    { class: "verdicts", "aria-label": "Photo verdicts" },
    verdicts.map((v) => {
      const state = v.accepted ? (v.weak ? "weak" : "accepted") : "refused";
      const label = { accepted: "Accepted", weak: "Accepted · weak", refused: "Refused" }[state];
      return h(
        "li",
        { class: ["verdict", `verdict-${state}`], "data-testid": "photo-verdict", dataset: { accepted: String(Boolean(v.accepted)), weak: String(Boolean(v.weak)) } },
        h("div", { class: "verdict-head" }, h("span", { class: ["badge", `verdict-badge-${state}`] }, label), h("span", { class: "verdict-photo" }, v.photo || "photo")),
        v.reasons && v.reasons.length ? h("ul", { class: "verdict-reasons", "data-testid": "verdict-reasons" }, v.reasons.map((r) => h("li", null, r))) : null,
        v.quality
          ? h(
              "dl",
              { class: "quality" },
              QUALITY.filter(([k]) => v.quality[k] !== undefined && v.quality[k] !== null).map(([k, label, digits, unit]) =>
                h("div", null, h("dt", null, label), h("dd", null, `${typeof v.quality[k] === "number" ? v.quality[k].toFixed(digits) : v.quality[k]}${unit}`)),
              ),
            )
          : null,
        v.looks_like
          ? h(
              "p",
              { class: "looks-like", "data-testid": "verdict-looks-like", role: "note" },
              `Warning: looks like ${v.looks_like.name} (${fixed(v.looks_like.score, 2)}), who is already enrolled.`,
            )
          : null,
      );
    }),
  );
}
