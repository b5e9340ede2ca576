"""Impossible travel: the pure rule (distances, explicit pairs, sites, thresholds), and its wiring where
alerts are raised, on both engines: the second camera's alert is flagged with the first sighting, stored
on its row, in its payload (webhook, MQTT) and when the alert is read back."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from tests.store_kit import ACTOR
from vigil.alerts.outbox import Outbox
from vigil.alerts.router import AlertRouter
from vigil.alerts.travel import Place, TravelRule, distance_m
from vigil.config import AlertsConfig, CameraConfig, MatchConfig, TravelConfig, TravelPairConfig
from vigil.errors import BadInput
from vigil.match.thresholds import ThresholdPolicy
from vigil.runtime.messages import CameraEvents
from vigil.services.alerts import AlertService
from vigil.services.cameras import CameraChange, CameraService
from vigil.services.events import EventRecorder
from vigil.services.lists import ListService, ListSettings
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import Camera, Event, OutboxMessage, Person, WatchlistEntry
from vigil.types import Decision, EventKind, FaceEvent, FaceShot, QualityScores

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
# Two real places ~615 m apart (the Louvre's pyramid and the Pont Neuf), and one ~341 km away (London).
LOUVRE = Place("louvre", 48.86110, 2.33590)
PONT_NEUF = Place("pont neuf", 48.85690, 2.34130)
LONDON = Place("london", 51.50740, -0.12780)
RIVER = TravelPairConfig(between=("louvre", "pont neuf"), min_s=1800)


def test_the_distance_is_the_great_circle_one() -> None:
    assert distance_m(LOUVRE, PONT_NEUF) == pytest.approx(615, rel=0.02)
    assert distance_m(LOUVRE, LONDON) == pytest.approx(341_000, rel=0.01)
    assert distance_m(LOUVRE, Place("nowhere")) is None


@pytest.mark.parametrize(
    ("a", "b", "config", "needed_s"),
    [
        (LOUVRE, LONDON, TravelConfig(), 341_000 / (100 / 3.6)),  # ~3.4 h at 100 km/h
        (LOUVRE, PONT_NEUF, TravelConfig(min_distance_m=500, speed_kmh=6), 615 / (6 / 3.6)),  # on foot
        (LOUVRE, PONT_NEUF, TravelConfig(), 615 / (100 / 3.6)),  # 615 m: above the default 500 m
        (LOUVRE, PONT_NEUF, TravelConfig(min_distance_m=1000), None),  # too close to judge
        (LOUVRE, Place("x"), TravelConfig(), None),  # no location: never judged
        (LOUVRE, LOUVRE, TravelConfig(), None),  # one camera
        (replace(LOUVRE, site="paris"), replace(LONDON, site="paris"), TravelConfig(), None),  # one site
        (Place("gate", site="north"), Place("lab", site="south"),
         TravelConfig(pairs=(TravelPairConfig(between=("south", "north"), min_s=600),)), 600.0),
        (Place("gate", site="north"), Place("lab"),
         TravelConfig(pairs=(TravelPairConfig(between=("lab", "north"), min_s=90),)), 90.0),
        # An explicit pair wins over the distance (a bridge-less river: longer than the straight line).
        (LOUVRE, PONT_NEUF, TravelConfig(pairs=(RIVER,)), 1800.0),
    ],
)  # fmt: skip
def test_the_least_trip_time_between_two_places(
    a: Place, b: Place, config: TravelConfig, needed_s: float | None
) -> None:
    got = TravelRule(config).needed_s(a, b)
    assert (got is None) == (needed_s is None)
    if needed_s is not None:
        assert got == pytest.approx(needed_s, rel=0.02)
        assert TravelRule(config).needed_s(b, a) == got, "either way round"


def test_a_sighting_is_impossible_when_the_time_between_is_shorter_than_the_trip() -> None:
    rule = TravelRule(TravelConfig())
    needed = rule.needed_s(LOUVRE, LONDON)
    assert needed is not None
    soon = rule.check(LOUVRE, T0, LONDON, T0 + timedelta(seconds=needed - 60))
    assert soon is not None and soon.impossible and soon.shortfall_s == pytest.approx(60)
    before = rule.check(LOUVRE, T0 + timedelta(seconds=600), LONDON, T0)  # the order does not matter
    assert before is not None and before.impossible and before.elapsed_s == 600
    later = rule.check(LOUVRE, T0, LONDON, T0 + timedelta(seconds=needed + 60))
    assert later is not None and not later.impossible
    assert TravelRule(TravelConfig(enabled=False)).check(LOUVRE, T0, LONDON, T0) is None


def test_bad_travel_settings_are_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="a pair joins two places"):
        TravelPairConfig(between=("gate", "gate"), min_s=10)
    with pytest.raises(ValidationError, match="speed_kmh"):
        TravelConfig(speed_kmh=0)
    with pytest.raises(ValidationError, match="both latitude and longitude"):
        CameraConfig(name="door", url="rtsp://cam/1", latitude=48.8)
    with pytest.raises(ValidationError, match="latitude"):
        CameraConfig(name="door", url="rtsp://cam/1", latitude=91, longitude=2)


# --- wired where alerts are raised ---------------------------------------------------------------


@dataclass
class Kit:
    db: Database
    recorder: EventRecorder
    alerts: AlertService
    cameras: CameraService
    person_id: int


class _Runner:
    def run(self, spec: object) -> None: ...

    def remove(self, camera_id: int) -> None: ...


def _kit(db: Database, root: Path, travel: TravelConfig) -> Kit:
    policy = ThresholdPolicy(MatchConfig(threshold=0.9, fpir=None), None)
    router = AlertRouter(AlertsConfig(travel=travel), policy, Outbox(db), ["mqtt"], lambda i: f"/media/{i}")
    with db.write() as s:
        person = Person(name="Jane Doe", created_by=ACTOR, created_at=T0)
        s.add(person)
        s.flush()
        person_id = person.id
    info = ListService(db, policy).create(ACTOR, "wanted", ListSettings(), "test")
    with db.write() as s:
        s.add(
            WatchlistEntry(watchlist_id=info.id, person_id=person_id, reason="t", added_by=ACTOR, added_at=T0)
        )
    recorder = EventRecorder(db, MediaStore(root / "media"), router, "m1")
    alerts = AlertService(db, router, lambda i: f"/media/{i}")
    return Kit(db, recorder, alerts, CameraService(db, _Runner()), person_id)


def _seen(kit: Kit, camera_id: int, track: int, at: datetime) -> CameraEvents:
    """Jane Doe's track on a camera, identified at ``at`` (the time its best shot was filmed)."""
    ts = at.timestamp()
    decision = Decision(str(kit.person_id), str(kit.person_id), 0.97, 0.5, None, 0.9, 1, None)
    quality = QualityScores(120.0, 1.0, 0.8, 0.9, 0.95, 1.0, 0.9)
    shot = FaceShot(
        "cam", track, 3, 300, np.array([10, 10, 130, 130], np.float32), quality,
        np.full((160, 160, 3), 128, np.uint8), np.array([20, 20, 140, 140], np.float32),
        np.array([[50, 60], [110, 60], [80, 90], [55, 120], [105, 120]], np.float32), captured_at=ts,
    )  # fmt: skip
    events = (
        FaceEvent(EventKind.START, "cam", track, 0, 0, None, None),
        FaceEvent(EventKind.UPDATE, "cam", track, 0, 300, decision, shot),
    )
    return CameraEvents(camera_id, f"run-{camera_id}", 300, ts, events)


def _two_cameras(kit: Kit, a: Place, b: Place) -> tuple[int, int]:
    ids = []
    for place in (a, b):
        info = kit.cameras.add(
            ACTOR, place.camera, "rtsp://cam/" + place.camera.replace(" ", "-"),
            latitude=place.latitude, longitude=place.longitude, site=place.site,
        )  # fmt: skip
        ids.append(info.id)
    return ids[0], ids[1]


def test_the_second_cameras_alert_is_flagged_with_the_first_sighting(db: Database, tmp_path: Path) -> None:
    kit = _kit(db, tmp_path, TravelConfig())
    paris, london = _two_cameras(kit, LOUVRE, LONDON)
    (first,) = kit.recorder.record(_seen(kit, paris, 1, T0))
    assert first.travel is None, "nothing to compare with yet"
    (second,) = kit.recorder.record(_seen(kit, london, 1, T0 + timedelta(minutes=40)))
    flag = second.travel
    assert flag is not None and flag.other_event_id == first.event_id
    assert (flag.other_camera_id, flag.other_camera, flag.other_seen_at) == (paris, "louvre", T0)
    assert flag.distance_m == pytest.approx(341_000, rel=0.01)
    assert flag.needed_s == pytest.approx(341_000 / (100 / 3.6), rel=0.01) and flag.elapsed_s == 2400
    with db.read() as s:
        row = s.get(Event, second.event_id)
        assert row is not None and row.travel_of == first.event_id and row.travel_needed_s == flag.needed_s
        payloads = [
            json.loads(m.payload) for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]
    assert payloads[0]["impossible_travel"] is None
    assert payloads[1]["impossible_travel"]["other_event_id"] == first.event_id
    assert payloads[1]["impossible_travel"]["other_camera"] == "louvre"
    read_back = kit.alerts.get(second.event_id).alert.travel
    assert read_back is not None and read_back.other_event_id == first.event_id
    assert read_back.elapsed_s == pytest.approx(2400) and read_back.distance_m == flag.distance_m


def test_enough_time_between_or_no_location_flags_nothing(db: Database, tmp_path: Path) -> None:
    kit = _kit(db, tmp_path, TravelConfig())
    paris, london = _two_cameras(kit, LOUVRE, LONDON)
    kit.recorder.record(_seen(kit, paris, 1, T0))
    (later,) = kit.recorder.record(_seen(kit, london, 1, T0 + timedelta(hours=4)))
    assert later.travel is None, "3.4 h needed, 4 h between"
    kit.cameras.change(ACTOR, paris, CameraChange(location=(None, None)))
    (again,) = kit.recorder.record(_seen(kit, london, 2, T0 + timedelta(minutes=5)))
    assert again.travel is None, "the first camera has no location any more"


def test_a_rejected_sighting_is_not_a_sighting_of_them(db: Database, tmp_path: Path) -> None:
    kit = _kit(db, tmp_path, TravelConfig())
    paris, london = _two_cameras(kit, LOUVRE, LONDON)
    (first,) = kit.recorder.record(_seen(kit, paris, 1, T0))
    kit.alerts.review(ACTOR, first.event_id, "reject", "not her")
    (second,) = kit.recorder.record(_seen(kit, london, 1, T0 + timedelta(minutes=1)))
    assert second.travel is None


def test_an_explicit_pair_flags_cameras_without_coordinates(db: Database, tmp_path: Path) -> None:
    pair = TravelPairConfig(between=("north", "lab"), min_s=300)
    kit = _kit(db, tmp_path, TravelConfig(pairs=(pair,)))
    gate, lab = _two_cameras(kit, Place("gate", site="north"), Place("lab"))
    kit.recorder.record(_seen(kit, lab, 1, T0))
    (alert,) = kit.recorder.record(_seen(kit, gate, 1, T0 - timedelta(seconds=120)))  # filmed before
    assert alert.travel is not None and alert.travel.distance_m is None
    assert (alert.travel.needed_s, alert.travel.elapsed_s, alert.travel.other_camera) == (300, 120, "lab")


def test_a_cameras_location_is_checked_and_kept(db: Database, tmp_path: Path) -> None:
    kit = _kit(db, tmp_path, TravelConfig())
    with pytest.raises(BadInput, match="both latitude and longitude"):
        kit.cameras.add(ACTOR, "door", "rtsp://cam/1", latitude=48.8)
    with pytest.raises(BadInput, match="between -180 and 180"):
        kit.cameras.add(ACTOR, "door", "rtsp://cam/1", latitude=48.8, longitude=200)
    info = kit.cameras.add(ACTOR, "door", "rtsp://cam/1", latitude=48.8, longitude=2.3, site=" hq ")
    assert (info.latitude, info.longitude, info.site) == (48.8, 2.3, "hq")
    kept = kit.cameras.change(ACTOR, info.id, CameraChange(site=""))
    assert (kept.latitude, kept.longitude, kept.site) == (48.8, 2.3, None)
    with db.read() as s:
        cam = s.get(Camera, info.id)
        assert cam is not None and cam.site is None and cam.latitude == 48.8
