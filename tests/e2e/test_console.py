"""The web console and the officer's mobile view in a real browser (headless Chromium via Playwright),
against a real `vigil serve` with a camera worker: an administrator signs in, creates a two-person list,
enrols Lin-Manuel Miranda from his photo, adds the Hamilton clip as a camera; his alert appears in the
console's feed and on an officer's phone; both confirm it; every screen shows the new state. No page
may log an error or a warning, or make a request that fails, along the way.

Ground truth (tests/integration/test_scan.py): Lin-Manuel Miranda is on stage from the first frame.
``VIGIL_SCREENSHOTS=docs/img`` keeps the screenshots of the main screens (for the README).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser import DESKTOP, PHONE, Browser, chromium
from tests.serve_kit import VigilServer
from tests.services import wait_until
from vigil.app import open_store
from vigil.config import VigilConfig
from vigil.store.tables import AuditEntry

pytestmark = [pytest.mark.network, pytest.mark.slow]

MIRANDA = "Lin-Manuel Miranda"
PASSWORD = "e2e-console-password-42"
ALERT_TIMEOUT_MS = 90_000  # the worker loads its models, the file camera starts, the track is decided


def add_users(api: httpx.Client, **roles: str) -> None:
    for name, role in roles.items():
        body = {"username": name, "role": role, "password": PASSWORD, "reason": "e2e"}
        assert api.post("/users", json=body).status_code == 201


def sign_in(page: Page, username: str) -> None:
    """Sign in with the keyboard only: type, Tab, type, Enter."""
    page.get_by_test_id("signin-username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("current-user")).to_have_text(username)


def shoot(page: Page, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def unlabelled_fields(page: Page) -> list[str]:
    """Form fields no label names (keyboard and screen-reader users could not tell what they are)."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(el => el.offsetParent !== null)
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.outerHTML.slice(0, 120))"""
    )
    return found


def assert_installable(page: Page) -> None:
    """The officer view is a PWA: a manifest, and a service worker controlling /m (offline start)."""
    scope = page.evaluate("() => navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope.endswith("/m")
    manifest = page.evaluate(
        "() => fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
    )
    assert manifest["start_url"] == "/m" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}


def overflows(page: Page) -> bool:
    """Whether the page scrolls sideways (unreadable on a phone)."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1"))


def create_list_and_enrol(console: Page, photo: Path, not_a_photo: Path) -> None:
    """A two-person list, and Miranda on it from his photo (plus a file the gate refuses)."""
    console.get_by_test_id("nav-lists").click()
    console.get_by_test_id("watchlist-name-input").fill("wanted")
    console.get_by_test_id("watchlist-severity-input").select_option("high")
    console.get_by_test_id("watchlist-review-input").select_option("two_person")
    console.get_by_test_id("watchlist-reason-input").fill("e2e: operation Hamilton")
    console.get_by_test_id("watchlist-submit").click()
    row = console.get_by_test_id("watchlist-row").filter(has_text="wanted")
    expect(row).to_have_count(1)
    row.get_by_test_id("watchlist-link").click()
    console.get_by_test_id("enrol-name").fill(MIRANDA)
    console.get_by_test_id("enrol-reason").fill("e2e: warrant 2026/117")
    console.get_by_test_id("enrol-photos").set_input_files([str(photo), str(not_a_photo)])
    console.get_by_test_id("enrol-submit").click()
    verdicts = console.get_by_test_id("photo-verdict")
    expect(verdicts).to_have_count(2)
    expect(console.locator('[data-testid="photo-verdict"][data-accepted="true"]')).to_have_count(1)
    refused = console.locator('[data-testid="photo-verdict"][data-accepted="false"]')
    expect(refused).to_contain_text("not an image")
    expect(console.get_by_test_id("person-row").filter(has_text=MIRANDA)).to_have_count(1)
    console.get_by_test_id("enrol-result").scroll_into_view_if_needed()


def put_on_a_second_list(console: Page, api: httpx.Client) -> None:
    """One person, several lists: Miranda put on "vip" from the console, not enrolled twice; the list
    shows the threshold it is calibrated at."""
    assert api.post("/watchlists", json={"name": "vip", "reason": "e2e: a visit"}).status_code == 201
    console.reload()
    expect(console.get_by_test_id("watchlist-detail")).to_contain_text("calibrated: FPIR 0.001 at 1 person")
    row = console.get_by_test_id("person-row").filter(has_text=MIRANDA)
    row.get_by_test_id("person-add-list").click()
    console.get_by_test_id("person-add-list-select").select_option("vip")
    console.get_by_test_id("dialog-reason").fill("e2e: visit 2026/3")
    console.get_by_test_id("dialog-confirm").click()
    expect(row.locator(".list-chip")).to_have_count(2)
    people = api.get("/people").json()
    assert [(p["name"], sorted(m["name"] for m in p["lists"])) for p in people] == [
        (MIRANDA, ["vip", "wanted"])
    ]


def add_file_camera(console: Page, clip: Path) -> None:
    """The clip as a looping camera: streaming, with a snapshot, after a while."""
    console.get_by_test_id("nav-cameras").click()
    console.get_by_test_id("camera-name-input").fill("stage")
    console.get_by_test_id("camera-url-input").fill(str(clip))
    console.get_by_test_id("camera-loop-input").check()
    console.get_by_test_id("camera-reason-input").fill("e2e")
    console.get_by_test_id("camera-submit").click()
    camera = console.get_by_test_id("camera-row").filter(has_text="stage")
    expect(camera).to_have_count(1)
    expect(camera.get_by_test_id("camera-state")).to_have_text(re.compile("streaming", re.I), timeout=60_000)
    expect(camera.get_by_test_id("camera-snapshot")).to_be_visible(timeout=30_000)


class FlakyNetwork:
    """The phone's alert socket through Playwright: ``drop()`` cuts it and refuses reconnects (the phone
    lost its network) until ``restore()``."""

    def __init__(self, page: Page) -> None:
        self.down = False
        self._open: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        page.route_web_socket(re.compile(r"/ws/alerts"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        if self.down:
            ws.close(code=1013, reason="test: no network")
            return
        self._open.append((ws, ws.connect_to_server()))

    def drop(self) -> None:
        self.down = True
        for page_side, server_side in self._open:
            server_side.close()
            page_side.close(code=1001, reason="test: network lost")
        self._open.clear()

    def restore(self) -> None:
        self.down = False


def open_officer_view(web: Browser, username: str) -> tuple[Page, FlakyNetwork]:
    """The officer view on a phone, signed in, its alert socket through a network the test can cut."""
    phone = web.page(PHONE, username)
    network = FlakyNetwork(phone)
    phone.goto("/m")
    sign_in(phone, username)
    assert_installable(phone)
    return phone, network


def missed_while_offline(phone: Page, network: FlakyNetwork, api: httpx.Client) -> None:
    """Alerts raised while the phone is offline appear once it is back (fetched on reconnect)."""
    ids = phone.get_by_test_id("alert-card").evaluate_all(
        "cards => cards.map(c => Number(c.dataset.alertId))"
    )
    newest = max(ids)
    network.drop()
    expect(phone.get_by_test_id("connection")).to_have_attribute("data-state", "reconnecting")
    expect(phone.locator("#banner")).to_be_visible()
    wait_until(
        lambda: bool(api.get("/alerts", params={"mine": "true", "after": newest}).json()),
        90, "a new alert raised while the phone is offline",
    )  # fmt: skip
    missed = api.get("/alerts", params={"mine": "true", "after": newest}).json()[0]["id"]
    expect(phone.locator(f'[data-testid="alert-card"][data-alert-id="{missed}"]')).to_have_count(0)
    network.restore()
    expect(phone.get_by_test_id("connection")).to_have_attribute("data-state", "live", timeout=30_000)
    expect(phone.locator(f'[data-testid="alert-card"][data-alert-id="{missed}"]')).to_be_visible()
    expect(phone.locator("#banner")).to_be_hidden()


def browse_history(console: Page, shots: Path) -> None:
    """The alerts in the event history (filtered by decision), and the cameras' snapshots."""
    console.get_by_test_id("nav-events").click()
    console.get_by_test_id("events-decision").select_option("alert")
    console.get_by_test_id("events-apply").click()
    expect(console.get_by_test_id("event-row").filter(has_text=MIRANDA).first).to_be_visible()
    shoot(console, shots, "console-events")
    console.get_by_test_id("nav-cameras").click()
    expect(console.get_by_test_id("camera-snapshot")).to_be_visible()
    shoot(console, shots, "console-cameras")


def _settings(tmp_path: Path, model_dir: Path, clips: Path) -> dict[str, Any]:
    return {
        "model_dir": str(model_dir),
        "store": {"data_dir": str(tmp_path / "data")},
        "live": {"workers": 1, "stats_interval_s": 0.5, "snapshot_s": 1, "file_roots": [str(clips)]},
        "alerts": {"cooldown_s": 0},
    }


def test_enrol_add_a_camera_and_confirm_an_alert_from_two_users_in_the_browser(
    tmp_path: Path, model_dir: Path, refs: Path, hamilton_clip: Path
) -> None:
    shots = Path(os.environ.get("VIGIL_SCREENSHOTS") or tmp_path / "screenshots")
    settings = _settings(tmp_path, model_dir, hamilton_clip.parent)
    not_a_photo = tmp_path / "notes.txt"
    not_a_photo.write_text("not a photo", encoding="utf-8")
    with (
        VigilServer(tmp_path / "serve", settings) as vigil,
        vigil.client() as api,
        chromium(vigil.url) as web,
    ):
        add_users(api, ana="admin", olu="operator")

        # --- the console: sign in, a list, an enrolment with the gate's verdicts ---
        console = web.page(DESKTOP, "console")
        console.goto("/")
        sign_in(console, "ana")
        expect(console.get_by_test_id("current-role")).to_have_text(re.compile("admin", re.I))
        create_list_and_enrol(console, refs / "ageitgey_lin-manuel-miranda.png", not_a_photo)
        put_on_a_second_list(console, api)
        assert unlabelled_fields(console) == []
        shoot(console, shots, "console-watchlist")

        # The officer gets this list's alerts on the phone.
        assert api.patch("/users/olu", json={"watchlists": ["wanted"], "reason": "e2e"}).status_code == 200

        # --- a camera: the Hamilton clip, looped ---
        add_file_camera(console, hamilton_clip)
        assert unlabelled_fields(console) == []

        # --- the officer's phone ---
        phone, network = open_officer_view(web, "olu")

        # --- the alert, in the feed and on the phone ---
        console.get_by_test_id("nav-alerts").click()
        card = console.get_by_test_id("alert-card").filter(has_text=MIRANDA).last
        expect(card).to_be_visible(timeout=ALERT_TIMEOUT_MS)
        alert_id = card.get_attribute("data-alert-id")
        assert alert_id is not None
        card = console.locator(f'[data-testid="alert-card"][data-alert-id="{alert_id}"]')
        on_phone = phone.locator(f'[data-testid="alert-card"][data-alert-id="{alert_id}"]')
        expect(on_phone).to_be_visible()
        for shown in (card, on_phone):
            expect(shown.get_by_test_id("alert-person")).to_have_text(MIRANDA)
            expect(shown.get_by_test_id("alert-camera")).to_have_text("stage")
            expect(shown.get_by_test_id("alert-other-list")).to_have_text("also vip")  # one alert, both lists
            expect(shown.locator("img")).to_have_count(2)  # the best shot and the watchlist photo

        # First confirmation, from the console, with the keyboard.
        card.get_by_test_id("alert-confirm").focus()
        console.keyboard.press("Enter")
        for shown in (card, on_phone):
            expect(shown.get_by_test_id("alert-second-needed")).to_be_visible()
        expect(card.get_by_test_id("alert-confirm")).to_have_count(0)  # ana cannot confirm twice
        shoot(console, shots, "console-alerts")
        shoot(phone, shots, "mobile-alert")
        assert not overflows(phone)

        # Second confirmation, from the phone: confirmed everywhere.
        on_phone.get_by_test_id("alert-confirm").tap()
        for shown in (card, on_phone):
            expect(shown).to_have_attribute("data-status", "confirmed")
            expect(shown.get_by_test_id("alert-second-needed")).to_have_count(0)
        reviews = api.get(f"/alerts/{alert_id}").json()["reviews"]
        assert [(r["username"], r["action"]) for r in reviews] == [("ana", "confirmed"), ("olu", "confirmed")]

        missed_while_offline(phone, network, api)
        browse_history(console, shots)

        web.assert_quiet()

    # Every change made in the browser is in the audit log, with who made it.
    store = open_store(VigilConfig.model_validate(settings), create=False)
    with store.db.read() as s:
        audited = {(a.actor, a.action) for a in s.query(AuditEntry)}
    assert {("ana", "list.create"), ("ana", "person.enrol"), ("ana", "person.list.add"),
            ("ana", "camera.add"), ("ana", "alert.confirm"), ("olu", "alert.confirm")} <= audited  # fmt: skip
