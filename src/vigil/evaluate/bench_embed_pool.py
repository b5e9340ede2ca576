"""`vigil bench embed-pool`: embedding in every camera actor against a shared pool of embedding actors.

Both ways run side by side on a private local Ray instance (``address="local"``, 2 CPUs) with the real
aligned chips of LFW faces (found and cut as in :mod:`vigil.evaluate.bench_embed`, with the configured
detector and embedder), each for a fixed time after a warm-up:

- **in each actor**: C client actors, each with its own embedder on one inference thread, embed requests
  of b chips in a loop, the way a camera actor embeds a frame's faces today;
- **pool of P**: P pool actors each hold an embedder (one thread); the C client actors send requests of b
  chips (numpy arrays through Ray) to them round-robin and wait for the vectors;
- **gathering pool**: one async pool actor gathers the requests waiting at once into one ``embed`` call
  (up to ``gather_max`` chips). A network whose ONNX file fixes the batch at one is run face by face
  inside that call, so gathering can save only the per-call overhead.

Every client counts the requests that start and end inside the common timed window (wall clock, shared
by every process of the machine) and times each one (:func:`time.perf_counter`, the call and its answer).
CPU time is read with psutil from the processes of every actor of the mode at the window's edges;
``machine_cores`` is the whole machine's busy CPU per wall second over the window (the Ray daemons, the
driver and other users' jobs included), so a disturbed run says so. Before each window client 0 embeds
every chip once through the mode's path (also a warm-up): those vectors are compared with the ones the
engine embeds in this process. Every actor is started once for the whole run (a Ray worker and its model
take seconds to start); an actor outside the mode being measured sits idle.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import psutil

from vigil.app import build_engine
from vigil.config import VigilConfig
from vigil.embed import build_face_model
from vigil.embed.base import Embedder
from vigil.errors import ConfigError
from vigil.evaluate.bench_embed import collect_faces, cut_chips
from vigil.evaluate.machine import Machine, load_average, machine_info
from vigil.types import FloatArray, Image

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Told what is being measured, and how many of all the modes are done."""

ModeKind = Literal["in-actor", "pool", "gathering"]
START_DELAY_S = 1.0  # from the order to run to the warm-up's start: every client has had it by then


@dataclass(frozen=True, slots=True)
class Mode:
    """One way of embedding: where the embedders are, and how many pool actors hold one."""

    kind: ModeKind
    pool: int = 0

    @property
    def label(self) -> str:
        if self.kind == "in-actor":
            return "in each actor"
        if self.kind == "gathering":
            return f"gathering pool of {self.pool}"
        return f"pool of {self.pool}"


@dataclass(frozen=True, slots=True)
class EmbedPoolSettings:
    """What to measure and how long.

    Attributes:
        faces: Real LFW faces whose chips are embedded (every client cycles through all of them).
        clients: Client actors (the camera actors).
        faces_per_request: Chips per request (a frame's faces).
        pools: Pool sizes to measure, each at most ``clients``.
        gather: Also measure one gathering pool actor.
        gather_max: The most chips a gathering pool actor puts in one ``embed`` call.
        seconds: The timed window of each mode.
        warmup_s: Untimed requests before the window (new sessions are slow once).
        ray_cpus: CPUs of the private Ray instance.
    """

    faces: int = 64
    clients: int = 2
    faces_per_request: int = 1
    pools: tuple[int, ...] = (1, 2)
    gather: bool = True
    gather_max: int = 8
    seconds: float = 10.0
    warmup_s: float = 2.0
    ray_cpus: int = 2

    def __post_init__(self) -> None:
        counts = {
            "faces": self.faces,
            "clients": self.clients,
            "faces_per_request": self.faces_per_request,
            "gather_max": self.gather_max,
            "ray_cpus": self.ray_cpus,
        }
        for name, value in counts.items():
            if value < 1:
                raise ConfigError(f"bench embed-pool: {name} must be at least 1, not {value}")
        if any(p < 1 or p > self.clients for p in self.pools):
            raise ConfigError(f"bench embed-pool: pool sizes must be 1 to {self.clients} (the clients)")
        if self.seconds <= 0 or self.warmup_s < 0:
            raise ConfigError("bench embed-pool: seconds must be positive and warmup_s not negative")

    @property
    def modes(self) -> tuple[Mode, ...]:
        pools = tuple(Mode("pool", p) for p in dict.fromkeys(self.pools))
        return (Mode("in-actor"), *pools, *((Mode("gathering", 1),) if self.gather else ()))


@dataclass(frozen=True, slots=True)
class ClientRun:
    """What one client did in the timed window: faces embedded and each request's latency (ms)."""

    faces: int
    latency_ms: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ModeResult:
    """One mode's figures over the timed window.

    Attributes:
        mode: The mode.
        faces: Faces embedded by every client together.
        requests: Requests answered.
        seconds: The window.
        actor_cpu_s: CPU seconds of the mode's actor processes (clients and pool).
        machine_cores: Busy CPU of the whole machine per wall second.
        latency_ms: Per-request latency, every client's requests together.
        probe: Client 0's vectors of every chip (in order), embedded through the mode's path.
        probe_diff: The largest absolute difference between ``probe`` and the in-process vectors.
        batches: Calls to ``embed`` a gathering pool made (0 for the other modes) and...
        batched_chips: ...the chips in them.
    """

    mode: Mode
    faces: int
    requests: int
    seconds: float
    actor_cpu_s: float
    machine_cores: float
    latency_ms: tuple[float, ...]
    probe: FloatArray = field(repr=False)
    probe_diff: float
    batches: int = 0
    batched_chips: int = 0

    @property
    def faces_per_s(self) -> float:
        return self.faces / self.seconds

    @property
    def cpu_ms_per_face(self) -> float:
        return 1000 * self.actor_cpu_s / max(self.faces, 1)

    def latency(self, q: float) -> float:
        return float(np.percentile(self.latency_ms, q)) if self.latency_ms else float("nan")

    def as_json(self) -> dict[str, object]:
        return {
            "mode": self.mode.kind,
            "label": self.mode.label,
            "pool_actors": self.mode.pool,
            "faces": self.faces,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "faces_per_s": round(self.faces_per_s, 2),
            "cpu_ms_per_face": round(self.cpu_ms_per_face, 3),
            "actor_cores": round(self.actor_cpu_s / self.seconds, 3),
            "machine_cores": round(self.machine_cores, 3),
            "latency_ms": {"p50": round(self.latency(50), 3), "p99": round(self.latency(99), 3)},
            "probe_max_abs_diff": float(f"{self.probe_diff:.3g}"),
            "gathered": {"batches": self.batches, "chips": self.batched_chips},
        }


@dataclass(frozen=True, slots=True)
class EmbedPoolResult:
    """Every mode of one run, with the model, the machine and its load."""

    settings: EmbedPoolSettings
    model_id: str
    detector: str
    photos: tuple[str, ...]
    modes: tuple[ModeResult, ...]
    machine: Machine
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    def best(self) -> ModeResult:
        return max(self.modes, key=lambda m: m.faces_per_s)

    def as_json(self) -> dict[str, object]:
        s = self.settings
        return {
            "faces": s.faces,
            "clients": s.clients,
            "faces_per_request": s.faces_per_request,
            "seconds": s.seconds,
            "warmup_s": s.warmup_s,
            "gather_max": s.gather_max,
            "ray_cpus": s.ray_cpus,
            "model_id": self.model_id,
            "detector": self.detector,
            "photos": list(self.photos),
            "machine": self.machine.as_json(),
            "load_before": list(self.load_before),
            "load_after": list(self.load_after),
            "best": self.best().mode.label,
            "modes": [m.as_json() for m in self.modes],
        }


def _embedder(config: VigilConfig, detector: str) -> Embedder:
    return build_face_model(config.embed, config.model_dir, detector, 1).embedder


class PoolEmbedder:
    """A pool actor: one embedder on one inference thread, one request at a time."""

    def __init__(self, config: VigilConfig, detector: str) -> None:
        self._embedder = _embedder(config, detector)

    def pid(self) -> int:
        return os.getpid()

    def embed(self, chips: Sequence[Image]) -> FloatArray:
        return self._embedder.embed(chips).vectors


class GatheringEmbedder:
    """An async pool actor: the requests waiting at once go to the embedder in one call (up to
    ``max_chips``), on one thread beside the event loop, which keeps taking requests meanwhile."""

    def __init__(self, config: VigilConfig, detector: str, max_chips: int) -> None:
        self._embedder = _embedder(config, detector)
        self._max = max_chips
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vigil-embed")
        self._queue: asyncio.Queue[tuple[Sequence[Image], asyncio.Future[FloatArray]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._batches = 0
        self._chips = 0

    def pid(self) -> int:
        return os.getpid()

    def gathered(self) -> tuple[int, int]:
        """Calls to ``embed`` so far, and chips in them."""
        return self._batches, self._chips

    async def embed(self, chips: Sequence[Image]) -> FloatArray:
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._gather(self._queue))
        answer: asyncio.Future[FloatArray] = loop.create_future()
        await self._queue.put((chips, answer))
        return await answer

    async def _gather(
        self, waiting: asyncio.Queue[tuple[Sequence[Image], asyncio.Future[FloatArray]]]
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await waiting.get()]
            count = len(batch[0][0])
            while count < self._max and not waiting.empty():
                batch.append(waiting.get_nowait())
                count += len(batch[-1][0])
            chips = [chip for request, _ in batch for chip in request]
            try:
                vectors = await loop.run_in_executor(self._pool, self._embed, chips)
            except Exception as exc:  # each request gets the error; the loop goes on
                for _, answer in batch:
                    answer.set_exception(exc)
                continue
            self._batches += 1
            self._chips += len(chips)
            start = 0
            for request, answer in batch:
                answer.set_result(vectors[start : start + len(request)])
                start += len(request)

    def _embed(self, chips: Sequence[Image]) -> FloatArray:
        return self._embedder.embed(chips).vectors


class EmbedClient:
    """A client actor (a camera actor's embedding): requests of ``per_request`` chips in a loop, embedded
    by its own embedder (no pool actors given) or by the pool actors given, round-robin."""

    def __init__(
        self, index: int, chips: list[Image], per_request: int, config: VigilConfig, detector: str
    ) -> None:
        self._index = index
        self._chips = chips
        self._per = per_request
        self._embedder = _embedder(config, detector)

    def pid(self) -> int:
        return os.getpid()

    def _request(self, k: int) -> list[Image]:
        n = len(self._chips)
        return [self._chips[(k * self._per + j) % n] for j in range(self._per)]

    def _embed(self, chips: list[Image], k: int, pool: list[Any]) -> FloatArray:
        if not pool:
            return self._embedder.embed(chips).vectors
        import ray  # noqa: PLC0415 (the optional extra vigil[cluster], present in the actor's process)

        vectors: FloatArray = ray.get(pool[(self._index + k) % len(pool)].embed.remote(chips))
        return vectors

    def probe(self, pool: list[Any]) -> FloatArray:
        """Every chip once, in order, in requests of ``per_request`` chips."""
        groups = [self._chips[i : i + self._per] for i in range(0, len(self._chips), self._per)]
        return np.concatenate([self._embed(g, k, pool) for k, g in enumerate(groups)])

    def run(self, start_at: float, end_at: float, pool: list[Any]) -> ClientRun:
        """Requests until ``end_at`` (wall clock); those that start at ``start_at`` or later are counted."""
        latency: list[float] = []
        faces = 0
        k = self._index * max(1, len(self._chips) // (2 * self._per))  # clients start at different faces
        while time.time() < end_at:
            chips = self._request(k)
            counted = time.time() >= start_at
            t0 = time.perf_counter()
            self._embed(chips, k, pool)
            ms = 1000 * (time.perf_counter() - t0)
            if counted and time.time() <= end_at:
                latency.append(ms)
                faces += len(chips)
            k += 1
        return ClientRun(faces, tuple(latency))


def _cpu_s(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _machine_busy_s() -> float:
    t = psutil.cpu_times()
    return float(sum(t)) - t.idle - getattr(t, "iowait", 0.0)


def _sleep_until(wall: float) -> None:
    time.sleep(max(0.0, wall - time.time()))


@dataclass(frozen=True, slots=True)
class _Job:
    """What every mode shares: the Ray module, the config, the chips (in Ray's store) and their vectors
    embedded in this process."""

    ray: Any
    config: VigilConfig
    detector: str
    chips: Any
    reference: FloatArray
    settings: EmbedPoolSettings


@dataclass(frozen=True, slots=True)
class _Actors:
    """Every actor of a run, started once (starting a Ray worker and loading a model takes seconds): the
    clients, the largest pool asked and the gathering actor. An actor that is not in a mode sits idle."""

    clients: list[Any]
    pool: list[Any]
    gathering: list[Any]

    def of(self, mode: Mode) -> list[Any]:
        """The pool actors a mode's clients send to (none: each embeds its own)."""
        if mode.kind == "pool":
            return self.pool[: mode.pool]
        return self.gathering if mode.kind == "gathering" else []

    def all(self) -> list[Any]:
        return [*self.clients, *self.pool, *self.gathering]


def _start_actors(job: _Job) -> _Actors:
    """No CPU is reserved for the actors: they share the instance's CPUs as the camera actors would."""
    ray, config, detector, s = job.ray, job.config, job.detector, job.settings
    sizes = [m.pool for m in s.modes if m.kind == "pool"]
    pool = ray.remote(PoolEmbedder).options(num_cpus=0)
    gathering = ray.remote(GatheringEmbedder).options(num_cpus=0, max_concurrency=4 * s.clients)
    client = ray.remote(EmbedClient).options(num_cpus=0)
    return _Actors(
        clients=[
            client.remote(i, job.chips, s.faces_per_request, config, detector) for i in range(s.clients)
        ],
        pool=[pool.remote(config, detector) for _ in range(max(sizes, default=0))],
        gathering=[gathering.remote(config, detector, s.gather_max)] if s.gather else [],
    )


def _run_mode(job: _Job, actors: _Actors, pids: dict[int, int], mode: Mode) -> ModeResult:
    """One mode's timed window; ``pids`` maps the position of every actor in ``actors.all()`` to its
    process."""
    ray, settings = job.ray, job.settings
    pool = actors.of(mode)
    mine = [*actors.clients, *pool]
    procs = [pids[i] for i, a in enumerate(actors.all()) if any(a is m for m in mine)]
    probe: FloatArray = ray.get(actors.clients[0].probe.remote(pool))
    before = ray.get(pool[0].gathered.remote()) if mode.kind == "gathering" else (0, 0)
    start_at = time.time() + START_DELAY_S + settings.warmup_s
    end_at = start_at + settings.seconds
    running = [c.run.remote(start_at, end_at, pool) for c in actors.clients]
    _sleep_until(start_at)
    cpu0, busy0, wall0 = _cpu_s(procs), _machine_busy_s(), time.time()
    _sleep_until(end_at)
    cpu1, busy1, wall1 = _cpu_s(procs), _machine_busy_s(), time.time()
    runs: list[ClientRun] = ray.get(running, timeout=60 + settings.seconds)
    after = ray.get(pool[0].gathered.remote()) if mode.kind == "gathering" else (0, 0)
    same_shape = probe.shape == job.reference.shape
    return ModeResult(
        mode=mode,
        faces=sum(r.faces for r in runs),
        requests=sum(len(r.latency_ms) for r in runs),
        seconds=settings.seconds,
        actor_cpu_s=cpu1 - cpu0,
        machine_cores=(busy1 - busy0) / max(wall1 - wall0, 1e-9),
        latency_ms=tuple(ms for r in runs for ms in r.latency_ms),
        probe=probe,
        probe_diff=float(np.max(np.abs(probe - job.reference))) if same_shape else float("inf"),
        batches=after[0] - before[0],
        batched_chips=after[1] - before[1],
    )


def _run_modes(job: _Job, tell: Callable[[str, int], None]) -> list[ModeResult]:
    ray, settings = job.ray, job.settings
    actors = _start_actors(job)
    try:
        tell("loading the models in every actor", 1)
        pids = dict(enumerate(ray.get([a.pid.remote() for a in actors.all()])))
        results: list[ModeResult] = []
        for k, mode in enumerate(settings.modes):
            tell(f"{mode.label}: {settings.warmup_s:g} s warm-up, {settings.seconds:g} s timed", 2 + k)
            results.append(_run_mode(job, actors, pids, mode))
            log.info("bench embed-pool: %s %.1f faces/s", mode.label, results[-1].faces_per_s)
        return results
    finally:
        for actor in actors.all():
            ray.kill(actor, no_restart=True)


def _private_ray(cpus: int) -> Any:
    try:
        import ray  # noqa: PLC0415 (the optional extra vigil[cluster])
    except ImportError as exc:
        raise ConfigError("bench embed-pool needs Ray: pip install 'vigil[cluster]'") from exc
    if ray.is_initialized():
        raise ConfigError("bench embed-pool starts its own Ray instance: this process has joined one already")
    # address="local": a private instance, whatever other Ray clusters run on this machine
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    return ray


def run_bench_embed_pool(
    config: VigilConfig, images: Path, settings: EmbedPoolSettings, progress: Progress | None = None
) -> EmbedPoolResult:
    """Find ``settings.faces`` faces in the LFW ``images`` folder, cut the configured embedder's chips,
    then measure every mode of ``settings`` on a private Ray instance (started and shut down here).

    Raises:
        BadInput: the LFW folder is missing or has too few faces.
        ConfigError: Ray is not installed, or this process is already a Ray driver.
        ModelError: the embedder's model file is missing.
    """
    load_before = load_average()
    steps = len(settings.modes) + 2

    def tell(what: str, done: int) -> None:
        if progress is not None:
            progress(what, done, steps)

    tell(f"finding {settings.faces} faces", 0)
    engine = build_engine(config)
    faces = collect_faces(engine.detector, images, settings.faces, config.ingest)
    chips = cut_chips(engine.face_model, faces)
    reference = engine.embedder.embed(chips).vectors
    tell("starting Ray", 1)
    ray = _private_ray(settings.ray_cpus)
    try:
        results = _run_modes(_Job(ray, config, faces.detector, ray.put(chips), reference, settings), tell)
    finally:
        ray.shutdown()
    tell("done", steps)
    return EmbedPoolResult(
        settings=settings,
        model_id=engine.model_id,
        detector=faces.detector,
        photos=faces.photos,
        modes=tuple(results),
        machine=machine_info(),
        load_before=load_before,
        load_after=load_average(),
    )
