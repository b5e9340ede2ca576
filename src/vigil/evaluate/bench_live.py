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
same cores). An N passes when every camera processed ≥
:data:`~vigil.evaluate.capacity_search.TARGET_FPS` frames/s, at least
:data:`~vigil.evaluate.capacity_search.MIN_ALERTS` alerts arrived and their p99 latency was ≤
:data:`~vigil.evaluate.capacity_search.TARGET_P99_S`.

This module runs the bench; the N to try and the verdict are in :mod:`vigil.evaluate.capacity_search`,
the result types in :mod:`vigil.evaluate.bench_live_results`, and the probes it measures with (process
tree CPU and memory, the WebSocket client, uvicorn in a thread) in :mod:`vigil.evaluate.live_probes`.

Example:
    >>> template = make_template(cfg, work / "template", miranda_png)  # doctest: +SKIP
    >>> setup = LiveBenchSetup(cfg, template, work, LiveBenchSettings(workers=2))  # doctest: +SKIP
    >>> from vigil.evaluate.capacity_search import ladder  # doctest: +SKIP
    >>> result = bench_resolution(setup, clip, (640, 360), ladder(12))  # doctest: +SKIP
    >>> result.capacity  # doctest: +SKIP
    12
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import av

from vigil.app import build_engine, build_server, open_store
from vigil.config import VigilConfig
from vigil.errors import BadInput, VigilError
from vigil.evaluate.bench_live_results import (
    CameraResult,
    LiveBenchSettings,
    PointResult,
    ResolutionResult,
    Usage,
)
from vigil.evaluate.capacity_search import failures, next_cameras, stage_deltas
from vigil.evaluate.live_probes import Alerts, Memory, ProcessTree, alert_socket, children_stderr, serving
from vigil.evaluate.machine import load_average
from vigil.evaluate.rtsp_server import RtspServer
from vigil.runtime.messages import CameraCounters
from vigil.runtime.service import LiveService
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.lists import ListSettings
from vigil.store.tables import Review, Severity

TARGET_CAMERAS: dict[tuple[int, int], int] = {(640, 360): 8, (1280, 720): 4}
"""The issue's targets on a 2-core machine: cameras at each resolution."""
DEFAULT_RESOLUTIONS: tuple[tuple[int, int], ...] = ((640, 360), (1280, 720))
PERSON = "Lin-Manuel Miranda"
LIST_NAME = "bench"
ACTOR = "vigil-bench"
MOUNT = "hamilton"

ProgressFn = Callable[[str, float, float], None]
"""Called as ``progress(what, seconds_done, seconds_total)`` while one N runs."""


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
        with children_stderr(data_dir / "workers.log"):
            built.live.start()
        ready_s = time.monotonic() - started
        clock0 = time.monotonic()

        def tick(what: str) -> None:
            progress(what, time.monotonic() - clock0, total)

        with serving(built.app) as port, alert_socket(port, built.bootstrap.token) as alerts:
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
    alerts: Alerts,
    names: Mapping[int, str],
    s: LiveBenchSettings,
    tick: Callable[[str], None],
) -> _Window:
    """Counters, CPU and alerts over ``s.window_s``; resident memory sampled every ``s.sample_s``."""
    tree = ProcessTree()
    counters0, cpu0 = live.supervisor.counters(), tree.cpu_seconds()
    t0, wall0 = time.monotonic(), time.time()
    peak = Memory(0.0, 0.0, 0.0, 0)
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
