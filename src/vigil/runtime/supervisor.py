"""The service side of the camera workers: starts them, places cameras on them, restarts the dead.

Workers are separate processes (spawned, so no state leaks in from the service), so detection and
embedding of different cameras run on different cores. A camera goes to the worker with the fewest
cameras. A worker that dies is started again and given back its cameras; restarts are counted.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue

from vigil.config import VigilConfig
from vigil.runtime.book import CameraRuntime, Placement, WorkerView
from vigil.runtime.messages import (
    CameraSpec,
    Control,
    Report,
    RunCamera,
    Shutdown,
    StopCamera,
    WorkerReady,
)

log = logging.getLogger(__name__)


@dataclass
class _Worker:
    worker_id: int
    process: BaseProcess
    control: Queue[Control]
    cameras: set[int] = field(default_factory=set)
    ready: bool = False
    failures: int = 0  # deaths in a row before it was ever ready (a worker that cannot start)
    retry_at: float | None = None  # dead: when it is started again
    restarts: int = 0


LOCAL_NODE = "local"
"""The node of the local runtime's worker processes: this machine."""


def _worker_name(worker_id: int) -> str:
    return f"worker-{worker_id}"


RESTART_BACKOFF_S = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
"""Wait before starting a dead worker again, by how many times in a row it died before it was ready: a
worker that ran dies and comes back at once; one that cannot start is tried less and less often."""


def restart_delay(failures: int) -> float:
    return RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]


WorkerMain = Callable[[int, VigilConfig, "Queue[Control]", "Queue[Report]"], None]


class CameraSupervisor(CameraRuntime):
    """Runs cameras on ``workers`` processes started with ``worker_main``; reports go to the handlers
    given to :meth:`attach` (called on the supervisor's report thread)."""

    def __init__(self, config: VigilConfig, workers: int, worker_main: WorkerMain) -> None:
        super().__init__()
        self._config = config
        self._n = workers
        self._worker_main = worker_main
        self._ctx = mp.get_context("spawn")
        self._out: Queue[Report] = self._ctx.Queue()
        self._workers: dict[int, _Worker] = {}
        self._last_report: dict[int, float] = {}
        self._stopping = threading.Event()  # no more restarts
        self._closed = threading.Event()  # workers gone: stop reading reports
        self._threads: list[threading.Thread] = []

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        for worker_id in range(self._n):
            self._spawn(worker_id)
        for target, name in ((self._read_reports, "reports"), (self._watch, "watch")):
            thread = threading.Thread(target=target, name=f"vigil-supervisor-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every worker has loaded its models (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if all(w.ready for w in self._workers.values()):
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every worker (their last events are still recorded), then the supervisor's threads.

        Reports are read until the workers have exited: a worker whose last messages are not read
        cannot exit (its queue's pipe stays full).
        """
        self._stopping.set()
        with self._lock:
            workers = list(self._workers.values())
        for w in workers:
            w.control.put(Shutdown())
        deadline = time.monotonic() + timeout
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                log.warning("worker %d did not stop in %.0f s: terminated", w.worker_id, timeout)
                w.process.terminate()
                w.process.join(2.0)
        self._closed.set()
        for thread in self._threads:
            thread.join(2.0)

    # --- cameras -----------------------------------------------------------------------------------

    def run(self, spec: CameraSpec) -> None:
        """Start ``spec`` (or restart it with new settings) on the least busy worker."""
        with self._lock:
            self.remove(spec.camera_id)
            self._specs[spec.camera_id] = spec
            worker = min(self._workers.values(), key=lambda w: (len(w.cameras), w.worker_id))
            worker.cameras.add(spec.camera_id)
            worker.control.put(RunCamera(spec))
        self._placed(spec.camera_id, Placement(LOCAL_NODE, LOCAL_NODE, _worker_name(worker.worker_id)))

    def remove(self, camera_id: int) -> None:
        with self._lock:
            for w in self._workers.values():
                if camera_id in w.cameras:
                    w.cameras.discard(camera_id)
                    w.control.put(StopCamera(camera_id))
        self._forget(camera_id)

    def workers(self) -> list[WorkerView]:
        now = time.monotonic()
        with self._lock:
            views = []
            for w in sorted(self._workers.values(), key=lambda w: w.worker_id):
                last = self._last_report.get(w.worker_id)
                lag = None if last is None else now - last
                name, cameras = _worker_name(w.worker_id), tuple(sorted(w.cameras))
                views.append(WorkerView(name, LOCAL_NODE, LOCAL_NODE, w.ready, cameras, w.restarts, lag))
            return views

    # --- internals ---------------------------------------------------------------------------------

    def _spawn(self, worker_id: int) -> _Worker:
        control: Queue[Control] = self._ctx.Queue()
        process = self._ctx.Process(
            target=self._worker_main,
            args=(worker_id, self._config, control, self._out),
            name=f"vigil-worker-{worker_id}",
            daemon=True,
        )
        process.start()
        worker = _Worker(worker_id, process, control)
        with self._lock:
            self._workers[worker_id] = worker
        return worker

    def _read_reports(self) -> None:
        while not self._closed.is_set():
            try:
                report = self._out.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            try:
                self._dispatch(report)
            except Exception:
                log.exception("handling a worker report failed")

    def _dispatch(self, report: Report) -> None:
        worker_id = getattr(report, "worker_id", None)
        if isinstance(worker_id, int):
            self._last_report[worker_id] = time.monotonic()
        super()._dispatch(report)

    def _worker_ready(self, report: WorkerReady) -> None:
        with self._lock:
            if report.worker_id in self._workers:
                self._workers[report.worker_id].ready = True
        log.info("worker %d ready (pid %d)", report.worker_id, report.pid)

    def _watch(self) -> None:
        while not self._stopping.wait(0.25):
            now = time.monotonic()
            with self._lock:
                dead = [w for w in self._workers.values() if not w.process.is_alive()]
            for w in dead:
                if self._stopping.is_set():
                    return
                if w.retry_at is None:
                    self.count_lost_frames(w.cameras)
                    w.failures = 0 if w.ready else w.failures + 1
                    w.retry_at = now + restart_delay(w.failures)
                    log.error(
                        "worker %d died (exit code %s)%s: restarting it with its %d cameras in %.1f s",
                        w.worker_id, w.process.exitcode, "" if w.ready else " before it was ready",
                        len(w.cameras), w.retry_at - now,
                    )  # fmt: skip
                if now < w.retry_at:
                    continue
                self.restarts += 1
                fresh = self._spawn(w.worker_id)
                with self._lock:
                    fresh.restarts = w.restarts + 1
                    fresh.failures = w.failures
                    fresh.cameras = set(w.cameras)
                    specs = [self._specs[c] for c in w.cameras if c in self._specs]
                for spec in specs:
                    fresh.control.put(RunCamera(spec))
