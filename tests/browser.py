"""A real browser for the web console tests: Debian's Chromium, headless, driven by Playwright.

Every page opened through :class:`Browser` has its console watched: an error or warning logged by the
page, an uncaught exception, or a failed request fails the test at the end (``assert_quiet``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser as Chromium
from playwright.sync_api import ConsoleMessage, Page, Request, sync_playwright

from tests.services import unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = "Chromium is not installed (apt-get install chromium, or scripts/install-services)"
# Headless, no sandbox (containers run as root), and nothing that reaches out to the network by itself.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
    "--disable-features=Translate,MediaRouter,OptimizationHints", "--metrics-recording-only",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip

DESKTOP = {"viewport": {"width": 1280, "height": 860}}
PHONE = {
    "viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
}  # fmt: skip


@dataclass
class Browser:
    """Contexts (one per user: separate cookies) over one headless Chromium; pages log what goes wrong."""

    browser: Chromium
    base_url: str
    problems: list[str] = field(default_factory=list)

    def page(self, device: dict[str, Any], name: str) -> Page:
        """A new page in a fresh context (its own cookies and storage) as ``name`` sees it."""
        context = self.browser.new_context(base_url=self.base_url, locale="en-GB", **device)
        page = context.new_page()
        page.set_default_timeout(15_000)

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type in ("error", "warning"):
                self.problems.append(f"{name}: console {msg.type}: {msg.text} ({msg.location.get('url')})")

        def on_failed(request: Request) -> None:
            self.problems.append(f"{name}: request failed: {request.method} {request.url} {request.failure}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"{name}: uncaught {exc}"))
        page.on("requestfailed", on_failed)
        return page

    def assert_quiet(self) -> None:
        assert self.problems == [], "the browser reported problems:\n" + "\n".join(self.problems)


@contextmanager
def chromium(base_url: str) -> Iterator[Browser]:
    """Headless Chromium for ``base_url``; skips (or fails under VIGIL_REQUIRE_SERVICES=1) without it."""
    if not CHROMIUM.is_file():
        unavailable(CHROMIUM_MISSING)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield Browser(browser, base_url)
        finally:
            browser.close()
