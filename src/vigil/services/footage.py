"""Recorded footage into the archive: the tracks of a video become events of a named virtual camera, at
the times they were filmed, and are searched and alerted on like those of a live camera.

The video is matched against the store's watchlists (the gallery as it is now), each track recorded by
the live service's own recorder (crops, templates, alerts in the outbox, delivered by a running
``vigil serve``). Frame times come from the video: ``start`` (given, else the container's creation time,
else the file's modification time) plus each frame's presentation time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import av
from sqlalchemy import select

from vigil.errors import BadInput
from vigil.ingest.base import Source
from vigil.match.gallery import GalleryIdentities
from vigil.match.thresholds import ThresholdPolicy
from vigil.runtime.messages import CameraEvents
from vigil.runtime.pipeline import SourcePipelineFactory
from vigil.services.cameras import IN_USE
from vigil.services.events import EventRecorder
from vigil.services.gallery import load_gallery
from vigil.services.rules import lowest_threshold
from vigil.store.db import Database
from vigil.store.tables import Camera
from vigil.types import EventKind, FaceEvent

log = logging.getLogger(__name__)

FOOTAGE_URL = "footage:"


@dataclass(frozen=True, slots=True)
class FootageReport:
    camera: str
    camera_id: int
    start: datetime
    frames: int
    tracks: int
    identified: int  # tracks decided as someone on a list
    alerts: int
    last_ms: int  # video time of the last frame processed


class FootageImport:
    """Runs videos through the engine into the store, as events of virtual cameras."""

    def __init__(
        self,
        db: Database,
        pipelines: SourcePipelineFactory,
        recorder: EventRecorder,
        *,
        policy: ThresholdPolicy,
    ) -> None:
        self._db = db
        self._pipelines = pipelines
        self._recorder = recorder
        self._policy = policy

    def camera(self, name: str) -> int:
        """The virtual camera ``name`` (made now if new). Raises BadInput if a live camera has the name."""
        with self._db.write() as s:
            row = s.scalar(select(Camera).where(Camera.name == name, IN_USE))
            if row is not None and not row.virtual:
                raise BadInput(name, "a live camera has this name: pick another one for recorded footage")
            if row is None:
                row = Camera(
                    name=name,
                    url=f"{FOOTAGE_URL}{name}",
                    enabled=False,
                    virtual=True,
                    created_at=datetime.now(UTC),
                )
                s.add(row)
                s.flush()
            return row.id

    def run(
        self,
        source: Source,
        camera: str,
        start: datetime,
        progress: Callable[[int, int], None] = lambda _n, _t: None,
        *,
        skip_until_ms: int = 0,
    ) -> FootageReport:
        """Process the frames of ``source``, each stamped ``start`` + its presentation time; those before
        ``skip_until_ms`` are only decoded (resuming a job). ``progress(frames, t_ms)`` after each frame
        may raise to stop."""
        if start.utcoffset() is None:
            raise BadInput("start", f"{start.isoformat()} has no time zone")
        camera_id = self.camera(camera)
        gallery = load_gallery(self._db, self._pipelines.model_id, self._pipelines.dim)
        # Decide at the lowest list threshold; each list's own threshold picks its alerts (as live).
        match = self._policy.match.model_copy(update={"threshold": lowest_threshold(self._db, self._policy)})
        pipeline = self._pipelines.pipeline(camera, GalleryIdentities(gallery, clock=lambda: start), match)
        run_id = uuid.uuid4().hex[:12]
        t0 = start.timestamp()
        frames = tracks = identified = alerts = 0
        last_t_ms = 0

        def record(events: list[FaceEvent]) -> None:
            nonlocal tracks, identified, alerts
            if not events:
                return
            batch = CameraEvents(camera_id, run_id, last_t_ms, t0 + last_t_ms / 1000, tuple(events))
            alerts += len(self._recorder.record(batch))
            for ev in events:
                if ev.kind is EventKind.END:
                    tracks += 1
                    identified += int(ev.decision is not None and ev.decision.identity is not None)

        for decoded in source.frames():
            frames += 1
            if decoded.t_ms < skip_until_ms:
                continue
            frame = replace(decoded, captured_at=t0 + decoded.t_ms / 1000)  # filmed then, not decoded now
            last_t_ms = frame.t_ms
            try:
                record(pipeline.process(frame).events)
                progress(frames, last_t_ms)
            except BaseException:
                record(pipeline.finish())  # the tracks so far end here
                raise
        record(pipeline.finish())
        log.info(
            "footage %s: %d frames, %d tracks, %d identified, %d alerts",
            camera,
            frames,
            tracks,
            identified,
            alerts,
        )
        return FootageReport(camera, camera_id, start, frames, tracks, identified, alerts, last_t_ms)


def filmed_at(path: Path) -> datetime:
    """When a video file was recorded: its container's ``creation_time``, else the file's mtime."""
    try:
        with av.open(str(path)) as container:
            stamp = container.metadata.get("creation_time")
    except (av.FFmpegError, OSError):
        stamp = None
    if stamp:
        try:
            at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            return at if at.utcoffset() is not None else at.replace(tzinfo=UTC)
        except ValueError:
            log.warning("%s: creation_time %r is not a date; using the file's time", path.name, stamp)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)
