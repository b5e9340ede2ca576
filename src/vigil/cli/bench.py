"""`vigil bench pipeline`: Vigil against the per-frame loop a face_recognition user writes."""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vigil.app import Engine, build_engine
from vigil.cli.bench_chaos import chaos_app
from vigil.cli.bench_clusters import clusters
from vigil.cli.bench_embed import embed
from vigil.cli.bench_embed_pool import embed_pool
from vigil.cli.bench_identify import identify
from vigil.cli.bench_live import live
from vigil.cli.bench_search import search
from vigil.cli.bench_store import store
from vigil.cli.bench_vector_engines import vector_engines
from vigil.cli.bench_watchlist import watchlist
from vigil.cli.common import ConfigOption, ModelDirOption, enrol_watchlist, load_cli_config, progress_bar
from vigil.errors import VigilError
from vigil.evaluate.bench_pipeline import (
    BenchResult,
    ClipResult,
    Side,
    Timing,
    bench_clip,
    default_clips,
)
from vigil.evaluate.facerec_loop import FaceRecognitionLoop
from vigil.evaluate.machine import load_average, machine_info
from vigil.evaluate.plots import plot_bench_pipeline
from vigil.ingest import open_source
from vigil.match.watchlist import Watchlist
from vigil.models import dlib_model_paths
from vigil.samples import data_dir, sample_watchlist

bench_app = typer.Typer(help="Measure Vigil's speed against baselines.", no_args_is_help=True)
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True)

_SIDE_LABEL: dict[Side, str] = {"loop": "face_recognition loop", "vigil": "Vigil"}


@contextmanager
def _watchlist_folder(given: Path | None) -> Iterator[Path]:
    """The given folder, or the sample watchlist laid out in a temporary folder."""
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="vigil-bench-watchlist-") as tmp:
        yield sample_watchlist(data_dir() / "refs", Path(tmp))


def _enrol(engine: Engine, loop: FaceRecognitionLoop, folder: Path) -> tuple[Engine, Watchlist]:
    """Enrol ``folder`` on both sides; each side reports the photos it could not use. Vigil's engine
    comes back deciding at the threshold calibrated for the watchlist's size."""
    wl, match = enrol_watchlist(engine, folder, err_console)
    for problem in loop.enrol_folder(folder, engine.config.ingest):
        err_console.print(f"[yellow]face_recognition loop skipped[/] {problem}")
    console.print(f"the loop: {len(loop.names)} photos ({', '.join(sorted(set(loop.names)))})")
    return replace(engine, config=engine.config.model_copy(update={"match": match})), wl


def _frame_total(spec: str, engine: Engine, max_frames: int | None) -> int | None:
    source = open_source(spec, engine.config.ingest)
    try:
        length = source.length
    finally:
        source.close()
    if length is None:
        return max_frames
    return min(length, max_frames) if max_frames is not None else length


def _run_clip(
    engine: Engine, watchlist: Watchlist, loop: FaceRecognitionLoop, spec: str, max_frames: int | None
) -> ClipResult:
    total = _frame_total(spec, engine, max_frames)
    with progress_bar(err_console, transient=True) as bar:
        tasks = {
            side: bar.add_task(f"{Path(spec).name}: {label}", total=total)
            for side, label in _SIDE_LABEL.items()
        }
        return bench_clip(
            engine,
            watchlist,
            loop,
            spec,
            max_frames=max_frames,
            progress=lambda side, done: bar.update(tasks[side], completed=done),
        )


def _names(counts: dict[str, int], unit: str) -> str:
    if not counts:
        return "-"
    return ", ".join(f"{name} ({n} {unit})" for name, n in sorted(counts.items()))


def _report(result: BenchResult) -> None:
    _report_speed(result)
    _report_identities(result)
    _report_stages(result)
    colour = "green" if result.passed else "red"
    console.print(
        f"[bold {colour}]{result.verdict}[/] (speed-up with decoding included, over all clips; "
        "identities clip by clip)"
    )
    for c in result.clips:
        extra = c.vigil.identities - c.loop.identities
        if extra:
            console.print(
                f"[yellow]note:[/] only Vigil reported {', '.join(sorted(extra))} in {c.clip}: "
                "a find the loop missed, or a false match"
            )
    console.print(f"machine: {result.machine.as_text()}", highlight=False)
    load = "load average (1, 5, 15 min) before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}"
    console.print(load.format(*result.load_before, *result.load_after), highlight=False)
    console.print(f"command: {result.command}", highlight=False, markup=False)


def _report_speed(result: BenchResult) -> None:
    table = Table(title="Frames/s: face_recognition's per-frame loop vs Vigil, same clips, same process")
    table.add_column("clip", no_wrap=True)
    table.add_column("frames", justify="right")
    for name in ("loop fps", "Vigil fps", "speed-up"):
        table.add_column(f"{name}\nprocessing", justify="right")
        table.add_column(f"{name}\nincl. decode", justify="right")

    def row(name: str, loop: Timing, vigil: Timing, processing: float, end_to_end: float) -> list[str]:
        return [
            name,
            str(loop.frames),
            f"{loop.processing_fps:.2f}",
            f"{loop.end_to_end_fps:.2f}",
            f"{vigil.processing_fps:.1f}",
            f"{vigil.end_to_end_fps:.1f}",
            f"{processing:.1f}×",
            f"{end_to_end:.1f}×",
        ]

    for c in result.clips:
        table.add_row(*row(c.clip, c.loop.timing, c.vigil.timing, c.processing_speedup, c.speedup))
    table.add_section()
    total = row("all clips", result.loop_total, result.vigil_total, result.processing_speedup, result.speedup)
    table.add_row(*total, style="bold")
    console.print(table)
    loop_total, vigil_total = result.loop_total, result.vigil_total
    console.print(
        f"seconds decoding: loop {loop_total.decode_s:.2f}, Vigil {vigil_total.decode_s:.2f}; "
        f"processing: loop {loop_total.process_s:.1f}, Vigil {vigil_total.process_s:.1f}"
    )


def _report_identities(result: BenchResult) -> None:
    table = Table(title=f"Identities found (the loop: nearest known face within {result.tolerance:g})")
    table.add_column("clip", no_wrap=True)
    table.add_column("loop found (frames)")
    table.add_column("loop faces / unknown", justify="right")
    table.add_column("Vigil found (tracks)")
    table.add_column("Vigil tracks / unknown", justify="right")
    table.add_column("missed")
    for c in result.clips:
        table.add_row(
            c.clip,
            _names(c.loop.identity_frames, "fr"),
            f"{c.loop.faces} / {c.loop.unknown_faces}",
            _names(c.vigil.identity_tracks, "tr"),
            f"{c.vigil.tracks} / {c.vigil.unknown_tracks}",
            ", ".join(sorted(c.missed)) or "-",
        )
    console.print(table)


def _report_stages(result: BenchResult) -> None:
    stages = result.stages
    processing = result.vigil_total.process_s
    table = Table(title=f"Vigil stage times over all clips (detect every {result.detect_every})")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("ms/frame", justify="right")
    table.add_column("share", justify="right")
    for stage, seconds in sorted(stages.seconds.items(), key=lambda kv: -kv[1]):
        table.add_row(
            stage,
            f"{seconds:.3f}",
            f"{1000 * seconds / max(stages.frames, 1):.2f}",
            f"{seconds / processing:.0%}" if processing > 0 else "-",
        )
    other = processing - sum(stages.seconds.values())
    table.add_row(
        "other (events, bookkeeping)", f"{other:.3f}", f"{1000 * other / max(stages.frames, 1):.2f}", ""
    )
    console.print(table)
    console.print(
        f"Vigil ran detection on {stages.detections_run} of {stages.frames} frames and embedded "
        f"{stages.faces_embedded} faces; the loop detected on every frame and embedded "
        f"{sum(c.loop.faces for c in result.clips)} faces"
    )


@bench_app.command("pipeline")
def pipeline(
    clips: Annotated[
        list[str] | None,
        typer.Argument(
            help="Video files to run both sides on (default: the Hamilton clip, 2 asl_gestures clips "
            "and 1 GIF from $VIGIL_TEST_DATA)."
        ),
    ] = None,
    watchlist: Annotated[
        Path | None,
        typer.Option(
            "--watchlist",
            "-w",
            help="Folder of <name>/<photo> files (default: the sample watchlist, from refs/).",
        ),
    ] = None,
    max_frames: Annotated[
        int | None, typer.Option("--max-frames", min=1, help="Use at most the first N frames of each clip.")
    ] = None,
    detect_every: Annotated[
        int | None,
        typer.Option("--detect-every", min=1, max=60, help="Vigil runs detection every Nth frame."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write every number to this file.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a frames/s bar chart (PNG).")] = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Run Vigil and face_recognition's per-frame loop on the same clips, in this process; compare frames/s.

    Target: Vigil ≥ 10× the loop's frames/s (decoding included), finding every identity the loop finds.
    """
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    overrides: dict[str, dict[str, object]] = {}
    if detect_every is not None:
        overrides["pipeline"] = {"detect_every": detect_every}
    cfg = load_cli_config(config, model_dir, overrides)
    specs = clips or [str(p) for p in default_clips(data_dir())]
    missing = [s for s in specs if not Path(s).exists()]
    if missing:
        err_console.print(
            f"[red]error:[/] not found: {escape(', '.join(missing))} (set VIGIL_TEST_DATA or name clips)"
        )
        raise typer.Exit(2)
    load_before = load_average()
    try:
        engine = build_engine(cfg)
        loop = FaceRecognitionLoop(dlib_model_paths())
        with _watchlist_folder(watchlist) as folder:
            engine, wl = _enrol(engine, loop, folder)
        results = tuple(_run_clip(engine, wl, loop, spec, max_frames) for spec in specs)
    except VigilError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    result = BenchResult(
        clips=results,
        detect_every=cfg.pipeline.detect_every,
        command=command,
        machine=machine_info(),
        load_before=load_before,
        load_after=load_average(),
        tolerance=loop.tolerance,
    )
    _report(result)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")
        console.print(f"JSON: {json_out}")
    if plot is not None:
        plot_bench_pipeline(result, plot)
        console.print(f"plot: {plot}")


bench_app.command("store")(store)
bench_app.command("live")(live)
bench_app.command("search")(search)
bench_app.command("vector-engines")(vector_engines)
bench_app.command("identify")(identify)
bench_app.command("embed")(embed)
bench_app.command("embed-pool")(embed_pool)
bench_app.command("watchlist")(watchlist)
bench_app.command("clusters")(clusters)
bench_app.add_typer(chaos_app, name="chaos")
