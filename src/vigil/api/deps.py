"""Dependencies of the routes: the services container, who is asking, and what their role allows.

A request proves who it is with a token: ``Authorization: Bearer <token>`` (API clients and scripts) or
the ``vigil_session`` cookie that ``POST /auth/login`` sets (browsers). A WebSocket may also pass the
token as the ``token`` query parameter, since browsers cannot set headers on one. Refusals are raised as
``Unauthorized``/``Forbidden`` and turned into HTTP 401/403, or WebSocket close codes 4401/4403, by
``vigil.api.errors``.

Example:
    >>> @router.get("/cameras")  # doctest: +SKIP
    ... def cameras(state: State, user: CurrentUser) -> list[CameraPublic]: ...
    >>> @router.delete("/cameras/{name}")  # doctest: +SKIP
    ... def remove(name: str, state: State, admin: AdminUser) -> None: ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Query
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from vigil.api.state import ApiState
from vigil.errors import Forbidden, Unauthorized
from vigil.services.permissions import ROLE_PERMISSIONS, Permission
from vigil.services.users import Principal
from vigil.store.tables import Role

SESSION_COOKIE = "vigil_session"
MAX_ROW_ID = 2**63 - 1  # the largest id a database row can have (SQL BIGINT, SQLite INTEGER)
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id (1 to 2^63-1).")]
"""A row id in the path: out of range is a 422 naming the parameter, not a driver overflow (a 500)."""
RowIdFilter = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="A row id (1 to 2^63-1).")]
"""A row id filter in the query string, bounded like ``RowId``."""

_bearer = HTTPBearer(
    auto_error=False, description="An API token or a session token: `Authorization: Bearer vgl_…`."
)
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The session cookie set by `POST /auth/login`."
)


def get_state(conn: HTTPConnection) -> ApiState:
    """The services container of the app serving ``conn`` (a request or a WebSocket)."""
    state = getattr(conn.app.state, "vigil", None)
    if not isinstance(state, ApiState):
        raise TypeError("app.state.vigil is not an ApiState: build the app with vigil.api.app.create_app")
    return state


State = Annotated[ApiState, Depends(get_state)]


def presented_token(
    conn: HTTPConnection,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> str | None:
    """The token ``conn`` presents: the Authorization header, the ``token`` query parameter (WebSocket
    only), then the session cookie; None when there is none."""
    if bearer is not None:
        return bearer.credentials
    if conn.scope["type"] == "websocket" and (query := conn.query_params.get("token")):
        return query
    return cookie or None


PresentedToken = Annotated[str | None, Depends(presented_token)]


async def current_principal(state: State, token: PresentedToken) -> Principal:
    """Who is asking (for requests and WebSockets alike).

    Raises:
        Unauthorized: no token, or one that is unknown, expired or revoked, or of a disabled user.
    """
    if not token:
        raise Unauthorized("sign in first: send 'Authorization: Bearer <token>' or the session cookie")
    principal = await run_in_threadpool(state.users.resolve, token)  # a database read
    if principal is None:
        raise Unauthorized("the token is unknown, expired or revoked (or its user is disabled)")
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require(min_role: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets through users holding every permission of ``min_role`` (viewer < operator <
    admin; an auditor holds none of viewer's: see ``vigil.services.permissions``).

    Raises (from the dependency):
        Forbidden: the user's role is lower.
    """

    def role_at_least(principal: CurrentUser) -> Principal:
        if not principal.allows(min_role):
            raise Forbidden(
                f"this needs the role {min_role.value} or higher; "
                f"{principal.username} is {principal.role.value}"
            )
        return principal

    role_at_least.__name__ = f"require_{min_role.value}"
    return role_at_least


def permit(permission: Permission) -> Callable[[Principal], Principal]:
    """A dependency that lets through users whose role holds ``permission`` (``ROLE_PERMISSIONS``).

    Raises (from the dependency):
        Forbidden: naming the permission and the user's role.
    """

    def may(principal: CurrentUser) -> Principal:
        if not principal.may(permission):
            raise Forbidden(
                f"this needs the permission {permission.value} ({_holders(permission)}); "
                f"{principal.username} is {principal.role.value}"
            )
        return principal

    may.__name__ = f"require_{permission.value.replace('.', '_')}"  # "require_": documented as a 403
    return may


def _holders(permission: Permission) -> str:
    roles = [r.value for r, held in ROLE_PERMISSIONS.items() if permission in held]
    return "roles " + ", ".join(roles) if len(roles) > 1 else f"role {roles[0]}"


OperatorUser = Annotated[Principal, Depends(require(Role.OPERATOR))]
AdminUser = Annotated[Principal, Depends(require(Role.ADMIN))]
SightingsReader = Annotated[Principal, Depends(permit(Permission.SIGHTINGS_READ))]
"""Who may see alerts, events, people, faces, snapshots and footage jobs (not an auditor)."""
AuditReader = Annotated[Principal, Depends(permit(Permission.AUDIT_READ))]
ReportReader = Annotated[Principal, Depends(permit(Permission.REPORTS_READ))]


async def websocket_principal(websocket: WebSocket) -> Principal:
    """Who opened ``websocket``: the token from the ``token`` query parameter, the session cookie or the
    Authorization header. Use it as a dependency of a WebSocket route, or call it first thing.

    Raises:
        Unauthorized: as :func:`current_principal`; the app's error handler then accepts the socket and
            closes it with code 4401 (a browser sees close codes, not the status of a refused handshake).
    """
    bearer = await _bearer(websocket)
    cookie = await _cookie(websocket)
    token = presented_token(websocket, bearer, cookie)
    return await current_principal(get_state(websocket), token)
