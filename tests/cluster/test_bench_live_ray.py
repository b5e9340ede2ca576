"""`vigil bench live --runtime ray`, bounded: the real command on a Ray cluster of one 1-CPU node of this
machine and on the local runtime with one worker, one and two RTSP cameras, a 12 s window (enough alerts
to pass; the bench's own run, 1-3 nodes and the full search, is in docs/benchmarks.md). Both runtimes
processed frames, Ray's own processes are counted in the CPU, the overhead at N = 1 is a finite number,
and so is the overhead per camera (each runtime's CPU line through N = 1 and 2); the JSON and the plot
are written. About 2 minutes on 2 cores.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import skip_unless_required
from vigil.cli import app

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_bench_live_on_ray_measures_both_runtimes_and_the_overhead(
    gstreamer_rtsp: None, hamilton_clip: Path, model_dir: Path, tmp_path: Path
) -> None:
    try:
        import ray.cluster_utils  # noqa: F401, PLC0415 (the optional extra vigil[cluster])
    except ImportError:
        skip_unless_required("Ray is not installed: pip install 'vigil[cluster]'", "VIGIL_REQUIRE_SERVICES")
    out, plot = tmp_path / "ray.json", tmp_path / "ray.png"
    args = ["bench", "live", "--runtime", "ray", "--nodes", "1", "--cameras", "1,2", "--no-refine",
            "--window-s", "12", "--warmup-s", "2", "--json", str(out), "--plot", str(plot),
            "--model-dir", str(model_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Ray runtime against the local runtime" in result.output

    data = json.loads(out.read_text(encoding="utf-8"))
    assert (data["width"], data["height"]) == (640, 360)
    [nodes] = data["comparisons"]
    assert nodes["nodes"] == 1 and nodes["compared_at_cameras"] == 1
    for runtime in ("local", "ray"):
        side = nodes[runtime]
        assert side["runtime"] == runtime and side["nodes"] == 1
        assert [p["cameras"] for p in side["points"]] == [1, 2]
        for point in side["points"]:
            assert point["frames_processed"] > 60 * point["cameras"], point  # ~10 frames/s for 12 s
            assert point["cpu_ms_per_frame"] > 0 and point["min_fps"] > 0
            assert point["point"]["per_camera"][0]["state"] == "streaming"
        everything = all(p["passed"] for p in side["points"])
        assert side["capacity_at_least"] == everything, "a capacity at the ladder's top is a lower bound"
        if everything:
            assert side["capacity"] == 2
    if nodes["local"]["capacity_at_least"] or nodes["ray"]["capacity_at_least"]:
        assert "every N tried passed" in result.output
    assert nodes["local"]["points"][0]["ray_cpu_pct"] == 0
    assert nodes["ray"]["points"][0]["ray_cpu_pct"] > 0, "the raylet, GCS and agents are in the CPU"
    assert nodes["ray"]["cluster_start_s"] > 0
    overhead = nodes["overhead"]
    assert isinstance(overhead, float) and math.isfinite(overhead) and overhead > -1.0
    ms = nodes["cpu_ms_per_frame"]
    assert overhead == pytest.approx(ms["ray"] / ms["local"] - 1.0, abs=1e-3)
    points = [p for side in ("local", "ray") for p in nodes[side]["points"]]
    best = max(p["mean_fps"] for p in points)
    full = sorted(
        n for n in (1, 2)
        if all(p["passed"] and p["min_fps"] >= 0.95 * best for p in points if p["cameras"] == n)
    )  # fmt: skip
    lines = nodes["cpu_lines"]
    if full != [1, 2]:  # a loaded machine: a camera below its full rate is left out of the line
        assert lines["local"] is None or lines["local"]["cameras"] == full
    else:
        assert lines["local"]["cameras"] == lines["ray"]["cameras"] == [1, 2]
        assert lines["local"]["points"] == lines["ray"]["points"] == 2
        assert lines["local"]["ms_per_frame"] > 0 and lines["ray"]["ms_per_frame"] > 0
        per_camera = lines["ray"]["ms_per_frame"] / lines["local"]["ms_per_frame"] - 1.0
        assert nodes["per_camera_overhead"] == pytest.approx(per_camera, abs=1e-3)
        assert "overhead per camera" in result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
