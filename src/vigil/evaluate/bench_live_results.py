"""What ``vigil bench live`` reports: its settings and, per resolution and N, the measured numbers.

Frozen dataclasses with ``as_json()`` (floats rounded for the report); the verdicts
(:attr:`PointResult.passed`, :attr:`ResolutionResult.capacity`) come from
:mod:`vigil.evaluate.capacity_search`. :mod:`vigil.evaluate.bench_live` fills them in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vigil.evaluate.capacity_search import MIN_ALERTS, TARGET_FPS, TARGET_P99_S, capacity, percentile
from vigil.evaluate.machine import Machine


def _plain(obj: object) -> dict[str, object]:
    """A dataclass's fields for JSON, floats rounded to 4 decimals."""
    fields = asdict(obj)  # type: ignore[call-overload]
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in fields.items()}


@dataclass(frozen=True, slots=True)
class LiveBenchSettings:
    """How each N is run and judged.

    Attributes:
        window_s: seconds measured, after the warm-up.
        warmup_s: seconds between the last camera being added and the window.
        workers: camera worker processes.
        max_fps: frames per second each camera is processed at most (the rest are skipped).
        detect_every: the detection stride (from the config; reported).
        min_fps: every camera must process at least this many frames/s.
        max_p99_s: the p99 alert latency allowed.
        min_alerts: alerts needed in the window to judge the latency.
        sample_s: how often memory is sampled in the window.
    """

    window_s: float = 30.0
    warmup_s: float = 10.0
    workers: int = 2
    max_fps: float = 10.0
    detect_every: int = 3
    min_fps: float = TARGET_FPS
    max_p99_s: float = TARGET_P99_S
    min_alerts: int = MIN_ALERTS
    sample_s: float = 0.5

    def as_json(self) -> dict[str, object]:
        return _plain(self) | {
            "cooldown_s": 0,
            "stats_interval_s": 0.5,
            "store": "SQLite in a temporary folder",
            "stagger": "cameras started clip length / N apart",
        }


@dataclass(frozen=True, slots=True)
class CameraResult:
    """One camera over the window: frames decoded, processed, dropped and skipped, and its alerts."""

    name: str
    processed_fps: float
    decoded_fps: float
    frames_processed: int
    dropped: int
    skipped: int
    state: str
    reconnects: int
    alerts: int
    last_error: str | None = None

    def as_json(self) -> dict[str, object]:
        return _plain(self)


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU over the window as % of the whole machine (100 = every core busy), and peak memory.

    Attributes:
        service_cpu_pct: this process (the service: recorder, router, API; and the bench's client).
        workers_cpu_pct: the camera worker processes (and multiprocessing's helper), or the camera actors.
        rtsp_cpu_pct: the RTSP server, the load generator.
        system_cpu_pct: the whole machine, everyone's processes included.
        peak_rss_mib: the largest sum of resident memory of the service's process tree seen.
        service_rss_mib: this process's share of that peak.
        workers_rss_mib: the workers' share of that peak.
        processes: processes in the service's tree.
        ray_cpu_pct: Ray's own processes (GCS, raylets, agents, idle Ray workers) of a cluster this
            process started; 0 for the local runtime.
    """

    service_cpu_pct: float
    workers_cpu_pct: float
    rtsp_cpu_pct: float
    system_cpu_pct: float
    peak_rss_mib: float
    service_rss_mib: float
    workers_rss_mib: float
    processes: int
    ray_cpu_pct: float = 0.0

    @property
    def tree_cpu_pct(self) -> float:
        return self.service_cpu_pct + self.workers_cpu_pct + self.ray_cpu_pct

    @property
    def others_cpu_pct(self) -> float:
        """The machine's CPU used by neither the service nor the RTSP server (other users' work)."""
        return max(0.0, self.system_cpu_pct - self.tree_cpu_pct - self.rtsp_cpu_pct)

    def as_json(self) -> dict[str, object]:
        extra = {"tree_cpu_pct": self.tree_cpu_pct, "others_cpu_pct": self.others_cpu_pct}
        return _plain(self) | {k: round(v, 2) for k, v in extra.items()}


@dataclass(frozen=True, slots=True)
class PointResult:
    """One N at one resolution.

    Attributes:
        cameras: N.
        window_s: the window actually measured.
        per_camera: each camera's numbers over the window.
        latencies_s: receipt minus ``seen_at`` of each alert received in the window.
        decide_s: ``raised_at`` minus ``seen_at`` of the same alerts (frame to decision, in the service).
        usage: CPU and memory.
        stage_s: seconds per pipeline stage in the window, summed over cameras (worker loop time).
        workers_ready_s: from building the service to every worker having loaded its models.
        load: load averages (1, 5, 15 min) when the N started.
        failures: why it failed; empty when it passed.
    """

    cameras: int
    window_s: float
    per_camera: tuple[CameraResult, ...]
    latencies_s: tuple[float, ...]
    decide_s: tuple[float, ...]
    usage: Usage
    stage_s: dict[str, float]
    workers_ready_s: float
    load: tuple[float, float, float]
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def min_fps(self) -> float:
        return min((c.processed_fps for c in self.per_camera), default=0.0)

    @property
    def mean_fps(self) -> float:
        return float(np.mean([c.processed_fps for c in self.per_camera])) if self.per_camera else 0.0

    def latency(self, q: float) -> float | None:
        return percentile(self.latencies_s, q)

    def as_json(self) -> dict[str, object]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {
            "cameras": self.cameras, "passed": self.passed, "failures": list(self.failures),
            "window_s": round(self.window_s, 2), "min_processed_fps": round(self.min_fps, 3),
            "mean_processed_fps": round(self.mean_fps, 3), "alerts": len(self.latencies_s),
            "latency_s": {"p50": r(self.latency(50)), "p99": r(self.latency(99)),
                          "max": r(max(self.latencies_s, default=None))},
            "frame_to_decision_s": {"p50": r(percentile(self.decide_s, 50)),
                                    "p99": r(percentile(self.decide_s, 99))},
            "latencies_s": [round(v, 4) for v in self.latencies_s],
            "usage": self.usage.as_json(),
            "stage_s": {k: round(v, 3) for k, v in sorted(self.stage_s.items())},
            "workers_ready_s": round(self.workers_ready_s, 2), "load_at_start": list(self.load),
            "per_camera": [c.as_json() for c in self.per_camera],
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class ResolutionResult:
    """Every N run at one resolution (in the order run), and the verdict against its target."""

    width: int
    height: int
    clip_s: float
    points: tuple[PointResult, ...]
    target: int | None

    @property
    def label(self) -> str:
        return f"{self.width}×{self.height}"

    @property
    def capacity(self) -> int:
        """The largest N that passed below the smallest that failed."""
        return capacity({p.cameras: p.passed for p in self.points})

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.capacity >= self.target

    def by_cameras(self) -> list[PointResult]:
        return sorted(self.points, key=lambda p: p.cameras)

    def as_json(self) -> dict[str, object]:
        return {
            "width": self.width, "height": self.height, "clip_s": round(self.clip_s, 3),
            "capacity": self.capacity, "target": self.target, "passed": self.passed,
            "points": [p.as_json() for p in self.by_cameras()],
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class LiveBenchResult:
    """A whole run: each resolution's points, the settings, and where and when it ran."""

    resolutions: tuple[ResolutionResult, ...]
    settings: LiveBenchSettings
    command: str
    machine: Machine
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    def as_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "machine": self.machine.as_json(),
            "load_before": list(self.load_before),
            "load_after": list(self.load_after),
            "settings": self.settings.as_json(),
            "targets": {"min_fps": self.settings.min_fps, "max_p99_s": self.settings.max_p99_s},
            "resolutions": [r.as_json() for r in self.resolutions],
        }
