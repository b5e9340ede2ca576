"""A camera actor: the same camera worker loop as a local worker process, hosted by a Ray actor.

The actor builds its worker (models, store) with the factory the composition root gives it, runs the
worker's loop in a thread, and talks to the supervisor through its methods: orders go in with
:meth:`CameraActor.order`, reports come out with :meth:`CameraActor.drain`. Each start of the actor's
process has its own ``incarnation``: when Ray starts a dead actor again (``max_restarts``), the supervisor
sees a new incarnation and gives it back its cameras.

This module does not import Ray: the supervisor wraps :class:`CameraActor` with ``ray.remote``.
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

from vigil.config import VigilConfig
from vigil.runtime.messages import Control, Report, Shutdown
from vigil.runtime.worker import CameraWorker, ControlInbox, ReportSink

log = logging.getLogger(__name__)

DRAIN_LIMIT = 2000  # reports per drain call: bounds one answer's size

ActorWorkerFactory = Callable[[int, VigilConfig, int, ControlInbox, ReportSink], CameraWorker]
"""Builds a camera worker (index, config, inference threads, inbox, report sink)."""


@dataclass(frozen=True, slots=True)
class ActorHello:
    """Who and where an actor is (its answer once its models are loaded)."""

    index: int
    incarnation: str
    node_id: str
    node_address: str
    pid: int


@dataclass(frozen=True, slots=True)
class Drained:
    incarnation: str
    reports: tuple[Report, ...]
    running: bool  # its worker loop still runs


class CameraActor:
    def __init__(self, index: int, config: VigilConfig, threads: int, build: ActorWorkerFactory) -> None:
        import ray  # noqa: PLC0415 (an optional extra, present in the actor's process)

        logging.basicConfig(
            level=logging.INFO, format=f"%(asctime)s actor-{index} %(levelname)s %(name)s: %(message)s"
        )
        self._index = index
        self._incarnation = uuid.uuid4().hex[:12]
        self._control: queue.Queue[Control] = queue.Queue()
        self._out: queue.Queue[Report] = queue.Queue()
        self._node_id = ray.get_runtime_context().get_node_id()
        self._address: str = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
        worker = build(index, config, threads, self._control, self._out)
        self._thread = threading.Thread(target=self._run, args=(worker,), name="vigil-camera", daemon=True)
        self._thread.start()

    @staticmethod
    def _run(worker: CameraWorker) -> None:
        try:
            worker.run()
        except BaseException:  # a bug: die, so that Ray starts the actor again and it gets its cameras back
            log.exception("the camera worker failed: the actor exits")
            os._exit(1)

    def hello(self) -> ActorHello:
        return ActorHello(self._index, self._incarnation, self._node_id, self._address, os.getpid())

    def order(self, message: Control) -> str:
        self._control.put(message)
        return self._incarnation

    def drain(self, wait_s: float = 0.0, linger_s: float = 0.0) -> Drained:
        """The reports waiting (at most ``DRAIN_LIMIT``).

        A long poll, so that the supervisor asks once per batch of reports rather than on a clock: with
        ``wait_s`` the call waits up to that long for a first report (returning none when none came), then
        up to ``linger_s`` more for the reports that follow it (one frame's events, the next frames').
        The actor runs its methods on several threads, so orders and ``hello`` are served meanwhile.
        """
        reports: list[Report] = []
        if wait_s > 0:
            try:
                reports.append(self._out.get(timeout=wait_s))
            except queue.Empty:
                return Drained(self._incarnation, (), self._thread.is_alive())
            if linger_s > 0:
                time.sleep(linger_s)
        while len(reports) < DRAIN_LIMIT:
            try:
                reports.append(self._out.get_nowait())
            except queue.Empty:
                break
        return Drained(self._incarnation, tuple(reports), self._thread.is_alive())

    def shutdown(self, timeout_s: float) -> Drained:
        """Stop every camera (their tracks end and are reported) and return what is left to report."""
        self._control.put(Shutdown())
        self._thread.join(timeout_s)
        return self.drain()
