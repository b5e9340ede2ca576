"""Footage uploaded as jobs: stored, processed into the archive with progress, cancellable, resumed after
an interruption from where it stopped. The Hamilton clip (about 11 s) is the upload; the API's side is in
tests/unit/test_api_console.py."""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from vigil.app import Engine, Store, build_footage, open_store
from vigil.config import StoreConfig, VigilConfig
from vigil.errors import BadInput
from vigil.services.footage_jobs import FootageJobs
from vigil.store.db import as_utc
from vigil.store.tables import AuditEntry, Camera, Event, FootageJob, JobStatus

FILMED = datetime(2016, 3, 14, 19, 30, tzinfo=UTC)


def _jobs(tmp_path: Path, engine: Engine) -> tuple[Store, FootageJobs]:
    cfg = VigilConfig(store=StoreConfig(data_dir=tmp_path / "data"), model_dir=engine.config.model_dir)
    store = open_store(cfg)
    jobs = FootageJobs(store.db, store.media, lambda: build_footage(cfg, store, engine), cfg.ingest, 10**9)
    return store, jobs


def _uploads(store: Store) -> list[Path]:
    return (
        [p for p in store.media.path("uploads").rglob("*") if p.is_file()]
        if store.media.path("uploads").exists()
        else []
    )


def _submit(jobs: FootageJobs, clip: Path, camera: str = "lobby") -> int:
    with clip.open("rb") as f:
        return jobs.submit("ines", clip.name, f, camera=camera, start=FILMED, reason="case 7").id


def test_a_job_processes_the_upload_into_the_archive_and_lets_it_go(
    tmp_path: Path, engine: Engine, hamilton_clip: Path
) -> None:
    store, jobs = _jobs(tmp_path, engine)
    job_id = _submit(jobs, hamilton_clip)
    assert jobs.get(job_id).status is JobStatus.QUEUED and len(_uploads(store)) == 1
    assert jobs.run_next() and not jobs.run_next()
    done = jobs.get(job_id)
    assert done.status is JobStatus.DONE and done.tracks >= 2 and done.frames_done == done.frames_total
    assert _uploads(store) == [], "the upload goes once processed"
    with store.db.read() as s:
        camera = s.scalars(select(Camera).where(Camera.name == "lobby")).one()
        assert camera.virtual
        starts = [as_utc(t) for t in s.scalars(select(Event.start_at).where(Event.camera_id == camera.id))]
        actions = [a.action for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert len(starts) == done.tracks and min(starts) >= FILMED
    assert actions[-2:] == ["footage.upload", "footage.done"]


def test_uploads_that_are_not_video_are_refused_and_not_kept(tmp_path: Path, engine: Engine) -> None:
    store, jobs = _jobs(tmp_path, engine)
    cases = [
        ("notes.txt", b"hello", "not a video file name"),
        ("clip.mp4", b"this is text, not an mp4", "cannot be read as a video"),
    ]
    for name, data, says in cases:
        with pytest.raises(BadInput, match=says):
            jobs.submit("ines", name, io.BytesIO(data), camera="lobby", start=None, reason="case")
    with pytest.raises(BadInput, match="reason"):
        jobs.submit("ines", "a.mp4", io.BytesIO(b""), camera="lobby", start=None, reason=" ")
    assert _uploads(store) == [] and jobs.all() == []


def test_an_interrupted_job_resumes_where_it_stopped(
    tmp_path: Path, engine: Engine, hamilton_clip: Path
) -> None:
    """A restart finds the job "running" with the video time it had reached: frames before it are only
    decoded, and the events found before are not found twice."""
    store, jobs = _jobs(tmp_path, engine)
    job_id = _submit(jobs, hamilton_clip)
    with store.db.write() as s:
        job = s.get(FootageJob, job_id)
        assert job is not None
        job.status, job.done_ms = JobStatus.RUNNING, 6_000  # as a stop left it
    assert jobs.run_next()
    assert jobs.get(job_id).status is JobStatus.DONE
    with store.db.read() as s:
        starts = [as_utc(t) for t in s.scalars(select(Event.start_at))]
    assert starts and min(starts) >= FILMED + timedelta(seconds=6)


def test_a_running_job_is_cancelled_within_moments(
    tmp_path: Path, engine: Engine, hamilton_clip: Path, test_data: Path
) -> None:
    """Cancelled while it runs: a long video (139 s, the Intel sample), so that the job cannot finish
    before the cancellation is seen (with the 11 s clip it did once, on a fast run)."""
    store, jobs = _jobs(tmp_path, engine)
    queued = _submit(jobs, hamilton_clip, "first")
    assert jobs.cancel("ines", queued, "wrong file").status is JobStatus.CANCELLED, "a queued one at once"
    job_id = _submit(jobs, test_data / "video" / "intel" / "one-by-one-person-detection.mp4", "second")
    runner = threading.Thread(target=jobs.run_next)
    runner.start()
    deadline = time.monotonic() + 60
    while jobs.get(job_id).frames_done == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert jobs.get(job_id).status is JobStatus.RUNNING
    jobs.cancel("ines", job_id, "enough")
    runner.join(30)
    final = jobs.get(job_id)
    assert final.status is JobStatus.CANCELLED and final.frames_done < (final.frames_total or 10**9)
    assert _uploads(store) == []
    with pytest.raises(BadInput, match="already cancelled"):
        jobs.cancel("ines", job_id)
