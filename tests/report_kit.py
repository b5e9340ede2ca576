"""A seeded period for the audit viewer and accountability report tests, with its figures known.

Two lists (``wanted``, calibrated; ``vip``, a hand-set 0.60), five alerts raised in the period (three on
wanted, two on vip) and one two days before it; two reviewers with known times; a search and a recognition
with their reasons; list changes with their legal basis; a purge. Times are relative to ``T0``, half an
hour before the test runs (audit rows are written now, so the period is ``T0 - 30 min`` to ``now + 1 h``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vigil.app import threshold_policy
from vigil.config import VigilConfig
from vigil.services.lists import ListService, ListSettings
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.tables import Camera, Event, EventReview, EventStatus, Person

SEARCH_REASON = "case 2026/17: robbery at the station <b>kiosk</b>"
RECOGNIZE_REASON = "warrant 88/2026"
WANTED_BASIS = "court order 12/2026 (Art. 10 LED)"
ENROL_BASIS = "warrant 2026/117"


@dataclass(frozen=True)
class Seeded:
    since: datetime
    until: datetime
    t0: datetime
    wanted_id: int
    vip_id: int
    alert_ids: list[int]


def seed(db: Database) -> Seeded:
    lists = ListService(db, threshold_policy(VigilConfig()))
    wanted = lists.create("ana", "wanted", ListSettings(), WANTED_BASIS)
    vip = lists.create("ana", "vip", ListSettings(threshold=0.7), "protection detail 4")
    lists.set_rule("ana", "vip", "fewer false alerts at the gala", threshold=0.6, fpir=None, force=True)
    now = datetime.now(UTC)
    t0 = now - timedelta(minutes=30)
    with db.write() as s:
        cam = Camera(name="gate", url="rtsp://gate", created_at=t0)
        person = Person(name="Jane Roe", created_by="ana", created_at=t0)
        s.add_all([cam, person])
        s.flush()
        # (list, minutes after T0 it alerted, status, threshold it passed)
        plan = [
            (wanted.id, 0, EventStatus.CONFIRMED, 0.52), (wanted.id, 2, EventStatus.REJECTED, 0.52),
            (wanted.id, 4, EventStatus.ACKNOWLEDGED, 0.53), (vip.id, 6, EventStatus.CONFIRMED, 0.60),
            (vip.id, 8, EventStatus.NEW, 0.60), (vip.id, -2 * 24 * 60, EventStatus.CONFIRMED, 0.70),
        ]  # fmt: skip
        events = []
        for i, (list_id, minutes, status, threshold) in enumerate(plan):
            at = t0 + timedelta(minutes=minutes)
            events.append(
                Event(
                    camera_id=cam.id,
                    track_id=i + 1,
                    start_at=at,
                    end_at=at,
                    person_id=person.id,
                    watchlist_id=list_id,
                    list_ids=[list_id],
                    score=0.8,
                    margin=0.2,
                    threshold=threshold,
                    model_id="m",
                    alerted_at=at,
                    recorded_at=at,
                    status=status,
                )
            )
        s.add_all(events)
        s.flush()
        ids = [e.id for e in events]
        # (alert index, reviewer, action, seconds after the alert)
        for k, who, action, after_s in [
            (0, "ana", EventStatus.CONFIRMED, 60), (1, "ana", EventStatus.REJECTED, 180),
            (2, "ben", EventStatus.ACKNOWLEDGED, 600), (3, "ben", EventStatus.CONFIRMED, 120),
            (5, "ben", EventStatus.CONFIRMED, 30),  # the old alert, reviewed before the period
        ]:  # fmt: skip
            alerted = events[k].alerted_at
            assert alerted is not None
            s.add(
                EventReview(
                    event_id=ids[k], username=who, action=action, at=alerted + timedelta(seconds=after_s)
                )
            )
        for k, verb in [(0, "confirm"), (1, "reject"), (3, "confirm")]:
            audit.append(s, "ana" if k < 2 else "ben", f"alert.{verb}", f"alert:{ids[k]}", details={})
        audit.append(
            s, "ana", "search.photo", "probe:ab", reason=SEARCH_REASON,
            details={"people": [person.id], "events": ids[:2], "filter": {"lists": [wanted.id]}},
        )  # fmt: skip
        audit.append(
            s, "ben", "recognize.photo", "probe:cd", reason=RECOGNIZE_REASON,
            details={"answers": [{"person": person.id}, {"person": None}]},
        )  # fmt: skip
        audit.append(
            s, "ana", "person.list.add", f"person:{person.id}", reason=ENROL_BASIS,
            details={"name": "Jane Roe", "list": "wanted", "approved_by": "chief"},
        )  # fmt: skip
        audit.append(
            s, "vigil", "retention.purge", "events", reason="retention",
            details={"unmatched_events": 4, "alert_events": 1, "files": 7, "probes": 2, "negatives": 0},
        )  # fmt: skip
    return Seeded(t0 - timedelta(minutes=30), now + timedelta(hours=1), t0, wanted.id, vip.id, ids)
