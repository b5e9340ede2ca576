"""`vigil bench live`: the search over N, the verdict, and one real short run (RTSP, workers, WebSocket)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer

from vigil.cli.bench_live import (
    console,
    parse_cameras,
    parse_resolutions,
    report_resolution,
    report_summary,
    stage_ms_per_frame,
)
from vigil.config import VigilConfig
from vigil.evaluate.bench_live import LiveBenchSetup, bench_resolution, make_template
from vigil.evaluate.bench_live_ray import fit_cpu_line
from vigil.evaluate.bench_live_results import LiveBenchResult, LiveBenchSettings, ResolutionResult
from vigil.evaluate.capacity_search import (
    capacity,
    failures,
    ladder,
    next_cameras,
    percentile,
    stage_deltas,
)
from vigil.evaluate.clips import prepare_clip
from vigil.evaluate.machine import load_average, machine_info
from vigil.evaluate.plots import plot_bench_live
from vigil.ingest.status import CameraState, CameraStatus
from vigil.runtime.messages import CameraCounters


@pytest.mark.parametrize(
    ("max_cameras", "expected"),
    [
        (1, [1]),
        (2, [1, 2]),
        (3, [1, 2, 3]),
        (4, [1, 2, 4]),
        (9, [1, 2, 4, 6, 8, 9]),
        (12, [1, 2, 4, 6, 8, 10, 12]),
    ],
)
def test_ladder(max_cameras: int, expected: list[int]) -> None:
    assert ladder(max_cameras) == expected


def _search(passes_up_to: int, candidates: Sequence[int], *, refine: bool = True) -> list[int]:
    """The N run, in order, against a service that passes every N up to ``passes_up_to``."""
    tried: dict[int, bool] = {}
    while (n := next_cameras(tried, candidates, refine=refine)) is not None:
        tried[n] = n <= passes_up_to
    return list(tried)


@pytest.mark.parametrize(
    ("passes_up_to", "candidates", "refine", "run"),
    [
        (9, [1, 2, 4, 6, 8, 10, 12], True, [1, 2, 4, 6, 8, 10, 9]),
        (9, [1, 2, 4, 6, 8, 10, 12], False, [1, 2, 4, 6, 8, 10]),
        (8, [1, 2, 4, 6, 8, 10, 12], True, [1, 2, 4, 6, 8, 10, 9]),
        (20, [1, 2, 4, 8], True, [1, 2, 4, 8]),  # never fails: every candidate, no more
        (0, [1, 2, 4], True, [1]),  # one camera is already too many
        (3, [8, 16], True, [8, 4, 2, 3]),  # the first candidate fails: bisect down from it
        (6, [4, 12], True, [4, 12, 8, 6, 7]),
    ],
)
def test_search_runs_upward_then_bisects_below_the_first_failure(
    passes_up_to: int, candidates: list[int], refine: bool, run: list[int]
) -> None:
    assert _search(passes_up_to, candidates, refine=refine) == run


@pytest.mark.parametrize(
    ("tried", "expected"),
    [
        ({}, 0),
        ({1: False}, 0),
        ({1: True, 2: True, 4: False, 3: True}, 3),
        ({1: True, 2: True, 4: True}, 4),
        ({1: True, 2: False, 4: True}, 1),  # a pass above a failure does not count
    ],
)
def test_capacity_is_the_largest_pass_below_the_first_failure(tried: dict[int, bool], expected: int) -> None:
    assert capacity(tried) == expected


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 99, None),
        ([0.4], 99, 0.4),
        ([0.1, 0.2, 0.3, 0.4, 0.5], 50, 0.3),
        ([0.0, 1.0], 99, 0.99),  # linear between the closest ranks
        ([float(i) for i in range(101)], 99, 99.0),
    ],
)
def test_percentile(values: list[float], q: float, expected: float | None) -> None:
    got = percentile(values, q)
    assert got == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("fps", "latencies", "reasons"),
    [
        ({"a": 9.8, "b": 5.0}, [0.2, 0.3, 0.9], []),
        ({"a": 9.8, "b": 4.9}, [0.2, 0.3, 0.4], ["1 of 2 cameras under 5 frames/s (lowest b: 4.90)"]),
        ({"a": 9.8}, [], ["no alert in the window (≥ 3 needed to judge latency)"]),
        ({"a": 9.8}, [0.1, 0.2], ["only 2 alerts in the window (≥ 3 needed to judge latency)"]),
        ({"a": 9.8}, [0.2, 0.3, 1.5], ["p99 alert latency 1.48 s (> 1 s)"]),
        ({}, [0.2, 0.3, 0.4], ["no camera reported"]),
    ],
)
def test_failures_say_why(fps: dict[str, float], latencies: list[float], reasons: list[str]) -> None:
    assert list(failures(fps, latencies)) == reasons


def _counters(frames: int, **stages: float) -> CameraCounters:
    status = CameraStatus("c", CameraState.STREAMING, frames * 3, 0, 0, 30.0, 0, 0, None, None, 0.0)
    return CameraCounters(status, frames, 0, dict(stages))


def test_stage_deltas_sum_over_cameras_and_count_a_new_camera_whole() -> None:
    before = {1: _counters(10, detect=1.0, embed=2.0)}
    after = {1: _counters(20, detect=1.5, embed=3.0, track=0.1), 2: _counters(5, detect=0.25)}
    assert stage_deltas(before, after) == pytest.approx({"detect": 0.75, "embed": 1.0, "track": 0.1})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("640x360", [(640, 360)]), ("640x360, 1280×720", [(640, 360), (1280, 720)]), ("320X180", [(320, 180)])],
)
def test_parse_resolutions(text: str, expected: list[tuple[int, int]]) -> None:
    assert parse_resolutions(text) == expected


@pytest.mark.parametrize("text", ["640", "641x360", "8x8", "axb", ""])
def test_parse_resolutions_refuses(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_resolutions(text)


@pytest.mark.parametrize(
    ("text", "expected"), [("6", [1, 2, 4, 6]), ("8,1,4", [1, 4, 8]), ("1", [1]), ("3,3", [3])]
)
def test_parse_cameras(text: str, expected: list[int]) -> None:
    assert parse_cameras(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "two", ",", "1.5"])
def test_parse_cameras_refuses(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_cameras(text)


# --- one real run ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_camera(
    gstreamer_rtsp: None,
    model_dir: Path,
    refs: Path,
    hamilton_clip: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> ResolutionResult:
    """N=1 at 640×360 for real: the RTSP server, a fresh service with one worker, the WebSocket client.

    Warm-up 8 s and a 6 s window: the clip starts again at 9.2 s with Miranda in view, so the window
    holds at least his new track's alert.
    """
    work = tmp_path_factory.mktemp("bench-live")
    cfg = VigilConfig(model_dir=model_dir)
    template = make_template(cfg, work / "template", refs / "ageitgey_lin-manuel-miranda.png")
    clip = prepare_clip(hamilton_clip, work / "clips" / "hamilton_640x360.mp4", 640, 360)
    settings = LiveBenchSettings(window_s=6.0, warmup_s=8.0, workers=1, min_alerts=1)
    seen: list[str] = []
    result = bench_resolution(
        LiveBenchSetup(cfg, template, work, settings),
        clip,
        (640, 360),
        [1],
        progress=lambda what, done, total: seen.append(what),
    )
    assert any("measuring" in what for what in seen) and any("warming up" in what for what in seen)
    return result


@pytest.mark.slow
@pytest.mark.network
def test_a_real_run_measures_frames_latency_cpu_and_memory(one_camera: ResolutionResult) -> None:
    r = one_camera
    assert (r.width, r.height, r.target) == (640, 360, 8)
    assert r.clip_s == pytest.approx(9.18, abs=0.05)
    [point] = r.points
    assert point.cameras == 1 and point.window_s == pytest.approx(6.0, abs=0.6)
    [camera] = point.per_camera
    assert camera.name == "cam-01" and camera.state == "streaming" and camera.reconnects == 0
    assert 0 < camera.processed_fps <= 10.0 * 1.2  # live.max_fps, give or take a stats interval
    assert camera.decoded_fps == pytest.approx(29.97, rel=0.2)  # the RTSP server paces at real time
    assert camera.skipped > 0  # 30 frames/s in, at most 10 processed
    assert len(point.latencies_s) >= 1 and camera.alerts == len(point.latencies_s)
    assert all(0 < lat < 5 for lat in point.latencies_s)
    assert all(0 <= d <= lat for d, lat in zip(point.decide_s, point.latencies_s, strict=True))
    u = point.usage
    assert u.workers_cpu_pct > 0 and u.service_cpu_pct > 0 and u.rtsp_cpu_pct > 0
    assert u.system_cpu_pct >= u.tree_cpu_pct
    assert u.processes >= 2 and u.workers_rss_mib > 50 and u.service_rss_mib > 50
    assert u.peak_rss_mib == pytest.approx(u.service_rss_mib + u.workers_rss_mib)
    assert {"detect", "embed", "track"} <= set(point.stage_s) and point.stage_s["detect"] > 0
    assert 0 < point.workers_ready_s < 120
    ms = stage_ms_per_frame(point)
    assert ms["detect"] > 0 and ms["embed"] >= 0 and ms["worker CPU"] > 0
    assert ms["stages"] == pytest.approx(sum(v for k, v in ms.items() if k not in ("stages", "worker CPU")))
    assert point.passed == (not point.failures)


@pytest.mark.slow
@pytest.mark.network
def test_a_real_run_writes_json_and_a_plot(one_camera: ResolutionResult, tmp_path: Path) -> None:
    result = LiveBenchResult(
        (one_camera,), LiveBenchSettings(), "vigil bench live", machine_info(), load_average(), load_average()
    )
    data = json.loads(json.dumps(result.as_json()))
    [res] = data["resolutions"]
    [point] = res["points"]
    assert point["alerts"] >= 1 and point["latency_s"]["p99"] > 0 and point["min_processed_fps"] > 0
    assert point["usage"]["tree_cpu_pct"] > 0 and point["usage"]["peak_rss_mib"] > 0
    assert {"settings", "machine", "load_before", "load_after", "command"} <= set(data)
    with console.capture() as out:
        report_resolution(one_camera, result.settings)
        report_summary(result)
    text = out.get()
    assert "640×360" in text and "largest passing N = " in text and "worker" in text
    plot = tmp_path / "live.png"
    plot_bench_live(result, plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_cpu_line_sets_the_fixed_cost_apart_from_the_cost_per_frame() -> None:
    """Ray's overhead per camera is the ratio of two such slopes: a runtime with a large fixed cost but the
    same cost per frame must come out with the same slope."""
    # 0.3 cores with no camera, 12 ms per processed frame: 10, 20, 40 frames/s.
    line = fit_cpu_line([(10.0, 0.42), (20.0, 0.54), (40.0, 0.78)])
    assert line is not None and line.points == 3
    assert line.fixed_cores == pytest.approx(0.30) and line.ms_per_frame == pytest.approx(12.0)
    # Scattered around 0.1 cores + 10 ms/frame: least squares, not the two end points.
    noisy = fit_cpu_line([(10.0, 0.21), (20.0, 0.29), (30.0, 0.41), (40.0, 0.49)])
    assert (
        noisy is not None
        and noisy.ms_per_frame == pytest.approx(9.6)
        and noisy.fixed_cores == pytest.approx(0.11)
    )
    assert fit_cpu_line([(10.0, 0.4)]) is None
    assert fit_cpu_line([(10.0, 0.4), (10.0, 0.5)]) is None, "one frame rate gives no slope"
