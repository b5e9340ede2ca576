// Alerts on screen, shared by the console and the mobile view: the in-memory store fed by the
// AlertStream, and the alert card with its review buttons.
//
// data-testid (on each card):
//   alert-card (with data-alert-id, data-status, data-severity), alert-person, alert-watchlist,
//   alert-severity, alert-status, alert-camera, alert-time, alert-score, alert-best-shot,
//   alert-list-photo, alert-second-needed, alert-reviews, alert-ack, alert-confirm, alert-reject,
//   alert-error, alert-travel-flag, and for an impossible-travel alert alert-travel (both sightings side by
//   side: alert-travel-here, alert-travel-other, each with alert-travel-shot, -camera, -time),
//   alert-travel-facts (distance, least trip time, time between)

import { api, allows } from "./api.js";
import { busy, errorBox, fixed, h, safeColour, shortAbsolute, showError, timeEl } from "./dom.js";

const MAX_KEPT = 300;

/** Alerts by id, newest first; `subscribe(fn)` is called with `(alert, info)` for every change. */
export class AlertStore {
  constructor() {
    this.byId = new Map();
    this._subscribers = new Set();
  }

  subscribe(fn) {
    this._subscribers.add(fn);
    return () => this._subscribers.delete(fn);
  }

  /** Adds or replaces an alert; `info.isNew` tells whether it was not known before. */
  put(alert, info = {}) {
    if (!alert || typeof alert.id !== "number") return;
    const before = this.byId.get(alert.id);
    this.byId.set(alert.id, alert);
    if (this.byId.size > MAX_KEPT) {
      const oldest = Math.min(...this.byId.keys());
      this.byId.delete(oldest);
    }
    for (const fn of [...this._subscribers]) fn(alert, { ...info, isNew: !before, before });
  }

  /** Newest first. */
  list() {
    return [...this.byId.values()].sort((a, b) => b.id - a.id);
  }

  clear() {
    this.byId.clear();
  }

  count(status) {
    let n = 0;
    for (const a of this.byId.values()) if (a.status === status) n += 1;
    return n;
  }
}

/** Which people exist with a photo (their watchlist photo can be shown on alerts); refreshed when an
 * unknown id turns up. */
export class PeopleIndex {
  constructor() {
    this.ids = new Set();
    this.loadedAt = 0;
    this._pending = null;
    this._timer = null;
    this._listeners = new Set();
  }

  exists(id) {
    return this.ids.has(id);
  }

  onChange(fn) {
    this._listeners.add(fn);
    return () => this._listeners.delete(fn);
  }

  async refresh() {
    if (this._pending) return this._pending;
    this._pending = (async () => {
      try {
        const people = await api("GET", "/people");
        // Only people with a face photo (`photo_url` null: nothing to show, asking would answer 404).
        const list = Array.isArray(people) ? people : people?.items || [];
        const ids = new Set(list.filter((p) => p.photo_url !== null).map((p) => p.id));
        const changed = ids.size !== this.ids.size || [...ids].some((id) => !this.ids.has(id));
        this.ids = ids;
        if (changed) for (const fn of [...this._listeners]) fn();
      } catch {
        /* without the list, photos are simply not shown */
      } finally {
        this.loadedAt = Date.now();
        this._pending = null;
      }
    })();
    return this._pending;
  }

  /** Refreshes when `id` is not known yet (at most every 5 s: later if one just ran). */
  ensure(id) {
    if (typeof id !== "number" || this.ids.has(id) || this._timer) return;
    const wait = Math.max(0, this.loadedAt + 5000 - Date.now());
    this._timer = setTimeout(() => {
      this._timer = null;
      this.refresh();
    }, wait);
  }
}

export const STATUS_LABEL = {
  new: "New",
  acknowledged: "Acknowledged",
  confirmed: "Confirmed",
  rejected: "Rejected",
};

const ACTION_LABEL = {
  acknowledge: "acknowledged",
  acknowledged: "acknowledged",
  confirm: "confirmed",
  confirmed: "confirmed",
  reject: "rejected",
  rejected: "rejected",
};

const OPEN = new Set(["new", "acknowledged"]);

/** Whether `username` has already confirmed `alert`. */
export function confirmedBy(alert, username) {
  return (alert.reviews || []).some(
    (r) => r.username === username && (r.action === "confirmed" || r.action === "confirm"),
  );
}

/** The severity badge ("low" / "medium" / "high" / "critical"). */
export function severityBadge(severity, testid) {
  return h(
    "span",
    { class: ["badge", "sev", `sev-${severity}`], "data-testid": testid },
    severity ? severity[0].toUpperCase() + severity.slice(1) : "—",
  );
}

/** A list name with its colour as a dot (the colour is set via CSSOM, never as a style attribute). */
export function listChip(name, colour, testid) {
  const chip = h("span", { class: "list-chip", "data-testid": testid }, h("span", { class: "dot", "aria-hidden": "true" }), name || "—");
  const c = safeColour(colour);
  if (c) chip.style.setProperty("--list-colour", c);
  return chip;
}

export function statusBadge(status, testid) {
  return h("span", { class: ["badge", "status", `status-${status}`], "data-testid": testid }, STATUS_LABEL[status] || status || "—");
}

// Why this alert passed: its list's threshold then, and the false-alert rate and list size it was
// calibrated for (none for a threshold set by hand).
function ruleText(alert) {
  if (alert.threshold === null || alert.threshold === undefined) return "threshold not recorded";
  if (alert.fpir === null || alert.fpir === undefined) return `threshold ${fixed(alert.threshold)} (set by hand)`;
  return `threshold ${fixed(alert.threshold)}, calibrated for FPIR ${alert.fpir} at ${alert.calibrated_for_size} people`;
}

function km(metres) {
  return metres >= 1000 ? `${(metres / 1000).toFixed(metres >= 100000 ? 0 : 1)} km` : `${Math.round(metres)} m`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "unknown";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

// An impossible-travel alert: the person's two sightings side by side, and why the trip was impossible.
function travelPanel(alert, travel) {
  const side = (testid, label, eventId, camera, at) =>
    h(
      "figure",
      { class: "shot travel-side", "data-testid": testid },
      eventId === null || eventId === undefined
        ? placeholder("Sighting gone")
        : image(`/media/events/${encodeURIComponent(eventId)}/best.jpg`, `${label}: best shot on ${camera || "an unknown camera"}`, "alert-travel-shot"),
      h(
        "figcaption",
        null,
        h("strong", null, label),
        " · ",
        h("span", { "data-testid": "alert-travel-camera" }, camera || "camera gone"),
        " · ",
        h("span", { "data-testid": "alert-travel-time" }, at ? shortAbsolute(at) : "time unknown"),
      ),
    );
  const facts = [
    travel.distance_m === null || travel.distance_m === undefined ? "an explicit trip rule" : `${km(travel.distance_m)} apart`,
    `the trip takes at least ${duration(travel.needed_s)}`,
    `seen ${duration(travel.elapsed_s)} apart`,
  ].join(" · ");
  return h(
    "section",
    { class: "travel", "data-testid": "alert-travel", "aria-label": "Impossible travel: both sightings" },
    h("p", { class: "travel-why" }, "Seen in two places too close in time: a look-alike, or two people using one identity."),
    h(
      "div",
      { class: "travel-sides" },
      side("alert-travel-other", "Other sighting", travel.other_event_id, travel.other_camera, travel.other_seen_at),
      side("alert-travel-here", "This sighting", alert.event_id ?? alert.id, alert.camera, alert.seen_at),
    ),
    h("p", { class: "small", "data-testid": "alert-travel-facts" }, facts),
  );
}

function figure(label, img) {
  return h("figure", { class: "shot" }, img, h("figcaption", null, label));
}

function placeholder(text) {
  return h("div", { class: "shot-missing", role: "img", "aria-label": text }, text);
}

/** An <img> that replaces itself with a placeholder if it fails to load. */
function image(src, alt, testid) {
  const img = h("img", { src, alt, decoding: "async", "data-testid": testid });
  img.addEventListener(
    "error",
    () => {
      img.replaceWith(placeholder("No image"));
    },
    { once: true },
  );
  return img;
}

/** The alert card.
 *
 * ctx: {user, personExists(id) → bool, onReviewed(alert), layout: "console" | "mobile",
 *       actions: ["acknowledge", "confirm", "reject"]} */
export function alertCard(alert, ctx) {
  const mobile = ctx.layout === "mobile";
  const titleId = `alert-${alert.id}-title`;
  const card = h("article", {
    class: ["alert-card", `sev-${alert.severity}`, `is-${alert.status}`, mobile && "alert-card-mobile"],
    tabindex: "0",
    "aria-labelledby": titleId,
    "data-testid": "alert-card",
    dataset: { alertId: String(alert.id), status: alert.status, severity: alert.severity },
  });
  const colour = safeColour(alert.colour);
  if (colour) card.style.setProperty("--list-colour", colour);

  const best = image(
    `/media/events/${encodeURIComponent(alert.event_id ?? alert.id)}/best.jpg`,
    `Best shot of the face seen on ${alert.camera}`,
    "alert-best-shot",
  );
  const listPhoto = ctx.personExists(alert.person_id)
    ? image(`/people/${encodeURIComponent(alert.person_id)}/photo.jpg`, `Watchlist photo of ${alert.person}`, "alert-list-photo")
    : placeholder("No list photo");
  const shots = h("div", { class: "shots" }, figure("Seen", best), figure("On list", listPhoto));

  const second = alert.awaiting_second_confirmation
    ? h(
        "p",
        { class: "second-needed", "data-testid": "alert-second-needed", role: "status" },
        h("span", { class: "second-icon", "aria-hidden": "true" }, "2"),
        `Needs a second confirmation (${alert.confirmations ?? 1} of ${alert.confirmations_needed ?? 2})`,
      )
    : null;

  const head = h(
    "header",
    { class: "alert-head" },
    h("h3", { id: titleId, class: "alert-person", "data-testid": "alert-person" }, alert.person || "Unknown person"),
    h(
      "div",
      { class: "alert-tags" },
      listChip(alert.watchlist, alert.colour, "alert-watchlist"),
      // The person's other lists whose rule the sighting passed too (the alert goes by the most severe).
      ...(alert.lists || [])
        .filter((name) => name !== alert.watchlist)
        .map((name) => h("span", { class: "badge", "data-testid": "alert-other-list" }, `also ${name}`)),
      severityBadge(alert.severity, "alert-severity"),
      statusBadge(alert.status, "alert-status"),
      alert.retro
        ? h(
            "span",
            {
              class: "badge retro",
              "data-testid": "alert-retro",
              title: "Raised when this person was put on the list: the sighting is from before.",
            },
            "Earlier sighting",
          )
        : null,
      alert.impossible_travel
        ? h(
            "span",
            {
              class: "badge travel-flag",
              "data-testid": "alert-travel-flag",
              title: "Also seen on another camera too shortly before or after to have travelled between them.",
            },
            "Impossible travel",
          )
        : null,
    ),
  );

  const facts = h(
    "dl",
    { class: "alert-facts" },
    h("div", null, h("dt", null, mobile ? "Where" : "Camera"), h("dd", { "data-testid": "alert-camera" }, alert.camera || "Unknown camera")),
    h(
      "div",
      null,
      h("dt", null, mobile ? "When" : "Seen"),
      h(
        "dd",
        { "data-testid": "alert-time" },
        timeEl(alert.seen_at),
        mobile ? h("span", { class: "muted" }, ` · ${shortAbsolute(alert.seen_at)}`) : null,
      ),
    ),
    h(
      "div",
      null,
      h("dt", null, "Match"),
      h(
        "dd",
        { "data-testid": "alert-score", title: ruleText(alert) },
        `score ${fixed(alert.score)} · margin ${fixed(alert.margin)}`,
        alert.threshold === null || alert.threshold === undefined
          ? null
          : h("span", { class: "muted", "data-testid": "alert-threshold" }, ` · threshold ${fixed(alert.threshold)}`),
      ),
    ),
  );

  const reviews = (alert.reviews || []).length
    ? h(
        "ol",
        { class: "reviews", "data-testid": "alert-reviews", "aria-label": "Reviews" },
        alert.reviews.map((r) =>
          h(
            "li",
            null,
            h("strong", null, r.username),
            ` ${ACTION_LABEL[r.action] || r.action} `,
            timeEl(r.at),
            r.note ? h("span", { class: "note" }, ` — ${r.note}`) : null,
          ),
        ),
      )
    : null;

  const error = errorBox("alert-error");
  const actions = reviewButtons(alert, ctx, error);

  const travel = alert.impossible_travel ? travelPanel(alert, alert.impossible_travel) : null;
  const extra = ctx.extra ? ctx.extra(alert) : null; // e.g. the console's "Export evidence"
  card.append(
    shots,
    h("div", { class: "alert-body" }, head, second, facts, travel, reviews, actions, extra, error),
  );
  return card;
}

function reviewButtons(alert, ctx, error) {
  const user = ctx.user;
  const wanted = ctx.actions || ["acknowledge", "confirm", "reject"];
  if (!OPEN.has(alert.status)) return null;
  if (!allows(user, "operator")) {
    return h("p", { class: "muted small" }, "Your role can view alerts but not review them.");
  }
  const mine = confirmedBy(alert, user.username);
  const buttons = [];
  if (wanted.includes("acknowledge") && alert.status === "new") {
    buttons.push(h("button", { type: "button", class: "btn", "data-testid": "alert-ack", dataset: { action: "acknowledge" } }, "Acknowledge"));
  }
  if (wanted.includes("confirm") && !mine) {
    buttons.push(
      h(
        "button",
        { type: "button", class: "btn btn-confirm", "data-testid": "alert-confirm", dataset: { action: "confirm" } },
        alert.awaiting_second_confirmation ? "Confirm (second)" : "Confirm",
      ),
    );
  }
  if (wanted.includes("reject")) {
    buttons.push(h("button", { type: "button", class: "btn btn-reject", "data-testid": "alert-reject", dataset: { action: "reject" } }, "Reject"));
    // "Not this person": the track is kept as a negative of theirs, so faces closer to it than to them are
    // not named as them again (withdrawable; audited).
    buttons.push(
      h(
        "button",
        {
          type: "button",
          class: "btn btn-reject",
          "data-testid": "alert-reject-wrong-person",
          dataset: { action: "reject", wrongPerson: "1" },
          title: "Reject, and do not name faces like this one as this person again",
        },
        "Not this person",
      ),
    );
  }
  const box = h(
    "div",
    { class: "alert-actions", role: "group", "aria-label": "Review" },
    mine ? h("p", { class: "muted small waiting" }, "You confirmed; a colleague must confirm too.") : null,
    buttons,
  );
  for (const button of buttons) {
    button.addEventListener("click", () => {
      showError(error, null);
      busy(buttons, async () => {
        try {
          const updated = await api("POST", `/alerts/${encodeURIComponent(alert.id)}/review`, {
            action: button.dataset.action,
            note: "",
            wrong_person: button.dataset.wrongPerson === "1",
          });
          ctx.onReviewed(updated);
        } catch (e) {
          showError(error, e);
        }
      });
    });
  }
  return box;
}

/** Puts `alert`'s card into `list` (newest on top), replacing its old card; keeps focus on the card if
 * it was inside the old one. */
export function placeCard(list, alert, card) {
  const old = list.querySelector(`[data-testid="alert-card"][data-alert-id="${alert.id}"]`);
  const hadFocus = old && old.contains(document.activeElement);
  if (old) {
    old.replaceWith(card);
  } else {
    let before = null;
    for (const el of list.children) {
      const id = Number(el.dataset.alertId);
      if (!Number.isNaN(id) && id < alert.id) {
        before = el;
        break;
      }
    }
    list.insertBefore(card, before);
  }
  if (hadFocus) card.focus();
}
