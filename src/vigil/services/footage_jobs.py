"""Uploaded footage as jobs: stored, queued, processed into the archive one at a time by ``vigil serve``,
with progress, cancellable, and resumed after a restart from the video time already processed.

A job's upload is kept under ``media/uploads/`` until the job ends (done, failed or cancelled); what it
found lives on as events of its virtual camera. Uploads, cancellations and ends are audited.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.config import IngestConfig
from vigil.errors import BadInput, NotFound, SourceError
from vigil.ingest import open_source
from vigil.services.footage import FootageImport, filmed_at
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.media import MediaStore
from vigil.store.tables import FootageJob, JobStatus

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".ts", ".m4v"}
ACTOR = "vigil:footage"
PROGRESS_EVERY_S = 1.0


class Cancelled(Exception):
    """The job was cancelled while it ran."""


@dataclass(frozen=True, slots=True)
class JobInfo:
    id: int
    camera: str
    filename: str
    start_at: datetime
    status: JobStatus
    cancel_requested: bool
    frames_done: int
    frames_total: int | None
    done_ms: int
    tracks: int
    alerts: int
    error: str
    created_by: str
    created_at: datetime
    updated_at: datetime


def _info(j: FootageJob) -> JobInfo:
    return JobInfo(
        j.id, j.camera, j.filename, as_utc(j.start_at), j.status, j.cancel_requested, j.frames_done,
        j.frames_total, j.done_ms, j.tracks, j.alerts, j.error, j.created_by, as_utc(j.created_at),
        as_utc(j.updated_at),
    )  # fmt: skip


class FootageJobs:
    """Submit, follow and cancel footage jobs; ``start()`` runs them in a background thread."""

    def __init__(
        self,
        db: Database,
        media: MediaStore,
        footage: Callable[[], FootageImport],
        ingest: IngestConfig,
        max_upload_bytes: int,
    ) -> None:
        self._db = db
        self._media = media
        self._footage = footage
        self._ingest = ingest
        self._max_upload_bytes = max_upload_bytes
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- requests ---------------------------------------------------------------------------------

    def submit(
        self, actor: str, filename: str, stream: BinaryIO, *, camera: str, start: datetime | None, reason: str
    ) -> JobInfo:
        """Store an uploaded video and queue it. Raises BadInput: no reason, a bad name or time, not a
        video (checked by opening it), or too large."""
        if not reason.strip():
            raise BadInput("reason", "processing footage needs a reason (a case reference)")
        if not 1 <= len(camera.strip()) <= 64:
            raise BadInput("camera", "a camera name is 1-64 characters")
        if start is not None and start.utcoffset() is None:
            raise BadInput("start", f"{start.isoformat()} has no time zone")
        suffix = PurePath(filename).suffix.lower()
        if suffix not in VIDEO_SUFFIXES:
            raise BadInput(
                filename, f"not a video file name (expected one of {', '.join(sorted(VIDEO_SUFFIXES))})"
            )
        rel = self._media.put_stream("uploads", stream, suffix, self._max_upload_bytes)
        path = self._media.path(rel)
        try:
            open_source(path, self._ingest, camera).close()  # a file FFmpeg cannot read is refused now
        except (SourceError, BadInput) as exc:
            self._media.remove(rel)
            raise BadInput(filename, f"cannot be read as a video: {exc}") from exc
        now = datetime.now(UTC)
        with self._db.write() as s:
            job = FootageJob(
                camera=camera.strip(), filename=PurePath(filename).name[:255], file_path=rel,
                start_at=(start or filmed_at(path)).astimezone(UTC), status=JobStatus.QUEUED,
                created_by=actor, created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(job)
            s.flush()
            audit.append(
                s, actor, "footage.upload", f"job:{job.id}", reason=reason,
                details={"camera": job.camera, "file": job.filename, "media": rel,
                         "start": job.start_at.isoformat()},
            )  # fmt: skip
            info = _info(job)
        self._wake.set()
        return info

    def all(self, limit: int = 50) -> list[JobInfo]:
        with self._db.read() as s:
            return [
                _info(j) for j in s.scalars(select(FootageJob).order_by(FootageJob.id.desc()).limit(limit))
            ]

    def get(self, job_id: int) -> JobInfo:
        with self._db.read() as s:
            job = s.get(FootageJob, job_id)
            if job is None:
                raise NotFound(f"no footage job {job_id}")
            return _info(job)

    def cancel(self, actor: str, job_id: int, reason: str = "") -> JobInfo:
        """A queued job is cancelled at once; a running one stops within a second or so."""
        with self._db.write() as s:
            job = s.get(FootageJob, job_id)
            if job is None:
                raise NotFound(f"no footage job {job_id}")
            if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                raise BadInput("job", f"job {job_id} is already {job.status.value}")
            job.cancel_requested, job.updated_at = True, datetime.now(UTC)
            audit.append(
                s, actor, "footage.cancel", f"job:{job_id}", reason=reason, details={"was": job.status.value}
            )
            upload = _end(s, job, JobStatus.CANCELLED) if job.status is JobStatus.QUEUED else None
            info = _info(job)
        self._drop(upload)
        return info

    # --- the runner -------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="vigil-footage", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current frame; a running job stays "running" and resumes at the next start."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_next(self) -> bool:
        """Run the oldest unfinished job (an interrupted one first); False when there is none."""
        with self._db.read() as s:
            job_id = s.scalar(
                select(FootageJob.id)
                .where(FootageJob.status.in_([JobStatus.RUNNING, JobStatus.QUEUED]))
                .order_by((FootageJob.status == JobStatus.QUEUED).asc(), FootageJob.id)
                .limit(1)
            )
        if job_id is None:
            return False
        self._run(job_id)
        return True

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.run_next():
                    continue
            except Exception:
                log.exception("footage job runner")
            self._wake.wait(5.0)
            self._wake.clear()

    def _run(self, job_id: int) -> None:
        with self._db.write() as s:
            job = s.get(FootageJob, job_id)
            if job is None or job.file_path is None:
                return
            job.status, job.updated_at = JobStatus.RUNNING, datetime.now(UTC)
            path, camera, start, resume_ms = (
                self._media.path(job.file_path),
                job.camera,
                as_utc(job.start_at),
                job.done_ms,
            )
        try:
            source = open_source(path, self._ingest, camera)
            try:
                self._update(job_id, frames_total=source.length)
                report = self._footage().run(
                    source, camera, start, self._progress(job_id), skip_until_ms=resume_ms
                )
            finally:
                source.close()
        except Cancelled:
            if self._stopping.is_set():
                log.info("footage job %d interrupted: it resumes at the next start", job_id)
            else:
                self._finish(job_id, JobStatus.CANCELLED)
            return
        except Exception as exc:  # a broken file, a database error: the job fails, the runner goes on
            log.exception("footage job %d failed", job_id)
            self._finish(job_id, JobStatus.FAILED, error=str(exc) or type(exc).__name__)
            return
        self._finish(
            job_id, JobStatus.DONE, frames=report.frames, done_ms=report.last_ms, tracks=report.tracks,
            alerts=report.alerts,
        )  # fmt: skip

    def _progress(self, job_id: int) -> Callable[[int, int], None]:
        """Writes progress about once a second, and stops the job when cancelled or Vigil stops."""
        last = time.monotonic()

        def progress(frames: int, t_ms: int) -> None:
            nonlocal last
            if self._stopping.is_set():
                raise Cancelled("vigil is stopping")  # left "running": resumed at the next start
            if time.monotonic() - last < PROGRESS_EVERY_S:
                return
            last = time.monotonic()
            if self._update(job_id, frames_done=frames, done_ms=t_ms).cancel_requested:
                raise Cancelled("cancelled")

        return progress

    def _update(self, job_id: int, **values: object) -> FootageJob:
        with self._db.write() as s:
            job = s.get(FootageJob, job_id)
            if job is None:
                raise Cancelled(f"job {job_id} is gone")
            for name, value in values.items():
                setattr(job, name, value)
            job.updated_at = datetime.now(UTC)
            return job

    def _finish(
        self, job_id: int, status: JobStatus, *, error: str = "", frames: int | None = None,
        done_ms: int | None = None, tracks: int = 0, alerts: int = 0,
    ) -> None:  # fmt: skip
        with self._db.write() as s:
            job = s.get(FootageJob, job_id)
            if job is None:
                return
            job.error = error
            if frames is not None and done_ms is not None:
                job.frames_done, job.done_ms = frames, done_ms
            job.tracks, job.alerts = job.tracks + tracks, job.alerts + alerts
            upload = _end(s, job, status)
        self._drop(upload)

    def _drop(self, upload: str | None) -> None:
        """Delete a finished job's upload (after its row committed; what it showed is in the archive)."""
        if upload is not None:
            self._media.remove(upload)


def _end(s: Session, job: FootageJob, status: JobStatus) -> str | None:
    """Close a job (audited); returns its upload's media path, to delete once this commits."""
    job.status, job.updated_at = status, datetime.now(UTC)
    rel, job.file_path = job.file_path, None
    audit.append(
        s, ACTOR, f"footage.{status.value}", f"job:{job.id}",
        details={"frames": job.frames_done, "tracks": job.tracks, "alerts": job.alerts, "error": job.error},
    )  # fmt: skip
    return rel
