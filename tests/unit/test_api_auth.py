"""The API over a real database (SQLite and PostgreSQL): every route authenticated, roles, sessions, errors.

``test_every_route_refuses_without_a_valid_token`` walks ``app.routes``: a route added later is checked
without changing this file; only the routes in ``OPEN`` may answer without a token.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi import APIRouter, Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from tests.api_kit import Api, bearer, make_state
from tests.auth_kit import ALICE_PASSWORD, BOB_PASSWORD, audit_actions, open_db
from vigil.api import deps
from vigil.api.app import STATIC_PATH, create_app
from vigil.api.deps import SESSION_COOKIE, CurrentUser, current_principal, require, websocket_principal
from vigil.api.errors import INTERNAL
from vigil.api.routes import users as users_routes
from vigil.config import VigilConfig
from vigil.config.schema import ServerConfig
from vigil.errors import (
    BadInput,
    ConfigError,
    Forbidden,
    ModelError,
    NotFound,
    StoreError,
    Unauthorized,
    VigilError,
)
from vigil.services.users import LOGIN_FAILED, UserService
from vigil.store.tables import Role

# What answers without a token: the health check, sign-in and the session probe, the OpenAPI docs,
# best-shot images (which need a signed link instead; tests/integration/test_serve.py checks that), and the
# web console's pages and assets (static files, no data: every call they make is authenticated).
OPEN = {
    ("GET", "/health"), ("POST", "/auth/login"), ("GET", "/auth/session"),
    ("GET", "/media/events/{event_id}/best.jpg"),
    ("GET", "/docs"), ("HEAD", "/docs"), ("GET", "/openapi.json"), ("HEAD", "/openapi.json"),
    ("GET", "/"), ("GET", "/m"), ("GET", "/sw.js"), ("GET", "/manifest.webmanifest"), ("STATIC", "/static"),
}  # fmt: skip
STATIC = "STATIC"
WS = "WEBSOCKET"
WS_TIMEOUT_S = 10.0


# --- every route is authenticated ----------------------------------------------------------------------


def routes_of(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) ``app`` serves, WebSockets as (WS, path), routes of included routers too."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.160 nests routers
    found: list[tuple[str, str]] = []
    routes: list[Any] = list(contexts(app.routes) if contexts else app.routes)
    for route in routes:
        original = getattr(route, "original_route", route)
        if isinstance(original, WebSocketRoute | fastapi.routing.APIWebSocketRoute):
            found.append((WS, route.path))
        elif isinstance(original, Route | fastapi.routing.APIRoute):
            found.extend((method, route.path) for method in sorted(route.methods or ()))
        elif isinstance(original, Mount) and original.path == STATIC_PATH:
            found.append((STATIC, original.path))  # the console's scripts, styles and icons
        else:
            raise AssertionError(f"{route!r} is neither HTTP nor WebSocket: is it open? Say so here")
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def websocket_close_code(client: TestClient, path: str, headers: dict[str, str]) -> int | None:
    """The close code a WebSocket gets from the server (None: it stayed open or sent something)."""
    codes: list[int | None] = []

    def attempt() -> None:
        try:
            with client.websocket_connect(path, headers=headers) as ws:
                message = ws.receive()
                codes.append(message["code"] if message["type"] == "websocket.close" else None)
        except WebSocketDisconnect as exc:
            codes.append(exc.code)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(WS_TIMEOUT_S)
    return codes[0] if codes else None


def open_routes(client: TestClient, app: FastAPI) -> list[str]:
    """The routes (outside OPEN) that do not refuse a request without a token, with a bogus one, or with
    a bogus session cookie: HTTP 401 with ``WWW-Authenticate: Bearer``, WebSocket closed with 4401."""
    failures = []
    attempts: list[tuple[dict[str, str], str | None]] = [
        ({}, None), (bearer("vgl_bogus"), None), ({"Authorization": "Basic YWRtaW46YWRtaW4="}, None),
        ({}, "vgl_bogus"),
    ]  # fmt: skip
    for method, path in routes_of(app):
        if (method, path) in OPEN:
            continue
        for headers, cookie in attempts:
            client.cookies.clear()
            if cookie:
                client.cookies.set(SESSION_COOKIE, cookie)
            if method == WS:
                code = websocket_close_code(client, concrete(path), headers)
                if code != 4401:
                    failures.append(f"WS {path} {headers or cookie}: closed with {code}")
                continue
            r = client.request(method, concrete(path), headers=headers)
            if r.status_code != 401 or r.headers.get("www-authenticate") != "Bearer":
                failures.append(f"{method} {path} {headers or cookie}: {r.status_code}")
    client.cookies.clear()
    return failures


def test_every_route_refuses_without_a_valid_token(api: Api) -> None:
    routes = routes_of(api.app)
    assert set(routes) >= OPEN, "the open routes exist"
    assert {("GET", "/users"), ("POST", "/auth/logout"), ("DELETE", "/tokens/{token_id}")} <= set(routes)
    assert open_routes(api.client, api.app) == []
    assert api.client.get("/health").json() == {"status": "ok"}
    assert api.client.get("/docs").status_code == 200
    assert api.client.get("/openapi.json").status_code == 200


def test_every_response_carries_the_security_headers(api: Api) -> None:
    """Pages, JSON, errors (401, 404, 422) and static files alike; HSTS only over TLS."""
    responses = [
        api.client.get("/"), api.client.get("/health"), api.client.get("/users"),
        api.client.get("/no/such/route"), api.client.post("/auth/login", json={}),
        api.client.get("/static/js/api.js"), api.client.get("/watchlists", headers=api.admin),
    ]  # fmt: skip
    assert [r.status_code for r in responses] == [200, 200, 401, 404, 422, 200, 200]
    for r in responses:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]  # pages set a full CSP
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in r.headers, "not over plain HTTP"
    proxied = api.client.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert proxied.headers["strict-transport-security"] == "max-age=31536000"


def test_the_route_check_notices_open_routes_of_either_kind(api: Api) -> None:
    """Guards the guard: an unauthenticated HTTP or WebSocket route is reported, authenticated ones not."""
    leaky = APIRouter()

    @leaky.get("/leak/{thing}")
    def leak(thing: str) -> dict[str, str]:
        return {"thing": thing}

    @leaky.websocket("/ws/leak")
    async def leak_ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello, anyone")
        await websocket.close()

    guarded = APIRouter()

    @guarded.websocket("/ws/guarded")  # refused by the router-level dependency
    async def guarded_ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    @leaky.websocket("/ws/checks-itself")  # refused by calling websocket_principal first
    async def checking_ws(websocket: WebSocket) -> None:
        await websocket_principal(websocket)
        await websocket.accept()
        await websocket.close()

    api.app.include_router(leaky)
    api.app.include_router(guarded, dependencies=[Depends(current_principal)])
    assert {(WS, "/ws/guarded"), (WS, "/ws/checks-itself"), ("GET", "/leak/{thing}")} <= set(
        routes_of(api.app)
    )
    failures = open_routes(api.client, api.app)
    assert {f.split(" ")[0] + " " + f.split(" ")[1] for f in failures} == {"GET /leak/{thing}", "WS /ws/leak"}


def test_openapi_documents_both_ways_to_send_a_token(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert schema["info"]["title"] == "Vigil"
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    assert schema["paths"]["/users"]["get"]["security"], "authenticated routes say so"
    assert "security" not in schema["paths"]["/health"]["get"]


# --- roles ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.AUDITOR])
def test_non_admins_get_403_on_every_admin_route(api: Api, role: Role) -> None:
    token = api.user("alice", role)
    admin_routes = [
        (m, r.path)
        for r in users_routes.router.routes
        if isinstance(r, fastapi.routing.APIRoute)
        for m in r.methods or ()
    ]
    assert len(admin_routes) >= 6
    for method, path in admin_routes:
        r = api.client.request(method, concrete(path), headers=bearer(token))
        assert r.status_code == 403, (method, path, r.status_code)
        assert r.json() == {"error": f"this needs the role admin or higher; alice is {role.value}"}
    assert api.client.get("/auth/me", headers=bearer(token)).json()["role"] == role.value


def test_require_orders_roles_viewer_operator_admin(api: Api) -> None:
    probe = APIRouter()

    @probe.get("/probe/operator")
    def operator_only(user: deps.OperatorUser) -> str:
        return user.username

    api.app.include_router(probe)
    viewer, operator = api.user("vera", Role.VIEWER), api.user("otto", Role.OPERATOR)
    assert api.client.get("/probe/operator", headers=bearer(viewer)).status_code == 403
    assert api.client.get("/probe/operator", headers=bearer(operator)).json() == "otto"
    assert api.client.get("/probe/operator", headers=bearer(api.first.token)).json() == "admin"
    assert api.client.get("/probe/operator").status_code == 401


# --- sign-in and sessions ------------------------------------------------------------------------------


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_the_session(api: Api) -> None:
    r = api.client.post("/auth/login", json={"username": "admin", "password": api.first.password})
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["username"] == "admin"
    assert body["token"].startswith("vgl_")
    assert r.headers["cache-control"] == "no-store"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}={body['token']};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie, "plain http (tests): a Secure cookie would never be sent back"
    assert "Max-Age=3600" in cookie

    assert api.client.get("/auth/me").json()["username"] == "admin", "the cookie alone signs in"
    assert api.client.get("/auth/me", headers=bearer(body["token"])).status_code == 200
    r = api.client.post("/auth/logout")
    assert r.status_code == 204
    assert f'{SESSION_COOKIE}=""' in r.headers["set-cookie"]
    assert api.client.get("/auth/me").status_code == 401
    api.client.cookies.set(SESSION_COOKIE, body["token"])  # replaying the old cookie: ended on the server
    assert api.client.get("/auth/me").status_code == 401
    assert api.client.get("/auth/me", headers=bearer(body["token"])).status_code == 401
    assert [a[1] for a in audit_actions(api.db)][-2:] == ["auth.login", "auth.logout"]


@pytest.mark.parametrize(
    ("base_url", "public_url"),
    [("https://testserver", None), ("http://testserver", "https://vigil.example.org")],
    ids=["https", "behind-https-proxy"],
)
def test_the_cookie_is_secure_over_https(api: Api, base_url: str, public_url: str | None) -> None:
    config = VigilConfig(server=ServerConfig(public_url=public_url))
    app = create_app(make_state(api.db, api.users, config))
    with TestClient(app, base_url=base_url) as client:
        r = client.post("/auth/login", json={"username": "admin", "password": api.first.password})
    assert "Secure" in r.headers["set-cookie"]


def test_sessions_expire(api: Api) -> None:
    r = api.client.post("/auth/login", json={"username": "admin", "password": api.first.password})
    assert api.client.get("/auth/me").status_code == 200
    api.clock.advance(minutes=61)
    r = api.client.get("/auth/me")
    assert r.status_code == 401
    assert r.json() == {"error": "the token is unknown, expired or revoked (or its user is disabled)"}


def test_wrong_credentials_get_one_generic_401(api: Api) -> None:
    api.user("alice", Role.VIEWER)
    answers = [
        api.client.post("/auth/login", json={"username": name, "password": password})
        for name, password in [("alice", BOB_PASSWORD), ("nobody", ALICE_PASSWORD), ("ALICE", ALICE_PASSWORD)]
    ]
    for r in answers:
        assert r.status_code == 401
        assert r.json() == {"error": LOGIN_FAILED}
        assert r.headers["www-authenticate"] == "Bearer"
        assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert next(a[1:] for a in audit_actions(api.db) if a[1] == "auth.login_failed") == (
        "auth.login_failed", "user:alice", "wrong password",
    )  # fmt: skip


def test_five_failures_lock_the_user_name(api: Api) -> None:
    for _ in range(5):
        r = api.client.post("/auth/login", json={"username": "admin", "password": "guess-guess-guess"})
        assert r.json() == {"error": LOGIN_FAILED}
    r = api.client.post("/auth/login", json={"username": "admin", "password": api.first.password})
    assert r.status_code == 401
    assert r.json()["error"].startswith("too many failed sign-ins")
    assert api.client.get("/users", headers=bearer(api.first.token)).status_code == 200, "tokens still work"
    api.clock.advance(minutes=15)
    r = api.client.post("/auth/login", json={"username": "admin", "password": api.first.password})
    assert r.status_code == 200


def test_invalid_requests_say_what_is_wrong_without_echoing_values(api: Api) -> None:
    secret = "my-secret-password-123"
    r = api.client.post("/auth/login", json={"username": "admin", "password": secret, "otp": "123456"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "the request is not valid: body.otp: Extra inputs are not permitted"
    assert body["problems"] == [{"where": "body.otp", "problem": "Extra inputs are not permitted"}]
    assert secret not in r.text
    r = api.client.post("/auth/login", json={"username": "admin"})
    assert r.json()["error"] == "the request is not valid: body.password: Field required"


# --- administrators manage users and tokens ------------------------------------------------------------


def test_admin_creates_changes_and_disables_users(api: Api) -> None:
    admin = bearer(api.first.token)
    r = api.client.post("/users", json={"username": "alice", "role": "operator"}, headers=admin)
    assert r.status_code == 201
    assert r.headers["cache-control"] == "no-store"
    created = r.json()
    assert created["user"]["role"] == "operator"
    generated = created["password"]
    assert len(generated) >= 12
    login = api.client.post("/auth/login", json={"username": "alice", "password": generated})
    assert login.status_code == 200
    api.client.cookies.clear()

    r = api.client.post("/users", json={"username": "bob", "password": BOB_PASSWORD}, headers=admin)
    assert r.json()["password"] is None, "a chosen password is not sent back"
    assert r.json()["user"]["role"] == "viewer", "the least role by default"
    assert api.client.post("/users", json={"username": "bob"}, headers=admin).status_code == 422
    r = api.client.post("/users", json={"username": "eve", "password": "short"}, headers=admin)
    assert r.status_code == 422
    assert r.json() == {"error": "password: a password needs at least 12 characters"}

    listed = api.client.get("/users", headers=admin).json()
    assert [u["username"] for u in listed] == ["admin", "alice", "bob"]
    r = api.client.patch("/users/bob", json={"role": "operator", "reason": "promoted"}, headers=admin)
    assert r.json()["role"] == "operator"
    r = api.client.patch("/users/bob", json={"password": ALICE_PASSWORD}, headers=admin)
    assert r.status_code == 200
    r = api.client.post("/auth/login", json={"username": "bob", "password": ALICE_PASSWORD})
    assert r.status_code == 200
    api.client.cookies.clear()
    assert api.client.patch("/users/bob", json={}, headers=admin).status_code == 422
    assert api.client.patch("/users/nobody", json={"disabled": True}, headers=admin).status_code == 404

    bob = bearer(api.users.issue_token("bob", "script", "test")[1])
    assert api.client.get("/auth/me", headers=bob).status_code == 200
    r = api.client.patch("/users/bob", json={"disabled": True, "reason": "left"}, headers=admin)
    assert r.json()["disabled"] is True
    assert api.client.get("/auth/me", headers=bob).status_code == 401, "a disabled user's token is refused"
    r = api.client.post("/auth/login", json={"username": "bob", "password": ALICE_PASSWORD})
    assert r.json() == {"error": LOGIN_FAILED}
    r = api.client.patch("/users/admin", json={"disabled": True}, headers=admin)
    assert r.status_code == 422
    assert "last enabled administrator" in r.json()["error"]

    actions = [(a[0], a[1], a[2]) for a in audit_actions(api.db)]
    assert ("admin", "user.create", "user:alice") in actions
    assert ("admin", "user.role", "user:bob") in actions
    assert ("admin", "user.password", "user:bob") in actions
    assert ("admin", "user.disable", "user:bob") in actions


def test_admin_issues_lists_and_revokes_tokens(api: Api) -> None:
    admin = bearer(api.first.token)
    api.user("alice", Role.VIEWER)
    r = api.client.post("/users/alice/tokens", json={"name": "home-assistant"}, headers=admin)
    assert r.status_code == 201
    assert r.headers["cache-control"] == "no-store"
    issued = r.json()
    assert api.client.get("/auth/me", headers=bearer(issued["token"])).json()["username"] == "alice"

    listed = api.client.get("/users/alice/tokens", headers=admin).json()
    assert [t["name"] for t in listed] == ["test", "home-assistant"]
    assert all(set(t) >= {"id", "kind", "last_used_at", "revoked_at"} for t in listed)
    assert issued["token"] not in str(listed), "a listing never holds a token"

    assert api.client.delete(f"/tokens/{issued['id']}?reason=rotated", headers=admin).status_code == 204
    assert api.client.get("/auth/me", headers=bearer(issued["token"])).status_code == 401
    assert api.client.delete("/tokens/99999", headers=admin).status_code == 404
    assert api.client.get("/users/nobody/tokens", headers=admin).status_code == 404
    actions = [a[1:] for a in audit_actions(api.db)]
    assert ("token.issue", f"token:{issued['id']}", "") in actions
    assert ("token.revoke", f"token:{issued['id']}", "rotated") in actions


def test_expired_tokens_are_refused(api: Api) -> None:
    admin = bearer(api.first.token)
    api.user("alice", Role.VIEWER)
    expires_at = (api.clock() + timedelta(hours=1)).isoformat()
    r = api.client.post("/users/alice/tokens", json={"name": "1h", "expires_at": expires_at}, headers=admin)
    token = bearer(r.json()["token"])
    assert api.client.get("/auth/me", headers=token).status_code == 200
    api.clock.advance(hours=1, seconds=1)
    assert api.client.get("/auth/me", headers=token).status_code == 401
    naive = api.clock().replace(tzinfo=None).isoformat()
    r = api.client.post("/users/alice/tokens", json={"name": "naive", "expires_at": naive}, headers=admin)
    assert r.status_code == 422


def test_users_manage_their_own_tokens_only(api: Api) -> None:
    alice = bearer(api.user("alice", Role.VIEWER))
    r = api.client.post("/auth/tokens", json={"name": "my script"}, headers=alice)
    assert r.status_code == 201
    mine = r.json()
    assert api.client.get("/auth/me", headers=bearer(mine["token"])).json()["role"] == "viewer"
    assert [t["name"] for t in api.client.get("/auth/tokens", headers=alice).json()] == ["test", "my script"]
    admins_token = api.first.token_id
    assert api.client.delete(f"/auth/tokens/{admins_token}", headers=alice).status_code == 404
    assert api.client.get("/auth/me", headers=bearer(api.first.token)).status_code == 200
    assert api.client.delete(f"/auth/tokens/{mine['id']}", headers=alice).status_code == 204
    assert api.client.get("/auth/me", headers=bearer(mine["token"])).status_code == 401


# --- errors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [(NotFound("no camera named 'door'"), 404), (BadInput("fps", "must be positive"), 422),
     (Unauthorized("sign in"), 401), (Forbidden("admins only"), 403), (StoreError("database is locked"), 503),
     (ConfigError("bad key"), 400), (ModelError("model file missing"), 400), (VigilError("other"), 400)],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)  # fmt: skip
def test_vigil_errors_map_to_http_once(api: Api, error: VigilError, status: int) -> None:
    probe = APIRouter()

    @probe.get("/probe/error")
    def fail(user: CurrentUser) -> None:
        raise error

    api.app.include_router(probe)
    r = api.client.get("/probe/error", headers=bearer(api.first.token))
    assert r.status_code == status
    assert r.json() == {"error": str(error)}


def test_unexpected_errors_are_a_generic_500_logged_with_traceback(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    probe = APIRouter()

    @probe.get("/probe/crash")
    def crash(user: CurrentUser) -> None:
        raise RuntimeError("connection string postgres://secret@db")

    api.app.include_router(probe)
    with caplog.at_level(logging.ERROR, logger="vigil.api.errors"):
        r = api.client.get("/probe/crash", headers=bearer(api.first.token))
    assert r.status_code == 500
    assert r.json() == {"error": INTERNAL}
    assert "secret" not in r.text
    [record] = [rec for rec in caplog.records if rec.name == "vigil.api.errors"]
    assert record.getMessage() == "GET /probe/crash failed"
    assert record.exc_info is not None


# --- WebSockets ----------------------------------------------------------------------------------------


def test_websockets_take_the_token_from_query_header_or_cookie(api: Api) -> None:
    probe = APIRouter()

    @probe.websocket("/ws/whoami")
    async def whoami(websocket: WebSocket) -> None:
        principal = await websocket_principal(websocket)
        await websocket.accept()
        await websocket.send_text(principal.username)
        await websocket.close()

    @probe.websocket("/ws/admins", dependencies=[Depends(require(Role.ADMIN))])
    async def admins(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("welcome")
        await websocket.close()

    api.app.include_router(probe, dependencies=[Depends(current_principal)])
    alice = api.user("alice", Role.VIEWER)
    with api.client.websocket_connect(f"/ws/whoami?token={alice}") as ws:
        assert ws.receive_text() == "alice"
    with api.client.websocket_connect("/ws/whoami", headers=bearer(api.first.token)) as ws:
        assert ws.receive_text() == "admin"
    api.client.post("/auth/login", json={"username": "admin", "password": api.first.password})
    with api.client.websocket_connect("/ws/whoami") as ws:
        assert ws.receive_text() == "admin", "the session cookie"
    api.client.cookies.clear()

    assert websocket_close_code(api.client, "/ws/whoami", {}) == 4401
    assert websocket_close_code(api.client, "/ws/whoami?token=vgl_bogus", {}) == 4401
    assert websocket_close_code(api.client, f"/ws/admins?token={alice}", {}) == 4403
    with api.client.websocket_connect(f"/ws/admins?token={api.first.token}") as ws:
        assert ws.receive_text() == "welcome"


def test_a_query_token_counts_for_websockets_only(api: Api) -> None:
    """Tokens in URLs end up in access logs: HTTP routes take headers and cookies only."""
    assert api.client.get(f"/auth/me?token={api.first.token}").status_code == 401


# --- the factory ---------------------------------------------------------------------------------------


def test_apps_share_nothing(api: Api, tmp_path: Path) -> None:
    other_db = open_db(f"sqlite:///{tmp_path / 'other.db'}")
    other_users = UserService(other_db, session_hours=1)
    other_first = other_users.bootstrap_admin()
    assert other_first is not None
    with TestClient(create_app(make_state(other_db, other_users))) as other:
        assert other.get("/auth/me", headers=bearer(api.first.token)).status_code == 401
        assert other.get("/auth/me", headers=bearer(other_first.token)).status_code == 200
    assert api.client.get("/auth/me", headers=bearer(other_first.token)).status_code == 401
    other_db.dispose()


# --- the role × endpoint matrix ------------------------------------------------------------------------

VW, OP, AD = Role.VIEWER, Role.OPERATOR, Role.ADMIN
LEAST_ROLE: dict[tuple[str, str], Role] = {
    ("GET", "/alerts"): VW, ("GET", "/alerts/{alert_id}"): VW, ("POST", "/alerts/{alert_id}/review"): OP,
    ("POST", "/alerts/{alert_id}/export"): OP, ("POST", "/events/{event_id}/export"): OP,
    ("POST", "/exports"): OP,
    ("POST", "/auth/logout"): VW, ("GET", "/auth/me"): VW, ("GET", "/auth/tokens"): VW,
    ("POST", "/auth/tokens"): VW, ("DELETE", "/auth/tokens/{token_id}"): VW,
    ("GET", "/cameras"): VW, ("POST", "/cameras"): OP, ("GET", "/cameras/{camera_id}"): VW,
    ("PATCH", "/cameras/{camera_id}"): OP, ("DELETE", "/cameras/{camera_id}"): OP,
    ("GET", "/cameras/{camera_id}/snapshot.jpg"): VW, ("GET", "/cameras/{camera_id}/advice"): VW,
    ("GET", "/events"): VW, ("GET", "/events/{event_id}"): VW,
    ("POST", "/footage"): OP, ("GET", "/footage/jobs"): VW, ("GET", "/footage/jobs/{job_id}"): VW,
    ("POST", "/footage/jobs/{job_id}/cancel"): OP,
    ("GET", "/metrics"): VW,
    ("GET", "/people"): VW, ("POST", "/people"): OP, ("GET", "/people/{person_id}"): VW,
    ("DELETE", "/people/{person_id}"): OP, ("POST", "/people/{person_id}/lists"): OP,
    ("DELETE", "/people/{person_id}/lists/{watchlist}"): OP, ("GET", "/people/{person_id}/negatives"): OP,
    ("DELETE", "/people/{person_id}/negatives/{negative_id}"): OP,
    ("GET", "/people/{person_id}/photo.jpg"): VW,
    ("GET", "/people/{person_id}/samples/{sample_id}.jpg"): VW,
    ("POST", "/search"): OP,
    ("POST", "/recognize"): OP,
    ("DELETE", "/tokens/{token_id}"): AD, ("GET", "/users"): AD, ("POST", "/users"): AD,
    ("PATCH", "/users/{username}"): AD, ("GET", "/users/{username}/tokens"): AD,
    ("POST", "/users/{username}/tokens"): AD,
    ("GET", "/watchlists"): VW, ("POST", "/watchlists"): AD, ("GET", "/watchlists/{name}"): VW,
    ("DELETE", "/watchlists/{name}"): AD, ("PUT", "/watchlists/{name}/rule"): AD,
    (WS, "/ws/alerts"): VW,
    ("GET", "/audit"): AD, ("GET", "/audit/facets"): AD, ("GET", "/audit/verify"): AD,
    ("GET", "/reports"): AD,
    ("GET", "/clusters"): VW, ("GET", "/clusters/{cluster_id}"): VW,
    ("POST", "/clusters/{cluster_id}/name"): OP, ("POST", "/clusters/{cluster_id}/merge"): OP,
    ("POST", "/clusters/{cluster_id}/split"): OP, ("POST", "/clusters/{cluster_id}/dismiss"): OP,
}  # fmt: skip
"""The least role each authenticated route needs: the specification the app is checked against. A new
route fails the test below until it is given its role here."""
RANK = {VW: 0, OP: 1, AD: 2}
AU = Role.AUDITOR
AUDITOR_MAY: set[tuple[str, str]] = {
    ("POST", "/auth/logout"), ("GET", "/auth/me"), ("GET", "/auth/tokens"), ("POST", "/auth/tokens"),
    ("DELETE", "/auth/tokens/{token_id}"),
    ("GET", "/cameras"), ("GET", "/cameras/{camera_id}"), ("GET", "/cameras/{camera_id}/advice"),
    ("GET", "/watchlists"), ("GET", "/watchlists/{name}"),
    ("GET", "/audit"), ("GET", "/audit/facets"), ("GET", "/audit/verify"), ("GET", "/reports"),
}  # fmt: skip
"""What an auditor may use besides the admin's: their own session and tokens, and the lists' and cameras'
metadata (no alert, event, face, snapshot, footage, search or change)."""


def allowed_for(role: Role, route: tuple[str, str]) -> bool:
    if role is AU:
        return route in AUDITOR_MAY
    return RANK[role] >= RANK[LEAST_ROLE[route]]


def test_every_route_needs_exactly_its_role_for_every_caller(api: Api) -> None:
    served = {r for r in routes_of(api.app) if r not in OPEN}
    assert served == set(LEAST_ROLE), "a route without its role in the table, or a table row without route"
    assert set(LEAST_ROLE) >= AUDITOR_MAY
    tokens = {role: api.user(f"u-{role.value}", role) for role in (VW, OP, AD, AU)}
    mismatches = []
    for method, path in sorted(LEAST_ROLE):
        for role, token in tokens.items():
            allowed = allowed_for(role, (method, path))
            if method == WS:
                code = websocket_close_code(api.client, concrete(path), bearer(token))
                refused = code in (4401, 4403)
                got = f"closed {code}"
            else:
                r = api.client.request(method, concrete(path), headers=bearer(token), json={})
                refused = r.status_code in (401, 403)
                got = str(r.status_code)
                if not allowed and r.status_code != 403:
                    mismatches.append(f"{method} {path} as {role.value}: {got}, expected 403")
                    continue
            if allowed == refused:
                mismatches.append(
                    f"{method} {path} as {role.value}: {got}, {'allowed' if allowed else 'refused'}"
                )
    assert mismatches == [], f"{len(mismatches)} of {len(LEAST_ROLE) * len(tokens)} route × role checks"


def test_an_auditor_is_refused_everywhere_else(api: Api) -> None:
    """Walks the app's routes (not the table above), so a route added later refuses auditors unless it is
    put in ``AUDITOR_MAY`` on purpose: every search, enrolment, review, camera change, footage, face and
    alert route answers 403 naming the permission or role it needs (WebSockets close with 4403)."""
    token = api.user("audrey", AU)
    refused: list[str] = []
    let_through: list[str] = []
    for method, path in routes_of(api.app):
        if (method, path) in OPEN or (method, path) in AUDITOR_MAY:
            continue
        if method == WS:
            code = websocket_close_code(api.client, concrete(path), bearer(token))
            (refused if code == 4403 else let_through).append(f"WS {path}: {code}")
            continue
        r = api.client.request(method, concrete(path), headers=bearer(token), json={})
        if r.status_code == 403 and r.json()["error"].endswith("audrey is auditor"):
            refused.append(f"{method} {path}")
        else:
            let_through.append(f"{method} {path}: {r.status_code}")
    assert let_through == []
    assert set(refused) >= {
        "POST /search", "POST /recognize", "POST /people", "POST /alerts/{alert_id}/review",
        "PATCH /cameras/{camera_id}", "POST /footage", "GET /alerts", "GET /events",
        "GET /cameras/{camera_id}/snapshot.jpg", "GET /people/{person_id}/photo.jpg",
    }  # fmt: skip
    r = api.client.get("/alerts", headers=bearer(token))
    assert r.json()["error"] == (
        "this needs the permission sightings.read (roles viewer, operator, admin); audrey is auditor"
    )
    me = api.client.get("/auth/me", headers=bearer(token)).json()
    assert me["role"] == "auditor"
    assert me["permissions"] == ["audit.read", "metadata.read", "reports.read"]
