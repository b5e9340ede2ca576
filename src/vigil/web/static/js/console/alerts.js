// The alerts screen (home): the live feed, newest on top, with a status filter.
//
// data-testid:
//   screen-title, alert-filter (group), alert-filter-<all|new|acknowledged|confirmed|rejected>,
//   alert-list, alerts-empty, alerts-error, and on each card (see ../alerts.js): alert-card (data-alert-id,
//   data-status, data-severity), alert-ack, alert-confirm, alert-reject, alert-second-needed,
//   alert-error, alert-best-shot, alert-list-photo, alert-person, alert-watchlist, alert-severity,
//   alert-status, alert-camera, alert-time, alert-score, alert-reviews, alert-export (./evidence.js)

import { alertCard, placeCard, STATUS_LABEL } from "../alerts.js";
import { errorBox, h, pref, setPref, showError } from "../dom.js";
import { exportButton } from "./evidence.js";

const FILTERS = ["all", "new", "acknowledged", "confirmed", "rejected"];

export function mount(root, ctx) {
  let filter = pref("alertFilter", "all");
  if (!FILTERS.includes(filter)) filter = "all";

  const list = h("div", { class: "alert-list", "data-testid": "alert-list", "aria-label": "Alerts, newest first" });
  const empty = h("p", { class: "empty", "data-testid": "alerts-empty" });
  const summary = h("p", { class: "muted small summary", "aria-live": "off" });
  const streamError = errorBox("alerts-error");
  const paintStreamError = (error) =>
    showError(streamError, error ? new Error(`The recent alerts could not be loaded: ${error.message}`) : null);

  const filterButtons = FILTERS.map((name) => {
    const b = h(
      "button",
      { type: "button", class: "btn btn-small", "data-testid": `alert-filter-${name}`, dataset: { filter: name } },
      name === "all" ? "All" : STATUS_LABEL[name],
    );
    b.addEventListener("click", () => {
      filter = name;
      setPref("alertFilter", name);
      renderAll();
    });
    return b;
  });

  root.append(
    h(
      "div",
      { class: "screen-head" },
      h("h1", { "data-testid": "screen-title" }, "Alerts"),
      h("div", { class: "toolbar", role: "group", "aria-label": "Show alerts", "data-testid": "alert-filter" }, filterButtons),
    ),
    summary,
    streamError,
    list,
    empty,
  );

  const cardCtx = {
    user: ctx.user,
    layout: "console",
    personExists: (id) => ctx.people.exists(id),
    onReviewed: (updated) => ctx.store.put(updated, { source: "review" }),
    extra: (alert) => exportButton(alert, ctx.user),
  };

  const matches = (alert) => filter === "all" || alert.status === filter;

  function paintChrome() {
    for (const b of filterButtons) b.setAttribute("aria-pressed", String(b.dataset.filter === filter));
    const shown = list.children.length;
    const newCount = ctx.store.count("new");
    summary.textContent = `${shown} shown · ${newCount} new`;
    empty.hidden = shown > 0;
    empty.textContent =
      filter === "all"
        ? "No alerts yet. New alerts appear here the moment a watchlisted face is recognised."
        : `No ${STATUS_LABEL[filter].toLowerCase()} alerts among the recent ones.`;
  }

  function renderAll() {
    const hadFocus = list.contains(document.activeElement) ? document.activeElement.closest("[data-alert-id]")?.dataset.alertId : null;
    list.replaceChildren(...ctx.store.list().filter(matches).map((a) => alertCard(a, cardCtx)));
    if (hadFocus) list.querySelector(`[data-alert-id="${hadFocus}"]`)?.focus();
    paintChrome();
  }

  function onAlert(alert) {
    if (matches(alert)) {
      placeCard(list, alert, alertCard(alert, cardCtx));
    } else {
      const old = list.querySelector(`[data-alert-id="${alert.id}"]`);
      if (old) {
        const hadFocus = old.contains(document.activeElement);
        const next = old.nextElementSibling || old.previousElementSibling;
        old.remove();
        if (hadFocus && next) next.focus();
      }
    }
    paintChrome();
  }

  // Arrow keys move between cards (Tab still reaches every button).
  list.addEventListener("keydown", (event) => {
    if (event.target.dataset?.testid !== "alert-card") return;
    let next = null;
    if (event.key === "ArrowDown" || event.key === "j") next = event.target.nextElementSibling;
    if (event.key === "ArrowUp" || event.key === "k") next = event.target.previousElementSibling;
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });

  renderAll();
  paintStreamError(ctx.stream?.error);
  const offError = ctx.stream ? ctx.stream.on("error", paintStreamError) : () => {};
  const offStore = ctx.store.subscribe(onAlert);
  const offPeople = ctx.people.onChange(renderAll);
  return () => {
    offStore();
    offPeople();
    offError();
  };
}
