"""Evidence export from the console, in a real browser: an operator opens the alerts screen of a real
`vigil serve`, exports Lin-Manuel Miranda's alert with a case reason, and the browser saves a signed
archive that verifies, names that alert and is recorded in the audit log with the reason. A viewer sees
no export button. No page may log an error or a warning, or make a request that fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser import DESKTOP, chromium
from tests.e2e.test_console import add_users, sign_in
from tests.evidence_kit import SEEN, seed_case
from tests.serve_kit import VigilServer
from tests.store_kit import configured_vector
from vigil.app import open_store
from vigil.config import VigilConfig
from vigil.services.evidence_archive import verify_archive
from vigil.store.tables import AuditEntry, EventShot, FaceSample

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_an_operator_exports_an_alert_as_signed_evidence_from_its_card(
    tmp_path: Path, model_dir: Path, refs: Path
) -> None:
    settings = {"model_dir": str(model_dir), "store": {"data_dir": str(tmp_path / "data")}}
    store = open_store(VigilConfig.model_validate(settings))
    case = seed_case(store.db, store.media, refs)
    model, dim, vector = configured_vector(store.config)
    with store.db.write() as s:  # the enrolled photo's vector is the configured embedder's, or serve refuses
        for sample in s.scalars(select(FaceSample)):
            sample.model_id, sample.dim, sample.embedding = model, dim, vector
        shot = store.media.put("shots", (refs / "ageitgey_obama.jpg").read_bytes(), ".jpg")
        s.add(EventShot(event_id=case.other_alert_id, t_at=SEEN, crop_path=shot, quality=0.9))  # its card's
    store.db.dispose()
    with (
        VigilServer(tmp_path / "serve", settings) as vigil,
        vigil.client() as api,
        chromium(vigil.url) as web,
    ):
        add_users(api, ines="operator", val="viewer")
        viewer = web.page(DESKTOP, "viewer")
        viewer.goto("/")
        sign_in(viewer, "val")
        card = viewer.locator(f"[data-testid=alert-card][data-alert-id='{case.alert_id}']")
        expect(card).to_be_visible()
        expect(card.get_by_test_id("alert-export")).to_have_count(0)

        page = web.page(DESKTOP, "investigator")
        page.goto("/")
        sign_in(page, "ines")
        card = page.locator(f"[data-testid=alert-card][data-alert-id='{case.alert_id}']")
        card.get_by_test_id("alert-export").click()
        dialog = page.get_by_test_id("dialog")
        dialog.get_by_test_id("dialog-confirm").click()
        reason = dialog.get_by_test_id("dialog-reason")
        assert reason.evaluate("el => el.validity.valueMissing"), "a reason is required"
        expect(dialog).to_be_visible()
        reason.fill("case 2026/31")
        with page.expect_download() as download:
            dialog.get_by_test_id("dialog-confirm").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        expect(dialog).to_have_count(0)
        shown = card.get_by_test_id("export-sha256")
        expect(shown).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
        shown_sha = shown.inner_text()
        web.assert_quiet()

    assert saved.name.startswith("vigil-evidence-") and saved.suffix == ".zip"
    check = verify_archive(saved)
    assert check.ok, check.problems
    assert check.manifest is not None and check.manifest["export"]["created_by"] == "ines"
    assert [i["subject"] for i in check.manifest["items"]] == [f"alert:{case.alert_id}"]
    store = open_store(VigilConfig.model_validate(settings), create=False)
    with store.db.read() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "evidence.export")).all()
    assert [(a.actor, a.reason) for a in rows] == [("ines", "case 2026/31")]
    assert json.loads(rows[0].details)["manifest_sha256"] == shown_sha, "the sha256 shown is the audited one"
