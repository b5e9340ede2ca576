"""Investigations in the console, in a real browser: an operator uploads the Hamilton clip as footage,
follows the job to its end, then searches by photo: Lin-Manuel Miranda's photo finds his sightings in
the footage; a photo of two people asks which face, and the chosen face is searched. No page may log an
error or a warning, or make a request that fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser import DESKTOP, chromium
from tests.e2e.test_console import add_users, sign_in
from tests.serve_kit import VigilServer
from vigil.app import open_store
from vigil.config import VigilConfig
from vigil.store.tables import AuditEntry

pytestmark = [pytest.mark.network, pytest.mark.slow]

JOB_TIMEOUT_MS = 120_000


def test_upload_footage_then_search_it_by_photo(
    tmp_path: Path, model_dir: Path, refs: Path, hamilton_clip: Path
) -> None:
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
        add_users(api, ines="operator")
        page = web.page(DESKTOP, "investigator")
        page.goto("/")
        sign_in(page, "ines")

        page.get_by_test_id("nav-footage").click()
        page.get_by_test_id("footage-video").set_input_files(str(hamilton_clip))
        page.get_by_test_id("footage-camera").fill("white house")
        page.get_by_test_id("footage-reason").fill("case 2026/31")
        page.get_by_test_id("footage-submit").click()
        job = page.get_by_test_id("footage-job").filter(has_text="white house")
        expect(job).to_have_attribute("data-status", "done", timeout=JOB_TIMEOUT_MS)

        page.get_by_test_id("nav-search").click()
        page.get_by_test_id("search-photo").set_input_files(str(refs / "ageitgey_lin-manuel-miranda.png"))
        page.get_by_test_id("search-reason").fill("case 2026/31")
        page.get_by_test_id("search-submit").click()
        expect(page.get_by_test_id("search-audit")).to_be_visible()
        hits = page.get_by_test_id("search-archive-hit")
        expect(hits.first).to_be_visible()
        expect(hits.first).to_contain_text("white house")

        page.get_by_test_id("search-photo").set_input_files(str(refs / "ageitgey_two_people.jpg"))
        page.get_by_test_id("search-submit").click()
        choices = page.get_by_test_id("search-face-choice")
        expect(choices).to_have_count(2)
        choices.nth(1).click()
        expect(page.get_by_test_id("search-audit")).to_contain_text(re.compile(r"#\d+"))

        web.assert_quiet()

    store = open_store(VigilConfig.model_validate(settings), create=False)
    with store.db.read() as s:
        searches = s.scalars(select(AuditEntry).where(AuditEntry.action == "search.photo")).all()
        uploads = s.scalars(select(AuditEntry).where(AuditEntry.action == "footage.upload")).all()
    assert [(a.actor, a.reason) for a in searches] == [("ines", "case 2026/31")] * 2, "both searches, audited"
    assert [a.actor for a in uploads] == ["ines"]
