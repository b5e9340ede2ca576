"""Recorded footage into the archive (`vigil scan --store`): the Hamilton clip as a virtual camera, at the
time it was filmed, matched against the store's watchlists; then found by a search by photo.

Ground truth (tests/integration/test_scan.py): Lin-Manuel Miranda is on stage from the first frame; the
clip lasts about 11 s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from vigil.app import Engine, build_footage, open_store
from vigil.config import StoreConfig, VigilConfig
from vigil.errors import BadInput
from vigil.ingest import open_source
from vigil.search.archive import Archive
from vigil.search.service import SearchFilter, SearchRequest
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.gallery import load_gallery
from vigil.services.lists import ListSettings
from vigil.store.db import as_utc
from vigil.store.tables import Camera, Event, OutboxMessage

FILMED = datetime(2016, 3, 14, 19, 30, tzinfo=UTC)
MIRANDA = "Lin-Manuel Miranda"


def test_footage_becomes_searchable_alerting_events_at_the_time_it_was_filmed(
    tmp_path: Path, engine: Engine, refs: Path, hamilton_clip: Path
) -> None:
    cfg = VigilConfig(store=StoreConfig(data_dir=tmp_path / "data"), model_dir=engine.config.model_dir)
    store = open_store(cfg)
    store.lists.create("test", "wanted", ListSettings(), "test")
    photo = refs / "ageitgey_lin-manuel-miranda.png"
    enrolled = store.enrolment(engine).enrol(
        "test", EnrolRequest("wanted", MIRANDA, "test", (Photo(photo.name, photo.read_bytes()),))
    )
    footage = build_footage(cfg, store, engine)
    source = open_source(hamilton_clip, cfg.ingest, "white house")
    try:
        report = footage.run(source, "white house", FILMED)
    finally:
        source.close()

    assert report.frames > 200 and report.tracks >= 2 and report.identified >= 1 and report.alerts == 1
    with store.db.read() as s:
        camera = s.scalars(select(Camera).where(Camera.name == "white house")).one()
        assert camera.virtual and not camera.enabled
        events = s.scalars(select(Event).where(Event.camera_id == camera.id)).all()
        alerted = [e for e in events if e.alerted_at is not None]
        assert len(events) == report.tracks, "one event per track"
        assert all(
            FILMED <= as_utc(e.start_at) <= as_utc(e.end_at) <= FILMED + timedelta(seconds=15) for e in events
        )
        assert [e.person_id for e in alerted] == [enrolled.person_id]
        recently = datetime.now(UTC) - timedelta(minutes=5)
        assert all(e.recorded_at and as_utc(e.recorded_at) > recently for e in events), (
            "retention counts from now"
        )
        assert as_utc(alerted[0].frame_at or alerted[0].start_at) < FILMED + timedelta(seconds=5), (
            "seen when filmed"
        )
        assert alerted[0].embedding is not None, "the track's template is archived"
        assert s.scalars(select(OutboxMessage)).all() == [], "no channel configured: nothing to deliver"

    gallery = load_gallery(store.db, engine.model_id, engine.dim)
    archive = Archive.load(store.db, engine.model_id, engine.dim)
    finder = store.photo_search(lambda: engine.stills, lambda: gallery, lambda: archive)
    found = finder.search(
        "test", SearchRequest(Photo(photo.name, photo.read_bytes()), "case", filter=SearchFilter(
            since=FILMED - timedelta(minutes=1), until=FILMED + timedelta(minutes=1)))
    )  # fmt: skip
    assert found.archive_hits and found.archive_hits[0].camera == "white house"
    assert found.archive_hits[0].start_at - FILMED < timedelta(seconds=15)


def test_footage_refuses_a_live_cameras_name_and_a_start_without_zone(
    tmp_path: Path, engine: Engine, hamilton_clip: Path
) -> None:
    cfg = VigilConfig(store=StoreConfig(data_dir=tmp_path / "data"), model_dir=engine.config.model_dir)
    store = open_store(cfg)
    with store.db.write() as s:
        s.add(Camera(name="door", url="rtsp://cam/1", created_at=datetime.now(UTC)))
    footage = build_footage(cfg, store, engine)
    source = open_source(hamilton_clip, cfg.ingest, "door")
    try:
        with pytest.raises(BadInput, match="a live camera has this name"):
            footage.run(source, "door", FILMED)
        with pytest.raises(BadInput, match="no time zone"):
            footage.run(source, "recorded", datetime(2016, 3, 14, 19, 30))
    finally:
        source.close()
