"""`vigil bench live --runtime ray`: the live capacity on 1, 2 and 3 Ray nodes against the local runtime.

For each node count k a Ray cluster of k nodes of one CPU each is started on this machine (Ray's own
cluster utilities: a head and k - 1 worker nodes, all children of this process), and the capacity search
of :mod:`vigil.evaluate.bench_live` runs over it (``runtime.type: ray``: one camera actor per node, one
inference thread each); the cluster is shut down, and the same search runs on the local runtime with k
worker processes. Every N is the same as in ``vigil bench live``: a fresh ``vigil serve`` in this
process, on SQLite in a copy of the template data dir (the actors open the same file: they run on this
machine), the Hamilton clip over RTSP, the same warm-up, window and pass rule.

CPU is the whole process tree's: the service, the worker processes or camera actors, and for Ray its own
processes (GCS, raylets, agents, idle workers: :class:`~vigil.evaluate.live_probes.ProcessTree` tells
them apart). Two overheads are reported. The overhead at N is Ray's CPU per processed frame over the local
runtime's, minus one, at the smallest N both runtimes passed (both keep every camera at its rate there, so
a processed frame costs the same work; at saturation the cost of decoding frames later dropped is spread
over fewer processed ones): it holds each runtime's fixed costs too, divided over N cameras. The overhead
per camera sets those apart: each runtime's CPU over the N both passed is fitted as a line, fixed cores +
ms per processed frame × frames/s (:func:`fit_cpu_line`), and the overhead per camera is the ratio of the
two slopes, minus one: what one more camera costs on Ray over what it costs locally.

Example:
    >>> setup = LiveBenchSetup(cfg, template, work, LiveBenchSettings())  # doctest: +SKIP
    >>> result = bench_runtimes(setup, clip, (640, 360), [4, 8, 12], nodes=(1, 2, 3))  # doctest: +SKIP
    >>> [c.overhead for c in result.comparisons]  # doctest: +SKIP
    [0.04, 0.06, 0.11]
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vigil.config import VigilConfig
from vigil.evaluate.bench_live import MOUNT, LiveBenchSetup, ProgressFn, clip_seconds, run_point
from vigil.evaluate.bench_live_results import LiveBenchSettings, PointResult
from vigil.evaluate.capacity_search import capacity, next_cameras
from vigil.evaluate.machine import Machine
from vigil.evaluate.ray_local import local_cluster
from vigil.evaluate.rtsp_server import RtspServer

Runtime = Literal["local", "ray"]
DEFAULT_NODES: tuple[int, ...] = (1, 2, 3)
LOST_AFTER_S = 20.0
"""``runtime.ray.lost_after_s`` in the bench: an actor slow to answer on oversubscribed cores is not
given up (this bench measures the runtime's cost, not its fail-over)."""


# --- results --------------------------------------------------------------------------------------


def cpu_ms_per_frame(p: PointResult, cores: int | None = None) -> float | None:
    """CPU milliseconds of the service's whole tree (Ray's processes included) per processed frame."""
    frames = sum(c.frames_processed for c in p.per_camera)
    if frames == 0:
        return None
    cpu_s = p.usage.tree_cpu_pct / 100.0 * (cores or os.cpu_count() or 1) * p.window_s
    return 1000.0 * cpu_s / frames


@dataclass(frozen=True, slots=True)
class CpuLine:
    """A runtime's CPU as a straight line in the frames it processes: ``fixed_cores`` (what it costs with
    no camera: the service, and for Ray its driver, raylets, GCS and agents) plus ``ms_per_frame`` for each
    frame processed (what each added camera costs). Fitted by least squares over the passing points."""

    fixed_cores: float
    ms_per_frame: float
    points: int


FULL_RATE = 0.95  # a camera at >= 95% of the best frame rate seen is taken as running at its full rate


def fit_cpu_line(samples: Sequence[tuple[float, float]]) -> CpuLine | None:
    """The least-squares line through ``(frames processed per s, CPU cores busy)`` samples; None with fewer
    than two distinct frame rates (a line needs two)."""
    if len({round(f, 6) for f, _ in samples}) < 2:
        return None
    n = len(samples)
    mean_f = sum(f for f, _ in samples) / n
    mean_c = sum(c for _, c in samples) / n
    var = sum((f - mean_f) ** 2 for f, _ in samples)
    slope = sum((f - mean_f) * (c - mean_c) for f, c in samples) / var
    return CpuLine(fixed_cores=mean_c - slope * mean_f, ms_per_frame=1000.0 * slope, points=n)


def cpu_sample(p: PointResult, cores: int | None = None) -> tuple[float, float] | None:
    """``(frames processed per s, CPU cores busy)`` of the service's whole tree over a point's window."""
    frames = sum(c.frames_processed for c in p.per_camera)
    if frames == 0 or p.window_s <= 0:
        return None
    return frames / p.window_s, p.usage.tree_cpu_pct / 100.0 * (cores or os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class RuntimeSearch:
    """One runtime's capacity search at one node count.

    Attributes:
        runtime: ``local`` (worker processes) or ``ray`` (camera actors).
        nodes: Ray nodes of one CPU, or for ``local`` the worker processes.
        points: every N run, in order.
        cluster_s: seconds the Ray cluster took to start (None for ``local``).
    """

    runtime: Runtime
    nodes: int
    points: tuple[PointResult, ...]
    cluster_s: float | None = None

    @property
    def capacity(self) -> int:
        return capacity({p.cameras: p.passed for p in self.points})

    @property
    def at_least(self) -> bool:
        """Every N tried passed: the capacity is the ladder's top, a lower bound."""
        return bool(self.points) and all(p.passed for p in self.points)

    @property
    def capacity_text(self) -> str:
        return f"≥ {self.capacity}" if self.at_least else str(self.capacity)

    def at(self, cameras: int) -> PointResult | None:
        return next((p for p in self.points if p.cameras == cameras), None)

    def as_json(self) -> dict[str, object]:
        best = self.at(self.capacity)
        return {
            "runtime": self.runtime, "nodes": self.nodes, "capacity": self.capacity,
            "capacity_at_least": self.at_least,
            "cluster_start_s": None if self.cluster_s is None else round(self.cluster_s, 2),
            "at_capacity": None if best is None else _summary(best),
            "points": [_summary(p) | {"point": p.as_json()} for p in sorted(self.points, key=_n)],
        }  # fmt: skip


def _n(p: PointResult) -> int:
    return p.cameras


def _summary(p: PointResult) -> dict[str, object]:
    ms = cpu_ms_per_frame(p)
    return {
        "cameras": p.cameras, "passed": p.passed, "min_fps": round(p.min_fps, 3),
        "mean_fps": round(p.mean_fps, 3),
        "frames_processed": sum(c.frames_processed for c in p.per_camera),
        "cpu_ms_per_frame": None if ms is None else round(ms, 3),
        "ray_cpu_pct": round(p.usage.ray_cpu_pct, 2), "tree_cpu_pct": round(p.usage.tree_cpu_pct, 2),
        "others_cpu_pct": round(p.usage.others_cpu_pct, 2),
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class NodeComparison:
    """Both runtimes at one node count, and Ray's overhead per processed frame."""

    nodes: int
    local: RuntimeSearch
    ray: RuntimeSearch

    @property
    def compared_at(self) -> int | None:
        """The N the CPU per frame is compared at: the smallest both passed (else the smallest both ran)."""
        both = {p.cameras for p in self.local.points} & {p.cameras for p in self.ray.points}
        passed = {n for n in both if self._passed(n)}
        return min(passed or both, default=None)

    def _passed(self, n: int) -> bool:
        a, b = self.local.at(n), self.ray.at(n)
        return a is not None and b is not None and a.passed and b.passed

    def cpu_ms(self, runtime: Runtime) -> float | None:
        """CPU ms per processed frame of ``runtime`` at :attr:`compared_at`."""
        n = self.compared_at
        p = None if n is None else (self.local if runtime == "local" else self.ray).at(n)
        return None if p is None else cpu_ms_per_frame(p)

    @property
    def overhead(self) -> float | None:
        """Ray's CPU per processed frame over the local runtime's, minus one (0.1 = 10% more)."""
        local, ray = self.cpu_ms("local"), self.cpu_ms("ray")
        if local is None or ray is None or local <= 0:
            return None
        return ray / local - 1.0

    def _full_rate(self, n: int) -> bool:
        """Both runtimes passed N with every camera at its full rate (within 5% of the best mean frame rate
        of any point): past that the machine is saturated, a camera gets fewer frames for the same CPU,
        and a point would bend the line."""
        points = [*self.local.points, *self.ray.points]
        best = max((p.mean_fps for p in points), default=0.0)
        a, b = self.local.at(n), self.ray.at(n)
        return self._passed(n) and all(p is not None and p.min_fps >= FULL_RATE * best for p in (a, b))

    @property
    def fitted(self) -> list[int]:
        """The N the CPU lines are fitted over."""
        return sorted(p.cameras for p in self.local.points if self._full_rate(p.cameras))

    def line(self, runtime: Runtime) -> CpuLine | None:
        """``runtime``'s CPU line over the N both runtimes passed at the cameras' full rate."""
        search = self.local if runtime == "local" else self.ray
        samples = [
            x for p in search.points if self._full_rate(p.cameras) and (x := cpu_sample(p)) is not None
        ]
        return fit_cpu_line(samples)

    @property
    def per_camera_overhead(self) -> float | None:
        """What each added camera costs on Ray over the local runtime, minus one: the ratio of the two
        lines' slopes (CPU per processed frame once the fixed costs are set apart)."""
        local, ray = self.line("local"), self.line("ray")
        if local is None or ray is None or local.ms_per_frame <= 0:
            return None
        return ray.ms_per_frame / local.ms_per_frame - 1.0

    def overheads(self) -> dict[int, float]:
        """The same ratio at every N both runtimes ran."""
        out: dict[int, float] = {}
        for p in self.local.points:
            q = self.ray.at(p.cameras)
            a, b = cpu_ms_per_frame(p), None if q is None else cpu_ms_per_frame(q)
            if a is not None and b is not None and a > 0:
                out[p.cameras] = b / a - 1.0
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, object]:
        def r(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else round(v, 4)

        return {
            "nodes": self.nodes, "compared_at_cameras": self.compared_at,
            "cpu_ms_per_frame": {"local": r(self.cpu_ms("local")), "ray": r(self.cpu_ms("ray"))},
            "overhead": r(self.overhead),
            "per_camera_overhead": r(self.per_camera_overhead),
            "cpu_lines": {
                rt: None if (ln := self.line(rt)) is None else {
                    "fixed_cores": round(ln.fixed_cores, 4), "ms_per_frame": round(ln.ms_per_frame, 3),
                    "points": ln.points, "cameras": self.fitted,
                }
                for rt in ("local", "ray")
            },
            "overhead_by_cameras": {str(n): round(v, 4) for n, v in self.overheads().items()},
            "local": self.local.as_json(), "ray": self.ray.as_json(),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class RayBenchResult:
    """A whole run: every node count's comparison, and where and when it ran."""

    width: int
    height: int
    clip_s: float
    comparisons: tuple[NodeComparison, ...]
    settings: LiveBenchSettings
    command: str
    machine: Machine
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    max_overhead: float = 0.10

    @property
    def label(self) -> str:
        return f"{self.width}×{self.height}"

    def as_json(self) -> dict[str, object]:
        settings = self.settings.as_json()
        settings.pop("workers")
        return {
            "command": self.command, "machine": self.machine.as_json(), "width": self.width,
            "height": self.height, "clip_s": round(self.clip_s, 3), "load_before": list(self.load_before),
            "load_after": list(self.load_after),
            "settings": settings | {"ray_node_cpus": 1, "ray_lost_after_s": LOST_AFTER_S,
                                    "local_workers": "the node count"},
            "max_overhead": self.max_overhead,
            "comparisons": [c.as_json() for c in self.comparisons],
        }  # fmt: skip


# --- the run --------------------------------------------------------------------------------------


@contextmanager
def ray_cluster(nodes: int) -> Iterator[str]:
    """A Ray cluster of ``nodes`` nodes of one CPU each on this machine; yields the head's address.

    Raises:
        ConfigError: Ray is not installed.
    """
    with local_cluster(nodes, "--runtime ray") as head:
        yield str(head.address)


def on_ray(config: VigilConfig, address: str) -> VigilConfig:
    """``config`` with its cameras on the Ray cluster at ``address`` (one actor per node CPU)."""
    data = config.model_dump()
    ray = data["runtime"]["ray"] | {"address": address, "lost_after_s": LOST_AFTER_S, "actors_per_node": None}
    data["runtime"] = data["runtime"] | {"type": "ray", "ray": ray}
    return VigilConfig.model_validate(data)


@dataclass(frozen=True)
class _Searches:
    """What every capacity search of one run shares: the template, the RTSP camera, the N to try."""

    setup: LiveBenchSetup
    url: str
    clip_s: float
    candidates: Sequence[int]
    refine: bool
    progress: ProgressFn

    def _search(
        self, setup: LiveBenchSetup, what: str, after: Callable[[], None] = lambda: None
    ) -> tuple[PointResult, ...]:
        """The N tried upward then bisected, each a fresh service; ``after()`` follows each N."""
        points: list[PointResult] = []
        tried: dict[int, bool] = {}
        while (n := next_cameras(tried, self.candidates, refine=self.refine)) is not None:
            label = f"{what}, {n} camera{'s' if n > 1 else ''}"

            def report(step: str, done: float, total: float, label: str = label) -> None:
                self.progress(f"{label}: {step}", done, total)

            try:
                points.append(run_point(setup, self.url, n, self.clip_s, report))
            finally:
                after()
            tried[n] = points[-1].passed
        return tuple(points)

    def _with_workers(self, workers: int) -> LiveBenchSetup:
        return dataclasses.replace(
            self.setup, settings=dataclasses.replace(self.setup.settings, workers=workers)
        )

    def local(self, workers: int) -> RuntimeSearch:
        """The search on the local runtime with ``workers`` worker processes."""
        what = f"local, {workers} worker{'s' if workers > 1 else ''}"
        return RuntimeSearch("local", workers, self._search(self._with_workers(workers), what))

    def ray(self, nodes: int) -> RuntimeSearch:
        """The search on a fresh Ray cluster of ``nodes`` 1-CPU nodes (each N's service joins it anew)."""
        import ray  # noqa: PLC0415 (the optional extra; ray_cluster says so when it is missing)

        started = time.monotonic()
        with ray_cluster(nodes) as address:
            cluster_s = time.monotonic() - started
            base = self._with_workers(nodes)
            setup = dataclasses.replace(base, config=on_ray(base.config, address))
            what = f"ray, {nodes} node{'s' if nodes > 1 else ''}"
            points = self._search(setup, what, after=ray.shutdown)  # each N's service joins anew
        return RuntimeSearch("ray", nodes, points, cluster_s)


def bench_runtimes(
    setup: LiveBenchSetup,
    clip: Path,
    size_wh: tuple[int, int],
    candidates: Sequence[int],
    *,
    nodes: Sequence[int] = DEFAULT_NODES,
    refine: bool = True,
    progress: ProgressFn = lambda _w, _d, _t: None,
    on_nodes: Callable[[NodeComparison], None] = lambda _c: None,
) -> list[NodeComparison]:
    """For each node count: the capacity search on a Ray cluster of that many 1-CPU nodes, then on the
    local runtime with that many worker processes.

    Args:
        setup: the template, settings (``workers`` is set per node count) and base config.
        clip: an H.264 MP4 at ``size_wh``, served over RTSP for the whole run.
        size_wh: its size.
        candidates: N tried upward until one fails (then the gap is bisected with ``refine``).
        nodes: the node counts.
        refine: see :func:`~vigil.evaluate.capacity_search.next_cameras`.
        progress: called while each N runs.
        on_nodes: told each node count's comparison as soon as it is done.

    Raises:
        ConfigError: Ray is not installed.
        SourceError: the RTSP server cannot start.
    """
    out: list[NodeComparison] = []
    with RtspServer({MOUNT: clip}, loop=True) as server:
        searches = _Searches(setup, server.url(MOUNT), clip_seconds(clip), candidates, refine, progress)
        for k in nodes:
            ray_side = searches.ray(k)
            comparison = NodeComparison(k, searches.local(k), ray_side)
            on_nodes(comparison)
            out.append(comparison)
    return out
