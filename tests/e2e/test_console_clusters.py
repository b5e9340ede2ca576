"""The clusters screen in a real browser (headless Chromium via Playwright) against a real `vigil serve`
whose store holds unknown tracks made of LFW photos (tests/unknowns_kit.py): an operator sees the clusters
with their best shots, names Colin Powell's into a list with a reason, and the API then shows the cluster
named and Powell enrolled on that list; a viewer sees the clusters but no action. An operator merges two
clusters, splits a shot off, dismisses one, and the API and the audit log show each with its reason. No
page may log an error or make a request that fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import DESKTOP, chromium
from tests.e2e.test_console import add_users, sign_in
from tests.serve_kit import VigilServer
from tests.unknowns_kit import archive_unknowns, lfw_faces
from vigil.app import Engine, build_clusters, open_store
from vigil.config import VigilConfig

pytestmark = [pytest.mark.network, pytest.mark.slow]


def clustered_store(
    tmp_path: Path, model_dir: Path, engine: Engine, lfw_images: Path
) -> tuple[dict[str, Any], dict[int, str]]:
    """The settings of a store whose unknown LFW tracks are clustered, and each track's person."""
    settings = {"model_dir": str(model_dir), "store": {"data_dir": str(tmp_path / "data")}}
    config = VigilConfig.model_validate(settings)
    store = open_store(config)
    tracks = archive_unknowns(
        store.db, store.media, lfw_images, lfw_faces(engine, lfw_images), model_id=engine.model_id
    )
    assert build_clusters(config, store).update() > 0
    store.db.dispose()
    return settings, {t.event_id: t.face.person for t in tracks}


def members(api: httpx.Client, cluster_id: int) -> set[int]:
    answer = api.get(f"/clusters/{cluster_id}")
    assert answer.status_code == 200, answer.text
    return set(answer.json()["event_ids"])


def confirm(page: Page, reason: str) -> None:
    """Confirm the open action dialog, which refuses to go on without a reason."""
    dialog = page.get_by_test_id("dialog")
    dialog.get_by_test_id("dialog-confirm").click()
    assert dialog.get_by_test_id("dialog-reason").evaluate("el => el.validity.valueMissing")
    dialog.get_by_test_id("dialog-reason").fill(reason)
    dialog.get_by_test_id("dialog-confirm").click()
    expect(dialog).to_have_count(0)


def cluster_card(page: Page, cluster_id: int) -> Locator:
    return page.locator(f"[data-testid=cluster-card][data-cluster-id='{cluster_id}']")


def test_an_operator_names_a_cluster_of_unknown_faces_into_a_list(
    tmp_path: Path, model_dir: Path, engine: Engine, lfw_images: Path
) -> None:
    settings, person_of = clustered_store(tmp_path, model_dir, engine, lfw_images)
    powell = {event for event, person in person_of.items() if person == "Colin_Powell"}
    with (
        VigilServer(tmp_path / "serve", settings) as vigil,
        vigil.client() as api,
        chromium(vigil.url) as web,
    ):
        add_users(api, otto="operator", vera="viewer")
        assert api.post("/watchlists", json={"name": "wanted", "reason": "e2e"}).status_code == 201
        clusters = api.get("/clusters", params={"min_size": 2}).json()["items"]
        target = next(c for c in clusters if members(api, c["id"]) & powell)

        viewer = web.page(DESKTOP, "viewer")
        viewer.goto("/#/clusters")
        sign_in(viewer, "vera")
        expect(viewer.get_by_test_id("cluster-card").first).to_be_visible()
        expect(viewer.get_by_test_id("cluster-name")).to_have_count(0)

        page = web.page(DESKTOP, "operator")
        page.goto("/")
        sign_in(page, "otto")
        page.get_by_test_id("nav-clusters").click()
        card = cluster_card(page, target["id"])
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


def test_an_operator_merges_splits_and_dismisses_clusters_with_reasons(
    tmp_path: Path, model_dir: Path, engine: Engine, lfw_images: Path
) -> None:
    settings, _ = clustered_store(tmp_path, model_dir, engine, lfw_images)
    with (
        VigilServer(tmp_path / "serve", settings) as vigil,
        vigil.client() as api,
        chromium(vigil.url) as web,
    ):
        add_users(api, otto="operator")
        shown = api.get("/clusters", params={"status": "open", "min_size": 2, "limit": 24}).json()["items"]
        assert len(shown) >= 3, shown
        into, other, third = (c["id"] for c in shown[:3])
        merged = members(api, into) | members(api, other)

        page = web.page(DESKTOP, "operator")
        page.goto("/#/clusters")
        sign_in(page, "otto")
        page.get_by_test_id("clusters-min-size").fill("2")
        page.get_by_test_id("clusters-min-size").dispatch_event("change")
        expect(cluster_card(page, other)).to_be_visible()

        # Merge: nothing selected is refused on the card; then select `other` and merge it into `into`.
        cluster_card(page, into).get_by_test_id("cluster-merge").click()
        expect(cluster_card(page, into).get_by_test_id("cluster-error")).to_contain_text(
            "Select the clusters"
        )
        cluster_card(page, other).get_by_test_id("cluster-pick").check()
        cluster_card(page, into).get_by_test_id("cluster-merge").click()
        confirm(page, "e2e: the same man at both doors")
        expect(cluster_card(page, other)).to_have_count(0)
        expect(cluster_card(page, into)).to_have_attribute("data-size", str(len(merged)))
        assert members(api, into) == merged
        assert api.get(f"/clusters/{other}").status_code == 404

        # Split: one shot of the merged cluster goes into a new cluster of its own.
        card = cluster_card(page, into)
        expect(card.get_by_test_id("cluster-shot")).to_have_count(len(merged))
        shot = card.get_by_test_id("cluster-shot").first
        moved = int(shot.get_attribute("data-event-id") or "0")
        shot.get_by_test_id("cluster-shot-pick").check()
        card.get_by_test_id("cluster-split").click()
        confirm(page, "e2e: a different man")
        expect(cluster_card(page, into)).to_have_attribute("data-size", str(len(merged) - 1))
        assert members(api, into) == merged - {moved}
        split_off = [
            c
            for c in api.get("/clusters", params={"status": "open"}).json()["items"]
            if moved in members(api, c["id"])
        ]
        assert len(split_off) == 1 and split_off[0]["size"] == 1, split_off

        # Dismiss: the cluster leaves the open ones and is listed as dismissed.
        cluster_card(page, third).get_by_test_id("cluster-dismiss").click()
        confirm(page, "e2e: staff at the entrance")
        expect(cluster_card(page, third)).to_have_count(0)
        page.get_by_test_id("clusters-status").select_option("dismissed")
        expect(cluster_card(page, third)).to_have_attribute("data-status", "dismissed")
        expect(cluster_card(page, third).get_by_test_id("cluster-dismiss")).to_have_count(0)
        web.assert_quiet()

        rows = api.get("/audit", params={"action": "cluster.*"}).json()["rows"]
        done = {(r["action"], r["subject"], r["reason"], r["actor"]) for r in rows}
        assert done == {
            ("cluster.merge", f"cluster:{into}", "e2e: the same man at both doors", "otto"),
            ("cluster.split", f"cluster:{into}", "e2e: a different man", "otto"),
            ("cluster.dismiss", f"cluster:{third}", "e2e: staff at the entrance", "otto"),
        }, done
