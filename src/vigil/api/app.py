"""The app factory: ``create_app(state)`` builds the FastAPI app over a services container.

Secure by default: every router in ``AUTHENTICATED`` is included behind ``current_principal``, so a route
added there needs a valid token without saying so; only ``PUBLIC`` routes (the health check, sign-in,
signed image links, the web pages and the OpenAPI docs at ``/docs``, which hold no data), ``/openapi.json``
and the web assets under ``/static`` are open. Every response carries the security headers of
:mod:`vigil.api.headers`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI

import vigil
from vigil.api.deps import current_principal
from vigil.api.errors import document_errors, error_statuses, install_error_handlers
from vigil.api.headers import SecurityHeaders
from vigil.api.routes import (
    alerts,
    audit,
    auth,
    cameras,
    clusters,
    docs,
    events,
    evidence,
    footage,
    health,
    live,
    people,
    reports,
    search,
    users,
    watchlists,
    web,
)  # fmt: skip
from vigil.api.state import ApiState

STATIC_PATH = "/static"
PUBLIC: tuple[APIRouter, ...] = (health.router, auth.public, live.media, web.router, docs.router)
AUTHENTICATED: tuple[APIRouter, ...] = (
    auth.router, users.router, cameras.router, alerts.router, live.router, watchlists.router,
    people.router, events.router, search.router, footage.router, clusters.router, evidence.router,
    audit.router, reports.router,
)  # fmt: skip


def create_app(state: ApiState) -> FastAPI:
    """The Vigil API over ``state`` (put on ``app.state.vigil``); nothing is shared between apps."""
    app = FastAPI(
        title="Vigil",
        version=str(getattr(vigil, "__version__", "0")),
        description="Live face recognition, accountably. Sign in with POST /auth/login, or send "
        "`Authorization: Bearer <token>`.",
        openapi_url=docs.OPENAPI_PATH,
        docs_url=None,  # served by routes/docs.py from the package's own copy of Swagger UI
        redoc_url=None,  # one set of docs is enough
        swagger_ui_oauth2_redirect_url=None,  # no OAuth2 flows
    )
    app.state.vigil = state
    install_error_handlers(app)
    for router in PUBLIC:
        app.include_router(router)
    for router in AUTHENTICATED:
        app.include_router(router, dependencies=[Depends(current_principal)])
    _document_errors(app)
    app.mount(STATIC_PATH, web.static_files(), name="static")
    app.add_middleware(SecurityHeaders)
    return app


def _document_errors(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document name the error statuses each route answers (see
    :func:`vigil.api.errors.document_errors`): clients, and the fuzzer, check answers against it."""
    statuses = error_statuses(PUBLIC, AUTHENTICATED)

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        spec = FastAPI.openapi(app)
        if fresh:
            document_errors(spec, statuses)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
