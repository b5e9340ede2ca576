"""The operator console (``/``) and the officer's mobile alert view (``/m``): static pages and assets.

They hold no data: every call they make goes to the authenticated API with the session cookie. The pages
are sent with a strict Content-Security-Policy (scripts, styles and connections only from this origin,
no inline script) so that a name or a note shown on an alert cannot run as code.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from vigil.web import STATIC

router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; style-src 'self'; "
    "script-src 'self'; manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate: a new version is picked up at once
}


def static_files() -> StaticFiles:
    """The assets under ``/static`` (scripts, styles, icons)."""
    return StaticFiles(directory=STATIC)


@router.get("/")
async def console() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)


@router.get("/m")
async def officer_view() -> FileResponse:
    return FileResponse(STATIC / "mobile.html", headers=PAGE_HEADERS)


@router.get("/sw.js")
async def service_worker() -> FileResponse:
    """The officer view's service worker (served from the root so that its scope can be ``/m``)."""
    return FileResponse(STATIC / "sw.js", media_type="text/javascript", headers=PAGE_HEADERS)


@router.get("/manifest.webmanifest")
async def manifest() -> FileResponse:
    return FileResponse(
        STATIC / "manifest.webmanifest", media_type="application/manifest+json", headers=PAGE_HEADERS
    )
