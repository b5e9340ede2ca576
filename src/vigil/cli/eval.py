"""`vigil eval lfw`: the standard LFW View 2 protocol with Vigil's detector, aligner and embedder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.app import build_engine, embedder_identity
from vigil.cli.common import ConfigOption, ModelDirOption, load_cli_config, progress_bar
from vigil.evaluate.embed_images import VectorCache, embed_images, lfw_cache_path
from vigil.evaluate.lfw import LfwResult, read_pairs, score_pairs
from vigil.evaluate.plots import plot_roc
from vigil.samples import data_dir

eval_app = typer.Typer(help="Measure accuracy on standard benchmarks.", no_args_is_help=True)
console = Console()


def _default_lfw() -> Path:
    return data_dir() / "lfw"


@eval_app.command("lfw")
def lfw(
    lfw_dir: Annotated[
        Path | None,
        typer.Option("--lfw", help="LFW folder with images/ and protocol/ (default: $VIGIL_TEST_DATA/lfw)."),
    ] = None,
    folds: Annotated[int, typer.Option(min=2, max=10, help="Use the first N of the 10 folds.")] = 10,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Embedding processes.")] = max(
        1, os.cpu_count() or 1
    ),
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the ROC curve to this PNG.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Embed everything again.")] = False,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """LFW View 2: 10 folds of pairs.txt, threshold chosen on 9 folds and applied to the 10th."""
    cfg = load_cli_config(config, model_dir)
    root = lfw_dir or _default_lfw()
    pairs = [p for p in read_pairs(root / "protocol" / "pairs.txt") if p.fold < folds]
    paths = sorted({p.a for p in pairs} | {p.b for p in pairs})
    build_engine(cfg)  # fail early, with advice, if a model is missing
    model_id, _ = embedder_identity(cfg)
    cache_path = None if no_cache else lfw_cache_path(cfg, model_id)
    cache = VectorCache(cache_path)
    with progress_bar(console, "embedding LFW") as bar:
        task = bar.add_task("lfw", total=len(paths))
        vectors = embed_images(
            cfg,
            root / "images",
            paths,
            cache,
            workers=workers,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    no_face = sorted(p for p, v in vectors.items() if not v.found)
    result = score_pairs(pairs, {p: v.vector for p, v in vectors.items()}, no_face)
    _report(result, cfg.detector.type, model_id)
    if plot is not None:
        plot_roc(result.roc, plot, title=f"LFW View 2 ROC ({model_id}, {cfg.detector.type})")
        console.print(f"ROC curve: {plot}")


def _report(result: LfwResult, detector: str, model_id: str) -> None:
    table = Table(
        title=f"LFW View 2 - {len(result.folds)} folds, {result.n_pairs} pairs ({detector}, {model_id})"
    )
    table.add_column("fold", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("accuracy", justify="right")
    for f in result.folds:
        table.add_row(str(f.fold + 1), f"{f.threshold:.4f}", f"{f.accuracy:.2%}")
    console.print(table)
    console.print(f"accuracy: [bold]{result.mean:.2%} ± {result.std:.2%}[/] (mean ± std over folds)")
    console.print(f"accuracy-optimal threshold (mean over folds): {result.threshold:.4f}")
    for far in (0.01, 0.001):
        tar, t = result.roc.tar_at_far(far)
        console.print(f"TAR at FAR {far:.1%}: [bold]{tar:.2%}[/] (threshold {t:.4f})")
    console.print(f"images where no face was found ({len(result.no_face)}; a central box was used):")
    for p in result.no_face:
        console.print(f"  {p}")
