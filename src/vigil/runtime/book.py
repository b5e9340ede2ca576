"""What every camera runtime keeps of its cameras, whatever runs them (local processes or Ray actors).

A runtime places cameras on workers and reads their reports; this base keeps the cameras it was asked
to run, their latest counters, rates and snapshots, and where each one runs, and hands track events and
failures to the handlers given to :meth:`CameraRuntime.attach`. The two runtimes differ only in how
workers are started, reached and watched (:mod:`vigil.runtime.supervisor`,
:mod:`vigil.runtime.ray_supervisor`).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vigil.runtime.messages import (
    CameraCounters,
    CameraEvents,
    CameraFailed,
    CameraSnapshot,
    CameraSpec,
    Report,
    WorkerReady,
    WorkerStats,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CameraRates:
    """Per-second rates of one camera from two successive worker reports."""

    at: float
    frames: int
    faces: int
    processed_fps: float = 0.0
    faces_per_s: float = 0.0

    def advance(self, at: float, frames: int, faces: int) -> CameraRates:
        dt = at - self.at
        fps, faces_s = max(0.0, (frames - self.frames) / dt), max(0.0, (faces - self.faces) / dt)
        return CameraRates(at, frames, faces, fps, faces_s)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a camera runs: the node (``local`` for this machine's worker processes) and the worker."""

    node_id: str
    node_address: str
    actor: str


@dataclass(frozen=True, slots=True)
class WorkerView:
    """One worker as ``vigil cluster status`` shows it."""

    name: str
    node_id: str
    node_address: str
    ready: bool
    cameras: tuple[int, ...]
    restarts: int
    lag_s: float | None  # since its last report (None before the first)


PlacementSink = Callable[[int, Placement | None], None]
"""Told each camera's new placement (None: it no longer runs), e.g. to keep it in the database."""


class CameraRuntime(ABC):
    """Runs cameras on workers; reports go to the handlers given to :meth:`attach`."""

    def __init__(self) -> None:
        self._on_events: Callable[[CameraEvents], None] = lambda _b: None
        self._on_failed: Callable[[CameraFailed], None] = lambda _f: None
        self._on_placed: PlacementSink = lambda _c, _p: None
        self._reset_placements: Callable[[], None] = lambda: None
        self._specs: dict[int, CameraSpec] = {}
        self._counters: dict[int, CameraCounters] = {}
        self._rates: dict[int, CameraRates] = {}
        self._snapshots: dict[int, CameraSnapshot] = {}
        self._placements: dict[int, Placement] = {}
        self._gallery_sizes: dict[int, int] = {}  # by worker: identities in its gallery at its last report
        self._lock = threading.RLock()
        self.restarts = 0  # workers started again after they died (or were lost with their node)
        self.moves = 0  # cameras moved to another worker (its worker lost, or to balance the load)
        self.frames_lost = 0  # frames a worker held when it died or was lost: dropped, never half-recorded

    def count_lost_frames(self, cameras: Iterable[int]) -> None:
        """A worker died holding ``cameras``: the frame each was on and those queued are dropped."""
        with self._lock:
            for cid in cameras:
                counters = self._counters.get(cid)
                if counters is not None:
                    self.frames_lost += counters.status.queued + 1

    # --- what the service calls --------------------------------------------------------------------

    def attach(
        self,
        on_events: Callable[[CameraEvents], None],
        on_failed: Callable[[CameraFailed], None],
    ) -> None:
        self._on_events, self._on_failed = on_events, on_failed

    def attach_placements(self, on_placed: PlacementSink, reset: Callable[[], None] = lambda: None) -> None:
        """Tell ``on_placed`` where each camera runs from now on (e.g. to keep it in the database);
        ``reset`` forgets the last run's placements, when this runtime starts leading."""
        self._on_placed = on_placed
        self._reset_placements = reset

    def reset_placements(self) -> None:
        try:
            self._reset_placements()
        except Exception:
            log.exception("could not forget the last run's camera placements")

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def wait_ready(self, timeout: float) -> bool:
        """Wait until the workers have loaded their models (True) or ``timeout`` passes (False)."""

    @abstractmethod
    def stop(self, timeout: float = 10.0) -> None: ...

    @abstractmethod
    def run(self, spec: CameraSpec) -> None:
        """Start ``spec`` (or restart it with new settings) on the least busy worker."""

    @abstractmethod
    def remove(self, camera_id: int) -> None: ...

    @abstractmethod
    def workers(self) -> list[WorkerView]: ...

    @property
    def kind(self) -> str:
        return "local"

    def counters(self) -> dict[int, CameraCounters]:
        with self._lock:
            return {cid: c for cid, c in self._counters.items() if cid in self._specs}

    def rates(self) -> dict[int, CameraRates]:
        """Frames processed and faces detected per second per camera, over the last report interval."""
        with self._lock:
            return {cid: r for cid, r in self._rates.items() if cid in self._specs}

    def snapshot(self, camera_id: int) -> CameraSnapshot | None:
        """The camera's latest snapshot (None before its first, or once it is stopped)."""
        with self._lock:
            return self._snapshots.get(camera_id) if camera_id in self._specs else None

    def processed_fps(self) -> dict[int, float]:
        return {cid: r.processed_fps for cid, r in self.rates().items()}

    def running(self) -> set[int]:
        with self._lock:
            return set(self._specs)

    def placements(self) -> dict[int, Placement]:
        with self._lock:
            return dict(self._placements)

    def gallery_sizes(self) -> dict[int, int]:
        """Identities each worker's gallery held at its last report (by worker index)."""
        with self._lock:
            return dict(self._gallery_sizes)

    def spec(self, camera_id: int) -> CameraSpec | None:
        with self._lock:
            return self._specs.get(camera_id)

    # --- for the runtimes --------------------------------------------------------------------------

    def _forget(self, camera_id: int) -> None:
        with self._lock:
            self._specs.pop(camera_id, None)
            self._counters.pop(camera_id, None)
            self._rates.pop(camera_id, None)
            self._snapshots.pop(camera_id, None)
            placed = self._placements.pop(camera_id, None)
        if placed is not None:
            self._tell_placed(camera_id, None)

    def _placed(self, camera_id: int, placement: Placement) -> None:
        with self._lock:
            if self._placements.get(camera_id) == placement:
                return
            self._placements[camera_id] = placement
        self._tell_placed(camera_id, placement)

    def _tell_placed(self, camera_id: int, placement: Placement | None) -> None:
        try:
            self._on_placed(camera_id, placement)
        except Exception:  # e.g. the database briefly unavailable: the camera runs all the same
            log.exception("could not record where camera %d runs", camera_id)

    def _dispatch(self, report: Report) -> None:
        """Take one worker report (on the runtime's report thread)."""
        if isinstance(report, CameraEvents):
            self._on_events(report)
        elif isinstance(report, WorkerStats):
            now = time.monotonic()
            with self._lock:
                for cid, c in report.cameras.items():
                    before = self._rates.get(cid)
                    if before is None:
                        self._rates[cid] = CameraRates(now, c.frames_processed, c.faces_detected)
                    elif now - before.at >= 0.5:
                        self._rates[cid] = before.advance(now, c.frames_processed, c.faces_detected)
                self._counters.update(report.cameras)
                self._gallery_sizes[report.worker_id] = report.gallery_size
        elif isinstance(report, WorkerReady):
            self._worker_ready(report)
        elif isinstance(report, CameraSnapshot):
            with self._lock:
                if report.camera_id in self._specs:
                    self._snapshots[report.camera_id] = report
        elif isinstance(report, CameraFailed):
            self._on_failed(report)

    def _worker_ready(self, report: WorkerReady) -> None:
        log.info("worker %d ready (pid %d)", report.worker_id, report.pid)
