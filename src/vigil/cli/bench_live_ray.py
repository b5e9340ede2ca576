"""`vigil bench live --runtime ray`: capacity on 1, 2, 3 Ray nodes of one CPU against the local runtime."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import platformdirs
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vigil.cli.common import progress_bar
from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.evaluate.bench_live import LiveBenchSetup, clip_seconds, make_template
from vigil.evaluate.bench_live_ray import (
    NodeComparison,
    RayBenchResult,
    RuntimeSearch,
    bench_runtimes,
    cpu_ms_per_frame,
)
from vigil.evaluate.bench_live_results import LiveBenchSettings
from vigil.evaluate.clips import prepare_clip
from vigil.evaluate.machine import load_average, machine_info
from vigil.evaluate.plots_live_ray import plot_bench_live_ray

console = Console(width=None if sys.stdout.isatty() else 170, highlight=False)
err_console = Console(stderr=True)


def parse_nodes(text: str) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]`` (each 1 to 8).

    Raises:
        typer.BadParameter: a part is not a whole number from 1 to 8.
    """
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if not parts or not all(p.isdigit() and 1 <= int(p) <= 8 for p in parts):
        raise typer.BadParameter(f"{text!r}: node counts from 1 to 8, comma-separated", param_hint="--nodes")
    return sorted({int(p) for p in parts})


def run_ray_bench(
    cfg: VigilConfig,
    *,
    clip: Path,
    photo: Path,
    size_wh: tuple[int, int],
    candidates: Sequence[int],
    nodes: Sequence[int],
    refine: bool,
    settings: LiveBenchSettings,
    command: str,
) -> RayBenchResult:
    """Every node count on both runtimes, with a progress bar and a table as each node count ends.

    Raises:
        typer.Exit: a Vigil error (Ray missing, the RTSP server not starting), with code 2.
    """
    w, h = size_wh
    console.print(
        f"{w}×{h}; Ray nodes of 1 CPU each: {', '.join(map(str, nodes))}, against the local runtime with as "
        f"many worker processes; each camera processed at ≤ {settings.max_fps:g} frames/s; cameras tried: "
        f"{', '.join(map(str, candidates))}{' (then the gap bisected)' if refine else ''}; warm-up "
        f"{settings.warmup_s:g} s, window {settings.window_s:g} s"
    )
    load_before = load_average()
    cache = Path(platformdirs.user_cache_dir("vigil")) / "bench-live"
    prepared = prepare_clip(clip, cache / f"{clip.stem}_{w}x{h}.mp4", w, h)
    try:
        with tempfile.TemporaryDirectory(prefix="vigil-bench-live-ray-") as tmp:
            work = Path(tmp)
            template = make_template(cfg, work / "template", photo)
            setup = LiveBenchSetup(cfg, template, work, settings)
            with progress_bar(err_console, transient=True) as bar:
                task = bar.add_task("starting", total=1.0)
                comparisons = bench_runtimes(
                    setup, prepared, size_wh, candidates, nodes=nodes, refine=refine, on_nodes=report_nodes,
                    progress=lambda what, done, total: bar.update(task, description=what, completed=done,
                                                                  total=total),
                )  # fmt: skip
    except VigilError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    return RayBenchResult(
        w, h, clip_seconds(prepared), tuple(comparisons), settings, command, machine_info(), load_before,
        load_average(),
    )  # fmt: skip


def _f(v: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def _rows(search: RuntimeSearch) -> list[list[str]]:
    rows = []
    for p in sorted(search.points, key=lambda p: p.cameras):
        u = p.usage
        rows.append([
            search.runtime, str(p.cameras), "[green]pass[/]" if p.passed else "[red]FAIL[/]",
            f"{p.min_fps:.2f}", f"{p.mean_fps:.2f}", f"{sum(c.frames_processed for c in p.per_camera):,}",
            _f(cpu_ms_per_frame(p), "{:.1f}"), f"{u.tree_cpu_pct:.0f}", f"{u.workers_cpu_pct:.0f}",
            f"{u.ray_cpu_pct:.0f}", f"{u.others_cpu_pct:.0f}", _f(p.latency(99)),
        ])  # fmt: skip
    return rows


def report_nodes(c: NodeComparison) -> None:
    """Both runtimes' points at one node count, and the overhead."""
    workers = f"{c.nodes} worker process{'es' if c.nodes > 1 else ''}"
    table = Table(title=f"{c.nodes} Ray node{'s' if c.nodes > 1 else ''} of 1 CPU against local, {workers}")
    for name in ("runtime", "N", "result", "fps\nmin", "fps\nmean", "frames\nprocessed", "CPU ms\n/frame",
                 "CPU %\ntree", "CPU %\nworkers", "CPU %\nRay", "CPU %\nothers", "p99 s"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("runtime", "result") else "right")
    for row in _rows(c.local) + _rows(c.ray):
        table.add_row(*row)
    console.print(table)
    for s in (c.local, c.ray):
        for p in s.points:
            if p.failures:
                console.print(f"  {s.runtime} N={p.cameras} failed: {'; '.join(p.failures)}", markup=False)
    overhead = "-" if c.overhead is None else f"{c.overhead:+.1%}"
    console.print(
        f"  capacity: local {c.local.capacity_text}, ray {c.ray.capacity_text}; CPU per processed frame at "
        f"N = {c.compared_at}: local {_f(c.cpu_ms('local'), '{:.1f}')} ms, "
        f"ray {_f(c.cpu_ms('ray'), '{:.1f}')} ms: Ray's overhead at N = {c.compared_at} {overhead}"
    )
    local, ray = c.line("local"), c.line("ray")
    if local is not None and ray is not None:
        per_camera = "-" if c.per_camera_overhead is None else f"{c.per_camera_overhead:+.1%}"
        console.print(
            f"  CPU as fixed + per frame over N = {', '.join(map(str, c.fitted))} (cameras at full rate): "
            f"local {local.fixed_cores:.2f} cores + {local.ms_per_frame:.1f} ms/frame, ray "
            f"{ray.fixed_cores:.2f} cores + {ray.ms_per_frame:.1f} ms/frame: Ray's overhead per camera "
            f"{per_camera}"
        )


def report_ray_summary(result: RayBenchResult) -> None:
    table = Table(
        title=f"{result.label}: Ray runtime against the local runtime, on {result.machine.cores} cores"
    )
    for name in ("nodes", "capacity\nlocal", "capacity\nray", "compared\nat N", "CPU ms/frame\nlocal",
                 "CPU ms/frame\nray", "overhead\nat N", "fixed cores\nlocal / ray", "overhead\nper camera",
                 "≤ 10%"):  # fmt: skip
        table.add_column(name, justify="right")
    for c in result.comparisons:
        per_camera = c.per_camera_overhead
        ok = None if per_camera is None else per_camera <= result.max_overhead
        local, ray = c.line("local"), c.line("ray")
        fixed = "-" if local is None or ray is None else f"{local.fixed_cores:.2f} / {ray.fixed_cores:.2f}"
        table.add_row(
            str(c.nodes), c.local.capacity_text, c.ray.capacity_text, str(c.compared_at or "-"),
            _f(c.cpu_ms("local"), "{:.1f}"), _f(c.cpu_ms("ray"), "{:.1f}"),
            "-" if c.overhead is None else f"{c.overhead:+.1%}", fixed,
            "-" if per_camera is None else f"{per_camera:+.1%}",
            {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[ok],
        )  # fmt: skip
    console.print(table)
    if any(s.at_least for c in result.comparisons for s in (c.local, c.ray)):
        console.print("  ≥ N: every N tried passed; the capacity is at least that (try more --cameras)")
    if any(c.nodes > result.machine.cores for c in result.comparisons):
        console.print(
            f"  more 1-CPU nodes than the machine's {result.machine.cores} cores: they share them "
            "(so do the local runtime's workers at the same count)"
        )
    console.print(f"machine: {result.machine.as_text()}")
    load = "load average (1, 5, 15 min) before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}"
    console.print(load.format(*result.load_before, *result.load_after))
    console.print(f"command: {result.command}", markup=False)


def write_outputs(result: RayBenchResult, json_out: Path | None, plot: Path | None) -> None:
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")
        console.print(f"JSON: {json_out}")
    if plot is not None:
        plot_bench_live_ray(result, plot)
        console.print(f"plot: {plot}")
