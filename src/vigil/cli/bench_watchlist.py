"""`vigil bench watchlist`: per-track identification on video as LFW distractors join the watchlist."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vigil.app import Engine, build_engine, embedder_identity
from vigil.cli.common import ConfigOption, ModelDirOption, load_cli_config, progress_bar
from vigil.config import VigilConfig
from vigil.config.schema import embed_config_for
from vigil.errors import VigilError
from vigil.evaluate.bench_watchlist import SIZES, ModelResult, run_model
from vigil.evaluate.embed_images import VectorCache, lfw_cache_path
from vigil.evaluate.machine import machine_info
from vigil.evaluate.plots import plot_bench_watchlist
from vigil.model_catalogue import EMBEDDERS
from vigil.samples import data_dir

console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
err_console = Console(stderr=True)


def _config_for(base: VigilConfig, name: str | None) -> VigilConfig:
    """``base`` with the embedder ``name`` (its own thresholds), or ``base`` itself."""
    if name is None:
        return base
    data = base.model_dump(exclude={"embed", "match", "search"})
    data["embed"] = embed_config_for(name).model_dump()
    data["match"] = base.match.model_dump(exclude={"threshold"})
    return VigilConfig.model_validate(data)


def watchlist(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help=f"Embedder to measure, repeatable ({', '.join(sorted(EMBEDDERS))})."),
    ] = None,
    size: Annotated[
        list[int] | None,
        typer.Option("--size", min=0, help="Distractors to add, repeatable [0 300 1000 3000]."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes embedding LFW.")] = max(
        1, os.cpu_count() or 1
    ),
    plot: Annotated[Path | None, typer.Option("--plot", help="Write false alerts against N (PNG).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write every number to this JSON file.")] = None,
    fixed: Annotated[
        float | None,
        typer.Option(
            "--fixed-threshold", help="Judge every size at this threshold instead of the calibrated."
        ),
    ] = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Per-track identification on real clips as the watchlist grows with LFW distractors.

    The sample watchlist (Lin-Manuel Miranda, Barack Obama, Joe Biden, Alex Lacamoire) plus N LFW people,
    one photo each; the Hamilton clip (Miranda on stage, Obama in the audience), the Intel webcam clips,
    GIFs and ceiling video (nobody listed). Thresholds are calibrated for each list size.
    """
    started = time.perf_counter()
    command = shlex.join(["vigil", *sys.argv[1:]])
    base = load_cli_config(config, model_dir)
    sizes = tuple(sorted(set(size))) if size else SIZES
    results: list[ModelResult] = []
    try:
        names: list[str | None] = list(model) if model else [None]
        for name in names:
            cfg = _config_for(base, name)
            model_id, _ = embedder_identity(cfg)
            engine = build_engine(cfg)
            results.append(_run_one(engine, cfg, model_id, sizes, workers, fixed))
    except VigilError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    machine = machine_info()
    for r in results:
        _report(r)
    console.print(f"{time.perf_counter() - started:.0f} s; machine: {machine.as_text()}")
    console.print(f"command: {command}", markup=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        doc = {"command": command, "machine": machine.as_json(), "models": [r.as_json() for r in results]}
        out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        console.print(f"JSON: {out}")
    if plot is not None:
        plot_bench_watchlist(results, plot, machine)
        console.print(f"plot: {plot}")


def _run_one(
    engine: Engine, cfg: VigilConfig, model_id: str, sizes: tuple[int, ...], workers: int, fixed: float | None
) -> ModelResult:
    with progress_bar(err_console, transient=True) as bar:
        tasks = {
            "clips": bar.add_task(f"{model_id}: clips", total=None),
            "distractors": bar.add_task(f"{model_id}: LFW distractors", total=None),
        }
        return run_model(
            engine, cfg, data_dir(), VectorCache(lfw_cache_path(cfg, model_id)), sizes=sizes, workers=workers,
            fixed_threshold=fixed,
            progress=lambda part, done, total: bar.update(tasks[part], completed=done, total=total),
        )  # fmt: skip


def _report(r: ModelResult) -> None:
    first = r.sizes[0]
    rule = f"calibrated for FPIR {r.fpir:g}" if r.fpir is not None and not r.fixed else "fixed"
    table = Table(
        title=f"Watchlist on video, per track: {r.model_id}, thresholds {rule} "
        f"({first.tracks:,} tracks, {first.judged:,} with an embedded shot)"
    )
    for col in ("distractors", "people", "threshold", "true tracks named", "listed missed", "strangers named",
                "false alerts / 1,000 tracks", "after rejecting them: false / true"):  # fmt: skip
        table.add_column(col, justify="right")
    for s in r.sizes:
        fb = s.after_feedback
        again = f"{len(fb.strangers)} / {fb.true_named}" if fb is not None else "-"
        table.add_row(
            f"{s.distractors:,}", f"{s.people:,}", f"{s.threshold:.3f}", str(s.true_named),
            ", ".join(s.missed) or "none", str(len(s.strangers)), f"{s.false_alerts_per_1000:.1f}", again,
        )  # fmt: skip
    console.print(table)
    for s in r.sizes:
        for line in s.strangers_named:
            console.print(f"  N={s.distractors:,}: {line}", markup=False)
