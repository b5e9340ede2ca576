"""The audit screen in a real browser (headless Chromium via Playwright) against a real `vigil serve`:
an auditor signs in and sees only the audit screen, reads the rows that an administrator's changes left,
filters them by actor, and is shown the chain intact; the console asks nothing the auditor may not read
(no 403, no /people) and opens no alert WebSocket. No page may log an error or make a request that fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, WebSocket, expect

from tests.browser import DESKTOP, chromium
from tests.e2e.test_console import add_users, sign_in
from tests.serve_kit import VigilServer

pytestmark = [pytest.mark.network, pytest.mark.slow]


@dataclass
class Traffic:
    """What a page asked the server: every response's URL, the refused ones, the WebSockets opened."""

    asked: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        def on_response(response: Response) -> None:
            self.asked.append(response.url)
            if response.status in (401, 403):
                self.denied.append(f"{response.status} {response.url}")

        def on_socket(socket: WebSocket) -> None:
            self.sockets.append(socket.url)

        page.on("response", on_response)
        page.on("websocket", on_socket)

    def api_calls(self) -> list[str]:
        """The paths (with their query) of the requests that were not for static files."""
        return [u.split("/", 3)[3] for u in self.asked if "/static/" not in u]


def filter_rows(page: Page, admin: str) -> None:
    """By actor: only the administrator's rows, fewer than before; then by an action prefix (list.*)."""
    rows = page.get_by_test_id("audit-row")
    before = rows.count()
    page.get_by_test_id("audit-actor").select_option(admin)
    page.get_by_test_id("audit-apply").click()
    expect(rows.filter(has_text="e2e: case 7")).to_have_count(1)
    expect(page.locator(f"[data-testid=audit-row]:not([data-actor='{admin}'])")).to_have_count(0)
    assert 0 < rows.count() < before
    page.get_by_test_id("audit-action").select_option("list.*")
    page.get_by_test_id("audit-apply").click()
    expect(rows).to_have_count(1)
    assert (rows.first.get_attribute("data-action") or "").startswith("list.")


def test_an_auditor_reads_and_filters_the_audit_log_without_alerts(tmp_path: Path, model_dir: Path) -> None:
    settings = {"model_dir": str(model_dir), "store": {"data_dir": str(tmp_path / "data")}}
    with (
        VigilServer(tmp_path / "serve", settings) as vigil,
        vigil.client() as api,
        chromium(vigil.url) as web,
    ):
        add_users(api, audra="auditor", otto="operator")
        assert api.post("/watchlists", json={"name": "wanted", "reason": "e2e: case 7"}).status_code == 201
        admin = api.get("/auth/me").json()["username"]
        page = web.page(DESKTOP, "auditor")
        traffic = Traffic()
        traffic.watch(page)
        page.goto("/")
        sign_in(page, "audra")
        nav = page.get_by_test_id("nav")
        expect(nav.get_by_test_id("nav-audit")).to_be_visible()
        for hidden in ("alerts", "lists", "events", "search", "footage", "users", "cameras"):
            expect(nav.get_by_test_id(f"nav-{hidden}")).to_have_count(0)
        expect(page.get_by_test_id("screen-title")).to_have_text("Audit log")  # the auditor's home

        rows = page.get_by_test_id("audit-row")
        expect(rows.filter(has_text="e2e: case 7")).to_have_count(1)
        expect(page.get_by_test_id("audit-chain")).to_have_attribute("data-ok", "true")
        expect(page.get_by_test_id("audit-chain")).to_contain_text("intact")
        actors = {rows.nth(i).get_attribute("data-actor") for i in range(rows.count())}
        assert {admin, "audra"} <= actors, actors  # the auditor's own sign-in is audited too
        for row in rows.all():
            assert row.get_attribute("data-chain") == "ok"

        filter_rows(page, admin)

        report = page.get_by_test_id("audit-report")
        href = report.get_attribute("href") or ""
        assert href.startswith("/reports?since=") and "until=" in href
        answer = page.request.get(href)
        assert answer.status == 200 and "text/html" in answer.headers["content-type"]

        # An operator still gets the alert screens and no audit screen.
        operator = web.page(DESKTOP, "operator")
        operator.goto("/")
        sign_in(operator, "otto")
        expect(operator.get_by_test_id("nav-alerts")).to_be_visible()
        expect(operator.get_by_test_id("nav-audit")).to_have_count(0)
        expect(operator.get_by_test_id("connection")).to_have_attribute("data-state", "live")
        # Signed out from the alerts, the next one to sign in there (the auditor) starts on their own home.
        operator.get_by_test_id("signout").click()
        expect(operator.get_by_test_id("signin-username")).to_be_visible()
        sign_in(operator, "audra")
        expect(operator.get_by_test_id("screen-title")).to_have_text("Audit log")
        web.assert_quiet()
    assert traffic.denied == [], traffic.denied
    calls = traffic.api_calls()
    assert not [c for c in calls if c.startswith(("people", "alerts", "events", "cameras"))], calls
    assert any(c.startswith("audit?") for c in calls) and "audit/verify" in calls, calls
    assert not [u for u in traffic.sockets if "/ws/alerts" in u], traffic.sockets
