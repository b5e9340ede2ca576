"""`vigil bench identify`: open-set 1:N identification on LFW through Vigil's own gallery search."""

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

from vigil.app import build_engine, embedder_identity
from vigil.cli.common import ConfigOption, ModelDirOption, load_cli_config, progress_bar
from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.evaluate.embed_images import VectorCache, lfw_cache_path
from vigil.evaluate.identify import FPIR_TARGETS, MARGINS, IdentifyResult, OperatingPoint, run_identify
from vigil.evaluate.machine import Machine, machine_info
from vigil.evaluate.plots import plot_identify
from vigil.samples import data_dir

console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)
err_console = Console(stderr=True)


def identify(
    lfw_dir: Annotated[
        Path | None,
        typer.Option("--lfw", help="LFW folder with images/ (default: $VIGIL_TEST_DATA/lfw)."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Embedding processes.")] = max(
        1, os.cpu_count() or 1
    ),
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the FPIR/FNIR trade-off (PNG).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write every number to this JSON file.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Embed everything again.")] = False,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Open-set 1:N identification on LFW through Vigil's gallery search.

    Gallery: photo 1 of the 1,680 people with 2+ photos. Mated probes: their photo 2. Non-mated probes:
    the 4,069 people with one photo. Reports the rank-1 rate, TPIR/FNIR and FPIR at the configured
    threshold and with Vigil's decision rule, and the FPIR/FNIR trade-off over the thresholds where
    they change.
    """
    started = time.perf_counter()
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    cfg = load_cli_config(config, model_dir)
    images = (lfw_dir or data_dir() / "lfw") / "images"
    model_id, _ = embedder_identity(cfg)
    cache = VectorCache(None if no_cache else lfw_cache_path(cfg, model_id))
    cached = len(cache.items)
    try:
        build_engine(cfg)  # fail early, with advice, if a model is missing
        with progress_bar(err_console, "embedding LFW") as bar:
            task = bar.add_task("lfw", total=None)
            result = run_identify(
                cfg,
                images,
                cache,
                model_id,
                workers=workers,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except VigilError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    seconds = time.perf_counter() - started
    machine = machine_info()
    _report(result, cfg, machine)
    console.print(
        f"{len(cache.items) - cached} photos embedded, the rest from the cache; {seconds:.0f} s in all"
    )
    console.print(f"machine: {machine.as_text()}")
    console.print(f"command: {command}", markup=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "command": command,
            "seconds": round(seconds, 1),
            "embedded": len(cache.items) - cached,
            "detector": cfg.detector.type,
            "machine": machine.as_json(),
            **result.as_json(),
        }
        out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        console.print(f"JSON: {out}")
    if plot is not None:
        plot_identify(result, plot, machine)
        console.print(f"plot: {plot}")


def _rate(value: float, num: int, den: int) -> tuple[str, str]:
    return f"{value:.2%}", f"{num:,} / {den:,}"


def _add_point(table: Table, label: str, p: OperatingPoint) -> None:
    table.add_row(f"{label}: TPIR", *_rate(p.tpir, p.true_positive, p.mated))
    table.add_row(f"{label}: FNIR", *_rate(p.fnir, p.mated - p.true_positive, p.mated))
    table.add_row(
        "  of which accepted as someone else", *_rate(p.wrong_person / p.mated, p.wrong_person, p.mated)
    )
    table.add_row(f"{label}: FPIR", *_rate(p.fpir, p.false_positive, p.non_mated), end_section=True)


def _margins(result: IdentifyResult) -> None:
    """At each FPIR target, what a margin over the runner-up costs in FNIR."""
    table = Table(title="A margin over the runner-up, at a fixed FPIR")
    for col in ("FPIR target", "margin", "threshold", "FPIR", "FNIR"):
        table.add_column(col, justify="right")
    for target, margin, p in result.margins:
        cells = (f"{target:.1%}", f"{margin:.2f}", f"{p.threshold:.4f}", f"{p.fpir:.2%}", f"{p.fnir:.2%}")
        table.add_row(*cells, end_section=margin == MARGINS[-1])
    console.print(table)
    derived = ", ".join(f"{result.best_margin(t):.2f} at FPIR {t:.1%}" for t in FPIR_TARGETS)
    console.print(f"margin with the lowest FNIR (the one to derive): {derived}")


def _report(result: IdentifyResult, cfg: VigilConfig, machine: Machine) -> None:
    t = result.at_threshold
    fb = result.fallbacks
    table = Table(
        title=f"Open-set identification on LFW ({result.model_id}, {cfg.detector.type}; {machine.cpu})"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("count", justify="right")
    table.add_row(
        "gallery (one photo per person)", f"{result.gallery_size:,}", f"fallback boxes: {fb.gallery}"
    )
    table.add_row("mated probes (photo 2)", f"{t.mated:,}", f"fallback boxes: {fb.mated}")
    table.add_row("non-mated probes (not enrolled)", f"{t.non_mated:,}", f"fallback boxes: {fb.non_mated}")
    table.add_row("rank-1 identification rate", *_rate(t.rank1_rate, t.rank1, t.mated), end_section=True)
    _add_point(table, f"score ≥ {t.threshold:.2f}", t)
    d = result.decided
    _add_point(table, f"Vigil's rule (≥ {d.threshold:.2f}, margin ≥ {d.min_margin or 0:.2f})", d)
    for target, p in zip(FPIR_TARGETS, result.at_fpir, strict=True):
        table.add_row(
            f"for FPIR ≤ {target:.1%}: threshold {p.threshold:.4f}, FNIR",
            *_rate(p.fnir, p.mated - p.true_positive, p.mated),
        )
    console.print(table)
    _margins(result)
    if result.decided == result.at_threshold:
        console.print(
            f"Vigil's rule gives the same decisions as the threshold alone (match.min_margin = "
            f"{cfg.match.min_margin:g})."
        )
