"""The scope matrix: every route of the app, called by users of every role and scope, against a table
written by hand (status codes and the items each answer holds). SQLite and PostgreSQL.

The world: lists A and B, cameras c1 and c2, people on A, on B, on both and on none, on each camera an
alert on A, one on B, one on both and an unknown face, and a footage job. The users: an admin, a viewer
limited to nothing, an operator limited to list A, one limited to A and camera c1, a viewer limited to B
and an operator limited to camera c2. Who sees what is written out below (``SEES``), not computed from
:mod:`vigil.services.visibility`, so the test checks the rules instead of repeating them.

``test_every_route_is_in_the_scope_table`` walks ``app.routes``: a route added later fails until its row
says how it treats scopes. The alert WebSocket is a row too: each user connects, alerts on every list and
camera are raised through the hub, and only their scope's arrive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api_kit import Api, bearer
from tests.auth_kit import audit_actions
from tests.store_kit import configured_vector
from tests.unit.test_api_auth import OPEN, WS, routes_of
from vigil.api.state import ApiState
from vigil.store.media import sha256_hex
from vigil.store.tables import (
    Camera,
    Event,
    EventShot,
    FaceSample,
    FootageJob,
    JobStatus,
    Person,
    Role,
    Watchlist,
    WatchlistEntry,
)

SEEN = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
USERS: dict[str, tuple[Role, list[str], list[str]]] = {
    "admin": (Role.ADMIN, [], []),  # the first administrator (never limited)
    "vall": (Role.VIEWER, [], []),
    "opa": (Role.OPERATOR, ["A"], []),
    "opa1": (Role.OPERATOR, ["A"], ["c1"]),
    "vb": (Role.VIEWER, ["B"], []),
    "op2": (Role.OPERATOR, [], ["c2"]),
}
OPERATORS = {"admin", "opa", "opa1", "op2"}
UNLIMITED = {"admin", "vall"}
CAMERA_LIMITED = {"opa1", "op2"}
EVERYONE = set(USERS)

# Who sees what: alerts/events "<camera><lists>" ("1AB": camera c1, lists A and B; "U": an unknown face),
# cameras, lists, people ("p" + their lists; "pn" is on none) and footage jobs ("j" + camera).
SEES: dict[str, set[str]] = {
    "1A": {"admin", "vall", "opa", "opa1"},
    "1B": {"admin", "vall", "vb"},
    "1AB": {"admin", "vall", "opa", "opa1", "vb"},
    "1U": {"admin", "vall", "opa", "opa1", "vb"},
    "2A": {"admin", "vall", "opa", "op2"},
    "2B": {"admin", "vall", "vb", "op2"},
    "2AB": {"admin", "vall", "opa", "vb", "op2"},
    "2U": {"admin", "vall", "opa", "vb", "op2"},
    "c1": {"admin", "vall", "opa", "opa1", "vb"},
    "c2": {"admin", "vall", "opa", "vb", "op2"},
    "A": {"admin", "vall", "opa", "opa1", "op2"},
    "B": {"admin", "vall", "vb", "op2"},
    "pa": {"admin", "vall", "opa", "opa1", "op2"},
    "pb": {"admin", "vall", "vb", "op2"},
    "pab": EVERYONE,
    "pn": {"admin", "vall", "op2"},
    "j1": {"admin", "vall", "opa", "opa1", "vb"},
    "j2": {"admin", "vall", "opa", "vb", "op2"},
}
ALERTS = ["1A", "1B", "1AB", "2A", "2B", "2AB"]
EVENTS = [*ALERTS, "1U", "2U"]
PEOPLE = ["pa", "pb", "pab", "pn"]


@dataclass
class World:
    api: Api
    ids: dict[str, int]  # label -> row id
    tokens: dict[str, dict[str, str]]  # user -> Authorization header
    shot: bytes

    @property
    def state(self) -> ApiState:
        state: ApiState = self.api.app.state.vigil
        return state

    def label(self, kind: str, row_id: int) -> str:
        """The label of a row id of a kind ("event", "camera", ...), or the id itself for new rows."""
        for name, i in self.ids.items():
            if i == row_id and _kind(name) == kind:
                return name
        return f"{kind}#{row_id}"


def _kind(label: str) -> str:
    if label in ("A", "B"):
        return "list"
    if label in ("c1", "c2"):
        return "camera"
    if label.startswith("p"):
        return "person"
    if label.startswith("j"):
        return "job"
    return "event"


def seed(api: Api, refs: Path) -> World:
    state: ApiState = api.app.state.vigil
    shot = (refs / "ageitgey_obama.jpg").read_bytes()
    shot_path = state.media.put("shots", shot, ".jpg")
    now = datetime.now(UTC)
    ids: dict[str, int] = {}
    model, dim, vector = configured_vector(state.config)  # the enrolment photos are the embedder's
    with api.db.write() as s:
        cams = {n: Camera(name=n, url=f"rtsp://10.0.0.{i}/a", enabled=False, created_at=now)
                for i, n in enumerate(["c1", "c2"], 1)}  # fmt: skip
        lists = {n: Watchlist(name=n, created_by="t", created_at=now) for n in ("A", "B")}
        people = {n: Person(name=n, created_by="t", created_at=now) for n in PEOPLE}
        s.add_all([*cams.values(), *lists.values(), *people.values()])
        s.flush()
        for person in PEOPLE:
            for wl in person[1:].upper().replace("N", ""):
                s.add(WatchlistEntry(watchlist_id=lists[wl].id, person_id=people[person].id, reason="r",
                                     added_by="t", added_at=now))  # fmt: skip
            s.add(FaceSample(person_id=people[person].id, photo_sha256=sha256_hex(shot), photo_path=shot_path,
                             crop_path=shot_path, embedding=vector, model_id=model, dim=dim, quality={},
                             created_at=now))  # fmt: skip
        for n, label in enumerate(EVENTS):
            camera, on = cams[f"c{label[0]}"], label[1:]
            e = Event(camera_id=camera.id, track_id=n, start_at=SEEN + timedelta(minutes=n), model_id="m",
                      end_at=SEEN + timedelta(minutes=n, seconds=3))  # fmt: skip
            if on != "U":
                # The most severe list first, as the router writes them: B before A on "AB".
                passed = [lists[x].id for x in sorted(on, reverse=True)]
                e.person_id, e.watchlist_id, e.list_ids = people[f"p{on.lower()}"].id, passed[0], passed
                e.score, e.margin, e.alerted_at, e.frame_at = 0.9, 0.2, e.start_at, e.start_at
            s.add(e)
            s.flush()
            s.add(EventShot(event_id=e.id, t_at=e.start_at, crop_path=shot_path, quality=0.9))
            ids[label] = e.id
        for cam_name in ("c1", "c2"):
            job = FootageJob(camera=cam_name, filename="v.mp4", start_at=SEEN, status=JobStatus.DONE,
                             created_by="t", created_at=now, updated_at=now)  # fmt: skip
            s.add(job)
            s.flush()
            ids[f"j{cam_name[1]}"] = job.id
        ids |= {n: c.id for n, c in cams.items()} | {n: wl.id for n, wl in lists.items()}
        ids |= {n: p.id for n, p in people.items()}
    tokens = {"admin": api.admin}
    for name, (role, on_lists, on_cameras) in USERS.items():
        if name == "admin":
            continue
        tokens[name] = bearer(api.user(name, role))
        if on_lists or on_cameras:
            state.limits.limit("admin", name, lists=on_lists, cameras=on_cameras, reason="matrix")
    return World(api, ids, tokens, shot)


# --- what each call should answer -------------------------------------------------------------------

Expect = Callable[[str], tuple[int, str]]  # user -> (status, a fragment of the error, "" for any)
Items = Callable[[World, Any], set[str]]  # an answer's JSON -> the labels of the items it holds


def sees(label: str, ok: int = 200) -> Expect:
    """Readable by everyone who sees ``label`` (404 for the others)."""
    return lambda user: (ok, "") if user in SEES[label] else (404, "")


def acts(label: str, ok: int = 200, beyond: set[str] | None = None) -> Expect:
    """An operator's action on ``label``: viewers 403; those who do not see it 404; ``beyond`` 403."""

    def expect(user: str) -> tuple[int, str]:
        if user not in OPERATORS:
            return 403, "role"
        if user not in SEES[label]:
            return 404, ""
        if beyond and user in beyond:
            return 403, "outside your scope"
        return ok, ""

    return expect


def missing(label: str, seen: str, unseen: str) -> Expect:
    """A 404 for everyone, saying ``seen`` to those who see ``label`` and ``unseen`` to the others."""
    return lambda user: (404, seen if user in SEES[label] else unseen)


def acts_on_missing(label: str, why: str) -> Expect:
    """:func:`acts` on something of ``label`` that does not exist: those allowed get 404 saying ``why``."""
    allowed = acts(label)
    return lambda user: (404, why) if allowed(user)[0] == 200 else allowed(user)


def exports(label: str) -> Expect:
    """Evidence exports refuse what lies outside the scope with 403 (audited as evidence.denied)."""
    return lambda user: _export(user, label)


def role(users: set[str], ok: int = 200, refused: int = 403) -> Expect:
    return lambda user: (ok, "") if user in users else (refused, "")


def _cluster_act(user: str) -> tuple[int, str]:
    """An operator's action on a cluster that does not exist."""
    if user not in OPERATORS:
        return 403, "role"
    if user in CAMERA_LIMITED:
        return 403, "limited to some cameras"
    return 404, ""


def by_user(table: dict[str, tuple[int, str]]) -> Expect:
    return lambda user: table[user]


@dataclass
class Probe:
    """One call of a route. ``path`` may name labels in braces ({1A}); ``setup`` makes what the call
    changes, fresh for each user (path placeholders it returns are filled in too)."""

    method: str
    path: str
    expect: Expect
    items: Items | None = None  # the labels the answer holds must be exactly what the user sees
    of: list[str] = field(default_factory=list)  # the labels ``items`` may show
    kwargs: dict[str, Any] = field(default_factory=dict)
    setup: Callable[[World, str], dict[str, str]] | None = None
    reason: bool = True  # a JSON body gets a reason unless the route takes none


def _labels(kind: str, key: str = "id") -> Items:
    return lambda w, body: {w.label(kind, int(x[key])) for x in body}


def _event_page(w: World, body: Any) -> set[str]:
    assert body["total"] == len(body["items"]), "the total counts what the user may see"
    return {w.label("event", int(x["id"])) for x in body["items"]}


def _names(w: World, body: Any) -> set[str]:
    return {str(x["name"]) for x in body}


def _person_lists(w: World, body: Any) -> set[str]:
    """People as "<name>:<lists shown>" (a scoped user sees only their lists named)."""
    return {f"{x['name']}:{''.join(sorted(m['name'] for m in x['lists']))}" for x in body}


def _fresh_person(lists: str) -> Callable[[World, str], dict[str, str]]:
    def make(w: World, user: str) -> dict[str, str]:
        now = datetime.now(UTC)
        with w.api.db.write() as s:
            p = Person(name=f"tmp-{user}-{lists}", created_by="t", created_at=now)
            s.add(p)
            s.flush()
            for wl in lists:
                s.add(WatchlistEntry(watchlist_id=w.ids[wl], person_id=p.id, reason="r", added_by="t",
                                     added_at=now))  # fmt: skip
            return {"fresh": str(p.id)}

    return make


def _fresh_camera(w: World, user: str) -> dict[str, str]:
    with w.api.db.write() as s:
        c = Camera(name=f"tmp-{user}", url="rtsp://10.0.0.9/a", enabled=False, created_at=datetime.now(UTC))
        s.add(c)
        s.flush()
        return {"fresh": str(c.id)}


def _fresh_list(w: World, user: str) -> dict[str, str]:
    with w.api.db.write() as s:
        s.add(Watchlist(name=f"tmp-{user}", created_by="t", created_at=datetime.now(UTC)))
    return {"fresh": f"tmp-{user}"}


def _fresh_token(w: World, user: str) -> dict[str, str]:
    return {"fresh": str(w.api.users.issue_token("vall", f"tmp-{user}", "t")[0])}


def _people_visible(user: str) -> set[str]:
    shown = {"A", "B"} if user not in {"opa", "opa1", "vb"} else set(USERS[user][1])
    return {f"{p}:{''.join(sorted(set(p[1:].upper()) & shown))}" for p in PEOPLE if user in SEES[p]}


def _garbage(name: str) -> dict[str, Any]:
    return {name: ("x.jpg", b"not an image", "image/jpeg")}


ALL_PEOPLE = [f"{p}:{lists}" for p in PEOPLE for lists in ("", "A", "B", "AB")]
RECOGNIZE = {"files": _garbage("photo"), "data": {"reason": "case 1"}}

PROBES: dict[tuple[str, str], list[Probe]] = {
    ("GET", "/alerts"): [Probe("GET", "/alerts", role(EVERYONE), _labels("event"), ALERTS)],
    ("GET", "/alerts/{alert_id}"): [Probe("GET", f"/alerts/{{{a}}}", sees(a)) for a in ALERTS],
    ("POST", "/alerts/{alert_id}/review"): [
        Probe(
            "POST",
            f"/alerts/{{{a}}}/review",
            acts(a),
            kwargs={"json": {"action": "acknowledge"}},
            reason=False,
        )
        for a in ("1A", "1AB", "2B")
    ],
    ("GET", "/events"): [
        Probe("GET", "/events", role(EVERYONE), _event_page, EVENTS, kwargs={"params": {"limit": 200}})
    ],
    ("GET", "/events/{event_id}"): [Probe("GET", f"/events/{{{e}}}", sees(e)) for e in EVENTS],
    ("GET", "/media/events/{event_id}/best.jpg"): [
        Probe("GET", f"/media/events/{{{e}}}/best.jpg", sees(e)) for e in ("1A", "1U", "2B", "2AB")
    ],
    ("GET", "/cameras"): [Probe("GET", "/cameras", role(EVERYONE), _labels("camera"), ["c1", "c2"])],
    ("GET", "/cameras/{camera_id}"): [Probe("GET", f"/cameras/{{{c}}}", sees(c)) for c in ("c1", "c2")],
    ("GET", "/cameras/{camera_id}/advice"): [
        Probe("GET", f"/cameras/{{{c}}}/advice", sees(c)) for c in ("c1", "c2")
    ],
    ("GET", "/cameras/{camera_id}/snapshot.jpg"): [
        # No camera runs here: a camera the user sees has no snapshot yet; one they do not is not there.
        Probe(
            "GET",
            f"/cameras/{{{c}}}/snapshot.jpg",
            missing(c, seen="no snapshot", unseen="no camera"),
        )
        for c in ("c1", "c2")
    ],
    ("POST", "/cameras"): [
        Probe(
            "POST",
            "/cameras",
            by_user(
                {
                    "admin": (201, ""),
                    "opa": (201, ""),
                    "op2": (403, "outside your scope"),
                    "opa1": (403, "outside your scope"),
                    "vall": (403, "role"),
                    "vb": (403, "role"),
                }
            ),
            setup=lambda w, u: {"name": f"new-{u}"},
            kwargs={"json": {"name": "{name}", "url": "rtsp://10.0.0.8/a", "enabled": False}},
        )
    ],
    ("PATCH", "/cameras/{camera_id}"): [
        Probe("PATCH", f"/cameras/{{{c}}}", acts(c), kwargs={"json": {"max_fps": 5}}) for c in ("c1", "c2")
    ],
    ("DELETE", "/cameras/{camera_id}"): [
        # A new camera: in the scope of those not limited to cameras.
        Probe(
            "DELETE",
            "/cameras/{fresh}",
            by_user(
                {
                    "admin": (204, ""),
                    "opa": (204, ""),
                    "op2": (404, ""),
                    "opa1": (404, ""),
                    "vall": (403, "role"),
                    "vb": (403, "role"),
                }
            ),
            setup=_fresh_camera,
        )
    ],
    ("GET", "/watchlists"): [Probe("GET", "/watchlists", role(EVERYONE), _names, ["A", "B"])],
    ("GET", "/watchlists/{name}"): [Probe("GET", f"/watchlists/{n}", sees(n)) for n in ("A", "B")],
    ("POST", "/watchlists"): [
        Probe(
            "POST",
            "/watchlists",
            role({"admin"}, 201),
            setup=lambda w, u: {"name": f"new-{u}"},
            kwargs={"json": {"name": "{name}", "reason": "r"}},
        )
    ],
    ("PUT", "/watchlists/{name}/rule"): [
        Probe(
            "PUT", "/watchlists/A/rule", role({"admin"}), kwargs={"json": {"threshold": None, "reason": "r"}}
        )
    ],
    ("DELETE", "/watchlists/{name}"): [
        Probe("DELETE", "/watchlists/{fresh}?reason=r", role({"admin"}, 204), setup=_fresh_list)
    ],
    ("GET", "/people"): [
        Probe("GET", "/people", role(EVERYONE), _person_lists, ALL_PEOPLE),
        Probe("GET", "/people?watchlist=B", sees("B")),
    ],
    ("GET", "/people/{person_id}"): [Probe("GET", f"/people/{{{p}}}", sees(p)) for p in PEOPLE],
    ("GET", "/people/{person_id}/photo.jpg"): [
        Probe("GET", f"/people/{{{p}}}/photo.jpg", sees(p)) for p in PEOPLE
    ],
    ("GET", "/people/{person_id}/samples/{sample_id}.jpg"): [
        # Sample 0 exists for nobody: those who see the person learn that; the others, not even that.
        Probe(
            "GET",
            f"/people/{{{p}}}/samples/999999.jpg",
            missing(p, seen="in sample", unseen="no person"),
        )
        for p in ("pa", "pb")
    ],
    ("POST", "/people"): [
        # A photo that is not one: who may enrol into the list gets the gate's refusal (422), not 404.
        Probe(
            "POST",
            "/people",
            acts(wl, 422),
            kwargs={"files": _garbage("photos"), "data": {"watchlist": wl, "name": "X", "reason": "r"}},
        )
        for wl in ("A", "B")
    ],
    ("POST", "/people/{person_id}/lists"): [
        # pab is on A already (refused, 422, to those who see both); pb onto A: a change of A.
        Probe(
            "POST", "/people/{pab}/lists", acts("A", 422), kwargs={"json": {"watchlist": "A", "reason": "r"}}
        ),
        Probe(
            "POST",
            "/people/{fresh}/lists",
            by_user(
                {
                    "admin": (201, ""),
                    "op2": (201, ""),
                    "opa": (404, ""),
                    "opa1": (404, ""),
                    "vall": (403, "role"),
                    "vb": (403, "role"),
                }
            ),
            setup=_fresh_person("B"),
            kwargs={"json": {"watchlist": "A", "reason": "r"}},
        ),
    ],
    ("DELETE", "/people/{person_id}/lists/{watchlist}"): [
        Probe("DELETE", "/people/{fresh}/lists/A?reason=r", acts("pab"), setup=_fresh_person("AB")),
        Probe("DELETE", "/people/{fresh}/lists/B?reason=r", acts("B"), setup=_fresh_person("AB")),
    ],
    ("GET", "/people/{person_id}/negatives"): [
        Probe("GET", f"/people/{{{p}}}/negatives", acts(p)) for p in ("pa", "pb")
    ],
    ("DELETE", "/people/{person_id}/negatives/{negative_id}"): [
        Probe(
            "DELETE",
            f"/people/{{{p}}}/negatives/999999?reason=r",
            acts_on_missing(p, "has no negative"),
        )
        for p in ("pa", "pb")
    ],
    ("DELETE", "/people/{person_id}"): [
        Probe("DELETE", "/people/{fresh}?reason=r", acts("pa", 204), setup=_fresh_person("A")),
        # Also on B: a user limited to A may not remove them from B's list too.
        Probe(
            "DELETE",
            "/people/{fresh}?reason=r",
            acts("pab", 204, beyond={"opa", "opa1"}),
            setup=_fresh_person("AB"),
        ),
    ],
    ("POST", "/search"): [Probe("POST", "/search", role(OPERATORS, 422), kwargs=RECOGNIZE)],
    ("POST", "/recognize"): [Probe("POST", "/recognize", role(OPERATORS, 422), kwargs=RECOGNIZE)],
    ("POST", "/footage"): [
        Probe(
            "POST",
            "/footage",
            by_user(
                {
                    "admin": (422, ""),
                    "opa": (422, ""),
                    "op2": (403, "outside your scope"),
                    "opa1": (403, "outside your scope"),
                    "vall": (403, "role"),
                    "vb": (403, "role"),
                }
            ),
            kwargs={"files": _garbage("video"), "data": {"camera": "new", "reason": "r"}},
        )
    ],
    ("GET", "/footage/jobs"): [Probe("GET", "/footage/jobs", role(EVERYONE), _labels("job"), ["j1", "j2"])],
    ("GET", "/footage/jobs/{job_id}"): [
        Probe("GET", f"/footage/jobs/{{{j}}}", sees(j)) for j in ("j1", "j2")
    ],
    ("POST", "/footage/jobs/{job_id}/cancel"): [
        # The jobs are done: who may cancel one is told it is too late (422); the others, it is not there.
        Probe("POST", f"/footage/jobs/{{{j}}}/cancel", acts(j, 422))
        for j in ("j1", "j2")
    ],
    ("GET", "/metrics"): [Probe("GET", "/metrics", role(UNLIMITED))],
    ("POST", "/alerts/{alert_id}/export"): [
        # Evidence exports refuse what lies outside the scope with 403 (audited as evidence.denied).
        Probe(
            "POST",
            f"/alerts/{{{a}}}/export",
            exports(a),
            kwargs={"json": {"reason": "case"}},
        )
        for a in ("1A", "2B")
    ],
    ("POST", "/events/{event_id}/export"): [
        Probe(
            "POST",
            f"/events/{{{e}}}/export",
            exports(e),
            kwargs={"json": {"reason": "case"}},
        )
        for e in ("1U", "2AB")
    ],
    ("POST", "/exports"): [
        Probe(
            "POST",
            "/exports",
            exports("1AB"),
            kwargs={"json": {"reason": "c", "alerts": ["{1AB}"]}},
        )
    ],
    # The audit log and the report cover every list and camera: administrators and auditors, unlimited.
    ("GET", "/audit"): [Probe("GET", "/audit", role({"admin"}))],
    ("GET", "/audit/facets"): [Probe("GET", "/audit/facets", role({"admin"}))],
    ("GET", "/audit/verify"): [Probe("GET", "/audit/verify", role({"admin"}))],
    ("GET", "/reports"): [
        Probe("GET", "/reports?since=2026-11-01T00:00:00Z&until=2026-12-01T00:00:00Z", role({"admin"}))
    ],
    # Clusters group unknown faces of every camera: refused (403) to users limited to cameras. None exists
    # here: who may reach one is told so (404); naming into a list outside one's scope is refused (404).
    ("GET", "/clusters"): [Probe("GET", "/clusters", role(EVERYONE - CAMERA_LIMITED))],
    ("GET", "/clusters/{cluster_id}"): [
        Probe("GET", "/clusters/999999", role(EVERYONE - CAMERA_LIMITED, 404, refused=403))
    ],
    ("POST", "/clusters/{cluster_id}/name"): [
        Probe("POST", "/clusters/999999/name", _cluster_act, kwargs={"json": {"watchlist": wl, "name": "X"}})
        for wl in ("A", "B")
    ],
    ("POST", "/clusters/{cluster_id}/merge"): [
        Probe("POST", "/clusters/999999/merge", _cluster_act, kwargs={"json": {"clusters": ["999998"]}})
    ],
    ("POST", "/clusters/{cluster_id}/split"): [
        Probe("POST", "/clusters/999999/split", _cluster_act, kwargs={"json": {"event_ids": ["{1U}"]}})
    ],
    ("POST", "/clusters/{cluster_id}/dismiss"): [
        Probe("POST", "/clusters/999999/dismiss", _cluster_act, kwargs={"json": {}})
    ],
    # Users and tokens: administrators only; one's own session and tokens: everyone.
    ("GET", "/users"): [Probe("GET", "/users", role({"admin"}))],
    ("POST", "/users"): [
        Probe(
            "POST",
            "/users",
            role({"admin"}, 201),
            setup=lambda w, u: {"name": f"new-{u}"},
            kwargs={"json": {"username": "{name}", "lists": ["A"], "cameras": ["c1"]}},
        )
    ],
    ("PATCH", "/users/{username}"): [
        Probe("PATCH", "/users/vall", role({"admin"}), kwargs={"json": {"lists": [], "cameras": []}})
    ],
    ("GET", "/users/{username}/tokens"): [Probe("GET", "/users/vall/tokens", role({"admin"}))],
    ("POST", "/users/{username}/tokens"): [
        Probe("POST", "/users/vall/tokens", role({"admin"}, 201), kwargs={"json": {"name": "t"}})
    ],
    ("DELETE", "/tokens/{token_id}"): [
        Probe("DELETE", "/tokens/{fresh}", role({"admin"}, 204), setup=_fresh_token)
    ],
    ("GET", "/auth/me"): [Probe("GET", "/auth/me", role(EVERYONE))],
    ("GET", "/auth/tokens"): [Probe("GET", "/auth/tokens", role(EVERYONE))],
    ("POST", "/auth/tokens"): [
        Probe("POST", "/auth/tokens", role(EVERYONE, 201), kwargs={"json": {"name": "t"}})
    ],
    ("DELETE", "/auth/tokens/{token_id}"): [Probe("DELETE", "/auth/tokens/999999", role(set(), refused=404))],
    ("POST", "/auth/logout"): [
        Probe("POST", "/auth/logout", role(EVERYONE, 204))
    ],  # an API token stays valid
}
"""Every authenticated route (and the signed image link) with the calls that check its scope behaviour."""


def _export(user: str, label: str) -> tuple[int, str]:
    if user not in OPERATORS:
        return 403, "role"
    return (200, "") if user in SEES[label] else (403, "")


def _ws_routes() -> set[tuple[str, str]]:
    return {(WS, "/ws/alerts")}


def test_every_route_is_in_the_scope_table(api: Api) -> None:
    """A route without a row here has not said how it treats scoped users: declare it in PROBES."""
    served = {r for r in routes_of(api.app) if r not in OPEN} | {("GET", "/media/events/{event_id}/best.jpg")}
    declared = set(PROBES) | _ws_routes()
    assert sorted(served - declared) == [], "routes without their scope behaviour in PROBES"
    assert sorted(declared - served) == [], "rows of PROBES without a route"


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def _call(w: World, probe: Probe, user: str) -> httpx.Response:
    values = {k: str(v) for k, v in w.ids.items()}
    if probe.setup is not None:
        values |= probe.setup(w, user)
    kwargs = dict(probe.kwargs)
    if "json" in kwargs:
        body = {
            k: ([_num(_fill(x, values)) for x in v] if isinstance(v, list) else v)
            for k, v in kwargs["json"].items()
        }
        kwargs["json"] = ({"reason": "matrix"} if probe.reason else {}) | {
            k: _fill(v, values) if isinstance(v, str) else v for k, v in body.items()
        }
    r: httpx.Response = w.api.client.request(
        probe.method, _fill(probe.path, values), headers=w.tokens[user], **kwargs
    )
    return r


def _num(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def test_the_scope_matrix_has_no_mismatch(api: Api, refs: Path) -> None:
    w = seed(api, refs)
    mismatches, rows, calls = [], [], 0
    # The readings first: the actions after them add rows (cameras, lists, people) the listings would show.
    for _route, probes in sorted(PROBES.items(), key=lambda kv: (kv[0][0] != "GET", kv[0])):
        for probe in probes:
            cells = []
            for user in USERS:
                want, why = probe.expect(user)
                r = _call(w, probe, user)
                calls += 1
                got = r.status_code
                cell = f"{user}:{got}"
                problem = got != want or (why and why not in r.text)
                if not problem and probe.items is not None and got == 200:
                    items = probe.items(w, r.json())
                    wanted = _visible_items(probe, user)
                    if items != wanted:
                        problem = True
                        cell += f" items {sorted(items)} != {sorted(wanted)}"
                if problem:
                    mismatches.append(f"{probe.method} {probe.path} as {user}: {got} (want {want} {why!r}) "
                                      f"{r.text[:160]}")  # fmt: skip
                    cell += "!"
                cells.append(cell)
            rows.append(f"{probe.method:6} {probe.path:44} " + " ".join(cells))
    matrix = "\n".join(rows)
    assert mismatches == [], (
        f"{len(mismatches)} mismatches of {calls} calls:\n" + "\n".join(mismatches) + ("\n\n" + matrix)
    )
    refused = [a for a in audit_actions(api.db) if a[1] == "scope.refused"]
    assert ("opa", "scope.refused", f"alert:{w.ids['2B']}", "") in refused, "an attempt to act is audited"
    assert not [a for a in refused if a[0] in UNLIMITED], "nothing is refused to those not limited"


def _visible_items(probe: Probe, user: str) -> set[str]:
    if probe.items is _person_lists:
        return _people_visible(user)
    return {x for x in probe.of if user in SEES[x]}


# --- the WebSocket ------------------------------------------------------------------------------------


def _socket_alerts(w: World, user: str, wanted: list[str]) -> list[str]:
    """The alerts ``user``'s socket passes when one alert of every label is raised, then ``wanted[0]``
    again as an end marker: read up to the marker, so an alert that leaked would be among those read."""
    hub = w.state.live.hub
    got: list[str] = []
    with w.api.client.websocket_connect("/ws/alerts", headers=w.tokens[user]) as ws:
        assert ws.receive_json()["type"] == "hello"
        deadline = time.monotonic() + 5
        while hub.clients == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        for label in [*ALERTS, wanted[0]]:
            hub.publish(w.state.live.alerts.get(w.ids[label]).alert.payload())
        while len(got) <= len(wanted):
            got.append(w.label("event", int(ws.receive_json()["alert_id"])))
            if len(got) > len(wanted) or got[-1] not in wanted:
                break
    return got


@pytest.mark.parametrize("user", list(USERS))
def test_the_alert_socket_passes_only_the_users_scope(api: Api, refs: Path, user: str) -> None:
    w = seed(api, refs)
    wanted = [a for a in ALERTS if user in SEES[a]]
    assert _socket_alerts(w, user, wanted) == [*wanted, wanted[0]]


def test_an_auditor_limited_to_a_list_may_not_read_what_covers_every_list(api: Api) -> None:
    """The audit log and the report cover every list and camera: an auditor limited to some is refused
    them (403, saying why); the same auditor unlimited reads them."""
    state: ApiState = api.app.state.vigil
    with api.db.write() as s:
        s.add(Watchlist(name="A", created_by="t", created_at=datetime.now(UTC)))
    auditor = bearer(api.user("aud", Role.AUDITOR))
    period = {"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}
    for path, params in [("/audit", {}), ("/audit/verify", {}), ("/reports", period)]:
        assert api.client.get(path, params=params, headers=auditor).status_code == 200, path
    state.limits.limit("admin", "aud", lists=["A"], cameras=[], reason="one case")
    for path, params in [("/audit", {}), ("/audit/facets", {}), ("/audit/verify", {}), ("/reports", period)]:
        r = api.client.get(path, params=params, headers=auditor)
        assert r.status_code == 403 and "aud is limited to some lists or cameras" in r.text, (path, r.text)
