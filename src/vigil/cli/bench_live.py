"""`vigil bench live`: N RTSP cameras at real-time rate; the largest N the service keeps up with."""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vigil.cli.bench_live_ray import parse_nodes, report_ray_summary, run_ray_bench, write_outputs
from vigil.cli.common import ConfigOption, ModelDirOption, load_cli_config
from vigil.errors import VigilError
from vigil.evaluate.bench_live import (
    DEFAULT_RESOLUTIONS,
    LiveBenchSetup,
    ProgressFn,
    bench_resolution,
    make_template,
)
from vigil.evaluate.bench_live_results import (
    LiveBenchResult,
    LiveBenchSettings,
    PointResult,
    ResolutionResult,
)
from vigil.evaluate.capacity_search import ladder, percentile
from vigil.evaluate.clips import prepare_clip
from vigil.evaluate.machine import load_average, machine_info
from vigil.evaluate.plots import plot_bench_live
from vigil.samples import SAMPLE_CLIP, data_dir

console = Console(width=None if sys.stdout.isatty() else 170, highlight=False)
err_console = Console(stderr=True)

MIRANDA_PHOTO = "refs/ageitgey_lin-manuel-miranda.png"
DEFAULT_MAX_CAMERAS = 16
_DEFAULT_SIZES = ",".join(f"{w}x{h}" for w, h in DEFAULT_RESOLUTIONS)


def parse_resolutions(text: str) -> list[tuple[int, int]]:
    """``"640x360,1280x720"`` -> ``[(640, 360), (1280, 720)]``.

    Raises:
        typer.BadParameter: a part is not WIDTHxHEIGHT with even sides of at least 16.
    """
    out: list[tuple[int, int]] = []
    for part in text.replace(" ", "").split(","):
        w, _, h = part.lower().replace("×", "x").partition("x")
        if not (w.isdigit() and h.isdigit()) or int(w) < 16 or int(h) < 16 or int(w) % 2 or int(h) % 2:
            raise typer.BadParameter(f"{part!r} is not WIDTHxHEIGHT (even, ≥ 16)", param_hint="--resolutions")
        out.append((int(w), int(h)))
    return out


def parse_cameras(text: str) -> list[int]:
    """``"12"`` -> the ladder 1, 2, 4, … 12; ``"1,4,8"`` -> exactly those, in order.

    Raises:
        typer.BadParameter: a part is not a positive whole number.
    """
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if not parts or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise typer.BadParameter(
            f"{text!r}: a camera count, or a comma-separated list", param_hint="--cameras"
        )
    if len(parts) == 1:
        return ladder(int(parts[0]))
    return sorted({int(p) for p in parts})


@contextmanager
def _bar() -> Iterator[ProgressFn]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)
        yield lambda what, done, total: bar.update(task, description=what, completed=done, total=total)


def live(
    resolutions: Annotated[
        str | None,
        typer.Option(
            "--resolutions",
            help=f"Frame sizes to run, WIDTHxHEIGHT, comma-separated \\[{_DEFAULT_SIZES}; with --runtime ray "
            "one size, 640x360].",
        ),
    ] = None,
    runtime: Annotated[
        Literal["local", "ray"],
        typer.Option(
            "--runtime",
            help="local: this bench on the local runtime; ray: capacity on Ray clusters of --nodes 1-CPU "
            "nodes on this machine against the local runtime with as many workers, and Ray's CPU overhead.",
        ),
    ] = "local",
    nodes: Annotated[
        str, typer.Option("--nodes", help="With --runtime ray: the node counts, comma-separated.")
    ] = "1,2,3",
    cameras: Annotated[
        str,
        typer.Option(
            "--cameras",
            help="The most cameras to try (tried 1, 2, 4, 6 … upward until one fails), or a list: 1,4,8.",
        ),
    ] = str(DEFAULT_MAX_CAMERAS),
    refine: Annotated[
        bool, typer.Option("--refine/--no-refine", help="Bisect between the last pass and the first failure.")
    ] = True,
    window_s: Annotated[float, typer.Option("--window-s", min=3.0, help="Seconds measured per N.")] = 30.0,
    warmup_s: Annotated[
        float,
        typer.Option("--warmup-s", min=0.0, help="Seconds after the last camera starts, before measuring."),
    ] = 10.0,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Camera worker processes \\[live.workers, else one per core; with --runtime ray, the node "
            "count].",
        ),
    ] = None,
    max_fps: Annotated[
        float | None,
        typer.Option(
            "--max-fps", min=0.1, max=120.0, help="Frames/s processed per camera at most \\[live.max_fps]."
        ),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write every number to this file.")] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Write processed frames/s, p99 latency and CPU against N (PNG); with --runtime ray, "
            "capacity and CPU per frame against the node count.",
        ),
    ] = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Stream the Hamilton clip to N cameras over RTSP on loopback, at real-time rate; find the largest N at
    which every camera processes ≥ 5 frames/s and alerts reach a WebSocket client within 1 s at p99.

    Targets on a 2-core machine: N ≥ 8 at 640×360, N ≥ 4 at 1280×720.

    With --runtime ray: the same search on Ray clusters of 1, 2, 3 one-CPU nodes on this machine,
    and on the local runtime with as many workers. Ray's overhead: its CPU per frame over local's at the
    smallest N both pass, and per camera (each runtime's CPU fitted as fixed + per frame; ≤ 10%).
    """
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    sizes = parse_resolutions(resolutions or ("640x360" if runtime == "ray" else _DEFAULT_SIZES))
    if runtime == "ray" and len(sizes) != 1:
        raise typer.BadParameter("--runtime ray runs one size", param_hint="--resolutions")
    node_counts = parse_nodes(nodes)
    ladder_n = parse_cameras(cameras)
    cfg = load_cli_config(config, model_dir)
    clip = data_dir() / SAMPLE_CLIP
    photo = data_dir() / MIRANDA_PHOTO
    missing = [str(p) for p in (clip, photo) if not p.is_file()]
    if missing:
        err_console.print(f"[red]error:[/] not found: {escape(', '.join(missing))} (set VIGIL_TEST_DATA)")
        raise typer.Exit(2)
    settings = LiveBenchSettings(
        window_s=window_s,
        warmup_s=warmup_s,
        workers=workers or cfg.live.workers or _cores(),
        max_fps=max_fps or cfg.live.max_fps,
        detect_every=cfg.pipeline.detect_every,
    )
    if runtime == "ray":
        ray_result = run_ray_bench(
            cfg, clip=clip, photo=photo, size_wh=sizes[0], candidates=ladder_n, nodes=node_counts,
            refine=refine, settings=settings, command=command,
        )  # fmt: skip
        report_ray_summary(ray_result)
        write_outputs(ray_result, json_out, plot)
        return
    console.print(
        f"{settings.workers} workers, each camera processed at ≤ {settings.max_fps:g} frames/s, detect every "
        f"{settings.detect_every}; cameras tried: {', '.join(map(str, ladder_n))}"
        f"{' (then the gap bisected)' if refine else ''}; warm-up {warmup_s:g} s, window {window_s:g} s"
    )
    load_before = load_average()
    cache = Path(platformdirs.user_cache_dir("vigil")) / "bench-live"
    results: list[ResolutionResult] = []
    try:
        with tempfile.TemporaryDirectory(prefix="vigil-bench-live-") as tmp:
            work = Path(tmp)
            template = make_template(cfg, work / "template", photo)
            setup = LiveBenchSetup(cfg, template, work, settings)
            for w, h in sizes:
                prepared = prepare_clip(clip, cache / f"{clip.stem}_{w}x{h}.mp4", w, h)
                with _bar() as bar:
                    done = bench_resolution(setup, prepared, (w, h), ladder_n, refine=refine, progress=bar)
                results.append(done)
                report_resolution(done, settings)
    except VigilError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    result = LiveBenchResult(
        resolutions=tuple(results),
        settings=settings,
        command=command,
        machine=machine_info(),
        load_before=load_before,
        load_after=load_average(),
    )
    report_summary(result)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")
        console.print(f"JSON: {json_out}")
    if plot is not None:
        plot_bench_live(result, plot)
        console.print(f"plot: {plot}")


def _cores() -> int:
    return os.cpu_count() or 1


# --- report ---------------------------------------------------------------------------------------------


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def report_resolution(r: ResolutionResult, settings: LiveBenchSettings) -> None:
    table = Table(
        title=f"{r.label}: N cameras over RTSP, {settings.window_s:g} s measured per N (pass: every camera "
        f"≥ {settings.min_fps:g} frames/s, p99 alert latency ≤ {settings.max_p99_s:g} s)"
    )
    for name in ("N", "result", "fps\nmin", "fps\nmean", "dropped\n/s", "alerts", "latency s\np50",
                 "p99", "max", "frame→\ndecision\np50", "CPU %\nservice", "CPU %\nworkers", "CPU %\nRTSP",
                 "CPU %\nothers", "peak RSS\nMiB", "load\n1 min"):  # fmt: skip
        table.add_column(name, justify="left" if name == "result" else "right")
    for p in r.by_cameras():
        u = p.usage
        dropped = sum(c.dropped for c in p.per_camera) / max(p.window_s, 1e-9)
        table.add_row(
            str(p.cameras), "[green]pass[/]" if p.passed else "[red]FAIL[/]", f"{p.min_fps:.2f}",
            f"{p.mean_fps:.2f}", f"{dropped:.1f}", str(len(p.latencies_s)), _s(p.latency(50)),
            _s(p.latency(99)), _s(max(p.latencies_s, default=None)), _s(percentile(p.decide_s, 50)),
            f"{u.service_cpu_pct:.0f}", f"{u.workers_cpu_pct:.0f}", f"{u.rtsp_cpu_pct:.0f}",
            f"{u.others_cpu_pct:.0f}", f"{u.peak_rss_mib:,.0f}", f"{p.load[0]:.2f}",
        )  # fmt: skip
    console.print(table)
    for p in r.by_cameras():
        if p.failures:
            console.print(f"  N={p.cameras} failed: {'; '.join(p.failures)}", markup=False)
    console.print(
        "  CPU is % of the whole machine (100 = every core); service: this process (recorder, alerts, API, "
        "the bench's client); others: everything else running on the machine meanwhile"
    )
    _report_stages(r)


_MAIN_STAGES = ("detect", "embed", "track", "cuts")


def stage_ms_per_frame(p: PointResult) -> dict[str, float]:
    """Milliseconds per processed frame, over the window: each timed stage of the workers' loops (wall
    time; it grows when the cores are oversubscribed), the rest of the stages as "other stages", and the
    workers' CPU time ("worker CPU": stages plus decoding every frame in the reader threads, IPC)."""
    frames = sum(c.frames_processed for c in p.per_camera)
    if frames == 0:
        return {}
    ms = {k: 1000.0 * p.stage_s.get(k, 0.0) / frames for k in _MAIN_STAGES}
    ms["other stages"] = 1000.0 * sum(v for k, v in p.stage_s.items() if k not in _MAIN_STAGES) / frames
    ms["stages"] = 1000.0 * sum(p.stage_s.values()) / frames
    worker_s = p.usage.workers_cpu_pct / 100.0 * _cores() * p.window_s
    ms["worker CPU"] = 1000.0 * worker_s / frames
    return ms


def _report_stages(r: ResolutionResult) -> None:
    table = Table(title=f"{r.label}: where the workers' time goes, ms per processed frame")
    columns = ("N", "frames\nprocessed", "frames\ndecoded/s", *_MAIN_STAGES, "other\nstages", "all\nstages",
               "worker\nCPU")  # fmt: skip
    for name in columns:
        table.add_column(name, justify="right")
    for p in r.by_cameras():
        ms = stage_ms_per_frame(p)
        if not ms:
            continue
        frames = sum(c.frames_processed for c in p.per_camera)
        decoded = sum(c.decoded_fps for c in p.per_camera)
        table.add_row(str(p.cameras), f"{frames:,}", f"{decoded:.0f}", *(f"{v:.1f}" for v in ms.values()))
    console.print(table)
    console.print(
        "  stages: wall time inside the workers' loops (it counts waiting for a core when the machine is "
        "oversubscribed); worker CPU: CPU time of the worker processes, which also decode every frame "
        "(30/s per camera) in their reader threads"
    )


def report_summary(result: LiveBenchResult) -> None:
    for r in result.resolutions:
        target = f" (target ≥ {r.target})" if r.target is not None else ""
        verdict = {True: "[bold green]PASS[/]", False: "[bold red]FAIL[/]", None: ""}[r.passed]
        best = next((p for p in r.points if p.cameras == r.capacity), None)
        extra = ""
        if best is not None:
            u = best.usage
            extra = (
                f": slowest camera {best.min_fps:.1f} frames/s, p99 latency {_s(best.latency(99))} s, "
                f"CPU {u.tree_cpu_pct:.0f}% (+ RTSP server {u.rtsp_cpu_pct:.0f}%), "
                f"peak RSS {u.peak_rss_mib:,.0f} MiB"
            )
        console.print(f"{verdict} {r.label}: largest passing N = {r.capacity}{target}{extra}")
    console.print(f"machine: {result.machine.as_text()}")
    load = "load average (1, 5, 15 min) before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}"
    console.print(load.format(*result.load_before, *result.load_after))
    console.print(f"command: {result.command}", markup=False)
