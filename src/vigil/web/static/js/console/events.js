// The events screen: the filterable history of recognitions (alerts and unknown faces), 50 per page.
//
// data-testid:
//   screen-title, events-filter, events-camera, events-watchlist, events-person, events-since,
//   events-until, events-decision, events-status, events-apply, events-reset, events-error,
//   events-table, event-row (data-event-id, data-decision, data-status), event-image, events-empty,
//   events-range ("41–60 of 213"), events-prev, events-next

import { api, query } from "../api.js";
import { listChip, statusBadge } from "../alerts.js";
import { absolute, busy, errorBox, fixed, h, safeColour, showError, timeEl } from "../dom.js";

const PAGE = 50;

// Kept while the console is open, so coming back to the screen shows the same page.
const saved = { filters: {}, offset: 0 };

function toIso(local) {
  if (!local) return "";
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

function option(value, label, selected) {
  return h("option", { value: String(value), selected: String(selected ?? "") === String(value) }, label);
}

export function mount(root, ctx) {
  const f = saved.filters;
  const field = (id, label, control, wide = false) =>
    h("div", { class: ["field", wide && "field-wide"] }, h("label", { for: id }, label), control);
  const camera = h("select", { id: "ev-camera", "data-testid": "events-camera" }, option("", "Any camera", f.camera_id));
  const watchlist = h("select", { id: "ev-watchlist", "data-testid": "events-watchlist" }, option("", "Any list", f.watchlist_id));
  const person = h("select", { id: "ev-person", "data-testid": "events-person" }, option("", "Anyone", f.person_id));
  const since = h("input", { id: "ev-since", type: "datetime-local", step: "1", value: f.sinceLocal || "", "data-testid": "events-since" });
  const until = h("input", { id: "ev-until", type: "datetime-local", step: "1", value: f.untilLocal || "", "data-testid": "events-until" });
  const decision = h(
    "select",
    { id: "ev-decision", "data-testid": "events-decision" },
    option("", "Any", f.decision),
    option("alert", "Alert (on a list)", f.decision),
    option("unknown", "Unknown face", f.decision),
  );
  const status = h(
    "select",
    { id: "ev-status", "data-testid": "events-status" },
    option("", "Any", f.status),
    ["new", "acknowledged", "confirmed", "rejected"].map((s) => option(s, s[0].toUpperCase() + s.slice(1), f.status)),
  );
  const apply = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "events-apply" }, "Show events");
  const reset = h("button", { type: "reset", class: "btn", "data-testid": "events-reset" }, "Clear filters");
  const form = h(
    "form",
    { class: "form filter-grid", "data-testid": "events-filter", "aria-label": "Filter events" },
    field("ev-camera", "Camera", camera),
    field("ev-watchlist", "Watchlist", watchlist),
    field("ev-person", "Person", person),
    field("ev-since", "From", since, true),
    field("ev-until", "To", until, true),
    field("ev-decision", "Decision", decision),
    field("ev-status", "Status", status),
    h("div", { class: "form-actions filter-actions" }, apply, reset),
  );

  const error = errorBox("events-error");
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "table events-table", "data-testid": "events-table" },
    h("caption", { class: "visually-hidden" }, "Events, newest first"),
    h(
      "thead",
      null,
      h("tr", null, ["", "When", "Camera", "Decision", "Person", "List", "Score", "Status"].map((t, i) => h("th", { scope: "col", class: i === 0 ? "cell-thumb" : null }, t || h("span", { class: "visually-hidden" }, "Image")))),
    ),
    tbody,
  );
  const tableWrap = h("div", { class: "table-wrap" }, table);
  const empty = h("p", { class: "empty", hidden: true, "data-testid": "events-empty" }, "No events match these filters.");
  const range = h("p", { class: "range", "data-testid": "events-range", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "btn", "data-testid": "events-prev" }, "← Previous");
  const next = h("button", { type: "button", class: "btn", "data-testid": "events-next" }, "Next →");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, prev, range, next);

  root.append(
    h("div", { class: "screen-head" }, h("h1", { "data-testid": "screen-title" }, "Events")),
    h("section", { class: "panel" }, form),
    error,
    tableWrap,
    empty,
    pager,
  );

  let stopped = false;
  let total = 0;

  function readFilters() {
    saved.filters = {
      camera_id: camera.value,
      watchlist_id: watchlist.value,
      person_id: person.value,
      sinceLocal: since.value,
      untilLocal: until.value,
      decision: decision.value,
      status: status.value,
    };
  }

  async function load(focusTable = false) {
    const s = saved.filters;
    const params = {
      camera_id: s.camera_id,
      watchlist_id: s.watchlist_id,
      person_id: s.person_id,
      since: toIso(s.sinceLocal),
      until: toIso(s.untilLocal),
      decision: s.decision,
      status: s.status,
      limit: PAGE,
      offset: saved.offset,
    };
    showError(error, null);
    table.setAttribute("aria-busy", "true");
    await busy([apply, prev, next], async () => {
      try {
        const page = await api("GET", `/events${query(params)}`);
        if (stopped) return;
        total = page.total ?? 0;
        const items = page.items || [];
        tbody.replaceChildren(...items.map(eventRow));
        empty.hidden = items.length > 0;
        tableWrap.hidden = items.length === 0;
        range.textContent = items.length ? `${saved.offset + 1}–${saved.offset + items.length} of ${total}` : `0 of ${total}`;
      } catch (e) {
        if (!stopped) showError(error, e);
      }
    });
    table.removeAttribute("aria-busy");
    prev.disabled = saved.offset === 0;
    next.disabled = saved.offset + PAGE >= total;
    if (focusTable && !tableWrap.hidden) tbody.querySelector("tr")?.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    readFilters();
    saved.offset = 0;
    load();
  });
  form.addEventListener("reset", () => {
    // After the browser has reset the controls.
    setTimeout(() => {
      for (const select of [camera, watchlist, person, decision, status]) select.value = "";
      since.value = until.value = "";
      readFilters();
      saved.offset = 0;
      load();
    });
  });
  prev.addEventListener("click", () => {
    saved.offset = Math.max(0, saved.offset - PAGE);
    load(true);
  });
  next.addEventListener("click", () => {
    saved.offset += PAGE;
    load(true);
  });

  // The choices for the selects (each may fail on its own, e.g. for lack of a role).
  (async () => {
    const [cams, lists, people] = await Promise.all(
      ["/cameras", "/watchlists", "/people"].map((p) => api("GET", p).catch(() => [])),
    );
    if (stopped) return;
    camera.append(...cams.map((c) => option(c.id, c.name, f.camera_id)));
    watchlist.append(...lists.map((l) => option(l.id, l.name, f.watchlist_id)));
    for (const l of lists) colours.set(l.id, l.colour);
    for (const chip of tbody.querySelectorAll(".list-chip[data-watchlist-id]")) {
      const c = safeColour(colours.get(Number(chip.dataset.watchlistId)));
      if (c) chip.style.setProperty("--list-colour", c);
    }
    person.append(...(Array.isArray(people) ? people : []).map((p) => option(p.id, p.name, f.person_id)));
  })();

  load();
  return () => {
    stopped = true;
  };
}

// Watchlist colours by id (the events themselves do not carry them).
const colours = new Map();

function eventRow(ev) {
  const thumb = ev.image_url
    ? h("img", { src: ev.image_url, alt: `Face seen on ${ev.camera}`, loading: "lazy", decoding: "async", width: "48", height: "48", "data-testid": "event-image" })
    : h("span", { class: "thumb-none", "aria-hidden": "true" });
  if (thumb.tagName === "IMG") thumb.addEventListener("error", () => thumb.replaceWith(h("span", { class: "thumb-none", "aria-hidden": "true" })), { once: true });
  const isAlert = ev.decision === "alert";
  return h(
    "tr",
    {
      tabindex: "-1",
      "data-testid": "event-row",
      dataset: { eventId: String(ev.id), decision: ev.decision, status: ev.status || "" },
      class: isAlert ? "is-alert" : null,
    },
    h("td", { class: "cell-thumb" }, thumb),
    h("td", { "data-label": "When" }, timeEl(ev.start_at), ev.end_at ? h("span", { class: "small muted block", title: absolute(ev.end_at) }, duration(ev.start_at, ev.end_at)) : null),
    h("td", { "data-label": "Camera" }, ev.camera || `#${ev.camera_id}`, h("span", { class: "small muted block" }, `track ${ev.track_id ?? "—"}`)),
    h("td", { "data-label": "Decision" }, h("span", { class: ["badge", isAlert ? "decision-alert" : "decision-unknown"] }, isAlert ? "Alert" : "Unknown")),
    h("td", { "data-label": "Person" }, ev.person || h("span", { class: "muted" }, "—")),
    h("td", { "data-label": "List" }, ev.watchlist ? listChipFor(ev) : h("span", { class: "muted" }, "—")),
    h("td", { "data-label": "Score", class: "num" }, ev.score !== null && ev.score !== undefined ? fixed(ev.score) : "—", ev.margin !== null && ev.margin !== undefined ? h("span", { class: "small muted block" }, `margin ${fixed(ev.margin)}`) : null),
    h("td", { "data-label": "Status" }, ev.status ? statusBadge(ev.status) : h("span", { class: "muted" }, "—")),
  );
}

function listChipFor(ev) {
  const chip = listChip(ev.watchlist, ev.colour ?? colours.get(ev.watchlist_id));
  if (ev.watchlist_id !== null && ev.watchlist_id !== undefined) chip.dataset.watchlistId = String(ev.watchlist_id);
  return chip;
}

function duration(start, end) {
  const ms = new Date(end).getTime() - new Date(start).getTime();
  if (!Number.isFinite(ms) || ms < 0) return "";
  const s = Math.round(ms / 1000);
  return s < 60 ? `for ${s} s` : `for ${Math.floor(s / 60)} min ${s % 60} s`;
}
