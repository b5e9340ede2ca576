// Small DOM helpers shared by the console and the mobile view.
//
// Server data only ever reaches the page as text (textContent / attribute values), never as HTML.

/** Creates an element: `h("button", {type: "button", class: "btn", onclick: fn}, "Save")`.
 *
 * attrs: `class`, `dataset` (object), `on<event>` (listener), `hidden`/`disabled`/`checked`/... (boolean
 * properties), `value`, anything else as an attribute (null/undefined/false leave it out).
 * children: strings/numbers (as text), nodes, arrays of them, null/undefined/false (skipped). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (key === "dataset") {
      for (const [name, v] of Object.entries(value)) if (v !== undefined && v !== null) el.dataset[name] = v;
    } else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "value") {
      // As the default too, so that form.reset() comes back to it.
      if (tag === "textarea") el.textContent = String(value);
      else if (tag === "input" || tag === "option") el.setAttribute("value", String(value));
      el.value = String(value);
    } else if (key === "checked" || key === "selected") {
      el.setAttribute(key, "");
      el[key] = true;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "12 s ago", "3 min ago", "2 h ago", "4 d ago" (or "in 5 min" for the future). */
export function relative(date, now = Date.now()) {
  const t = date instanceof Date ? date.getTime() : new Date(date).getTime();
  if (Number.isNaN(t)) return "";
  const diff = now - t;
  const abs = Math.abs(diff);
  let text;
  if (abs < 5 * SECOND) return "just now";
  if (abs < MINUTE) text = `${Math.round(abs / SECOND)} s`;
  else if (abs < HOUR) text = `${Math.floor(abs / MINUTE)} min`;
  else if (abs < DAY) text = `${Math.floor(abs / HOUR)} h`;
  else text = `${Math.floor(abs / DAY)} d`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

const absoluteFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  timeZoneName: "short",
});

/** The local date and time, e.g. "3 Mar 2025, 14:05:09 CET". */
export function absolute(date) {
  const d = date instanceof Date ? date : new Date(date);
  return Number.isNaN(d.getTime()) ? "" : absoluteFormat.format(d);
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dayClockFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

/** The local time, short: "14:05:09" today, "3 Mar, 14:05" another day. */
export function shortAbsolute(date) {
  const d = date instanceof Date ? date : new Date(date);
  if (Number.isNaN(d.getTime())) return "";
  return d.toDateString() === new Date().toDateString() ? clockFormat.format(d) : dayClockFormat.format(d);
}

/** A `<time>` showing the relative time, with the absolute local time on hover (kept fresh by
 * `startClock`). */
export function timeEl(iso, attrs = {}) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const el = h("time", { datetime: iso, title: absolute(iso), dataset: { relative: "" }, ...attrs });
  el.textContent = relative(iso);
  return el;
}

let clock = null;

/** Refreshes every relative `<time>` on the page every few seconds. */
export function startClock() {
  if (clock) return;
  clock = setInterval(() => {
    const now = Date.now();
    for (const el of document.querySelectorAll("time[data-relative]")) {
      const text = relative(el.getAttribute("datetime"), now);
      if (el.textContent !== text) el.textContent = text;
    }
  }, 5000);
}

/** "0.962" */
export function fixed(value, digits = 3) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
}

/** A `#rrggbb` colour from the server, or null when it is not one (it is only ever used via CSSOM). */
export function safeColour(value) {
  return typeof value === "string" && /^#[0-9a-fA-F]{6}$/.test(value) ? value : null;
}

/** Shows `error` (an ApiError or any Error) in `el` (a `role="alert"` element), or clears it. */
export function showError(el, error) {
  if (!el) return;
  if (!error) {
    el.textContent = "";
    el.hidden = true;
    return;
  }
  el.textContent = error.status === 403 ? `Not allowed: ${error.message}` : error.message || String(error);
  el.hidden = false;
}

/** An empty error box for a form or an action. */
export function errorBox(testid) {
  return h("p", { class: "error", role: "alert", hidden: true, "data-testid": testid });
}

/** Runs `fn` with `buttons` disabled (and `aria-busy` on the first), re-enabling them afterwards. */
export async function busy(buttons, fn) {
  const list = (Array.isArray(buttons) ? buttons : [buttons]).filter(Boolean);
  const before = list.map((b) => b.disabled);
  for (const b of list) b.disabled = true;
  if (list[0]) list[0].setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    list.forEach((b, i) => {
      b.disabled = before[i];
    });
    if (list[0]) list[0].removeAttribute("aria-busy");
  }
}

/** Reads a UI preference from localStorage (never throws). */
export function pref(key, fallback) {
  try {
    const value = localStorage.getItem(`vigil.${key}`);
    return value === null ? fallback : JSON.parse(value);
  } catch {
    return fallback;
  }
}

/** Stores a UI preference in localStorage (never throws). */
export function setPref(key, value) {
  try {
    localStorage.setItem(`vigil.${key}`, JSON.stringify(value));
  } catch {
    /* private mode or full: the preference lasts this page only */
  }
}

/** A `datetime-local` value ("2025-03-03T14:05" or with seconds) as ISO 8601 with the browser's offset
 * for that moment ("2025-03-03T14:05:00+01:00"); "" when blank or invalid. */
export function localIso(local) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(local || "");
  if (!m) return "";
  const d = new Date(local);
  if (Number.isNaN(d.getTime())) return "";
  const offset = -d.getTimezoneOffset(); // minutes east of UTC
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  const pad = (n) => String(n).padStart(2, "0");
  return `${m[1]}T${m[2]}:${m[3] || "00"}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * Keeps the rows of `tbody` in step with `items` (in their order), updating rows in place so that focus
 * and open controls survive a refresh. `rows` maps an item's id to `{row, update(item)}`, as made by
 * `make(item)`; rows of items that are gone are removed.
 */
export function syncRows(tbody, rows, items, make) {
  const seen = new Set();
  items.forEach((item, index) => {
    seen.add(item.id);
    let entry = rows.get(item.id);
    if (!entry) {
      entry = make(item);
      rows.set(item.id, entry);
    } else {
      entry.update(item);
    }
    if (tbody.children[index] !== entry.row) tbody.insertBefore(entry.row, tbody.children[index] || null);
  });
  for (const [id, entry] of rows) {
    if (!seen.has(id)) {
      entry.row.remove();
      rows.delete(id);
    }
  }
}
