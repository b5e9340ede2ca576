"""The cluster runtime: cameras on camera actors spread over a Ray cluster's nodes.

The same camera worker loop as the local runtime (:mod:`vigil.runtime.worker`), hosted by
:class:`vigil.runtime.ray_actor.CameraActor`. Each live node gets ``runtime.ray.actors_per_node`` actors
(one per CPU by default), pinned to it; a camera goes to the least busy ready actor (the node it ran on
before first, from its placement in the database). One thread here keeps one ``drain`` call in flight per
actor, hands the reports to the service, and watches:

- an actor whose process died is started again by Ray (``max_restarts``): it answers with a new
  incarnation and is given its cameras back;
- an actor that does not answer for ``lost_after_s`` (its node is gone, or Ray gave up restarting it) is
  killed for good, its node set aside for a while, and its cameras start on the other actors. Frames it
  held are dropped (counted in ``frames_lost``); events are recorded whole or not at all;
- a node that joins gets actors, and cameras are moved to them only as far as evening the load needs.
"""

from __future__ import annotations

import logging
import platform
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vigil.config import RayConfig, VigilConfig
from vigil.errors import ConfigError, VigilError
from vigil.runtime.book import CameraRuntime, Placement, WorkerView
from vigil.runtime.messages import CameraSpec, RunCamera, StopCamera
from vigil.runtime.placement import least_loaded, rebalance
from vigil.runtime.ray_actor import ActorHello, ActorWorkerFactory, CameraActor, Drained

log = logging.getLogger(__name__)

DRAIN_WAIT_S = 1.0  # an actor's drain waits this long for a first report (a long poll, not a clock)
DRAIN_LINGER_S = 0.05  # then this long for the reports after it: the most a report waits in an actor
TICK_S = 0.25  # the loop's longest wait for answers, between its checks on nodes and lost actors
ACTOR_THREADS = 4  # an actor serves orders and hello while its drain waits
NODES_EVERY_S = 2.0  # how often the cluster's node list is read (joins, deaths)
SET_ASIDE_S = 30.0  # a node whose actor was lost gets no new actor this long (unless Ray says it is back)
READY_GRACE_S = 180.0  # an actor loading its models is not "lost" before this
STOP_WAIT_S = 10.0


class ClusterUnavailable(VigilError):
    """The Ray cluster cannot be reached, or speaks another Ray version."""


def connect(settings: RayConfig) -> Any:
    """Join the cluster named by ``runtime.ray.address`` as a driver; returns the ``ray`` module.

    Raises:
        ConfigError: Ray is not installed.
        ClusterUnavailable: nothing answers at the address, or the cluster runs another Ray or Python.
    """
    try:
        import ray  # noqa: PLC0415 (the optional extra vigil[cluster])
    except ImportError as exc:
        raise ConfigError(
            "runtime.type is ray, but Ray is not installed: pip install 'vigil[cluster]'"
        ) from exc
    if ray.is_initialized():  # joined already (this process's camera runtime)
        return ray
    address = settings.address
    if not address.startswith("ray://") and address != "auto":
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host or address, int(port or 6379)), settings.connect_timeout_s):
                pass
        except (OSError, ValueError) as exc:
            raise ClusterUnavailable(
                f"runtime.ray.address {address}: no Ray cluster answers there ({exc}); start one with "
                "`ray start --head` or correct the address"
            ) from exc
    try:
        ray.init(
            address=address, namespace=settings.namespace, log_to_driver=False, logging_level=logging.WARNING
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        text = str(exc)
        if "version" in text.lower() and "mismatch" in text.lower():
            raise ClusterUnavailable(_version_mismatch(address, ray.__version__, text)) from exc
        raise ClusterUnavailable(
            f"runtime.ray.address {address}: cannot join the Ray cluster: {text}"
        ) from exc
    return ray


def _version_mismatch(address: str, ours: str, text: str) -> str:
    """One line naming both sides' Ray and Python, from Ray's several-line refusal."""
    versions = re.findall(r"Ray: (\S+)\s+Python: (\S+)", text)
    here = f"Ray {ours} on Python {platform.python_version()}"
    if not versions:
        return f"runtime.ray.address {address}: Ray version mismatch: this machine has {here}; " + " ".join(
            text.split()
        )
    ray_there, python_there = versions[0]
    return (
        f"runtime.ray.address {address}: Ray version mismatch: this machine has {here}, the cluster "
        f"Ray {ray_there} on Python {python_there}; run the same Ray and Python on both "
        f"(pip install 'ray=={ray_there}', or upgrade the cluster)"
    )


@dataclass
class _Actor:
    name: str
    index: int
    node_id: str
    handle: Any
    created_at: float
    cameras: set[int] = field(default_factory=set)
    hello: ActorHello | None = None
    hello_ref: Any = None
    drain_ref: Any = None
    answered_at: float = 0.0
    last_report_at: float | None = None
    restarts: int = 0

    @property
    def ready(self) -> bool:
        return self.hello is not None

    @property
    def address(self) -> str:
        return self.hello.node_address if self.hello else ""


class RaySupervisor(CameraRuntime):
    """Runs cameras on camera actors over a Ray cluster (joined with :func:`connect`)."""

    def __init__(
        self,
        config: VigilConfig,
        ray: Any,
        build: ActorWorkerFactory,
        previous: Mapping[int, Placement] | None = None,
    ) -> None:
        super().__init__()
        self._config = config
        self._settings = config.runtime.ray
        self._ray = ray
        self._build = build
        self._previous = dict(previous or {})  # where cameras ran before this start (the database)
        self._remote = ray.remote(CameraActor)
        self._actors: dict[str, _Actor] = {}
        self._unplaced: set[int] = set()
        self._set_aside: dict[str, float] = {}
        self._next_index = 0
        self._nodes_at = 0.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def kind(self) -> str:
        return "ray"

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._refresh_nodes(time.monotonic())
        self._thread = threading.Thread(target=self._loop, name="vigil-ray-supervisor", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._actors and all(a.ready for a in self._actors.values()):
                    return True
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Stop every camera (their last events are still recorded), then the actors."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5.0)
        with self._lock:
            actors = list(self._actors.values())
            self._actors.clear()
        # A long poll in flight holds the reports before the shutdown's: they are handled first.
        refs = {a.drain_ref: a for a in actors if a.drain_ref is not None}
        refs |= {a.handle.shutdown.remote(timeout / 2): a for a in actors if a.ready}
        try:
            done, _ = self._ray.wait(list(refs), num_returns=len(refs), timeout=timeout)
        except Exception:
            done = []
        answered = set(done)
        for ref in (r for r in refs if r in answered):
            try:
                drained: Drained = self._ray.get(ref)
            except Exception:
                continue
            for report in drained.reports:
                self._safe_dispatch(report)
        for a in actors:
            self._kill(a)

    # --- cameras -----------------------------------------------------------------------------------

    def run(self, spec: CameraSpec) -> None:
        with self._lock:
            self._remove_locked(spec.camera_id)
            self._specs[spec.camera_id] = spec
            self._place(spec.camera_id)

    def remove(self, camera_id: int) -> None:
        with self._lock:
            self._remove_locked(camera_id)
        self._forget(camera_id)

    def _remove_locked(self, camera_id: int) -> None:
        self._unplaced.discard(camera_id)
        for a in self._actors.values():
            if camera_id in a.cameras:
                a.cameras.discard(camera_id)
                a.handle.order.remote(StopCamera(camera_id))

    def workers(self) -> list[WorkerView]:
        now = time.monotonic()
        with self._lock:
            views = []
            for a in sorted(self._actors.values(), key=lambda a: a.name):
                lag = None if a.last_report_at is None else now - a.last_report_at
                cameras = tuple(sorted(a.cameras))
                views.append(WorkerView(a.name, a.node_id, a.address, a.ready, cameras, a.restarts, lag))
            return views

    def unplaced(self) -> set[int]:
        """Cameras waiting for a ready actor (none is ready, or every node is gone)."""
        with self._lock:
            return set(self._unplaced)

    # --- placement (under the lock) ----------------------------------------------------------------

    def _ready(self) -> dict[str, _Actor]:
        return {n: a for n, a in self._actors.items() if a.ready}

    def _place(self, camera_id: int) -> None:
        spec = self._specs.get(camera_id)
        if spec is None:
            return
        ready = self._ready()
        before = self._previous.get(camera_id)
        prefer = [n for n, a in ready.items() if before is not None and a.node_id == before.node_id]
        if before is not None and before.actor in ready:
            prefer.insert(0, before.actor)
        name = least_loaded({n: len(a.cameras) for n, a in ready.items()}, prefer)
        if name is None:
            self._unplaced.add(camera_id)
            return
        self._unplaced.discard(camera_id)
        actor = ready[name]
        actor.cameras.add(camera_id)
        actor.handle.order.remote(RunCamera(spec))
        self._placed(camera_id, Placement(actor.node_id, actor.address, actor.name))

    def _rebalance(self) -> None:
        ready = self._ready()
        for camera_id, src, dst in rebalance({n: sorted(a.cameras) for n, a in ready.items()}):
            ready[src].cameras.discard(camera_id)
            ready[src].handle.order.remote(StopCamera(camera_id))
            spec = self._specs[camera_id]
            ready[dst].cameras.add(camera_id)
            ready[dst].handle.order.remote(RunCamera(spec))
            self.moves += 1
            log.info("camera %s moved from %s to %s (balancing)", spec.name, src, dst)
            self._placed(camera_id, Placement(ready[dst].node_id, ready[dst].address, dst))

    # --- the loop ----------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._tick()
            except Exception:
                log.exception("the cluster supervisor's loop failed; going on")
                time.sleep(0.5)

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._nodes_at >= NODES_EVERY_S:
            self._refresh_nodes(now)
        with self._lock:
            waiting = {}
            for a in self._actors.values():
                if a.hello_ref is None and a.hello is None:
                    a.hello_ref = a.handle.hello.remote()
                if a.hello_ref is not None:
                    waiting[a.hello_ref] = a
                elif a.drain_ref is None:
                    a.drain_ref = a.handle.drain.remote(DRAIN_WAIT_S, DRAIN_LINGER_S)
                if a.drain_ref is not None:
                    waiting[a.drain_ref] = a
        if not waiting:
            self._stopping.wait(TICK_S)
            return
        refs = list(waiting)
        done, rest = self._ray.wait(refs, num_returns=1, timeout=TICK_S)
        if done and rest:  # the others that answered meanwhile
            done += self._ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        for ref in done:
            self._answered(waiting[ref], ref)
        self._check_lost(time.monotonic())

    def _answered(self, actor: _Actor, ref: Any) -> None:
        now = time.monotonic()
        is_hello = ref is actor.hello_ref
        if is_hello:
            actor.hello_ref = None
        else:
            actor.drain_ref = None
        try:
            answer = self._ray.get(ref)
        except Exception as exc:  # the actor is restarting, or dead: _check_lost decides
            log.debug("actor %s did not answer: %s", actor.name, exc)
            if is_hello and actor.hello is None:
                time.sleep(0.2)
            return
        with self._lock:
            if self._actors.get(actor.name) is not actor:
                return  # given up meanwhile: its late reports are not recorded
            actor.answered_at = now
            if isinstance(answer, ActorHello):
                actor.hello = answer
                log.info(
                    "camera actor %s ready on node %s (%s, pid %d)",
                    actor.name, answer.node_id[:12], answer.node_address, answer.pid,
                )  # fmt: skip
                for cid in sorted(self._unplaced):
                    self._place(cid)
                self._rebalance()
                return
        assert isinstance(answer, Drained)
        if actor.hello is not None and answer.incarnation != actor.hello.incarnation:
            self._restarted(actor, answer.incarnation)
        if answer.reports:
            actor.last_report_at = now
        for report in answer.reports:
            self._safe_dispatch(report)

    def _restarted(self, actor: _Actor, incarnation: str) -> None:
        """Ray started the actor's process again: it has no cameras; give them back."""
        self.restarts += 1
        with self._lock:
            actor.restarts += 1
            assert actor.hello is not None
            actor.hello = ActorHello(
                actor.hello.index, incarnation, actor.hello.node_id, actor.hello.node_address, actor.hello.pid
            )
            specs = [self._specs[c] for c in sorted(actor.cameras) if c in self._specs]
        log.warning(
            "camera actor %s was restarted by Ray: giving it back its %d cameras", actor.name, len(specs)
        )
        for spec in specs:
            actor.handle.order.remote(RunCamera(spec))

    def _check_lost(self, now: float) -> None:
        lost = []
        with self._lock:
            for a in self._actors.values():
                grace = self._settings.lost_after_s if a.ready else READY_GRACE_S
                if now - max(a.answered_at, a.created_at) > grace:
                    lost.append(a)
        for a in lost:
            self._lose(a, f"no answer for {now - max(a.answered_at, a.created_at):.1f} s")

    def _lose(self, actor: _Actor, why: str) -> None:
        with self._lock:
            if self._actors.pop(actor.name, None) is None:
                return
            self.restarts += 1
            self._set_aside[actor.node_id] = time.monotonic() + SET_ASIDE_S
            cameras = sorted(actor.cameras)
            self.count_lost_frames(cameras)
            log.error(
                "camera actor %s on node %s lost (%s): its %d cameras start elsewhere",
                actor.name, actor.node_id[:12], why, len(cameras),
            )  # fmt: skip
            for cid in cameras:
                self.moves += 1
                self._place(cid)
        self._kill(actor)

    def _kill(self, actor: _Actor) -> None:
        try:
            self._ray.kill(actor.handle, no_restart=True)
        except Exception:  # already gone
            log.debug("actor %s already gone", actor.name)

    def _refresh_nodes(self, now: float) -> None:
        self._nodes_at = now
        try:
            nodes = self._ray.nodes()
        except Exception:
            log.exception("could not read the cluster's nodes")
            return
        alive = {n["NodeID"]: n for n in nodes if n.get("Alive")}
        dead = {n["NodeID"] for n in nodes if not n.get("Alive")}
        with self._lock:
            for a in [a for a in self._actors.values() if a.node_id in dead]:
                self._lose(a, "Ray reports its node dead")
            for node_id in [n for n, until in self._set_aside.items() if until < now or n in dead]:
                self._set_aside.pop(node_id)
            for node_id, node in alive.items():
                if node_id in self._set_aside:
                    continue
                cpus = float(node.get("Resources", {}).get("CPU", 0.0))
                want = self._settings.actors_per_node or int(cpus)
                if want < 1 or cpus <= 0:
                    continue
                have = [a for a in self._actors.values() if a.node_id == node_id]
                for slot in range(len(have), want):
                    self._create(node_id, slot, cpus / want, threads=max(1, int(cpus) // want))

    def _create(self, node_id: str, slot: int, cpus: float, threads: int) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # noqa: PLC0415

        index = self._next_index
        self._next_index += 1
        name = f"cam-{node_id[:8]}-{slot}"
        handle = self._remote.options(
            num_cpus=cpus,
            max_restarts=self._settings.max_restarts,
            max_task_retries=0,
            max_concurrency=ACTOR_THREADS,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        ).remote(index, self._config, threads, self._build)
        self._actors[name] = _Actor(name, index, node_id, handle, time.monotonic())
        log.info("camera actor %s starting on node %s", name, node_id[:12])

    def _safe_dispatch(self, report: Any) -> None:
        try:
            self._dispatch(report)
        except Exception:
            log.exception("handling a camera actor's report failed")
