"""How many RTSP cameras the live service keeps up with, and how soon its alerts reach a WebSocket client.

For each resolution the Hamilton clip is served by one :class:`~vigil.evaluate.rtsp_server.RtspServer`
mount read by N clients (each its own stream from the first frame, looping, paced at real time). For
each N, a fresh ``vigil serve`` is built in this process (:func:`vigil.app.build_server`: workers,
recorder, alert router, the HTTP app under uvicorn on a free loopback port) over a copy of a data dir
where Lin-Manuel Miranda is enrolled on a list, with ``alerts.cooldown_s: 0`` so every new track of
him (the clip has scene cuts, and starts again every 9.2 s) raises an alert. A real WebSocket client
records, for every alert, its receipt time minus its ``seen_at`` (the wall-clock time of the frame of
the deciding best shot). The N cameras are started one clip length / N apart, so their faces do not
arrive in lockstep, as independent cameras would not.

After a warm-up the service is measured over a window: frames processed per camera (the workers'
counters), alert latency, the CPU time and peak resident memory of the service's process tree (this
process and its worker processes), and apart from it the RTSP server's CPU (the load generator, on the
same cores). An N passes when every camera processed ≥ :data:`TARGET_FPS` frames/s, at least
:data:`MIN_ALERTS` alerts arrived and their p99 latency was ≤ :data:`TARGET_P99_S`.

Example:
    >>> template = make_template(cfg, work / "template", miranda_png)  # doctest: +SKIP
    >>> setup = LiveBenchSetup(cfg, template, work, LiveBenchSettings(workers=2))  # doctest: +SKIP
    >>> result = bench_resolution(setup, clip, (640, 360), ladder(12))  # doctest: +SKIP
    >>> result.capacity  # doctest: +SKIP
    12
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import av
import numpy as np
import psutil
import uvicorn
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from vigil.app import build_engine, build_server, open_store
from vigil.config import VigilConfig
from vigil.errors import BadInput, VigilError
from vigil.evaluate.machine import Machine, load_average
from vigil.evaluate.rtsp_server import RtspServer
from vigil.runtime.messages import CameraCounters
from vigil.runtime.service import LiveService
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.lists import ListSettings
from vigil.store.tables import Review, Severity

TARGET_FPS = 5.0
"""Every camera must process at least this many frames per second."""
TARGET_P99_S = 1.0
"""p99 of frame-to-WebSocket alert latency must be at most this many seconds."""
MIN_ALERTS = 3
"""Fewer alerts than this in the window cannot vouch for the latency: the N fails."""
TARGET_CAMERAS: dict[tuple[int, int], int] = {(640, 360): 8, (1280, 720): 4}
"""The issue's targets on a 2-core machine: cameras at each resolution."""
DEFAULT_RESOLUTIONS: tuple[tuple[int, int], ...] = ((640, 360), (1280, 720))
PERSON = "Lin-Manuel Miranda"
LIST_NAME = "bench"
ACTOR = "vigil-bench"
MOUNT = "hamilton"
_MIB = 1024.0**2

ProgressFn = Callable[[str, float, float], None]
"""Called as ``progress(what, seconds_done, seconds_total)`` while one N runs."""


# --- pure helpers -----------------------------------------------------------------------------------


def ladder(max_cameras: int) -> list[int]:
    """The camera counts tried upward: 1, 2, then every even number up to ``max_cameras`` (included).

    >>> ladder(9)
    [1, 2, 4, 6, 8, 9]
    """
    steps = [n for n in (1, 2) if n <= max_cameras] + list(range(4, max_cameras + 1, 2))
    if max_cameras >= 1 and steps[-1] != max_cameras:
        steps.append(max_cameras)
    return steps


def next_cameras(tried: Mapping[int, bool], candidates: Sequence[int], *, refine: bool = True) -> int | None:
    """The next N to run, or None when the search is over.

    Candidates are run upward until the first failure. With ``refine``, the gap between the first
    failure and the largest pass below it (0 when none passed) is then bisected, so a pass at 8 and a
    failure at 10 leads to 9.

    Args:
        tried: N -> passed, for every N run so far.
        candidates: the N to try upward.
        refine: bisect the gap below the first failure.
    """
    failed = [n for n, ok in tried.items() if not ok]
    if not failed:
        rest = [n for n in sorted(set(candidates)) if n not in tried]
        return rest[0] if rest else None
    if not refine:
        return None
    first_fail = min(failed)
    below = max((n for n, ok in tried.items() if ok and n < first_fail), default=0)
    if first_fail - below <= 1:
        return None
    return (below + first_fail) // 2


def capacity(tried: Mapping[int, bool]) -> int:
    """The largest N that passed below the smallest that failed (0 when none passed)."""
    ceiling = min((n for n, ok in tried.items() if not ok), default=None)
    passed = [n for n, ok in tried.items() if ok and (ceiling is None or n < ceiling)]
    return max(passed, default=0)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation between the closest ranks); None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def failures(
    camera_fps: Mapping[str, float],
    latencies_s: Sequence[float],
    *,
    min_fps: float = TARGET_FPS,
    max_p99_s: float = TARGET_P99_S,
    min_alerts: int = MIN_ALERTS,
) -> tuple[str, ...]:
    """Why a run fails (empty: it passes): a camera under ``min_fps``, too few alerts, p99 too high."""
    out: list[str] = []
    if not camera_fps:
        out.append("no camera reported")
    slow = sorted((fps, name) for name, fps in camera_fps.items() if fps < min_fps)
    if slow:
        fps, name = slow[0]
        out.append(
            f"{len(slow)} of {len(camera_fps)} cameras under {min_fps:g} frames/s (lowest {name}: {fps:.2f})"
        )
    if len(latencies_s) < min_alerts:
        got = "no alert" if not latencies_s else f"only {len(latencies_s)} alerts"
        out.append(f"{got} in the window (≥ {min_alerts} needed to judge latency)")
    p99 = percentile(latencies_s, 99)
    if p99 is not None and p99 > max_p99_s:
        out.append(f"p99 alert latency {p99:.2f} s (> {max_p99_s:g} s)")
    return tuple(out)


def stage_deltas(
    before: Mapping[int, CameraCounters], after: Mapping[int, CameraCounters]
) -> dict[str, float]:
    """Seconds per stage spent between two counter snapshots, summed over the cameras in both."""
    total: dict[str, float] = {}
    for cid, end in after.items():
        start = before.get(cid)
        for stage, seconds in end.stage_seconds.items():
            base = start.stage_seconds.get(stage, 0.0) if start is not None else 0.0
            total[stage] = total.get(stage, 0.0) + max(0.0, seconds - base)
    return total


# --- results ----------------------------------------------------------------------------------------


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
        workers_cpu_pct: the camera worker processes (and multiprocessing's helper).
        rtsp_cpu_pct: the RTSP server, the load generator.
        system_cpu_pct: the whole machine, everyone's processes included.
        peak_rss_mib: the largest sum of resident memory of the service's process tree seen.
        service_rss_mib: this process's share of that peak.
        workers_rss_mib: the workers' share of that peak.
        processes: processes in the service's tree.
    """

    service_cpu_pct: float
    workers_cpu_pct: float
    rtsp_cpu_pct: float
    system_cpu_pct: float
    peak_rss_mib: float
    service_rss_mib: float
    workers_rss_mib: float
    processes: int

    @property
    def tree_cpu_pct(self) -> float:
        return self.service_cpu_pct + self.workers_cpu_pct

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


# --- the run ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveBenchSetup:
    """What every N runs over.

    Attributes:
        config: the base configuration (store, server, alerts and live settings are set per run).
        template: a data dir with :data:`PERSON` enrolled (:func:`make_template`); copied for each N.
        work_dir: where the copies go.
        settings: how each N is run and judged.
    """

    config: VigilConfig
    template: Path
    work_dir: Path
    settings: LiveBenchSettings


def run_config(base: VigilConfig, data_dir: Path, settings: LiveBenchSettings | None = None) -> VigilConfig:
    """``base`` on SQLite in ``data_dir``, alerting on every new track (no cool-down)."""
    data = base.model_dump()
    data["store"] = {**data["store"], "data_dir": data_dir, "url": None}
    data["alerts"] = {**data["alerts"], "cooldown_s": 0, "webhooks": (), "mqtt": None}
    data["server"] = {**data["server"], "host": "127.0.0.1", "port": 0}
    data["cameras"] = ()
    if settings is not None:
        data["live"] = {
            **data["live"], "workers": settings.workers, "max_fps": settings.max_fps, "stats_interval_s": 0.5,
        }  # fmt: skip
    return VigilConfig.model_validate(data)


def _enrol_template(config: VigilConfig, photo: Path) -> str | None:
    """In a fresh process: enrol :data:`PERSON` from ``photo`` on a list; why it failed, or None."""
    engine = build_engine(config)
    store = open_store(config)
    try:
        settings = ListSettings(severity=Severity.HIGH, review=Review.ACKNOWLEDGE)
        store.lists.create(ACTOR, LIST_NAME, settings, "vigil bench live")
        photos = (Photo(photo.name, photo.read_bytes()),)
        store.enrolment(engine).enrol(ACTOR, EnrolRequest(LIST_NAME, PERSON, "vigil bench live", photos))
    except VigilError as exc:  # sent back as text: not every exception survives pickling
        return str(exc)
    finally:
        store.db.dispose()
    return None


def make_template(config: VigilConfig, dest: Path, photo: Path) -> Path:
    """A data dir at ``dest`` with :data:`PERSON` enrolled from ``photo``, made in a separate process
    so that this one (the service under test) never holds the models.

    Raises:
        BadInput: the photo could not be enrolled.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        problem = pool.submit(_enrol_template, run_config(config, dest), photo).result()
    if problem is not None:
        raise BadInput(photo, f"cannot enrol {PERSON}: {problem}")
    return dest


def clip_seconds(clip: Path) -> float:
    """The clip's duration in seconds."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / 1e6


def bench_resolution(
    setup: LiveBenchSetup,
    clip: Path,
    size_wh: tuple[int, int],
    candidates: Sequence[int],
    *,
    refine: bool = True,
    progress: ProgressFn | None = None,
) -> ResolutionResult:
    """Serve ``clip`` over RTSP and run the service with N cameras on it for N in the search order.

    Args:
        setup: the template, settings and base config.
        clip: an H.264 MP4 at ``size_wh`` (:func:`~vigil.evaluate.clips.prepare_clip`).
        size_wh: its size, for the report and the target.
        candidates: N tried upward until one fails (then the gap is bisected with ``refine``).
        refine: see :func:`next_cameras`.
        progress: called while each N runs.

    Raises:
        SourceError: the RTSP server cannot start.
    """
    seconds = clip_seconds(clip)
    points: list[PointResult] = []
    with RtspServer({MOUNT: clip}, loop=True) as server:
        url = server.url(MOUNT)
        while (
            n := next_cameras({p.cameras: p.passed for p in points}, candidates, refine=refine)
        ) is not None:
            label = f"{size_wh[0]}×{size_wh[1]}, {n} camera{'s' if n > 1 else ''}"

            def report(what: str, done: float, total: float, label: str = label) -> None:
                if progress is not None:
                    progress(f"{label}: {what}", done, total)

            points.append(run_point(setup, url, n, seconds, report))
    return ResolutionResult(size_wh[0], size_wh[1], seconds, tuple(points), TARGET_CAMERAS.get(size_wh))


def run_point(setup: LiveBenchSetup, url: str, n: int, clip_s: float, progress: ProgressFn) -> PointResult:
    """One N: a fresh service over a copy of the template, N cameras on ``url``, warm-up, then the window.

    The workers' own log lines go to ``workers.log`` in the run's data dir, not to this terminal.
    """
    s = setup.settings
    load = load_average()
    data_dir = setup.work_dir / f"cameras-{n}-{time.time_ns()}"
    shutil.copytree(setup.template, data_dir)
    stagger = clip_s / n
    total = (n - 1) * stagger + s.warmup_s + s.window_s
    progress("starting the service and its workers", 0.0, total)
    started = time.monotonic()
    built = build_server(run_config(setup.config, data_dir, s), s.workers)
    if built.bootstrap is None:
        raise RuntimeError(f"{data_dir} should have had no users")
    try:
        with _children_stderr(data_dir / "workers.log"):
            built.live.start()
        ready_s = time.monotonic() - started
        clock0 = time.monotonic()

        def tick(what: str) -> None:
            progress(what, time.monotonic() - clock0, total)

        with _serving(built.app) as port, _alert_socket(port, built.bootstrap.token) as alerts:
            names: dict[int, str] = {}
            for i in range(n):
                _wait(stagger if i else 0.0, partial(tick, f"adding cameras ({i + 1}/{n})"))
                info = built.live.cameras.add(
                    ACTOR, f"cam-{i + 1:02d}", url, max_fps=s.max_fps, reason="bench"
                )
                names[info.id] = info.name
            _wait(s.warmup_s, partial(tick, "warming up"))
            window = _measure(built.live, alerts, names, s, tick)
    finally:
        built.live.stop()
        built.app.state.vigil.db.dispose()
    fps = {c.name: c.processed_fps for c in window.cameras}
    return PointResult(
        cameras=n, window_s=window.seconds, per_camera=window.cameras, latencies_s=window.latencies_s,
        decide_s=window.decide_s, usage=window.usage, stage_s=window.stage_s, workers_ready_s=ready_s,
        load=load, failures=failures(fps, window.latencies_s, min_fps=s.min_fps, max_p99_s=s.max_p99_s,
                                     min_alerts=s.min_alerts),
    )  # fmt: skip


def _wait(seconds: float, tick: Callable[[], None]) -> None:
    """Sleep ``seconds``, calling ``tick()`` about twice a second."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        tick()
        time.sleep(min(0.5, left))


@dataclass(frozen=True, slots=True)
class _Window:
    seconds: float
    cameras: tuple[CameraResult, ...]
    latencies_s: tuple[float, ...]
    decide_s: tuple[float, ...]
    usage: Usage
    stage_s: dict[str, float]


def _measure(
    live: LiveService,
    alerts: _Alerts,
    names: Mapping[int, str],
    s: LiveBenchSettings,
    tick: Callable[[str], None],
) -> _Window:
    """Counters, CPU and alerts over ``s.window_s``; resident memory sampled every ``s.sample_s``."""
    tree = _ProcessTree()
    counters0, cpu0 = live.supervisor.counters(), tree.cpu_seconds()
    t0, wall0 = time.monotonic(), time.time()
    peak = _Memory(0.0, 0.0, 0.0, 0)
    while (elapsed := time.monotonic() - t0) < s.window_s:
        peak = max(peak, tree.memory(), key=lambda m: m.total)
        slowest = min(live.supervisor.processed_fps().values(), default=0.0)
        count = len(alerts.between(wall0, time.time()))
        tick(f"measuring: {count} alerts, slowest camera {slowest:.1f} frames/s")
        time.sleep(min(s.sample_s, max(0.0, s.window_s - elapsed)))
    seconds, wall1 = time.monotonic() - t0, time.time()
    counters1, cpu1 = live.supervisor.counters(), tree.cpu_seconds()
    received = alerts.between(wall0, wall1)
    per_camera = Counter(str(m.get("camera")) for _at, m in received)
    cameras = tuple(
        _camera_result(name, counters0.get(cid), counters1.get(cid), seconds, per_camera[name])
        for cid, name in names.items()
    )
    return _Window(
        seconds, cameras,
        latencies_s=tuple(at - _timestamp(m["seen_at"]) for at, m in received),
        decide_s=tuple(_timestamp(m["raised_at"]) - _timestamp(m["seen_at"]) for _at, m in received),
        usage=cpu1.usage_since(cpu0, peak), stage_s=stage_deltas(counters0, counters1),
    )  # fmt: skip


def _camera_result(
    name: str, start: CameraCounters | None, end: CameraCounters | None, seconds: float, alerts: int
) -> CameraResult:
    if end is None:
        return CameraResult(name, 0.0, 0.0, 0, 0, 0, "unreported", 0, alerts, "no counters from its worker")
    a, b = (start.status, start.frames_processed) if start is not None else (None, 0)
    status = end.status
    processed = max(0, end.frames_processed - b)
    return CameraResult(
        name=name, processed_fps=processed / seconds,
        decoded_fps=(status.frames_in - (a.frames_in if a else 0)) / seconds, frames_processed=processed,
        dropped=status.frames_dropped - (a.frames_dropped if a else 0),
        skipped=status.frames_skipped - (a.frames_skipped if a else 0),
        state=str(status.state), reconnects=status.reconnects, alerts=alerts, last_error=status.last_error,
    )  # fmt: skip


def _timestamp(iso: object) -> float:
    return datetime.fromisoformat(str(iso)).timestamp()


@dataclass(frozen=True, slots=True)
class _Memory:
    total: float
    service: float
    workers: float
    processes: int


@dataclass(frozen=True, slots=True)
class _Cpu:
    """CPU seconds used so far: per process (pid -> role, user + system), and by the whole machine."""

    at: float
    processes: dict[int, tuple[str, float]]
    machine_busy: float
    machine_total: float

    def usage_since(self, before: _Cpu, peak: _Memory) -> Usage:
        """CPU between ``before`` and this snapshot as % of the machine; a process started in between
        counts all its time."""
        per_role: dict[str, float] = {}
        for pid, (role, cpu) in self.processes.items():
            per_role[role] = per_role.get(role, 0.0) + cpu - before.processes.get(pid, (role, 0.0))[1]
        scale = 100.0 / (max(self.at - before.at, 1e-9) * (os.cpu_count() or 1))
        machine = (self.machine_busy - before.machine_busy) / max(
            self.machine_total - before.machine_total, 1e-9
        )
        return Usage(
            service_cpu_pct=per_role.get("service", 0.0) * scale,
            workers_cpu_pct=per_role.get("workers", 0.0) * scale,
            rtsp_cpu_pct=per_role.get("rtsp", 0.0) * scale,
            system_cpu_pct=100.0 * machine,
            peak_rss_mib=peak.total / _MIB,
            service_rss_mib=peak.service / _MIB,
            workers_rss_mib=peak.workers / _MIB,
            processes=peak.processes,
        )


class _ProcessTree:
    """This process and its children: the service ("service"), its workers ("workers"), the RTSP server
    ("rtsp", told apart by its script's name on its command line)."""

    def __init__(self) -> None:
        self._me = psutil.Process()

    def _members(self) -> list[tuple[str, psutil.Process]]:
        out: list[tuple[str, psutil.Process]] = [("service", self._me)]
        for child in self._me.children(recursive=True):
            try:
                rtsp = any(arg.endswith("gst_rtsp_main.py") for arg in child.cmdline())
            except psutil.Error:
                continue
            out.append(("rtsp" if rtsp else "workers", child))
        return out

    def cpu_seconds(self) -> _Cpu:
        processes: dict[int, tuple[str, float]] = {}
        for role, proc in self._members():
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            processes[proc.pid] = (role, times.user + times.system)
        machine = psutil.cpu_times()._asdict()
        total = sum(v for k, v in machine.items() if k not in ("guest", "guest_nice"))  # in user, nice
        busy = total - machine.get("idle", 0.0) - machine.get("iowait", 0.0)
        return _Cpu(time.monotonic(), processes, busy, total)

    def memory(self) -> _Memory:
        """Resident memory of the service and its workers (the RTSP server left out), bytes."""
        service = workers = 0.0
        count = 0
        for role, proc in self._members():
            if role == "rtsp":
                continue
            try:
                rss = float(proc.memory_info().rss)
            except psutil.Error:
                continue
            count += 1
            if role == "service":
                service += rss
            else:
                workers += rss
        return _Memory(service + workers, service, workers, count)


class _Alerts:
    """Alerts received on the WebSocket, each with the wall-clock time it arrived (thread-safe)."""

    def __init__(self) -> None:
        self._items: list[tuple[float, dict[str, object]]] = []
        self._lock = threading.Lock()

    def add(self, received: float, message: dict[str, object]) -> None:
        with self._lock:
            self._items.append((received, message))

    def between(self, start: float, end: float) -> list[tuple[float, dict[str, object]]]:
        """The alerts received from ``start`` to ``end`` (wall clock), with their receipt times."""
        with self._lock:
            return [(at, m) for at, m in self._items if start <= at <= end]


@contextmanager
def _alert_socket(port: int, token: str) -> Iterator[_Alerts]:
    """A client of ``/ws/alerts`` recording, in a thread, every alert and when it arrived."""
    alerts = _Alerts()

    def receive(ws: ClientConnection) -> None:
        while True:
            try:
                raw = ws.recv()
            except ConnectionClosed:
                return
            received = time.time()
            message = json.loads(raw)
            if message.get("type") == "alert":
                alerts.add(received, message)

    with connect(f"ws://127.0.0.1:{port}/ws/alerts?token={token}", open_timeout=10) as ws:
        hello = json.loads(ws.recv(timeout=10))
        if hello.get("type") != "hello":
            raise RuntimeError(f"the alert socket said {hello!r} first, not hello")
        thread = threading.Thread(target=receive, args=(ws,), name="vigil-bench-alerts", daemon=True)
        thread.start()
        try:
            yield alerts
        finally:
            ws.close()
            thread.join(5.0)


@contextmanager
def _serving(app: FastAPI) -> Iterator[int]:
    """``app`` under uvicorn on a free loopback port, in a background thread; yields the port."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False, log_config=None)
    )
    thread = threading.Thread(target=server.run, name="vigil-bench-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10.0)


@contextmanager
def _children_stderr(path: Path) -> Iterator[None]:
    """Processes started inside (the workers) inherit ``path`` as their stderr, for their log lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
