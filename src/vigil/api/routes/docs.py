"""The OpenAPI docs at ``/docs``: Swagger UI served from this package, so the page works offline and asks no
third party for anything.

Swagger UI's script and stylesheet are vendored under ``web/static/swagger-ui/`` (swagger-ui-dist, Apache-2.0,
its ``LICENSE`` and ``NOTICE`` beside them) and reached through ``/static``. The page is public, like the
OpenAPI document it reads: both describe the API and hold no data. Its Content-Security-Policy allows this
origin only, so a stray third-party URL would be blocked, not fetched. The online validator badge is off.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

DOCS_PATH, OPENAPI_PATH = "/docs", "/openapi.json"
SWAGGER_UI = "/static/swagger-ui"  # the vendored swagger-ui-dist files, under the app's static mount
# FastAPI's page starts Swagger UI with an inline script (hence 'unsafe-inline' for scripts); everything it
# loads or calls comes from this origin.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)


@router.api_route(DOCS_PATH, methods=["GET", "HEAD"])
async def swagger_ui() -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_PATH,
        title="Vigil API",
        swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url="/static/icons/icon.svg",
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the online validator
    )
    page.headers["Content-Security-Policy"] = CSP
    page.headers["Cache-Control"] = "no-cache"
    return page
