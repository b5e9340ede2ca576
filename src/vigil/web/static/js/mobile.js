// The officer's mobile alert view (/m): sign in, then only the alerts of the lists assigned to the
// officer, newest first, with big Confirm / Reject buttons. Installable (manifest + service worker);
// beeps and vibrates for high and critical alerts when the phone allows it.
//
// data-testid:
//   signin-form, signin-username, signin-password, signin-submit, signin-error, signin-message
//   (see signin.js), m-top, connection (data-state), offline-banner, sound-toggle, current-user,
//   signout, alert-list, alerts-empty, alerts-error, m-filter-open, m-filter-all, and the alert cards
//   (see alerts.js): alert-card (data-alert-id, data-status, data-severity), alert-confirm,
//   alert-reject, alert-second-needed, alert-error, ...

import { AlertStream, ApiError, currentUser, onApiFailure, signOut } from "./api.js";
import { AlertStore, PeopleIndex, alertCard, placeCard } from "./alerts.js";
import { errorBox, h, pref, replace, setPref, showError, startClock } from "./dom.js";
import { signInPanel } from "./signin.js";
import { beep, installUnlock, loud, muted, onMuteChange, setMuted, unlock, vibrate } from "./sound.js";

const main = document.getElementById("main");
const top = document.getElementById("top");
const banner = document.getElementById("banner");
const announcer = document.getElementById("announcer");

const session = {
  user: null,
  stream: null,
  store: new AlertStore(),
  people: new PeopleIndex(),
  off: [],
};

const OPEN = new Set(["new", "acknowledged"]);

function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/m" }).catch(() => {
    /* the page works without it; it only adds offline start */
  });
}

function showSignIn(message) {
  document.title = "Sign in · Vigil alerts";
  top.hidden = true;
  top.replaceChildren();
  banner.hidden = true;
  const { panel, focus } = signInPanel({ subtitle: "Alerts for officers", message, onSignedIn: startSession });
  replace(main, panel);
  focus();
}

function paintBanner(state) {
  const offline = navigator.onLine === false;
  if (state === "live" && !offline) {
    banner.hidden = true;
    banner.textContent = "";
    return;
  }
  if (state === "connecting" && !offline) {
    banner.hidden = true;
    return;
  }
  banner.textContent = offline
    ? "Offline. Reconnecting when the network is back… missed alerts will be fetched."
    : "Reconnecting… missed alerts will be fetched.";
  banner.hidden = false;
}

function renderTop(user) {
  const conn = h("span", { class: "conn", "data-testid": "connection", dataset: { state: "connecting" } }, "Connecting…");
  const sound = h("button", { type: "button", class: "btn btn-small", role: "switch", "data-testid": "sound-toggle" });
  const paint = () => {
    sound.setAttribute("aria-checked", String(!muted()));
    sound.textContent = muted() ? "Sound off" : "Sound on";
  };
  paint();
  sound.addEventListener("click", () => {
    setMuted(!muted());
    unlock();
    if (!muted()) beep(false);
  });
  session.off.push(onMuteChange(paint));
  const out = h("button", { type: "button", class: "btn btn-small", "data-testid": "signout" }, "Sign out");
  out.addEventListener("click", async () => {
    out.disabled = true;
    await signOut();
    endSession("You are signed out.");
  });
  replace(
    top,
    h(
      "div",
      { class: "m-top-row" },
      h("span", { class: "m-brand" }, h("img", { src: "/static/icons/icon.svg", alt: "", width: "26", height: "26" }), "Vigil"),
      conn,
    ),
    h(
      "div",
      { class: "m-top-row" },
      h("span", { class: "m-user", "data-testid": "current-user" }, user.username),
      h("span", { class: "m-top-actions" }, sound, out),
    ),
  );
  top.setAttribute("data-testid", "m-top");
  top.hidden = false;
  return conn;
}

async function startSession(user) {
  clearTimeout(retryTimer);
  retryTimer = null;
  session.user = user;
  session.store.clear();
  const conn = renderTop(user);
  let showAll = Boolean(pref("mobileShowAll", true));

  const list = h("div", { class: "alert-list m-list", "data-testid": "alert-list", "aria-label": "Your alerts, newest first" });
  const empty = h("div", { class: "empty", "data-testid": "alerts-empty" });
  const openBtn = h("button", { type: "button", class: "btn btn-small", "data-testid": "m-filter-open" }, "Open");
  const allBtn = h("button", { type: "button", class: "btn btn-small", "data-testid": "m-filter-all" }, "All");
  const heading = h("h1", { class: "m-title" }, "Your alerts");
  const streamError = errorBox("alerts-error");
  replace(
    main,
    h("div", { class: "m-head" }, heading, h("div", { class: "toolbar", role: "group", "aria-label": "Show" }, openBtn, allBtn)),
    streamError,
    list,
    empty,
  );

  const cardCtx = {
    user,
    layout: "mobile",
    actions: ["confirm", "reject"],
    personExists: (id) => session.people.exists(id),
    onReviewed: (updated) => session.store.put(updated, { source: "review" }),
  };
  const matches = (a) => showAll || OPEN.has(a.status);

  function paintChrome() {
    openBtn.setAttribute("aria-pressed", String(!showAll));
    allBtn.setAttribute("aria-pressed", String(showAll));
    empty.hidden = list.children.length > 0;
    replace(
      empty,
      h("p", null, showAll ? "No alerts for you yet." : "No open alerts."),
      h("p", { class: "small" }, "Alerts from the watchlists assigned to you appear here the moment they happen."),
    );
  }

  function renderAll() {
    const focusedId = document.activeElement?.closest?.("[data-alert-id]")?.dataset.alertId;
    list.replaceChildren(...session.store.list().filter(matches).map((a) => alertCard(a, cardCtx)));
    if (focusedId) list.querySelector(`[data-alert-id="${focusedId}"]`)?.focus();
    paintChrome();
  }

  for (const [btn, value] of [
    [openBtn, false],
    [allBtn, true],
  ]) {
    btn.addEventListener("click", () => {
      showAll = value;
      setPref("mobileShowAll", value);
      renderAll();
    });
  }

  await session.people.refresh();
  const stream = new AlertStream({ mine: true });
  session.stream = stream;
  session.off.push(
    stream.on("state", (state) => {
      conn.dataset.state = state;
      conn.textContent = { live: "Live", reconnecting: "Reconnecting…", connecting: "Connecting…" }[state] || state;
      paintBanner(state);
      if (state === "unauthorized") endSession("Your session has ended. Please sign in again.");
    }),
    stream.on("alert", (alert, info) => session.store.put(alert, info)),
    stream.on("error", (error) =>
      showError(streamError, error ? new Error(`Your recent alerts could not be loaded: ${error.message}`) : null),
    ),
    session.store.subscribe((alert, info) => {
      session.people.ensure(alert.person_id);
      if (matches(alert)) {
        placeCard(list, alert, alertCard(alert, cardCtx));
      } else {
        list.querySelector(`[data-alert-id="${alert.id}"]`)?.remove();
      }
      paintChrome();
      if (info.isNew && (info.source === "live" || info.source === "missed")) {
        announcer.textContent = `New ${alert.severity} alert: ${alert.person} at ${alert.camera}`;
        if (loud(alert.severity)) {
          beep(alert.severity === "critical");
          vibrate();
        }
      }
    }),
    session.people.onChange(renderAll),
  );
  renderAll();
  stream.start();
}

function endSession(message) {
  if (!session.user) return;
  session.user = null;
  session.stream?.stop();
  session.stream = null;
  for (const off of session.off.splice(0)) off();
  session.store.clear();
  showSignIn(message);
}

onApiFailure((error, _method, path) => {
  if (error.status === 401 && session.user && !path.startsWith("/auth/login")) {
    endSession("Your session has ended. Please sign in again.");
  }
});

window.addEventListener("online", () => {
  paintBanner(session.stream?.state);
  session.stream?.retryNow();
});
window.addEventListener("offline", () => {
  if (session.user) paintBanner("reconnecting");
});

document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  const target = main.querySelector("h1") || main;
  if (target !== main) target.setAttribute("tabindex", "-1");
  target.focus();
});

const OFFLINE = "You are offline. Vigil connects by itself when the network is back.";
const RETRY_MS = 5000;
let retryTimer = null;

/** Signed in? Then the alerts; otherwise the sign-in form. Started offline (the page came from the
 * service worker's cache), it keeps trying, and meanwhile lets the officer fill in the form. */
async function start(retrying = false) {
  clearTimeout(retryTimer);
  try {
    const user = await currentUser();
    if (session.user) return; // signed in meanwhile, with the form
    if (user) await startSession(user);
    else if (retrying) main.querySelector('[data-testid="signin-message"]')?.remove();
    else showSignIn();
  } catch (error) {
    if (error instanceof ApiError && error.status === 0) {
      if (!retrying) showSignIn(OFFLINE);
      retryTimer = setTimeout(() => start(true), RETRY_MS);
    } else {
      showSignIn(error.message);
    }
  }
}

window.addEventListener("online", () => {
  if (retryTimer !== null) start(true);
});

registerServiceWorker();
installUnlock();
startClock();
start();
