"""A camera worker process: decodes its cameras in reader threads and runs the engine over their frames.

Each worker loads the models once and serves any number of cameras. Decoding never waits on the
engine: every camera's reader thread keeps only its newest ``live.queue_frames`` frames (the oldest is
dropped and counted). One loop takes the next frame round-robin across cameras, so a busy camera costs
the others at most one frame's processing at a time. Frames, patches and vectors stay in the worker;
only track events (with their best-shot patch) go back to the service.

The gallery is loaded from the database and reloaded when a poll sees it changed (an enrolment or
removal by the API, or by ``vigil enroll`` in another process).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from vigil.config import VigilConfig
from vigil.ingest.live import LiveReader
from vigil.ingest.netpolicy import OPEN, NetPolicy
from vigil.match.gallery import Gallery, GalleryIdentities
from vigil.match.thresholds import ThresholdPolicy
from vigil.runtime.messages import (
    CameraCounters,
    CameraEvents,
    CameraFailed,
    CameraSnapshot,
    CameraSpec,
    Control,
    Report,
    RunCamera,
    Shutdown,
    StopCamera,
    WorkerReady,
    WorkerStats,
)
from vigil.runtime.pipeline import SourcePipeline, SourcePipelineFactory
from vigil.services.gallery import gallery_fingerprint, load_gallery
from vigil.services.rules import lowest_threshold
from vigil.store.db import Database
from vigil.types import FaceEvent, Image

log = logging.getLogger(__name__)

SNAPSHOT_WIDTH = 640


@dataclass
class _Camera:
    spec: CameraSpec
    reader: LiveReader
    pipeline: SourcePipeline
    run: str
    faces: int = 0
    errors: int = 0
    last_t_ms: int = 0
    last_at: float = 0.0
    last_image: Image | None = None  # of the last processed frame, for the next snapshot


class ControlInbox(Protocol):
    """Where the worker's orders arrive (a multiprocessing queue, or a camera actor's own queue)."""

    def get_nowait(self) -> Control: ...


class ReportSink(Protocol):
    """Where the worker's reports go."""

    def put(self, item: Report) -> None: ...


class _GallerySync:
    """The worker's gallery, reloaded when the database says it changed."""

    def __init__(self, db: Database, model_id: str, dim: int, *, policy: ThresholdPolicy, poll_s: float):
        self._db = db
        self._model_id = model_id
        self._dim = dim
        self._policy = policy
        self._poll_s = poll_s
        self._fingerprint = gallery_fingerprint(db)
        self.identities = GalleryIdentities(self._load())
        self.threshold = lowest_threshold(db, policy)
        self._next_poll = time.monotonic() + poll_s

    def _load(self) -> Gallery:
        return load_gallery(self._db, self._model_id, self._dim)

    def poll(self, notified: bool = False) -> bool:
        """Reload if the gallery changed: checked every ``poll_s``, or at once when ``notified`` (a
        PostgreSQL notification said a writer changed it)."""
        now = time.monotonic()
        if now < self._next_poll and not notified:
            return False
        self._next_poll = now + self._poll_s
        fingerprint = gallery_fingerprint(self._db)
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        self.identities.replace(self._load())
        self.threshold = lowest_threshold(self._db, self._policy)
        return True


class CameraWorker:
    """The loop of one worker process, over models and a database built by the composition root."""

    def __init__(
        self,
        worker_id: int,
        config: VigilConfig,
        *,
        pipelines: SourcePipelineFactory,
        db: Database,
        policy: ThresholdPolicy,
        control: ControlInbox,
        out: ReportSink,
        network: NetPolicy = OPEN,
        service_alive: Callable[[], bool] = lambda: True,
        on_orphaned: Callable[[], None] = lambda: None,
        gallery_changed: Callable[[], bool] = lambda: False,
    ) -> None:
        self._id = worker_id
        self._gallery_changed = gallery_changed
        self._service_alive = service_alive
        self._on_orphaned = on_orphaned
        self._network = network
        self._config = config
        self._control = control
        self._out = out
        self._pipelines = pipelines
        self._gallery = _GallerySync(
            db, pipelines.model_id, pipelines.dim,
            policy=policy, poll_s=config.live.gallery_poll_s,
        )  # fmt: skip
        self._cameras: dict[int, _Camera] = {}
        self._order: list[int] = []
        self._next = 0
        self._wake = threading.Event()
        self._running = True

    def run(self) -> None:
        self._out.put(WorkerReady(self._id, os.getpid()))
        next_stats = next_snapshot = time.monotonic()
        orphaned = False
        try:
            while self._running:
                if not self._service_alive():
                    log.warning("worker %d: the service is gone (killed?): stopping", self._id)
                    orphaned = True
                    break
                self._drain_control()
                self._follow_gallery()
                if not self._process_one():
                    self._wake.wait(0.05)
                    self._wake.clear()
                if time.monotonic() >= next_stats:
                    next_stats = time.monotonic() + self._config.live.stats_interval_s
                    self._out.put(self._stats())
                snapshot_s = self._config.live.snapshot_s
                if snapshot_s > 0 and time.monotonic() >= next_snapshot:
                    next_snapshot = time.monotonic() + snapshot_s
                    self._snapshots()
        finally:
            for cam in self._cameras.values():
                cam.reader.stop(timeout=2.0)
            if orphaned:
                self._on_orphaned()  # nobody reads the reports any more
            else:
                for cam in self._cameras.values():
                    self._send(cam, cam.pipeline.finish())  # the tracks end with the service
                self._out.put(self._stats())

    # --- control -----------------------------------------------------------------------------------

    def _drain_control(self) -> None:
        while True:
            try:
                msg = self._control.get_nowait()
            except queue.Empty:
                return
            if isinstance(msg, RunCamera):
                self._start(msg.spec)
            elif isinstance(msg, StopCamera):
                self._stop(msg.camera_id)
            elif isinstance(msg, Shutdown):
                self._running = False
                return

    def _start(self, spec: CameraSpec) -> None:
        self._stop(spec.camera_id)
        cfg = self._config
        try:
            reader = LiveReader(
                spec.name, spec.url, cfg.ingest, cfg.live,
                loop=spec.loop, max_fps=spec.max_fps, notify=self._wake, network=self._network,
            )  # fmt: skip
        except Exception as exc:  # a spec no source can be made of: report, keep the others going
            log.warning("camera %s cannot start: %s", spec.name, exc)
            self._out.put(CameraFailed(spec.camera_id, str(exc)))
            return
        pipeline = self._pipeline(spec)
        self._cameras[spec.camera_id] = _Camera(spec, reader, pipeline, uuid.uuid4().hex[:12])
        self._order.append(spec.camera_id)
        reader.start()
        log.info("worker %d: camera %s started", self._id, spec.name)

    def _follow_gallery(self) -> None:
        threshold = self._gallery.threshold
        try:
            changed = self._gallery.poll(self._gallery_changed())
        except Exception:  # e.g. the database briefly unavailable: keep the gallery we have
            log.exception("worker %d: could not check the gallery for changes", self._id)
            return
        if changed and self._gallery.threshold != threshold:
            self._rebuild_pipelines()

    def _pipeline(self, spec: CameraSpec) -> SourcePipeline:
        match = self._config.match.model_copy(update={"threshold": self._gallery.threshold})
        return self._pipelines.pipeline(spec.name, self._gallery.identities, match)

    def _rebuild_pipelines(self) -> None:
        """The lowest list threshold changed: tracks end and start again under the new rule."""
        for cam in self._cameras.values():
            self._send(cam, cam.pipeline.finish())
            cam.pipeline = self._pipeline(cam.spec)

    def _stop(self, camera_id: int) -> None:
        cam = self._cameras.pop(camera_id, None)
        if cam is None:
            return
        self._order.remove(camera_id)
        cam.reader.stop(timeout=5.0)
        self._send(cam, cam.pipeline.finish())
        log.info("worker %d: camera %s stopped", self._id, cam.spec.name)

    # --- frames ------------------------------------------------------------------------------------

    def _process_one(self) -> bool:
        """Process the next waiting frame of the next camera (round-robin); False when none waits."""
        n = len(self._order)
        for i in range(n):
            camera_id = self._order[(self._next + i) % n]
            cam = self._cameras[camera_id]
            frame = cam.reader.get(timeout=0)
            if frame is None:
                continue
            self._next = (self._next + i + 1) % n
            try:
                result = cam.pipeline.process(frame)
            except Exception:  # one bad frame must not take the worker and its other cameras down
                cam.errors += 1
                log.exception("camera %s: frame %d could not be processed", cam.spec.name, frame.index)
                return True
            cam.faces += int(result.step.observed.sum())
            cam.last_t_ms, cam.last_at, cam.last_image = frame.t_ms, frame.captured_at, frame.image
            self._send(cam, result.events)
            return True
        return False

    def _send(self, cam: _Camera, events: list[FaceEvent]) -> None:
        if events:
            report = CameraEvents(cam.spec.camera_id, cam.run, cam.last_t_ms, cam.last_at, tuple(events))
            self._out.put(report)

    def _snapshots(self) -> None:
        """Each camera's last processed frame (if new since the last snapshot), at most 640 px wide."""
        for cid, cam in self._cameras.items():
            image, cam.last_image = cam.last_image, None
            if image is None:
                continue
            h, w = image.shape[:2]
            small: np.ndarray[Any, Any] = image
            if w > SNAPSHOT_WIDTH:
                size = (SNAPSHOT_WIDTH, round(h * SNAPSHOT_WIDTH / w))
                small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if ok:
                self._out.put(CameraSnapshot(cid, cam.last_at, jpeg.tobytes()))

    def _stats(self) -> WorkerStats:
        cameras = {
            cid: CameraCounters(
                status=cam.reader.status(),
                frames_processed=cam.pipeline.times.frames,
                faces_detected=cam.faces,
                stage_seconds=dict(cam.pipeline.times.seconds),
                frame_errors=cam.errors,
                faces=cam.pipeline.faces.summary(),
            )
            for cid, cam in self._cameras.items()
        }
        return WorkerStats(self._id, cameras, len(self._gallery.identities.gallery))
