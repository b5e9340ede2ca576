"""The retention purge on SQLite and PostgreSQL: what is past its time goes from the rows, the media
folder and the search index, and (SQLite) from the bytes of the database file and its write-ahead log."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from vigil.app import Store, open_store
from vigil.config import RetentionConfig, StoreConfig, VigilConfig
from vigil.search.archive import Archive
from vigil.services.lists import ListSettings
from vigil.services.retention import RetentionPurge
from vigil.store.tables import AuditEntry, Camera, Event, EventShot
from vigil.types import FloatArray

NOW = datetime.now(UTC)


@dataclass
class Face:
    event_id: int
    vector: FloatArray
    crop: str  # media path


@dataclass
class Archived:
    store: Store
    faces: dict[str, Face]
    database: Path | None  # the SQLite file (its WAL is beside it)


def _vector(seed: int) -> FloatArray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def archived(db_url: str, tmp_path: Path) -> Archived:
    """Faces seen at various times: unmatched two days ago and an hour ago; an alert on a 30-day list ten
    days ago, and one on a 1-day list three days ago."""
    root = tmp_path / "data"
    store = open_store(VigilConfig(store=StoreConfig(url=db_url, data_dir=root)))
    month = store.lists.create("t", "wanted", ListSettings(retention_days=30), "test").id
    day = store.lists.create("t", "shoplifting", ListSettings(retention_days=1), "test").id
    plan = {
        "old unknown": (timedelta(days=2), None),
        "recent unknown": (timedelta(hours=1), None),
        "alert kept": (timedelta(days=10), month),
        "alert expired": (timedelta(days=3), day),
    }
    faces: dict[str, Face] = {}
    with store.db.write() as s:
        cam = Camera(name="door", url="rtsp://cam/1", created_at=NOW - timedelta(days=30))
        s.add(cam)
        s.flush()
        for i, (name, (age, list_id)) in enumerate(plan.items()):
            at, vector = NOW - age, _vector(i)
            crop = store.media.put("shots", f"crop of {name} {os.urandom(8).hex()}".encode(), ".jpg")
            e = Event(camera_id=cam.id, track_id=i, start_at=at, end_at=at, model_id="m",
                      embedding=vector.astype("<f4").tobytes(), watchlist_id=list_id,
                      alerted_at=at if list_id else None)  # fmt: skip
            s.add(e)
            s.flush()
            s.add(EventShot(event_id=e.id, t_at=at, crop_path=crop, quality=0.9))
            faces[name] = Face(e.id, vector, crop)
    sqlite = db_url.removeprefix("sqlite:///")
    return Archived(store, faces, Path(sqlite) if sqlite != db_url else None)


def _database_bytes(database: Path) -> bytes:
    """The database file and its write-ahead log, as they are on disk."""
    files = [database, database.with_name(database.name + "-wal")]
    return b"".join(p.read_bytes() for p in files if p.is_file())


def test_a_purged_face_leaves_nothing_behind(archived: Archived) -> None:
    store, faces = archived.store, archived.faces
    archive = Archive.load(store.db, "m", 128)
    assert len(archive) == 4
    gone = [faces["old unknown"], faces["alert expired"]]
    kept = [faces["recent unknown"], faces["alert kept"]]
    database = archived.database
    if database is not None:  # the check below can fail: the bytes are there before the purge
        assert all(f.vector.astype("<f4").tobytes() in _database_bytes(database) for f in gone)

    report = RetentionPurge(store.db, store.media, RetentionConfig(), forget=archive.remove).purge()

    assert (report.unmatched_events, report.alert_events, report.files) == (1, 1, 2)
    with store.db.read() as s:
        assert sorted(s.scalars(select(Event.id))) == sorted(f.event_id for f in kept)
        assert sorted(s.scalars(select(EventShot.event_id))) == sorted(f.event_id for f in kept)
        (summary,) = s.scalars(select(AuditEntry).where(AuditEntry.action == "retention.purge"))
        assert '"unmatched_events":1' in summary.details.replace(" ", "")
    for f in gone:
        assert not store.media.path(f.crop).exists()
        assert all(event != f.event_id for event, _ in archive.search(f.vector, 4))
    for f in kept:
        assert store.media.path(f.crop).exists()
        assert archive.search(f.vector, 1)[0][0] == f.event_id
    assert len(archive) == 2
    if database is not None:
        raw = _database_bytes(database)
        for f in gone:
            assert f.vector.astype("<f4").tobytes() not in raw, "not in the database file nor its WAL"
            assert f.crop.encode() not in raw
        assert faces["alert kept"].vector.astype("<f4").tobytes() in raw

    again = RetentionPurge(store.db, store.media, RetentionConfig()).purge()
    assert again.events == 0, "nothing more to purge"


def test_short_retention_and_old_search_photos(archived: Archived) -> None:
    store, faces = archived.store, archived.faces
    probe = store.media.put("probes", b"a photo searched with", ".jpg")
    fresh = store.media.put("probes", b"a photo searched with today", ".jpg")
    month_ago = time.time() - 31 * 86400
    os.utime(store.media.path(probe), (month_ago, month_ago))
    report = RetentionPurge(store.db, store.media, RetentionConfig(unmatched_hours=0.5)).purge()
    assert report.unmatched_events == 2, "both unknown faces are older than half an hour"
    assert report.probes == 1
    assert not store.media.path(probe).exists() and store.media.path(fresh).exists()
    with store.db.read() as s:
        assert set(s.scalars(select(Event.id))) == {faces["alert kept"].event_id}


def test_tracks_that_may_still_be_going_on_are_left_alone(archived: Archived) -> None:
    """Even with retention 0, an event that ended minutes ago may be a track still being recorded."""
    store = archived.store
    with store.db.write() as s:
        cam_id = s.scalars(select(Camera.id)).one()
        s.add(Event(camera_id=cam_id, track_id=99, start_at=NOW, end_at=NOW, model_id="m"))
    RetentionPurge(store.db, store.media, RetentionConfig(unmatched_hours=0)).purge(
        NOW + timedelta(minutes=1)
    )
    with store.db.read() as s:
        assert s.scalars(select(Event.track_id).where(Event.track_id == 99)).one() == 99


def test_retention_counts_from_when_vigil_recorded_a_face_not_when_it_was_filmed(archived: Archived) -> None:
    """Footage filmed last week and processed now keeps its faces for the retention from now: an
    investigator can search it tomorrow."""
    store = archived.store
    filmed = NOW - timedelta(days=7)
    with store.db.write() as s:
        cam_id = s.scalars(select(Camera.id)).one()
        fresh = Event(
            camera_id=cam_id, track_id=50, start_at=filmed, end_at=filmed, model_id="m", recorded_at=NOW
        )
        stale = Event(camera_id=cam_id, track_id=51, start_at=filmed, end_at=filmed, model_id="m",
                      recorded_at=NOW - timedelta(days=2))  # fmt: skip
        s.add_all([fresh, stale])
    RetentionPurge(store.db, store.media, RetentionConfig()).purge()
    with store.db.read() as s:
        left = set(s.scalars(select(Event.track_id).where(Event.track_id.in_([50, 51]))))
    assert left == {50}
