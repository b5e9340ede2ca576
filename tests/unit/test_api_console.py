"""The API behind the web console, over a real database (SQLite and PostgreSQL) and the real face models:
watchlists, enrolment from uploaded photos with the gate's verdict per photo, people, the event history,
the officer view's scope (REST and WebSocket), and the pages' security headers.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api_kit import Api, bearer
from tests.auth_kit import audit_actions
from vigil.store.tables import Camera, Event, EventShot, EventStatus, Person, Role, Severity, Watchlist

LMM = "ageitgey_lin-manuel-miranda.png"


def make_list(api: Api, name: str, **extra: object) -> dict[str, Any]:
    r = api.client.post("/watchlists", json={"name": name, "reason": "case 7", **extra}, headers=api.admin)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_watchlists_are_created_read_and_removed_by_role_with_audit(api: Api) -> None:
    viewer = bearer(api.user("vera", Role.VIEWER))
    operator = bearer(api.user("otto", Role.OPERATOR))
    made = make_list(api, "wanted", threshold=0.95, severity="high", review="two_person", colour="#dc2626")
    assert made["effective_threshold"] == 0.95 and made["review"] == "two_person" and made["people"] == 0
    assert made["below_calibrated"] is False and made["calibrated_threshold"] < 0.95
    default = make_list(api, "vip")
    assert default["threshold"] is None and default["fpir"] is None and default["effective_fpir"] == 0.001
    assert default["effective_threshold"] == default["calibrated_threshold"]
    assert 0.3 <= default["effective_threshold"] < 0.4  # the default embedder, one person, FPIR 0.001
    r = api.client.post(
        "/watchlists", json={"name": "lax", "reason": "r", "threshold": 0.1}, headers=api.admin
    )
    assert r.status_code == 422 and "below the threshold calibrated" in r.json()["error"], r.text
    lax = make_list(api, "lax", threshold=0.1, force=True)
    assert lax["below_calibrated"] is True and lax["effective_threshold"] == 0.1
    r = api.client.put("/watchlists/lax/rule", json={"fpir": 0.0001, "reason": "stricter"}, headers=api.admin)
    assert r.status_code == 200, r.text
    stricter = r.json()
    assert stricter["below_calibrated"] is False and stricter["effective_fpir"] == 0.0001
    assert stricter["effective_threshold"] > default["effective_threshold"] + 0.03
    r = api.client.put("/watchlists/lax/rule", json={"reason": "r"}, headers=operator)
    assert r.status_code == 403

    r = api.client.post("/watchlists", json={"name": "x", "reason": "r"}, headers=operator)
    assert r.status_code == 403
    r = api.client.post("/watchlists", json={"name": "Bad Name", "reason": "r"}, headers=api.admin)
    assert r.status_code == 422 and "lowercase" in r.json()["error"]
    r = api.client.post("/watchlists", json={"name": "wanted", "reason": "r"}, headers=api.admin)
    assert r.status_code == 422 and "already exists" in r.json()["error"]
    r = api.client.post("/watchlists", json={"name": "y", "reason": "r", "colour": "red"}, headers=api.admin)
    assert r.status_code == 422 and "colour" in r.json()["error"]
    assert [w["name"] for w in api.client.get("/watchlists", headers=viewer).json()] == [
        "lax",
        "vip",
        "wanted",
    ]

    assert api.client.delete("/watchlists/vip", headers=api.admin).status_code == 422, "a reason is required"
    assert api.client.delete("/watchlists/vip?reason=closed", headers=operator).status_code == 403
    assert api.client.delete("/watchlists/vip?reason=closed", headers=api.admin).status_code == 204
    assert api.client.get("/watchlists/vip", headers=viewer).status_code == 404
    actions = [(a[1], a[2], a[3]) for a in audit_actions(api.db)]
    assert ("list.create", "list:wanted", "case 7") in actions
    assert ("list.remove", "list:vip", "closed") in actions
    assert ("list.rule", "list:lax", "stricter") in actions


def test_a_person_is_put_on_another_list_not_enrolled_twice(api: Api, refs: Path) -> None:
    make_list(api, "wanted")
    operator = bearer(api.user("otto", Role.OPERATOR))
    files = [("photos", (LMM, (refs / LMM).read_bytes(), "image/png"))]
    form = {"watchlist": "wanted", "name": "Lin-Manuel Miranda", "reason": "warrant 2026/117"}
    r = api.client.post("/people", data=form, files=files, headers=operator)
    assert r.status_code == 201, r.text
    person_id = r.json()["person_id"]
    # One person, several lists: the same name on another list is refused; the person is put on it.
    make_list(api, "vip")
    r = api.client.post("/people", data={**form, "watchlist": "vip"}, files=files[:1], headers=operator)
    assert r.status_code == 422 and f"already enrolled as person {person_id}" in r.json()["error"]
    entry = {"watchlist": "vip", "reason": "visit 2026/3"}
    r = api.client.post(f"/people/{person_id}/lists", json=entry, headers=operator)
    assert r.status_code == 201, r.text
    assert sorted(m["name"] for m in r.json()["lists"]) == ["vip", "wanted"] and r.json()["samples"] == 1
    assert api.client.post(f"/people/{person_id}/lists", json=entry, headers=operator).status_code == 422
    r = api.client.delete(f"/people/{person_id}/lists/vip?reason=visit%20over", headers=operator)
    assert r.status_code == 200 and [m["name"] for m in r.json()["lists"]] == ["wanted"]

    viewer = bearer(api.user("vera", Role.VIEWER))
    assert api.client.post(f"/people/{person_id}/lists", json=entry, headers=viewer).status_code == 403
    actions = [(a[0], a[1], a[3]) for a in audit_actions(api.db)]
    assert ("otto", "person.list.add", "visit 2026/3") in actions
    assert ("otto", "person.list.remove", "visit over") in actions


def test_enrolment_by_upload_gives_the_gates_verdict_per_photo(api: Api, refs: Path) -> None:
    make_list(api, "wanted")
    operator = bearer(api.user("otto", Role.OPERATOR))
    files = [
        ("photos", (LMM, (refs / LMM).read_bytes(), "image/png")),
        ("photos", ("group.jpg", (refs / "ageitgey_two_people.jpg").read_bytes(), "image/jpeg")),
        ("photos", ("notes.txt", b"not a photo at all", "text/plain")),
    ]
    form = {"watchlist": "wanted", "name": "Lin-Manuel Miranda", "reason": "warrant 2026/117",
            "expires_at": "2099-01-31", "photo_source": "press kit"}  # fmt: skip
    r = api.client.post("/people", data=form, files=files, headers=operator)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"] is True and body["watchlist"] == "wanted"
    verdicts = {v["photo"]: v for v in body["verdicts"]}
    assert verdicts[LMM]["accepted"] is True and verdicts[LMM]["quality"]["size_px"] > 80
    assert not verdicts["group.jpg"]["accepted"] and "2 faces" in verdicts["group.jpg"]["reasons"][0]
    assert not verdicts["notes.txt"]["accepted"] and "not an image" in verdicts["notes.txt"]["reasons"][0]

    person_id = body["person_id"]
    people = api.client.get("/people?watchlist=wanted", headers=operator).json()
    assert [(p["name"], p["samples"], p["lists"][0]["name"]) for p in people] == [
        ("Lin-Manuel Miranda", 1, "wanted")
    ]
    assert people[0]["lists"][0]["expires_at"].startswith("2099-01-31T23:59:59")
    detail = api.client.get(f"/people/{person_id}", headers=operator).json()
    assert detail["entries"][0]["photo_source"] == "press kit" and detail["entries"][0]["added_by"] == "otto"
    face = api.client.get(people[0]["photo_url"], headers=operator)
    assert face.status_code == 200 and face.headers["content-type"] == "image/jpeg"
    assert face.content[:3] == b"\xff\xd8\xff"
    sample = api.client.get(detail["face_samples"][0]["photo_url"], headers=operator)
    assert sample.content == face.content

    # No usable photo: 422 with the verdicts, and nothing written.
    before = audit_actions(api.db)
    r = api.client.post("/people", data={**form, "name": "Nobody"}, files=[files[2]], headers=operator)
    assert r.status_code == 422 and r.json()["verdicts"][0]["photo"] == "notes.txt"
    assert audit_actions(api.db) == before
    assert len(api.client.get("/people", headers=operator).json()) == 1

    viewer = bearer(api.user("vera", Role.VIEWER))
    assert api.client.post("/people", data=form, files=files[:1], headers=viewer).status_code == 403
    r = api.client.post("/people", data={**form, "expires_at": "soon"}, files=files[:1], headers=operator)
    assert r.status_code == 422 and "expires_at" in r.json()["error"]

    assert api.client.delete(f"/people/{person_id}", headers=operator).status_code == 422
    assert api.client.delete(f"/people/{person_id}?reason=withdrawn", headers=operator).status_code == 204
    assert api.client.get(f"/people/{person_id}/photo.jpg", headers=operator).status_code == 404
    actions = [(a[0], a[1], a[3]) for a in audit_actions(api.db)]
    assert ("otto", "person.enrol", "warrant 2026/117") in actions
    assert ("otto", "person.remove", "withdrawn") in actions


def _archive(api: Api) -> dict[str, int]:
    """Two cameras, two lists, and events: 3 alerts (one per list and camera, one rejected) and 30 unknowns,
    one a minute back from ``now``."""
    now = datetime.now(UTC)
    with api.db.write() as s:
        door = Camera(name="door", url="rtsp://10.0.0.1/a", created_at=now)
        hall = Camera(name="hall", url="rtsp://10.0.0.2/a", created_at=now)
        wanted = Watchlist(name="wanted", created_by="t", created_at=now, severity=Severity.HIGH)
        vip = Watchlist(name="vip", created_by="t", created_at=now)
        ann = Person(name="Ann", created_by="t", created_at=now)
        bob = Person(name="Bob", created_by="t", created_at=now)
        s.add_all([door, hall, wanted, vip, ann, bob])
        s.flush()
        for i in range(33):
            at = now - timedelta(minutes=i)
            e = Event(
                camera_id=(door if i % 2 else hall).id, track_id=i, start_at=at, end_at=at, model_id="m"
            )
            if i < 3:
                e.camera_id = door.id if i < 2 else hall.id
                e.person_id = ann.id if i < 2 else bob.id
                e.watchlist_id = wanted.id if i < 2 else vip.id
                e.score, e.margin, e.alerted_at, e.frame_at = 0.95, 0.2, at, at
                e.status = EventStatus.REJECTED if i == 1 else EventStatus.NEW
            s.add(e)
            s.flush()
            if i == 0:
                s.add(EventShot(event_id=e.id, t_at=at, crop_path="shots/x.jpg", quality=0.9))
        return {"door": door.id, "hall": hall.id, "wanted": wanted.id, "vip": vip.id, "ann": ann.id}


def test_the_event_history_filters_and_pages(api: Api) -> None:
    ids = _archive(api)
    viewer = bearer(api.user("vera", Role.VIEWER))

    def page(**query: object) -> dict[str, object]:
        r = api.client.get("/events", params=query, headers=viewer)
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body

    first = page(limit=10)
    items = first["items"]
    assert isinstance(items, list)
    assert first["total"] == 33 and len(items) == 10
    starts = [e["start_at"] for e in items]
    assert starts == sorted(starts, reverse=True), "newest first"
    assert (
        items[0]["image_url"] == f"/media/events/{items[0]['id']}/best.jpg" and items[1]["image_url"] is None
    )
    last = page(limit=10, offset=30)
    assert len(last["items"]) == 3  # type: ignore[arg-type]
    seen = {e["id"] for p in range(4) for e in page(limit=10, offset=10 * p)["items"]}  # type: ignore[attr-defined]
    assert len(seen) == 33, "the pages cover every event once"

    alerts = page(decision="alert")
    assert alerts["total"] == 3
    assert {(e["person"], e["watchlist"], e["decision"]) for e in alerts["items"]} == {  # type: ignore[attr-defined]
        ("Ann", "wanted", "alert"),
        ("Bob", "vip", "alert"),
    }
    assert page(decision="unknown")["total"] == 30
    assert page(camera_id=ids["door"], decision="alert")["total"] == 2
    assert page(watchlist_id=ids["vip"])["total"] == 1
    assert page(person_id=ids["ann"])["total"] == 2
    assert page(status="rejected")["total"] == 1
    since = (datetime.now(UTC) - timedelta(minutes=4, seconds=30)).isoformat()
    assert page(since=since)["total"] == 5
    until = (datetime.now(UTC) - timedelta(minutes=29, seconds=30)).isoformat()
    assert page(until=until)["total"] == 3

    r = api.client.get("/events", params={"since": "2026-01-01T00:00:00"}, headers=viewer)
    assert r.status_code == 422 and "time zone" in r.json()["error"]
    r = api.client.get("/events", params={"since": since, "until": until}, headers=viewer)
    assert r.status_code == 422 and "empty" in r.json()["error"]
    r = api.client.get("/events", params={"limit": 500}, headers=viewer)
    assert r.status_code == 422


def test_the_officer_view_gets_only_the_lists_assigned_to_the_user(api: Api) -> None:
    ids = _archive(api)
    officer = bearer(api.user("olga", Role.OPERATOR))
    every = api.client.get("/alerts", params={"mine": "true"}, headers=officer).json()
    assert len(every) == 3, "no list assigned: every list's alerts"

    r = api.client.patch("/users/olga", json={"watchlists": ["nope"], "reason": "r"}, headers=api.admin)
    assert r.status_code == 404 and "nope" in r.json()["error"]
    r = api.client.patch("/users/olga", json={"watchlists": ["vip"], "reason": "shift B"}, headers=api.admin)
    assert r.status_code == 200 and r.json()["watchlists"] == ["vip"]
    assert api.client.get("/auth/me", headers=officer).json()["watchlists"] == ["vip"]
    assert [u["watchlists"] for u in api.client.get("/users", headers=api.admin).json()] == [[], ["vip"]]
    mine = api.client.get("/alerts", params={"mine": "true"}, headers=officer).json()
    assert [a["watchlist"] for a in mine] == ["vip"]
    assert len(api.client.get("/alerts", headers=officer).json()) == 3, "the console still sees everything"
    assert ("admin", "user.lists", "shift B") in [(a[0], a[1], a[3]) for a in audit_actions(api.db)]

    # The socket with ?mine=1 passes the vip list's alerts only.
    hub = api.app.state.vigil.live.hub
    with api.client.websocket_connect("/ws/alerts?mine=1", headers=officer) as ws:
        assert ws.receive_json()["type"] == "hello"
        deadline = time.monotonic() + 5
        while hub.clients == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        for n, list_id in enumerate([ids["wanted"], ids["vip"], ids["wanted"], ids["vip"]]):
            hub.publish({"type": "alert", "alert_id": n, "camera_id": ids["door"], "watchlist_id": list_id})
        got = [ws.receive_json()["alert_id"] for _ in range(2)]
    assert got == [1, 3]

    # Removing the list ends the assignment with it.
    assert api.client.delete("/watchlists/vip?reason=closed", headers=api.admin).status_code == 204
    assert api.client.get("/auth/me", headers=officer).json()["watchlists"] == []


def test_pages_are_served_with_a_strict_content_security_policy(api: Api) -> None:
    for path in ("/", "/m"):
        r = api.client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert api.client.get("/static/js/api.js").headers["content-type"].startswith("text/javascript")
    assert api.client.get("/sw.js").headers["content-type"].startswith("text/javascript")
    assert api.client.get("/manifest.webmanifest").json()["start_url"] == "/m"
    assert api.client.get("/static/../app.py").status_code == 404


def test_snapshots_are_refused_until_a_camera_delivers_one(api: Api) -> None:
    viewer = bearer(api.user("vera", Role.VIEWER))
    r = api.client.get("/cameras/1/snapshot.jpg", headers=viewer)
    assert r.status_code == 404 and "no snapshot" in r.json()["error"]


@pytest.mark.parametrize("threads", [2])
def test_enrolments_at_once_are_serialised_and_both_land(api: Api, refs: Path, threads: int) -> None:
    """Two uploads at the same moment (two officers): one enrolment at a time, both written."""
    make_list(api, "wanted")
    photo = (refs / "ageitgey_obama.jpg").read_bytes()
    answers: list[int] = []

    def enrol(name: str) -> None:
        r = api.client.post(
            "/people", data={"watchlist": "wanted", "name": name, "reason": "r"},
            files=[("photos", ("o.jpg", photo, "image/jpeg"))], headers=api.admin,
        )  # fmt: skip
        answers.append(r.status_code)

    workers = [threading.Thread(target=enrol, args=(f"Person {i}",)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sorted(answers) == [201] * threads
    assert len(api.client.get("/people", headers=api.admin).json()) == threads


def test_the_session_probe_names_the_signed_in_user_or_nobody_without_a_401(api: Api) -> None:
    assert api.client.get("/auth/session").json() == {"user": None}
    assert api.client.get("/auth/session", headers=bearer("vgl_bogus")).json() == {"user": None}
    api.client.post("/auth/login", json={"username": "admin", "password": api.first.password})
    assert api.client.get("/auth/session").json()["user"]["username"] == "admin"
    api.client.post("/auth/logout")
    assert api.client.get("/auth/session").json() == {"user": None}


def test_the_alert_feed_survives_removing_a_person_who_had_alerts(api: Api) -> None:
    """Regression: removing a person (or list) with alerts made GET /alerts answer 404 for the whole feed
    (the alert's person_id became NULL and building the alert failed)."""
    ids = _archive(api)
    alerts = api.client.get("/alerts", headers=api.admin).json()
    anns = [a["id"] for a in alerts if a["person"] == "Ann"]
    assert len(alerts) == 3 and len(anns) == 2
    assert api.client.delete(f"/people/{ids['ann']}?reason=withdrawn", headers=api.admin).status_code == 204
    r = api.client.get("/alerts", headers=api.admin)
    assert r.status_code == 200 and [a["person"] for a in r.json()] == ["Bob"]
    r = api.client.get(f"/alerts/{anns[0]}", headers=api.admin)
    assert r.status_code == 404 and "removed" in r.json()["error"]
    history = api.client.get("/events", params={"decision": "alert"}, headers=api.admin).json()
    assert history["total"] == 3, "the history keeps the sightings"


FILMED = "2016-03-14T19:30:00+00:00"


def test_footage_through_the_api(api: Api, hamilton_clip: Path) -> None:
    viewer = bearer(api.user("vera", Role.VIEWER))
    operator = bearer(api.user("otto", Role.OPERATOR))
    files = {"video": (hamilton_clip.name, hamilton_clip.read_bytes(), "video/mp4")}
    form = {"camera": "lobby", "reason": "case 7", "start": FILMED}
    assert api.client.post("/footage", data=form, files=files, headers=viewer).status_code == 403
    r = api.client.post("/footage", data=form, files=files, headers=operator)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["start_at"].startswith("2016-03-14T19:30")
    assert api.client.get(f"/footage/jobs/{job['id']}", headers=viewer).json()["id"] == job["id"]
    assert [j["id"] for j in api.client.get("/footage/jobs", headers=viewer).json()] == [job["id"]]
    r = api.client.post(f"/footage/jobs/{job['id']}/cancel", params={"reason": "test"}, headers=operator)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    bad = {"video": ("notes.txt", b"hello", "text/plain")}
    r = api.client.post("/footage", data=form, files=bad, headers=operator)
    assert r.status_code == 422 and "not a video" in r.json()["error"]


def test_footage_processed_by_the_server_is_searchable_at_once(
    api: Api, hamilton_clip: Path, refs: Path
) -> None:
    """Regression: the server's archive (loaded at its first search) did not hear of the tracks a footage
    job recorded afterwards, so a search found them only after a restart."""
    operator = bearer(api.user("otto", Role.OPERATOR))
    photo = refs / "ageitgey_lin-manuel-miranda.png"

    def search() -> list[dict[str, object]]:
        r = api.client.post(
            "/search",
            data={"reason": "case"},
            files={"photo": (photo.name, photo.read_bytes())},
            headers=operator,
        )
        assert r.status_code == 200, r.text
        hits: list[dict[str, object]] = r.json()["archive"]
        return hits

    assert search() == [], "the archive is loaded, and empty"
    files = {"video": (hamilton_clip.name, hamilton_clip.read_bytes(), "video/mp4")}
    r = api.client.post("/footage", data={"camera": "lobby", "reason": "case"}, files=files, headers=operator)
    assert r.status_code == 202
    assert api.app.state.vigil.footage.run_next()
    assert api.client.get(f"/footage/jobs/{r.json()['id']}", headers=operator).json()["status"] == "done"
    hits = search()
    assert hits and {h["camera"] for h in hits} == {"lobby"}
    names = [c["name"] for c in api.client.get("/cameras", headers=operator).json()]
    assert "lobby" not in names, "footage cameras are not live cameras"
    everything = api.client.get("/cameras", params={"include_footage": "true"}, headers=operator).json()
    assert "lobby" in [c["name"] for c in everything]
