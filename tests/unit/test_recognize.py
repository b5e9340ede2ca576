"""POST /recognize: every face of one photo answered from the store's watchlists, authorised and audited
like a search, on SQLite and PostgreSQL, with the real face models.

Ground truth: ``ageitgey_two_people.jpg`` shows Barack Obama (left) and Joe Biden (right); they are
enrolled from other photos of them (``ageitgey_obama.jpg``, ``ageitgey_biden.jpg``). Alex Lacamoire
(``ageitgey_alex-lacamoire.png``) is enrolled nowhere: a stranger.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_kit import Api, bearer, make_state
from tests.auth_kit import Clock, open_db
from tests.helpers import read_bgr
from vigil.api.app import create_app
from vigil.api.state import ApiState
from vigil.config import IngestConfig, VigilConfig
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.lists import ListSettings
from vigil.services.users import UserService
from vigil.store.media import sha256_hex
from vigil.store.tables import AuditEntry, Role

MAX_BYTES = 600_000  # above every sample photo, below one padded with 200 kB


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    """The API with a 600 kB image limit, Obama and Biden enrolled on the list "wanted"."""
    db = open_db(db_url)
    clock = Clock()
    users = UserService(db, session_hours=1, clock=clock)
    first = users.bootstrap_admin()
    assert first is not None
    state = make_state(db, users, VigilConfig(ingest=IngestConfig(max_image_bytes=MAX_BYTES)))
    app = create_app(state)
    with TestClient(app) as client:
        yield Api(app, client, users, db, clock, first)
    db.dispose()


def _enrol(state: ApiState, refs: Path) -> dict[str, int]:
    state.lists.create("admin", "wanted", ListSettings(), "case 2026/40")
    ids = {}
    for name, photo in (("Barack Obama", "ageitgey_obama.jpg"), ("Joe Biden", "ageitgey_biden.jpg")):
        req = EnrolRequest("wanted", name, "case 2026/40", (Photo(photo, (refs / photo).read_bytes()),))
        ids[name] = state.enrolment.enrol("admin", req).person_id
    return ids


def _post(
    api: Api, name: str, data: bytes, headers: dict[str, str], reason: str | None = "case 2026/41"
) -> Any:
    form = {"reason": reason} if reason is not None else {}
    return api.client.post("/recognize", data=form, files={"photo": (name, data)}, headers=headers)


def test_every_face_of_a_photo_is_answered_and_audited(api: Api, refs: Path) -> None:
    state: ApiState = api.app.state.vigil
    ids = _enrol(state, refs)
    viewer = bearer(api.user("vera", Role.VIEWER))
    operator = bearer(api.user("otto", Role.OPERATOR))
    two = (refs / "ageitgey_two_people.jpg").read_bytes()

    assert _post(api, "two.jpg", two, viewer).status_code == 403
    assert _post(api, "two.jpg", two, operator, reason=None).status_code == 422
    assert _post(api, "two.jpg", two, operator, reason=" ").status_code == 422

    r = _post(api, "two.jpg", two, operator)
    assert r.status_code == 200, r.text
    body = r.json()
    faces = sorted(body["faces"], key=lambda f: f["xyxy"][0])  # left to right
    assert [f["identity"]["name"] for f in faces] == ["Barack Obama", "Joe Biden"]
    assert [f["identity"]["person_id"] for f in faces] == [ids["Barack Obama"], ids["Joe Biden"]]
    for f, other in zip(faces, reversed(faces), strict=True):
        assert f["judged"] and f["problems"] == [] and f["lists"] == ["wanted"]
        assert f["identity"]["lists"] == ["wanted"] and f["candidate"] == f["identity"]
        assert f["runner_up"]["name"] == other["identity"]["name"], "the other enrolled person is next"
        assert f["score"] >= f["threshold"] and f["margin"] > 0.3
        assert f["score"] == pytest.approx(f["margin"] + f["runner_up"]["score"], abs=1e-3)
    rule = state.lists.get("wanted").rule
    assert rule.calibrated_for == 2, "a list of two people, calibrated for its size"
    assert [f["threshold"] for f in faces] == [pytest.approx(rule.threshold, abs=1e-4)] * 2

    with api.db.read() as s:
        row = s.scalars(select(AuditEntry).where(AuditEntry.id == body["audit_id"])).one()
    assert (row.actor, row.action, row.reason) == ("otto", "recognize.photo", "case 2026/41")
    details = json.loads(row.details)
    assert details["probe_sha256"] == sha256_hex(two) == body["probe_sha256"]
    assert sorted(a["person"] for a in details["answers"]) == sorted(ids.values())
    kept = [p for p in state.media.path("probes").rglob("*") if p.is_file()]
    assert [sha256_hex(p.read_bytes()) for p in kept] == [sha256_hex(two)], "the probe is kept"

    stranger = _post(api, "alex.png", (refs / "ageitgey_alex-lacamoire.png").read_bytes(), operator).json()
    [alex] = stranger["faces"]
    assert alex["judged"] and alex["identity"] is None and alex["lists"] == []
    assert alex["candidate"]["name"] in ids and alex["score"] < alex["threshold"], "unknown, with a score"


def test_a_face_too_small_to_judge_says_so(api: Api, refs: Path) -> None:
    _enrol(api.app.state.vigil, refs)
    operator = bearer(api.user("otto", Role.OPERATOR))
    image = read_bgr(refs / "ageitgey_two_people.jpg")
    tiny = cv2.resize(image, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA)  # faces ~25 px
    ok, jpeg = cv2.imencode(".jpg", tiny)
    assert ok
    r = _post(api, "tiny.jpg", jpeg.tobytes(), operator)
    assert r.status_code == 200, r.text
    faces = r.json()["faces"]
    assert faces, "the detector still finds the faces"
    for f in faces:
        assert not f["judged"] and f["identity"] is None and any("px" in p for p in f["problems"]), f


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("notes.jpg", b"this is not a photo\n" * 20, "not an image"),
        ("cut.jpg", b"", "empty"),
        ("big.jpg", None, "above the limit of 600,000 bytes"),
        ("half.jpg", "truncated", "corrupt"),
    ],
)
def test_a_bad_upload_is_refused_with_the_reason_and_not_audited(
    api: Api, refs: Path, name: str, content: bytes | str | None, says: str
) -> None:
    operator = bearer(api.user("otto", Role.OPERATOR))
    two = (refs / "ageitgey_two_people.jpg").read_bytes()
    data = two + b"\0" * 200_000 if content is None else two[:2_000] if content == "truncated" else content
    assert isinstance(data, bytes)
    r = _post(api, name, data, operator)
    assert 400 <= r.status_code < 500, r.text
    assert name in r.json()["error"] and says in r.json()["error"], r.json()
    with api.db.read() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "recognize.photo")).all() == []
