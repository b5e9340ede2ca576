"""Every page works offline: the console, the officer view and the API docs at ``/docs`` ask nothing of a
third party (no CDN, no font or analytics host, no online validator). Each page's requests are recorded in
a real browser (headless Chromium) and every URL must be on the server's own origin.

What broke: ``/docs`` loaded Swagger UI from a CDN, so it was a blank page on a network without Internet.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser import DESKTOP, PHONE, chromium
from tests.e2e.test_console import add_users, sign_in
from tests.serve_kit import VigilServer

pytestmark = [pytest.mark.network, pytest.mark.slow]


def record(page: Page) -> list[str]:
    """The URL of every request ``page`` makes from now on."""
    urls: list[str] = []

    def on_request(request: Request) -> None:
        urls.append(request.url)

    page.on("request", on_request)
    return urls


def foreign(urls: list[str], origin: str) -> list[str]:
    """The URLs not on ``origin`` (``data:`` and ``blob:`` URLs are made in the page, not fetched)."""
    return [u for u in urls if not (u == origin or u.startswith((f"{origin}/", "data:", "blob:")))]


def test_docs_console_and_officer_view_make_no_third_party_request(tmp_path: Path, model_dir: Path) -> None:
    settings = {
        "model_dir": str(model_dir),
        "store": {"data_dir": str(tmp_path / "data")},
        "live": {"workers": 1},
    }
    with (
        VigilServer(tmp_path / "serve", settings) as vigil,
        vigil.client() as api,
        chromium(vigil.url) as web,
    ):
        add_users(api, ana="admin", olu="operator")

        console = web.page(DESKTOP, "console")
        console_urls = record(console)
        console.goto("/")
        sign_in(console, "ana")
        expect(console.get_by_test_id("nav-cameras")).to_be_visible()
        console.wait_for_load_state("networkidle")

        # The docs (public, like /openapi.json) in a tab of their own: Swagger UI rendered the operations.
        docs = web.page(DESKTOP, "docs")
        docs_urls = record(docs)
        docs.goto("/docs")
        expect(docs.locator(".swagger-ui .info .title")).to_contain_text("Vigil")
        expect(docs.locator(".opblock-summary-path", has_text="/cameras").first).to_be_visible()
        docs.wait_for_load_state("networkidle")
        assert any(u.endswith("/static/swagger-ui/swagger-ui-bundle.js") for u in docs_urls)
        assert any(u.endswith("/openapi.json") for u in docs_urls)

        phone = web.page(PHONE, "officer")
        phone_urls = record(phone)
        phone.goto("/m")
        sign_in(phone, "olu")
        phone.wait_for_load_state("networkidle")

        for urls in (console_urls, docs_urls, phone_urls):
            assert len(urls) > 3
            assert foreign(urls, vigil.url) == []
        web.assert_quiet()
