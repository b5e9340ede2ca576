"""The clusters screen in a real browser (headless Chromium via Playwright) against a real `vigil serve`
whose store holds unknown tracks made of LFW photos (tests/unknowns_kit.py): an operator sees the clusters
with their best shots, names Colin Powell's into a list with a reason, and the API then shows the cluster
named and Powell enrolled on that list; a viewer sees the clusters but no action. No page may log an
error or make a request that fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import DESKTOP, chromium
from tests.e2e.test_console import add_users, sign_in
from tests.serve_kit import VigilServer
from tests.unknowns_kit import archive_unknowns, lfw_faces
from vigil.app import Engine, build_clusters, open_store
from vigil.config import VigilConfig

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_an_operator_names_a_cluster_of_unknown_faces_into_a_list(
    tmp_path: Path, model_dir: Path, engine: Engine, lfw_images: Path
) -> None:
    settings = {"model_dir": str(model_dir), "store": {"data_dir": str(tmp_path / "data")}}
    config = VigilConfig.model_validate(settings)
    store = open_store(config)
    tracks = archive_unknowns(
        store.db, store.media, lfw_images, lfw_faces(engine, lfw_images), model_id=engine.model_id
    )
    assert build_clusters(config, store).update() > 0
    store.db.dispose()
    powell = {t.event_id for t in tracks if t.face.person == "Colin_Powell"}
    with (
        VigilServer(tmp_path / "serve", settings) as vigil,
        vigil.client() as api,
        chromium(vigil.url) as web,
    ):
        add_users(api, otto="operator", vera="viewer")
        assert api.post("/watchlists", json={"name": "wanted", "reason": "e2e"}).status_code == 201
        clusters = api.get("/clusters", params={"min_size": 2}).json()["items"]
        target = next(
            c for c in clusters if set(api.get(f"/clusters/{c['id']}").json()["event_ids"]) & powell
        )

        viewer = web.page(DESKTOP, "viewer")
        viewer.goto("/#/clusters")
        sign_in(viewer, "vera")
        expect(viewer.get_by_test_id("cluster-card").first).to_be_visible()
        expect(viewer.get_by_test_id("cluster-name")).to_have_count(0)

        page = web.page(DESKTOP, "operator")
        page.goto("/")
        sign_in(page, "otto")
        page.get_by_test_id("nav-clusters").click()
        card = page.locator(f"[data-testid=cluster-card][data-cluster-id='{target['id']}']")
        expect(card).to_be_visible()
        expect(card.get_by_test_id("cluster-size")).to_contain_text(str(target["size"]))
        shots = card.locator("[data-testid=cluster-shot] img")
        expect(shots.first).to_be_visible()
        loaded = "img => img.complete && img.naturalWidth > 0"  # the best shot really loads
        page.wait_for_function(loaded, arg=shots.first.element_handle(), timeout=10_000)

        card.get_by_test_id("cluster-name").click()
        dialog = page.get_by_test_id("dialog")
        dialog.get_by_test_id("cluster-name-person").fill("Colin Powell")
        dialog.get_by_test_id("cluster-name-list").select_option("wanted")
        dialog.get_by_test_id("dialog-confirm").click()
        assert dialog.get_by_test_id("dialog-reason").evaluate("el => el.validity.valueMissing")
        dialog.get_by_test_id("cluster-force").check()
        dialog.get_by_test_id("dialog-reason").fill("e2e: identified by the case officer")
        dialog.get_by_test_id("dialog-confirm").click()
        expect(dialog).to_have_count(0)
        expect(card).to_have_count(0)  # no longer open
        page.get_by_test_id("clusters-status").select_option("named")
        expect(card.get_by_test_id("cluster-person")).to_have_text("Colin Powell")
        web.assert_quiet()

        named = api.get(f"/clusters/{target['id']}").json()
        assert named["status"] == "named" and named["person"] == "Colin Powell"
        people = api.get("/people").json()
        listed = {p["name"]: [m["name"] for m in p["lists"]] for p in people}
        assert listed.get("Colin Powell") == ["wanted"], listed
