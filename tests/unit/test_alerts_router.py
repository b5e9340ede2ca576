"""Events recorded from camera reports, and the alert rules: list thresholds, severity, de-duplication,
cool-down, outbox rows written with the alert, and reviews (two-person confirmation), on both engines."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select

from tests.store_kit import ACTOR, audit_rows
from vigil.alerts.outbox import Outbox
from vigil.alerts.router import AlertRouter
from vigil.config import AlertsConfig, MatchConfig, RetentionConfig, WebhookConfig
from vigil.errors import BadInput, NotFound
from vigil.match.thresholds import ThresholdPolicy
from vigil.runtime.messages import CameraEvents, CameraSpec
from vigil.services.alerts import AlertService
from vigil.services.cameras import CameraService
from vigil.services.events import EventRecorder
from vigil.services.feedback import FeedbackService
from vigil.services.lists import ListService, ListSettings
from vigil.services.retention import RetentionPurge
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import (
    Camera,
    Event,
    EventShot,
    NegativeTemplate,
    OutboxMessage,
    Person,
    Review,
    Severity,
    WatchlistEntry,
)
from vigil.types import Decision, EventKind, FaceEvent, FaceShot, QualityScores

SECRET = "a webhook secret of 16+ chars"

POLICY = ThresholdPolicy(MatchConfig(threshold=0.92, fpir=None), None)
"""Every list at 0.92 unless it has its own threshold (these tests are about routing, not calibration)."""


@dataclass
class Kit:
    db: Database
    recorder: EventRecorder
    alerts: AlertService
    lists: ListService
    camera_id: int
    person_id: int


def _kit(
    db: Database,
    root: Path,
    cooldown_s: float = 60.0,
    hooks: tuple[WebhookConfig, ...] = (),
    camera: str = "door",
) -> Kit:
    config = AlertsConfig(cooldown_s=cooldown_s, webhooks=hooks)
    sinks = [f"webhook:{h.name}" for h in hooks] + ["mqtt"]
    router = AlertRouter(config, POLICY, Outbox(db), sinks, lambda i: f"http://x/media/{i}")
    now = datetime.now(UTC)
    with db.write() as s:
        cam = Camera(name=camera, url="rtsp://u:p@cam/1", created_at=now)
        person = Person(name="Jane Doe", created_by=ACTOR, created_at=now)
        s.add_all([cam, person])
        s.flush()
        camera_id, person_id = cam.id, person.id
    recorder = EventRecorder(db, MediaStore(root / "media"), router, "m1")
    alerts = AlertService(db, router, lambda i: f"http://x/media/{i}")
    return Kit(db, recorder, alerts, ListService(db, POLICY), camera_id, person_id)


def _put_on(kit: Kit, name: str, settings: ListSettings, expires: datetime | None = None) -> int:
    info = kit.lists.create(ACTOR, name, settings, "test")
    with kit.db.write() as s:
        s.add(
            WatchlistEntry(
                watchlist_id=info.id,
                person_id=kit.person_id,
                reason="test",
                added_by=ACTOR,
                added_at=datetime.now(UTC),
                expires_at=expires,
            )
        )
    return info.id


def _shot(track_id: int, frame_index: int, at: float) -> FaceShot:
    quality = QualityScores(120.0, 1.0, 0.8, 0.9, 0.95, 1.0, 0.9)
    return FaceShot(
        "door", track_id, frame_index, frame_index * 100, np.array([10, 10, 130, 130], np.float32), quality,
        np.full((160, 160, 3), 128, np.uint8), np.array([20, 20, 140, 140], np.float32),
        np.array([[50, 60], [110, 60], [80, 90], [55, 120], [105, 120]], np.float32), captured_at=at,
    )  # fmt: skip


def _sighting(
    kit: Kit,
    track: int,
    score: float,
    *,
    run: str = "r1",
    margin: float = 0.5,
    at: float | None = None,
    vector: np.ndarray | None = None,
) -> CameraEvents:
    """A track's start and its identification as the person, in one report (filmed at ``at``: now), its
    template ``vector`` when given."""
    at = datetime.now(UTC).timestamp() if at is None else at
    decision = Decision(str(kit.person_id), str(kit.person_id), score, margin, None, 0.9, 1, vector)
    shot = _shot(track, 3, at)
    events = (
        FaceEvent(EventKind.START, "door", track, 0, 0, None, None),
        FaceEvent(EventKind.UPDATE, "door", track, 0, 300, decision, shot),
    )
    return CameraEvents(kit.camera_id, run, 300, at, events)


def test_a_sighting_above_the_list_threshold_becomes_one_alert_with_its_deliveries(
    db: Database, tmp_path: Path
) -> None:
    hooks = (WebhookConfig(name="soc", url="http://127.0.0.1:9/h", secret=SECRET),)
    kit = _kit(db, tmp_path, hooks=hooks)
    list_id = _put_on(kit, "wanted", ListSettings(threshold=0.93, severity=Severity.HIGH))
    assert kit.recorder.record(_sighting(kit, 1, 0.92)) == [], "below the list's own threshold"
    alerts = kit.recorder.record(_sighting(kit, 2, 0.95))
    assert [(a.person, a.watchlist, a.severity, a.camera) for a in alerts] == [
        ("Jane Doe", "wanted", Severity.HIGH, "door")
    ]
    with db.read() as s:
        event = s.get(Event, alerts[0].event_id)
        assert event is not None and event.watchlist_id == list_id and event.alerted_at is not None
        assert s.scalars(select(EventShot.crop_path).where(EventShot.event_id == event.id)).all()
        rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.sink)).all()
    assert [(r.sink, r.key, r.topic) for r in rows] == [
        ("mqtt", f"alert-{event.id}", "alerts/door"),
        ("webhook:soc", f"alert-{event.id}", "alerts/door"),
    ]
    body = json.loads(rows[0].payload)
    assert body["person"] == "Jane Doe" and body["image_url"] == f"http://x/media/{event.id}"
    # A later, better shot of the same track raises nothing more.
    again = _sighting(kit, 2, 0.97)
    assert (
        kit.recorder.record(CameraEvents(again.camera_id, "r1", 400, again.frame_at, again.events[1:])) == []
    )


def test_the_most_severe_active_list_wins_and_expired_entries_do_not_count(
    db: Database, tmp_path: Path
) -> None:
    kit = _kit(db, tmp_path)
    _put_on(kit, "low", ListSettings(severity=Severity.LOW))
    _put_on(
        kit, "gone", ListSettings(severity=Severity.CRITICAL), expires=datetime.now(UTC) - timedelta(days=1)
    )
    _put_on(kit, "high", ListSettings(severity=Severity.HIGH))
    (alert,) = kit.recorder.record(_sighting(kit, 1, 0.95))
    assert alert.watchlist == "high"


def test_a_person_on_two_lists_raises_one_alert_naming_both_with_the_strictest_review(
    db: Database, tmp_path: Path
) -> None:
    hooks = (WebhookConfig(name="low-desk", url="http://127.0.0.1:9/h", secret=SECRET, lists=("watch",)),)
    kit = _kit(db, tmp_path, hooks=hooks)
    _put_on(kit, "watch", ListSettings(severity=Severity.LOW, review=Review.TWO_PERSON))
    _put_on(kit, "wanted", ListSettings(severity=Severity.HIGH, review=Review.ACKNOWLEDGE))
    _put_on(kit, "strict", ListSettings(threshold=0.99, severity=Severity.CRITICAL))  # not passed
    (alert,) = kit.recorder.record(_sighting(kit, 1, 0.95))
    assert (alert.watchlist, alert.severity, alert.lists) == ("wanted", Severity.HIGH, ("wanted", "watch"))
    assert alert.review is Review.TWO_PERSON, "every list's review rule holds: the strictest"
    assert alert.payload()["lists"] == ["wanted", "watch"]
    view = kit.alerts.get(alert.event_id)
    assert view.confirmations_needed == 2 and view.alert.lists == ("wanted", "watch")
    with db.read() as s:
        sinks = sorted(s.scalars(select(OutboxMessage.sink)).all())
    assert sinks == ["mqtt", "webhook:low-desk"], "a receiver of one of its lists gets it"


def test_alert_ids_are_never_reused_after_a_camera_is_removed(db: Database, tmp_path: Path) -> None:
    """Regression: SQLite gave a removed camera's alert ids to new alerts, whose webhook keys had been
    delivered already (so they were never sent) and whose signed image links showed the old alerts."""
    kit = _kit(db, tmp_path, cooldown_s=0)
    _put_on(kit, "wanted", ListSettings())
    old = [a.event_id for t in (1, 2) for a in kit.recorder.record(_sighting(kit, t, 0.95))]
    with db.write() as s:
        s.execute(delete(Camera).where(Camera.id == kit.camera_id))  # its events and alerts go with it
        camera = Camera(name="hall", url="rtsp://cam/2", created_at=datetime.now(UTC))
        s.add(camera)
        s.flush()
        assert camera.id > kit.camera_id
    kit = replace(kit, camera_id=camera.id)
    (new,) = kit.recorder.record(_sighting(kit, 3, 0.95, run="r2"))
    assert new.event_id > max(old), "a new alert gets an id no alert ever had"
    with db.read() as s:
        keys = s.scalars(select(OutboxMessage.key).where(OutboxMessage.sink == "mqtt")).all()
    assert f"alert-{new.event_id}" in keys and len(set(keys)) == len(keys)


class _Stopped:
    """A camera runner that runs nothing (these tests record the workers' reports themselves)."""

    def run(self, spec: CameraSpec) -> None: ...

    def remove(self, camera_id: int) -> None: ...


def test_a_removed_cameras_alerts_stay_and_a_new_camera_of_its_name_raises_new_ones(
    db: Database, tmp_path: Path
) -> None:
    """Removing a camera keeps its history (soft delete): its alerts, their deliveries and ids stay, and a
    camera added again under its name raises alerts under keys no alert had."""
    kit = _kit(db, tmp_path, cooldown_s=0)
    _put_on(kit, "wanted", ListSettings())
    (old,) = kit.recorder.record(_sighting(kit, 1, 0.95))
    cameras = CameraService(db, _Stopped())
    cameras.remove(ACTOR, kit.camera_id, "moved")
    assert [c.name for c in cameras.all()] == []
    again = cameras.add(ACTOR, "door", "rtsp://cam/2")
    assert again.id > kit.camera_id
    (new,) = kit.recorder.record(_sighting(replace(kit, camera_id=again.id), 1, 0.95, run="r2"))
    assert kit.alerts.get(old.event_id).alert.camera == "door", "the old alert is still there, named"
    with db.read() as s:
        keys = s.scalars(select(OutboxMessage.key).where(OutboxMessage.sink == "mqtt")).all()
    assert sorted(keys) == sorted([f"alert-{old.event_id}", f"alert-{new.event_id}"])
    assert new.event_id > old.event_id


def test_cool_down_per_person_and_camera(db: Database, tmp_path: Path) -> None:
    kit = _kit(db, tmp_path, cooldown_s=3600)
    _put_on(kit, "wanted", ListSettings())
    assert len(kit.recorder.record(_sighting(kit, 1, 0.95))) == 1
    assert kit.recorder.record(_sighting(kit, 2, 0.95)) == [], (
        "same person, same camera, within the cool-down"
    )
    with db.read() as s:
        first = s.scalar(select(Event).where(Event.track_id == 1))
        second = s.scalar(select(Event).where(Event.track_id == 2))
        assert first is not None and second is not None, "still recorded as an event"
        assert (second.person_id, second.score, second.alerted_at) == (kit.person_id, 0.95, None)
        assert second.cooldown_of == first.id, "who it was, and the alert whose cool-down it fell in"
    # Footage filmed two hours later, processed at once: the cool-down counts in filmed time.
    later = datetime.now(UTC).timestamp() + 7200
    assert len(kit.recorder.record(_sighting(kit, 3, 0.95, at=later))) == 1
    assert kit.recorder.record(_sighting(kit, 4, 0.95, at=later + 60)) == []
    open_kit = _kit(db, tmp_path / "b", cooldown_s=0, camera="hall")  # another camera and person
    _put_on(open_kit, "wanted2", ListSettings())
    assert len(open_kit.recorder.record(_sighting(open_kit, 1, 0.95))) == 1
    assert len(open_kit.recorder.record(_sighting(open_kit, 2, 0.95))) == 1


def test_a_sighting_in_a_cool_down_is_kept_under_its_lists_retention(db: Database, tmp_path: Path) -> None:
    kit = _kit(db, tmp_path, cooldown_s=3600)
    _put_on(kit, "wanted", ListSettings(retention_days=10))
    kit.recorder.record(_sighting(kit, 1, 0.95))
    kit.recorder.record(_sighting(kit, 2, 0.95))
    purge = RetentionPurge(db, MediaStore(tmp_path / "media"), RetentionConfig(unmatched_hours=1))
    assert purge.purge(now=datetime.now(UTC) + timedelta(days=2)).events == 0, "not an unmatched face"
    report = purge.purge(now=datetime.now(UTC) + timedelta(days=11))
    assert (report.unmatched_events, report.alert_events) == (0, 2), "both go with the list's retention"


def _unit(seed: int, near: np.ndarray | None = None, cos: float = 1.0) -> np.ndarray:
    """A random unit vector (128-d), or one at cosine ``cos`` from ``near``."""
    x = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    if near is not None:
        x -= (x @ near) * near
        x = cos * near + np.sqrt(1 - cos**2) * x / np.linalg.norm(x)
    return (x / np.linalg.norm(x)).astype(np.float32)


def test_a_face_rejected_as_not_this_person_is_not_named_as_them_again(db: Database, tmp_path: Path) -> None:
    kit = _kit(db, tmp_path, cooldown_s=0)
    _put_on(kit, "wanted", ListSettings())
    stranger = _unit(1)
    (alert,) = kit.recorder.record(_sighting(kit, 1, 0.95, vector=stranger))
    with pytest.raises(BadInput, match="only a rejection"):
        kit.alerts.review("ann", alert.event_id, "confirm", "x", wrong_person=True)
    kit.alerts.review("ann", alert.event_id, "reject", "that is his brother", wrong_person=True)

    # The same stranger again (his template at cosine 0.98 to the rejected one, 0.95 to the person).
    assert kit.recorder.record(_sighting(kit, 2, 0.95, vector=_unit(2, stranger, 0.98))) == []
    with db.read() as s:
        again = s.scalar(select(Event).where(Event.track_id == 2))
        [negative] = s.scalars(select(NegativeTemplate)).all()
        assert again is not None and again.vetoed_by == negative.id and again.person_id is None
        assert (negative.person_id, negative.event_id, negative.reason) == (
            kit.person_id,
            alert.event_id,
            "that is his brother",
        )
    # Someone else the person resembles just as much is still named.
    assert len(kit.recorder.record(_sighting(kit, 3, 0.95, vector=_unit(3, stranger, 0.3)))) == 1
    feedback = FeedbackService(db)
    assert [n.id for n in feedback.of_person(kit.person_id)] == [negative.id]
    feedback.withdraw("ann", negative.id, "it was him after all")
    assert len(kit.recorder.record(_sighting(kit, 4, 0.95, vector=_unit(4, stranger, 0.98)))) == 1
    actions = [a.action for a in audit_rows(db)]
    assert actions.count("person.negative.add") == 1 and actions.count("person.negative.remove") == 1


def test_two_person_confirmation_needs_two_different_users(db: Database, tmp_path: Path) -> None:
    kit = _kit(db, tmp_path)
    _put_on(kit, "wanted", ListSettings(review=Review.TWO_PERSON))
    (alert,) = kit.recorder.record(_sighting(kit, 1, 0.95))
    first = kit.alerts.review("ann", alert.event_id, "confirm", "it is her")
    assert first.alert.status.value == "acknowledged" and first.awaiting_second_confirmation
    with pytest.raises(BadInput, match="already confirmed"):
        kit.alerts.review("ann", alert.event_id, "confirm")
    second = kit.alerts.review("bob", alert.event_id, "confirm")
    assert second.alert.status.value == "confirmed" and not second.awaiting_second_confirmation
    assert [r.username for r in second.reviews] == ["ann", "bob"]
    with pytest.raises(BadInput, match="already confirmed"):
        kit.alerts.review("cy", alert.event_id, "reject")
    actions = [(r.actor, r.action) for r in audit_rows(db) if r.action.startswith("alert.")]
    assert actions == [("ann", "alert.confirm"), ("bob", "alert.confirm")]
    with db.read() as s:
        keys = set(s.scalars(select(OutboxMessage.key)))
    assert f"alert-{alert.event_id}-alert.confirmed" in keys, "the confirmation is delivered too"


def test_one_confirmation_suffices_on_other_lists_and_one_rejection_closes(
    db: Database, tmp_path: Path
) -> None:
    kit = _kit(db, tmp_path, cooldown_s=0)
    _put_on(kit, "wanted", ListSettings(review=Review.ACKNOWLEDGE))
    (a,) = kit.recorder.record(_sighting(kit, 1, 0.95))
    (b,) = kit.recorder.record(_sighting(kit, 2, 0.95))
    assert kit.alerts.review("ann", a.event_id, "acknowledge").alert.status.value == "acknowledged"
    assert kit.alerts.review("ann", a.event_id, "confirm").alert.status.value == "confirmed"
    assert kit.alerts.review("bob", b.event_id, "reject", "not him").alert.status.value == "rejected"
    with pytest.raises(BadInput, match="not one of"):
        kit.alerts.review("bob", b.event_id, "delete")
    with pytest.raises(NotFound):
        kit.alerts.review("bob", 999_999, "confirm")
    assert [v.alert.event_id for v in kit.alerts.list()] == [b.event_id, a.event_id]
    assert [v.alert.event_id for v in kit.alerts.list(after_id=a.event_id)] == [b.event_id]


def test_end_closes_the_event_at_the_tracks_last_time(db: Database, tmp_path: Path) -> None:
    kit = _kit(db, tmp_path)
    at = datetime.now(UTC).timestamp()
    kit.recorder.record(
        CameraEvents(kit.camera_id, "r", 0, at, (FaceEvent(EventKind.START, "door", 7, 0, 0, None, None),))
    )
    kit.recorder.record(
        CameraEvents(
            kit.camera_id, "r", 2500, at + 2.5, (FaceEvent(EventKind.END, "door", 7, 0, 2000, None, None),)
        )
    )
    with db.read() as s:
        event = s.scalars(select(Event)).one()
        assert abs((event.end_at - event.start_at).total_seconds() - 2.0) < 0.01
        assert event.alerted_at is None and event.person_id is None


def test_a_short_tracks_end_is_never_before_its_start_when_the_stream_runs_ahead_of_the_clock(
    db: Database, tmp_path: Path
) -> None:
    """Regression: on RTSP cameras of the cluster test, one-frame tracks ended about 0.15 s before they
    started: the END's batch mapped stream time to the wall clock with a later frame that had arrived in a
    burst (400 ms of stream in 250 ms of wall clock)."""
    kit = _kit(db, tmp_path)
    at = datetime.now(UTC).timestamp()
    start = (FaceEvent(EventKind.START, "door", 7, 0, 0, None, None),)
    kit.recorder.record(CameraEvents(kit.camera_id, "r", 0, at, start))
    end = (FaceEvent(EventKind.END, "door", 7, 0, 0, None, None),)
    kit.recorder.record(CameraEvents(kit.camera_id, "r", 400, at + 0.25, end))
    with db.read() as s:
        event = s.scalars(select(Event)).one()
        assert event.end_at == event.start_at


def test_the_track_template_is_kept_and_handed_on_when_the_track_ends(db: Database, tmp_path: Path) -> None:
    """The archive's input: each event keeps its track's latest template (the mean of its shots), and the
    tracks that end are handed to the live archive once their rows are committed."""
    kit = _kit(db, tmp_path)
    rng = np.random.default_rng(5)
    first, final = (v / np.linalg.norm(v) for v in rng.standard_normal((2, 128)).astype(np.float32))
    handed: list[tuple[list[int], np.ndarray]] = []
    kit.recorder.on_archived(lambda ids, vectors: handed.append((ids.tolist(), vectors)))
    at = datetime.now(UTC).timestamp()
    early = Decision(None, str(kit.person_id), 0.5, 0.5, None, 0.9, 1, vector=first)
    late = Decision(None, str(kit.person_id), 0.6, 0.6, None, 0.9, 2, vector=final)
    kit.recorder.record(CameraEvents(kit.camera_id, "r1", 0, at, (
        FaceEvent(EventKind.START, "door", 7, 0, 0, None, None),
        FaceEvent(EventKind.UPDATE, "door", 7, 0, 100, early, _shot(7, 1, at)),
    )))  # fmt: skip
    with db.read() as s:
        (event,) = s.scalars(select(Event)).all()
        assert event.embedding == first.astype("<f4").tobytes()
    assert handed == [], "an open track is not archived yet"
    kit.recorder.record(CameraEvents(kit.camera_id, "r1", 200, at, (
        FaceEvent(EventKind.END, "door", 7, 0, 200, late, _shot(7, 1, at)),
    )))  # fmt: skip
    with db.read() as s:
        assert s.scalars(select(Event.embedding)).one() == final.astype("<f4").tobytes()
    assert [ids for ids, _ in handed] == [[event.id]]
    np.testing.assert_allclose(handed[0][1], final[None])


def test_with_retention_zero_an_unmatched_face_leaves_no_crop_or_embedding(
    db: Database, tmp_path: Path
) -> None:
    """``retention.unmatched_hours: 0``: a stranger's crop and embedding are never written; a face that
    matches a list is kept as before (its alert needs its best shot)."""
    kit = _kit(db, tmp_path)
    _put_on(kit, "wanted", ListSettings())
    router = AlertRouter(AlertsConfig(), POLICY, Outbox(db), ["mqtt"], lambda i: None)
    recorder = EventRecorder(db, MediaStore(tmp_path / "media"), router, "m1", keep_unmatched=False)
    vector = np.ones(128, np.float32) / np.sqrt(128)
    at = datetime.now(UTC).timestamp()
    stranger = Decision(None, str(kit.person_id), 0.4, 0.4, None, 0.9, 1, vector=vector)
    recorder.record(CameraEvents(kit.camera_id, "r1", 0, at, (
        FaceEvent(EventKind.START, "door", 1, 0, 0, None, None),
        FaceEvent(EventKind.UPDATE, "door", 1, 0, 100, stranger, _shot(1, 1, at)),
        FaceEvent(EventKind.END, "door", 1, 0, 200, stranger, _shot(1, 1, at)),
    )))  # fmt: skip
    assert not list((tmp_path / "media").rglob("*.jpg")), "no crop of the stranger on disk"
    with db.read() as s:
        assert s.scalars(select(Event.embedding)).all() == [None]
        assert s.scalars(select(EventShot)).all() == []
    alerts = recorder.record(_sighting(kit, 2, 0.95))
    assert len(alerts) == 1
    assert len(list((tmp_path / "media").rglob("*.jpg"))) == 1, "the matched face's best shot is kept"
