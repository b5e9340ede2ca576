"""`vigil bench embed`: the face embedders' time per face, side by side, on the same real faces."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vigil.cli.common import ConfigOption, ModelDirOption, load_cli_config
from vigil.errors import VigilError
from vigil.evaluate.bench_embed import (
    BASELINE,
    BenchEmbedSettings,
    EmbedBenchResult,
    EmbedderVariant,
    Timing,
    default_variants,
    run_bench_embed,
)
from vigil.evaluate.plots_embed import plot_bench_embed
from vigil.samples import data_dir

console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)
err_console = Console(stderr=True)

DISTURBED_CORES = 0.2
"""Other processes keeping more than this many cores busy during a measurement disturbed it."""


def _ms(t: Timing | None) -> str:
    if t is None:
        return "-"
    return f"{t.median_ms:.2f} ({t.p90_ms:.2f}){'*' if t.others_cores > DISTURBED_CORES else ''}"


def _report(result: EmbedBenchResult) -> None:
    s = result.settings
    table = Table(
        title=f"Embedding time per face on {s.faces} LFW faces ({result.detector} boxes): "
        "median ms (p90), each embedder cutting its own chips"
    )
    table.add_column("embedder", no_wrap=True)
    table.add_column("chip", justify="right")
    table.add_column("threads", justify="right")
    for batch in s.batch_sizes:
        table.add_column(f"ms/face\nbatch {batch}", justify="right")
    table.add_column("align\nms/face", justify="right")
    batches = " / ".join(f"b{b}" for b in s.batch_sizes)
    table.add_column(f"speed-up vs\n{BASELINE.model_id}\n({batches})", justify="right")
    table.add_column(f"cores busy\n({batches})", justify="right")
    table.add_column(f"other procs'\ncores ({batches})", justify="right")
    for v in result.variants:
        for k, threads in enumerate(s.threads):
            speedups = [result.speedup(v, b, threads) for b in s.batch_sizes]
            timings = [v.at(b, threads) for b in s.batch_sizes]
            table.add_row(
                v.variant.model_id if k == 0 else "",
                f"{v.input_size} px" if k == 0 else "",
                str(threads),
                *(_ms(v.at(b, threads)) for b in s.batch_sizes),
                _ms(v.align),
                " / ".join("-" if x is None else f"{x:.1f}×" for x in speedups),
                " / ".join("-" if t is None else f"{t.cores:.2f}" for t in timings),
                " / ".join("-" if t is None else f"{t.others_cores:.2f}" for t in timings),
                end_section=k == len(s.threads) - 1,
            )
    console.print(table)
    console.print(
        "align: the embedder's aligner cutting one chip from the detector's box and landmarks, measured "
        "once per embedder (no inference threads involved); speed-ups compare medians at the same batch "
        "size and threads; cores busy: CPU seconds per wall second while timing (this process; other "
        "procs': everything else on the machine)."
    )
    if result.baseline is None:
        console.print(f"no speed-ups: {BASELINE.model_id} was not measured in this run")
    console.print(
        f"rounds of every face: at least {s.min_rounds} and {s.min_seconds:g} s per measurement, after "
        f"{s.warmup_calls} warm-up calls"
    )


def _report_machine(result: EmbedBenchResult, command: str) -> None:
    console.print(f"machine: {result.machine.as_text()}")
    load = "load average (1, 5, 15 min) before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}"
    console.print(load.format(*result.load_before, *result.load_after))
    worst = max(t.others_cores for t in _timings(result))
    if worst > DISTURBED_CORES:
        console.print(
            f"[yellow]note:[/] other processes kept up to {worst:.2f} cores busy while the times "
            "marked * were measured: they may be slower than this machine's (rerun when it is quiet)"
        )
    console.print(f"command: {command}", markup=False)


def _timings(result: EmbedBenchResult) -> list[Timing]:
    return [t for v in result.variants for t in (v.align, *(r.timing for r in v.runs))]


def _variants(models: list[str] | None) -> tuple[EmbedderVariant, ...]:
    if not models:
        return default_variants()
    return tuple(dict.fromkeys(EmbedderVariant.parse(m) for m in models))


def embed(
    faces: Annotated[int, typer.Option("--faces", min=1, max=5000, help="Real LFW faces to embed.")] = 64,
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--models",
            help="An embedder by its model id, repeatable: NAME (one pass) or NAME+flip (mirror "
            "averaging), e.g. dlib-resnet-v1+flip [every catalogued one; dlib with and without flip].",
        ),
    ] = None,
    threads: Annotated[
        list[int] | None,
        typer.Option("--threads", min=1, max=64, help="Inference threads, repeatable [1 and 2]."),
    ] = None,
    batch: Annotated[
        list[int] | None,
        typer.Option("--batch", min=1, max=256, help="Chips per embed call, repeatable [1 and 8]."),
    ] = None,
    seconds: Annotated[
        float, typer.Option("--seconds", min=0.0, help="Time each measurement at least this long.")
    ] = 2.0,
    rounds: Annotated[
        int,
        typer.Option("--rounds", min=1, help="Embed every face at least this many times per measurement."),
    ] = 3,
    lfw_dir: Annotated[
        Path | None,
        typer.Option("--lfw", help="LFW folder with images/ (default: $VIGIL_TEST_DATA/lfw)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write every number to this JSON file.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write ms/face bars (PNG).")] = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Time every face embedder per face on the same real faces: batch 1 and 8, 1 and 2 threads.

    The configured detector finds the faces once (the first photo of each LFW person); each embedder
    then cuts its own chips and embeds them. Alignment is timed apart from embedding. Speed-ups are
    against dlib's ResNet with mirror averaging, Vigil's original embedder, measured in the same run.
    """
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    cfg = load_cli_config(config, model_dir)
    images = (lfw_dir or data_dir() / "lfw") / "images"
    try:
        settings = BenchEmbedSettings(
            faces=faces,
            variants=_variants(models),
            batch_sizes=tuple(dict.fromkeys(batch or (1, 8))),
            threads=tuple(dict.fromkeys(threads or (1, 2))),
            min_rounds=rounds,
            min_seconds=seconds,
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("bench embed", total=settings.steps)
            result = run_bench_embed(
                cfg,
                images,
                settings,
                progress=lambda what, done, total: bar.update(
                    task, description=what, completed=done, total=total
                ),
            )
    except VigilError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    _report(result)
    _report_machine(result, command)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        doc = {"command": command, **result.as_json()}
        out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        console.print(f"JSON: {out}")
    if plot is not None:
        plot_bench_embed(result, plot)
        console.print(f"plot: {plot}")
