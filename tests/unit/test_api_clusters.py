"""/clusters over a real store with real LFW tracks: viewers look, operators change; bad input is a 4xx
naming what was wrong, and a refused change writes nothing."""

from __future__ import annotations

from pathlib import Path

from tests.api_kit import Api, bearer
from tests.unknowns_kit import archive_unknowns, lfw_faces
from vigil.api.state import ApiState
from vigil.app import Engine
from vigil.store.tables import Role


def test_viewers_look_operators_change_and_bad_input_is_named(
    api: Api, engine: Engine, lfw_images: Path
) -> None:
    state: ApiState = api.app.state.vigil
    archive_unknowns(api.db, state.media, lfw_images, lfw_faces(engine, lfw_images), model_id=engine.model_id)
    assert state.clusters.update() > 0
    viewer = bearer(api.user("vera", Role.VIEWER))
    operator = bearer(api.user("otto", Role.OPERATOR))
    c = api.client
    assert c.get("/clusters").status_code == 401
    page = c.get("/clusters", params={"min_size": 2}, headers=viewer).json()
    assert page["total"] >= 2 and all(item["size"] >= 2 for item in page["items"])
    first, second = page["items"][0]["id"], page["items"][1]["id"]
    detail = c.get(f"/clusters/{first}", headers=viewer).json()
    assert (
        detail["shots"]
        and detail["shots"][0]["image_url"] == f"/media/events/{detail['shots'][0]['event_id']}/best.jpg"
    )
    assert c.get(detail["shots"][0]["image_url"], headers=viewer).status_code == 200

    body = {"clusters": [second], "reason": "same person"}
    assert c.post(f"/clusters/{first}/merge", json=body, headers=viewer).status_code == 403
    bad = c.post(f"/clusters/{first}/merge", json={"clusters": [second]}, headers=operator)
    assert bad.status_code == 422 and "reason" in bad.json()["error"]
    assert c.post("/clusters/999999/merge", json=body, headers=operator).status_code == 404
    assert c.get(f"/clusters/{second}", headers=viewer).status_code == 200, "the refused merges wrote nothing"
    merged = c.post(f"/clusters/{first}/merge", json=body, headers=operator)
    assert merged.status_code == 200 and merged.json()["pinned"]
    assert c.get(f"/clusters/{second}", headers=viewer).status_code == 404
    members = c.get(f"/clusters/{first}", headers=viewer).json()["event_ids"]
    stranger = c.post(
        f"/clusters/{first}/split", json={"event_ids": [members[0], 999999], "reason": "x"}, headers=operator
    )
    assert stranger.status_code == 422 and "999999" in stranger.json()["error"]
    split = c.post(
        f"/clusters/{first}/split", json={"event_ids": members[:1], "reason": "x"}, headers=operator
    )
    assert split.status_code == 201 and split.json()["size"] == 1
    assert c.get(f"/clusters/{first}", headers=viewer).json()["size"] == len(members) - 1
    dismissed = c.post(f"/clusters/{first}/dismiss", json={"reason": "not of interest"}, headers=operator)
    assert dismissed.json()["status"] == "dismissed"
    assert c.get("/clusters", params={"status": "bogus"}, headers=viewer).status_code == 422
