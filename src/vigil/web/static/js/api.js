// Talking to the Vigil server: JSON requests, signing in and out, and the live alert stream.
//
// Everything is same-origin and authenticated by the HttpOnly session cookie that POST /auth/login
// sets; nothing secret is kept in JavaScript or in storage.

/** An error answered by the server: `message` is its `{"error": "..."}` text, `status` the HTTP status
 * (0 when the server could not be reached), `body` the parsed body (422s carry `problems`, enrolment
 * refusals `verdicts`). */
export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

/** Sends a request and returns the parsed JSON answer (null for 204 / an empty body).
 * `body` may be a plain object (sent as JSON) or a FormData (sent as multipart/form-data). */
export async function api(method, path, body) {
  const init = { method, credentials: "include", headers: { Accept: "application/json" } };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined && body !== null) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError("Cannot reach the server. Check the connection and try again.", 0, null);
  }
  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      data && typeof data === "object" && typeof data.error === "string" && data.error
        ? data.error
        : `${response.status} ${response.statusText || "request failed"}`;
    const error = new ApiError(message, response.status, data);
    for (const listener of failureListeners) listener(error, method, path);
    throw error;
  }
  return data;
}

const failureListeners = new Set();

/** Like `api("POST", path, formData)` but with XMLHttpRequest, to report upload progress:
 * `onProgress(fraction)` gets 0..1, or null when the browser cannot tell the total. Same-origin, so the
 * session cookie goes along. Resolves to the parsed JSON answer; rejects with an ApiError. */
export function upload(path, formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    if (onProgress) {
      xhr.upload.addEventListener("progress", (event) => onProgress(event.lengthComputable && event.total > 0 ? event.loaded / event.total : null));
    }
    xhr.addEventListener("load", () => {
      let data = null;
      if (xhr.responseText) {
        try {
          data = JSON.parse(xhr.responseText);
        } catch {
          data = xhr.responseText;
        }
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(data);
        return;
      }
      const message =
        data && typeof data === "object" && typeof data.error === "string" && data.error
          ? data.error
          : `${xhr.status} ${xhr.statusText || "request failed"}`;
      const error = new ApiError(message, xhr.status, data);
      for (const listener of failureListeners) listener(error, "POST", path);
      reject(error);
    });
    const unreachable = () => reject(new ApiError("Cannot reach the server. Check the connection and try again.", 0, null));
    xhr.addEventListener("error", unreachable);
    xhr.addEventListener("abort", unreachable);
    xhr.addEventListener("timeout", unreachable);
    xhr.send(formData);
  });
}

/** Calls `fn(error, method, path)` after every failed request (the apps use it to notice a 401). */
export function onApiFailure(fn) {
  failureListeners.add(fn);
  return () => failureListeners.delete(fn);
}

/** Builds a query string from an object, leaving out empty values: `query({a: 1, b: ""})` → "?a=1". */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Signs in; resolves to the user (`{id, username, role, disabled, created_at, ...}`). */
export async function signIn(username, password) {
  const answer = await api("POST", "/auth/login", { username, password });
  return answer.user;
}

/** Ends the session (and drops the cookie). Never throws: signing out locally always works. */
export async function signOut() {
  try {
    await api("POST", "/auth/logout");
  } catch {
    /* the session may already be gone */
  }
}

/**
 * The signed-in user, or null when there is no valid session. Asks the session probe, which answers
 * `{user: null}` rather than a 401 (a page opened before signing in is normal, not an error).
 */
export async function me() {
  const answer = await api("GET", "/auth/session");
  return answer.user;
}

function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/** The signed-in user or null (what the pages ask on load). */
export const currentUser = me;

const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };

/** Whether `user`'s role is at least `role` (viewer < operator < admin). */
export function allows(user, role) {
  return Boolean(user) && (ROLE_RANK[user.role] ?? -1) >= (ROLE_RANK[role] ?? 99);
}

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 15000;
const RECENT = 50;
const CATCH_UP_LIMIT = 1000;

/** The live alerts: a WebSocket to /ws/alerts that reconnects with backoff (1 s doubling to 15 s).
 *
 * On every (re)connect it fetches the alerts it missed (`GET /alerts?after=<last id>`) and refreshes the
 * recent ones (`GET /alerts?limit=50`), so reviews made meanwhile show up. Each WebSocket message names
 * an alert (`alert_id`); the full alert is fetched with `GET /alerts/{id}` so that listeners always get
 * one shape.
 *
 * Events (subscribe with `on(type, fn)`, which returns an unsubscribe function):
 *  - "alert" `(alert, {source})`: source is "live" (a new alert now), "update" (a review changed it),
 *    "missed" (raised while disconnected) or "recent" (the refresh after connecting);
 *  - "state" `("connecting" | "live" | "reconnecting" | "unauthorized")`;
 *  - "error" `(ApiError | null)`: fetching the missed or recent alerts failed (null: it works again).
 */
export class AlertStream {
  constructor({ mine = false } = {}) {
    this.mine = mine;
    this.lastId = null;
    this.state = "connecting";
    this._listeners = { alert: new Set(), state: new Set(), error: new Set() };
    this.error = null;
    this._socket = null;
    this._timer = null;
    this._backoff = MIN_BACKOFF_MS;
    this._stopped = true;
    this._generation = 0;
  }

  on(type, fn) {
    this._listeners[type].add(fn);
    return () => this._listeners[type].delete(fn);
  }

  start() {
    if (!this._stopped) return;
    this._stopped = false;
    this._connect();
  }

  stop() {
    this._stopped = true;
    this._generation += 1;
    clearTimeout(this._timer);
    this._timer = null;
    if (this._socket) {
      const socket = this._socket;
      this._socket = null;
      socket.onclose = socket.onerror = socket.onmessage = socket.onopen = null;
      try {
        socket.close(1000, "bye");
      } catch {
        /* already closed */
      }
    }
  }

  /** Connect again now (e.g. when the browser says it is back online) instead of waiting. */
  retryNow() {
    if (this._stopped || this.state === "live") return;
    clearTimeout(this._timer);
    this._backoff = MIN_BACKOFF_MS;
    this._connect();
  }

  _emit(type, ...args) {
    for (const fn of [...this._listeners[type]]) {
      try {
        fn(...args);
      } catch (error) {
        // A listener's bug must not stop the stream; report it without breaking the loop.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this._emit("state", state);
  }

  _setError(error) {
    if (this.error === error) return;
    this.error = error;
    this._emit("error", error);
  }

  _url() {
    return socketUrl(`/ws/alerts${this.mine ? "?mine=1" : ""}`);
  }

  _connect() {
    if (this._stopped) return;
    if (this._socket) {
      this._socket.onclose = this._socket.onerror = this._socket.onmessage = this._socket.onopen = null;
      try {
        this._socket.close();
      } catch {
        /* ignore */
      }
    }
    const generation = ++this._generation;
    let socket;
    try {
      socket = new WebSocket(this._url());
    } catch {
      this._scheduleReconnect();
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      if (generation !== this._generation) return;
      this._backoff = MIN_BACKOFF_MS;
      this._setState("live");
      this._catchUp(generation);
    };
    socket.onmessage = (event) => {
      if (generation !== this._generation) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!message || message.alert_id === undefined || message.alert_id === null) return;
      const source = message.type === "alert" ? "live" : "update";
      this._fetchOne(message.alert_id, source, generation);
    };
    socket.onclose = (event) => {
      if (generation !== this._generation || this._stopped) return;
      this._socket = null;
      if (event.code === 4401) {
        // The session ended (expired, signed out elsewhere, user disabled): nothing to retry.
        this._stopped = true;
        this._setState("unauthorized");
        return;
      }
      this._scheduleReconnect();
    };
  }

  _scheduleReconnect() {
    if (this._stopped) return;
    this._setState("reconnecting");
    clearTimeout(this._timer);
    const delay = this._backoff;
    this._backoff = Math.min(this._backoff * 2, MAX_BACKOFF_MS);
    this._timer = setTimeout(() => this._connect(), delay);
  }

  _mineParam() {
    return this.mine ? { mine: "true" } : {};
  }

  _noteId(id) {
    if (typeof id === "number" && (this.lastId === null || id > this.lastId)) this.lastId = id;
  }

  async _fetchOne(id, source, generation) {
    try {
      const alert = await api("GET", `/alerts/${encodeURIComponent(id)}`);
      if (generation !== this._generation) return;
      this._noteId(alert.id);
      this._emit("alert", alert, { source });
    } catch {
      /* gone or not ours: the next refresh settles it */
    }
  }

  async _catchUp(generation) {
    try {
      if (this.lastId !== null) {
        // What was raised while we were away, oldest first.
        const missed = await api(
          "GET",
          `/alerts${query({ after: this.lastId, limit: CATCH_UP_LIMIT, ...this._mineParam() })}`,
        );
        if (generation !== this._generation) return;
        for (const alert of missed) {
          this._noteId(alert.id);
          this._emit("alert", alert, { source: "missed" });
        }
      }
      // The recent ones again, newest first: their review state may have changed meanwhile.
      const recent = await api("GET", `/alerts${query({ limit: RECENT, ...this._mineParam() })}`);
      if (generation !== this._generation) return;
      for (const alert of [...recent].reverse()) {
        this._noteId(alert.id);
        this._emit("alert", alert, { source: "recent" });
      }
      if (this.lastId === null) this.lastId = 0;
      this._setError(null);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.stop();
        this._setState("unauthorized");
        return;
      }
      // The socket is live anyway (new alerts still arrive); the next reconnect retries.
      if (generation === this._generation) this._setError(error);
    }
  }
}
