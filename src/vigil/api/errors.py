"""Errors mapped to HTTP once: ``VigilError`` subclasses to status codes, every body ``{"error": "..."}``.

On a WebSocket the same errors close the socket with code ``4000 + status`` (4401, 4403, 4404...), after
accepting it so that a browser sees the code. Anything unexpected is logged once with its traceback and
answered with a generic 500 (no internals leak to the client).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from vigil.errors import (
    BadInput,
    ConfigError,
    Forbidden,
    NotFound,
    StorageFull,
    StorageReadOnly,
    StoreError,
    Unauthorized,
    VigilError,
)

log = logging.getLogger(__name__)

STATUS: tuple[tuple[type[VigilError], int], ...] = (
    (NotFound, 404),
    (BadInput, 422),
    (Unauthorized, 401),
    (Forbidden, 403),
    (StorageFull, 507),  # Insufficient Storage: free space and retry
    (StorageReadOnly, 503),
    (StoreError, 503),
    (ConfigError, 400),
)
OTHER_STATUS = 400
WS_CLOSE_BASE = 4000  # close codes 4000-4999 are the application's: 4000 + the HTTP status
INTERNAL = "internal error: the server log has the details"
_WS_REASON_BYTES = 123  # the most a close frame's reason may hold


class ErrorPublic(BaseModel):
    """The body of every error answer; some carry more keys (``problems`` of a 422, ``verdicts``...)."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(description="What was wrong, said for a person.")


ERROR_DOCS: dict[int, str] = {
    400: "The body could not be parsed, or the configuration does not allow this.",
    401: "No token, or one that is unknown, expired or revoked.",
    403: "The user's role is too low for this.",
    404: "What the path (or body) names does not exist.",
    422: "A parameter or the body is not valid; ``problems`` says which and why.",
    503: "The database is unavailable, or the data dir is read-only (a change cannot be stored).",
    507: "The disk of the data dir is full: nothing was stored; free space there and try again.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=`` for the error statuses ``codes`` it answers beyond the usual ones (those
    :func:`route_errors` finds), each with the ``ErrorPublic`` body."""
    return {code: {"model": ErrorPublic, "description": ERROR_DOCS.get(code, "Refused.")} for code in codes}


def _calls(dependant: Dependant) -> Iterator[object]:
    """Every dependency callable of ``dependant``, nested ones included."""
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def route_errors(route: APIRoute, authenticated: bool) -> list[int]:
    """The error statuses ``route`` can answer by construction: auth, role, missing row, invalid input."""
    dependant = route.dependant
    codes = [401] if authenticated else []
    if any(getattr(call, "__name__", "").startswith("require_") for call in _calls(dependant)):
        codes.append(403)
    if dependant.path_params:
        codes.append(404)
    if route.body_field is not None:
        codes.append(400)  # a body that is not JSON (or not a form) is refused before validation
    if dependant.path_params or dependant.query_params or route.body_field is not None:
        codes.append(422)
    return codes


def _storage_errors(method: str, authenticated: bool) -> list[int]:
    """An authenticated call reads the database (its token): 503 when it is unavailable; a change may
    also meet a full disk (507)."""
    if not authenticated:
        return []
    return [503] if method.upper() in {"GET", "HEAD"} else [503, 507]


ErrorStatuses = dict[tuple[str, str], list[int]]  # (method, path) -> error statuses


def error_statuses(public: Iterable[APIRouter], authenticated: Iterable[APIRouter]) -> ErrorStatuses:
    """The error statuses of every operation of the routers (see :func:`route_errors`)."""
    found: ErrorStatuses = {}
    for routers, auth in ((public, False), (authenticated, True)):
        for router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute) and route.include_in_schema:
                    for method in route.methods or ():
                        found[(method.lower(), route.path)] = route_errors(route, auth) + _storage_errors(
                            method, auth
                        )
    return found


def document_errors(spec: dict[str, Any], statuses: ErrorStatuses) -> None:
    """Document in the OpenAPI ``spec`` the error statuses of each operation, with the body they have.

    A route's own ``responses=`` wins, except FastAPI's default 422 (``{"detail": ...}``): that is not
    what :func:`_invalid_request` answers, so it is replaced by ``ErrorPublic``.
    """
    spec.setdefault("components", {}).setdefault("schemas", {})["ErrorPublic"] = (
        ErrorPublic.model_json_schema()
    )
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}}}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in statuses.get((method, path), []):
                default_422 = code == 422 and "HTTPValidationError" in str(responses.get("422"))
                if str(code) not in responses or default_422:
                    responses[str(code)] = {"description": ERROR_DOCS[code], **body}


def status_of(exc: VigilError) -> int:
    """The HTTP status of a Vigil error (the first matching class in ``STATUS``, else 400)."""
    return next((code for cls, code in STATUS if isinstance(exc, cls)), OTHER_STATUS)


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    return {"error": message, **extra}


async def close_websocket(websocket: WebSocket, code: int, reason: str) -> None:
    """Accept (if not yet) and close ``websocket`` with ``code``, so the client can read why."""
    if websocket.application_state == WebSocketState.CONNECTING:
        await websocket.accept()
    if websocket.application_state == WebSocketState.CONNECTED:
        reason_bytes = reason.encode("utf-8")[:_WS_REASON_BYTES]
        await websocket.close(code, reason_bytes.decode("utf-8", errors="ignore"))


async def _vigil_error(conn: HTTPConnection, exc: VigilError) -> Response | None:
    status = status_of(exc)
    if status >= 500:
        log.warning("%s %s: %s", conn.scope.get("method", "WEBSOCKET"), conn.url.path, exc)
    if isinstance(conn, WebSocket):
        await close_websocket(conn, WS_CLOSE_BASE + status, str(exc))
        return None
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(str(exc)), status, headers=headers)


async def _http_error(_request: Request, exc: HTTPException) -> Response:
    if exc.status_code in {204, 304}:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse(error_body(str(exc.detail)), exc.status_code, headers=exc.headers)


async def _invalid_request(_request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422, said plainly; the rejected values are not echoed (they may be passwords)."""
    problems = [
        {"where": ".".join(str(part) for part in e.get("loc", ())), "problem": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
    return JSONResponse(error_body(f"the request is not valid: {summary}", problems=problems), 422)


class CatchAll:
    """ASGI middleware: an HTTP request that fails unexpectedly is logged once and answered 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:  # too late for a response: let the server drop the connection
                raise
            await JSONResponse(error_body(INTERNAL), 500)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Map errors for ``app``: Vigil errors, HTTP errors, invalid requests, and everything else (500)."""
    # Starlette types every handler as taking Exception; each of these takes the class it is registered for.
    app.add_exception_handler(VigilError, _vigil_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_middleware(CatchAll)
