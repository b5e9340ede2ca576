// The operator console: sign-in, the header, the hash router, and the live alert stream shared by all
// screens (so alerts beep and the unread count updates whichever screen is shown).
//
// data-testid:
//   signin-form, signin-username, signin-password, signin-submit, signin-error, signin-message
//   (see ../signin.js),
//   topbar, nav, nav-alerts, nav-cameras, nav-lists, nav-events, nav-search, nav-footage, nav-users, nav-clusters,
//   nav-audit,
//   nav-new-count,
//   connection (data-state: connecting | live | reconnecting | unauthorized), sound-toggle,
//   current-user, current-role, signout, skip-link, main, screen-title

import { AlertStream, ApiError, allows, currentUser, onApiFailure, signOut } from "../api.js";
import { AlertStore, PeopleIndex } from "../alerts.js";
import { h, replace, startClock } from "../dom.js";
import { signInPanel } from "../signin.js";
import { beep, installUnlock, loud, muted, onMuteChange, setMuted, unlock } from "../sound.js";
import * as alertsScreen from "./alerts.js";
import * as auditScreen from "./audit.js";
import * as camerasScreen from "./cameras.js";
import * as clustersScreen from "./clusters.js";
import * as eventsScreen from "./events.js";
import * as footageScreen from "./footage.js";
import * as listsScreen from "./lists.js";
import * as searchScreen from "./search.js";
import * as usersScreen from "./users.js";

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
const announcer = document.getElementById("announcer");

// permission: what /auth/me must list for the screen to be shown at all (an auditor holds no
// sightings.read: no alerts, people or footage screens, and no alert socket).
const SIGHTINGS = "sightings.read";
const ROUTES = [
  { name: "alerts", label: "Alerts", screen: alertsScreen, permission: SIGHTINGS },
  { name: "cameras", label: "Cameras", screen: camerasScreen, permission: SIGHTINGS },
  { name: "lists", label: "Watchlists", screen: listsScreen, permission: SIGHTINGS },
  { name: "events", label: "Events", screen: eventsScreen, permission: SIGHTINGS },
  // navRole: only listed in the nav for that role; the screen itself tells others what it needs.
  { name: "search", label: "Search", screen: searchScreen, navRole: "operator", permission: SIGHTINGS },
  { name: "footage", label: "Footage", screen: footageScreen, permission: SIGHTINGS },
  { name: "clusters", label: "Unknowns", screen: clustersScreen, permission: SIGHTINGS },
  { name: "users", label: "Users", screen: usersScreen, role: "admin", permission: "users.manage" },
  { name: "audit", label: "Audit", screen: auditScreen, permission: "audit.read" },
];

/** Whether the user's permissions (from /auth/me) include `permission`. */
function holds(user, permission) {
  return Boolean(user) && Array.isArray(user.permissions) && user.permissions.includes(permission);
}

function visible(user, r) {
  if (r.permission && !holds(user, r.permission)) return false;
  const role = r.role || r.navRole;
  return !role || allows(user, role);
}

/** The first screen the user may see (alerts for everyone but auditors). */
function home(user) {
  return (ROUTES.find((r) => visible(user, r)) || ROUTES[0]).name;
}

const session = {
  user: null,
  stream: null,
  store: new AlertStore(),
  people: new PeopleIndex(),
  unsubscribe: [],
  current: null, // {route, cleanup}
};

// --- sign-in -------------------------------------------------------------------------------------

function showSignIn(message) {
  document.title = "Sign in · Vigil";
  topbar.hidden = true;
  topbar.replaceChildren();
  const { panel, focus } = signInPanel({ subtitle: "Operator console", message, onSignedIn: startSession });
  replace(main, panel);
  focus();
}

// --- the signed-in console -----------------------------------------------------------------------

function connectionLabel(state) {
  return { live: "Live", reconnecting: "Reconnecting…", connecting: "Connecting…", unauthorized: "Signed out" }[state] || state;
}

function renderTopbar(user) {
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Main", "data-testid": "nav" },
    h(
      "ul",
      null,
      ROUTES.filter((r) => visible(user, r)).map((r) =>
        h(
          "li",
          null,
          h(
            "a",
            { href: `#/${r.name}`, "data-testid": `nav-${r.name}`, dataset: { route: r.name } },
            r.label,
            r.name === "alerts"
              ? h("span", { class: "count", "data-testid": "nav-new-count", hidden: true, "aria-label": "new alerts" })
              : null,
          ),
        ),
      ),
    ),
  );
  const conn = h("span", { class: "conn", role: "status", "data-testid": "connection", dataset: { state: "connecting" } }, "Connecting…");
  const sound = h("button", {
    type: "button",
    class: "btn btn-small sound-toggle",
    role: "switch",
    title: "Beep for high and critical alerts",
    "data-testid": "sound-toggle",
  });
  const paintSound = () => {
    const on = !muted();
    sound.setAttribute("aria-checked", String(on));
    sound.textContent = on ? "Sound: on" : "Sound: off";
  };
  paintSound();
  sound.addEventListener("click", () => {
    setMuted(!muted());
    unlock();
    if (!muted()) beep(false);
  });
  session.unsubscribe.push(onMuteChange(paintSound));
  const signout = h("button", { type: "button", class: "btn btn-small", "data-testid": "signout" }, "Sign out");
  signout.addEventListener("click", async () => {
    signout.disabled = true;
    await signOut();
    endSession("You are signed out.");
  });
  replace(
    topbar,
    h(
      "a",
      { class: "brand", href: `#/${home(user)}`, "aria-label": "Vigil, home" },
      h("img", { src: "/static/icons/icon.svg", alt: "", width: "28", height: "28" }),
      h("span", null, "Vigil"),
    ),
    nav,
    h(
      "div",
      { class: "topbar-side" },
      conn,
      h(
        "div",
        { class: "topbar-actions" },
        sound,
        h(
          "span",
          { class: "who" },
          h("span", { class: "who-name", "data-testid": "current-user" }, user.username),
          h("span", { class: ["badge", "role-badge", `role-${user.role}`], "data-testid": "current-role" }, user.role),
        ),
        signout,
      ),
    ),
  );
  topbar.setAttribute("data-testid", "topbar");
  topbar.hidden = false;
  return { conn, nav };
}

function updateNewCount() {
  const el = topbar.querySelector('[data-testid="nav-new-count"]');
  if (!el) return;
  const n = session.store.count("new");
  el.textContent = n > 99 ? "99+" : String(n);
  el.hidden = n === 0;
  el.setAttribute("aria-label", `${n} new`);
}

async function startSession(user) {
  session.user = user;
  session.store.clear();
  const { conn } = renderTopbar(user);
  replace(main, h("p", { class: "loading muted" }, "Loading…"));
  if (!holds(user, SIGHTINGS)) {
    // No alerts to stream (an auditor): no socket, no /people.
    conn.dataset.state = "live";
    conn.textContent = "Signed in";
    route();
    return;
  }
  await session.people.refresh();

  const stream = new AlertStream();
  session.stream = stream;
  session.unsubscribe.push(
    stream.on("state", (state) => {
      conn.dataset.state = state;
      conn.textContent = connectionLabel(state);
      conn.title = state === "reconnecting" ? "The live connection dropped; missed alerts will be fetched" : "";
      if (state === "unauthorized") endSession("Your session has ended. Please sign in again.");
    }),
    stream.on("alert", (alert, info) => session.store.put(alert, info)),
    session.store.subscribe((alert, info) => {
      updateNewCount();
      session.people.ensure(alert.person_id);
      const fresh = info.isNew && (info.source === "live" || info.source === "missed");
      if (fresh) {
        announcer.textContent = `New ${alert.severity} alert: ${alert.person} on ${alert.camera}`;
        if (loud(alert.severity)) beep(alert.severity === "critical");
      }
    }),
  );
  stream.start();
  route();
}

function endSession(message) {
  if (!session.user) return;
  session.user = null;
  if (session.current?.cleanup) session.current.cleanup();
  session.current = null;
  if (session.stream) session.stream.stop();
  session.stream = null;
  for (const off of session.unsubscribe.splice(0)) off();
  session.store.clear();
  // The next user starts on their own home screen (an auditor's is the audit log), not on this one's.
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  showSignIn(message);
}

// --- routing -------------------------------------------------------------------------------------

function parseHash() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
  const [path] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || home(session.user), params: parts.slice(1) };
}

function route(focus = false) {
  if (!session.user) return;
  const { name, params } = parseHash();
  const entry = ROUTES.find((r) => r.name === name);
  if (session.current?.cleanup) session.current.cleanup();
  session.current = null;
  for (const link of topbar.querySelectorAll("nav a[data-route]")) {
    if (link.dataset.route === (entry ? entry.name : "")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const root = h("div", { class: "screen" });
  replace(main, root);
  if (!entry) {
    document.title = "Not found · Vigil";
    root.append(h("h1", { tabindex: "-1", "data-testid": "screen-title" }, "Page not found"), h("p", null, h("a", { href: "#/alerts" }, "Go to the alerts")));
    return;
  }
  document.title = `${entry.label} · Vigil`;
  if ((entry.role && !allows(session.user, entry.role)) || (entry.permission && !holds(session.user, entry.permission))) {
    const needs = entry.role ? `the ${entry.role} role` : `the ${entry.permission} permission`;
    root.append(
      h("h1", { tabindex: "-1", "data-testid": "screen-title" }, entry.label),
      h("p", { class: "error", role: "alert" }, `This screen needs ${needs}; you are ${session.user.role}.`),
    );
    return;
  }
  const ctx = {
    user: session.user,
    stream: session.stream,
    store: session.store,
    people: session.people,
    announce: (text) => {
      announcer.textContent = text;
    },
  };
  const cleanup = entry.screen.mount(root, ctx, params);
  session.current = { route: entry.name, cleanup };
  if (focus) {
    const title = root.querySelector("h1");
    if (title) {
      title.setAttribute("tabindex", "-1");
      title.focus({ preventScroll: false });
    }
  }
}

window.addEventListener("hashchange", () => {
  if (location.hash === "#main") return; // the skip link, without JavaScript
  route(true);
});

document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  const title = main.querySelector("h1");
  const target = title || main;
  if (target !== main) target.setAttribute("tabindex", "-1");
  target.focus();
});

onApiFailure((error, _method, path) => {
  if (error.status === 401 && session.user && !path.startsWith("/auth/login")) {
    endSession("Your session has ended. Please sign in again.");
  }
});

window.addEventListener("online", () => session.stream?.retryNow());

async function boot() {
  installUnlock();
  startClock();
  let user = null;
  try {
    user = await currentUser();
  } catch (error) {
    const text = error instanceof ApiError ? error.message : "The server could not be reached.";
    showSignIn(text);
    return;
  }
  if (user) await startSession(user);
  else showSignIn();
}

boot();
