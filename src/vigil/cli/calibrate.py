"""`vigil calibrate`: the thresholds a list needs for a false-alert rate at its size (show, build)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vigil.app import build_engine, embedder_identity, threshold_policy
from vigil.cli.common import ConfigOption, ModelDirOption, load_cli_config, progress_bar
from vigil.errors import VigilError
from vigil.evaluate.calibrate import calibrate_lfw
from vigil.evaluate.embed_images import VectorCache, lfw_cache_path
from vigil.evaluate.plots import plot_calibration
from vigil.match.calibration import Calibration, shipped_path
from vigil.samples import data_dir

calibrate_app = typer.Typer(
    help="Thresholds calibrated from a false-alert rate (FPIR) for each list size.", no_args_is_help=True
)
console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)
err_console = Console(stderr=True)

SHOWN_SIZES = (1, 10, 100, 300, 1_000, 3_000, 10_000, 100_000)
SHOWN_FPIRS = (0.01, 0.001, 0.0001)


def print_table(cal: Calibration, sizes: tuple[int, ...] = SHOWN_SIZES) -> None:
    table = Table(
        title=f"Thresholds for {cal.model_id} by list size and FPIR (false alerts per unknown track)"
    )
    table.add_column("people on the list", justify="right")
    for f in SHOWN_FPIRS:
        table.add_column(f"FPIR {f:g}", justify="right")
    for size in sizes:
        cells = []
        for f in SHOWN_FPIRS:
            t = cal.threshold(size, f)
            mark = ("*" if t.extrapolated else "") + ("" if t.resolved else " ≥")
            cells.append(f"{t.threshold:.3f}{mark}")
        table.add_row(f"{size:,}", *cells)
    console.print(table)
    console.print(
        f"* extrapolated beyond the {cal.sizes[-1]:,} people measured; ≥ finer than the calibration can "
        "see (the highest stranger score seen)."
    )
    console.print(f"calibrated on: {cal.source}", markup=False)
    console.print(f"made with: {cal.command}", markup=False)


@calibrate_app.command("show")
def show(
    plot: Annotated[Path | None, typer.Option("--plot", help="Write threshold against size (PNG).")] = None,
    size: Annotated[list[int] | None, typer.Option("--size", min=1, help="List sizes to show.")] = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """The calibration in use for the configured embedder: the threshold for each list size and FPIR."""
    cfg = load_cli_config(config, model_dir)
    try:
        policy = threshold_policy(cfg)
    except VigilError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    cal = policy.calibration
    if cal is None:
        model, _ = embedder_identity(cfg)
        err_console.print(f"[red]error:[/] no calibration for {model}: make one with `vigil calibrate build`")
        raise typer.Exit(2)
    print_table(cal, tuple(size) if size else SHOWN_SIZES)
    fpir = cfg.match.fpir
    console.print(
        f"configured: match.fpir {fpir if fpir is not None else 'null (calibration off)'}, "
        f"floor match.threshold {cfg.match.threshold:.3f}"
    )
    if plot is not None:
        plot_calibration(cal, plot, SHOWN_FPIRS)
        console.print(f"plot: {plot}")


@calibrate_app.command("build")
def build(
    lfw_dir: Annotated[
        Path | None,
        typer.Option("--lfw", help="LFW folder with images/ (default: $VIGIL_TEST_DATA/lfw)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the calibration here.")] = None,
    ship: Annotated[
        bool, typer.Option("--ship", help="Write it into the source tree as the shipped calibration.")
    ] = False,
    repeats: Annotated[int, typer.Option(min=1, max=1000, help="Random lists drawn per size.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the split and the draws.")] = 0,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Embedding processes.")] = max(
        1, os.cpu_count() or 1
    ),
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Calibrate the configured embedder on LFW: half its people enrolled, the other half strangers."""
    if (out is None) == (not ship):
        err_console.print("[red]error:[/] give --out FILE or --ship")
        raise typer.Exit(2)
    command = shlex.join(["vigil", *sys.argv[1:]])
    cfg = load_cli_config(config, model_dir)
    model, _ = embedder_identity(cfg)
    images = (lfw_dir or data_dir() / "lfw") / "images"
    try:
        build_engine(cfg)  # fail early, with advice, if a model is missing
        with progress_bar(err_console, "embedding LFW") as bar:
            task = bar.add_task("lfw", total=None)
            cal = calibrate_lfw(
                cfg,
                images,
                VectorCache(lfw_cache_path(cfg, model)),
                model,
                command=command,
                workers=workers,
                seed=seed,
                repeats=repeats,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except VigilError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    target = shipped_path(model) if ship else out
    assert target is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    cal.save(target)
    print_table(cal)
    console.print(f"calibration: {target}")
