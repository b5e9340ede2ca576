"""`vigil bench clusters`: how unknown faces are grouped, against Chinese Whispers and average linkage."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from vigil.app import build_engine, embedder_identity
from vigil.cli.common import ConfigOption, ModelDirOption, cli_errors, load_cli_config, progress_bar
from vigil.evaluate.bench_clusters import (
    METHOD_LABEL,
    ClusterRun,
    ScalingRun,
    as_json,
    run_graph,
    run_linkage,
    run_scaling,
    run_whispers,
)
from vigil.evaluate.embed_images import VectorCache, embed_images, lfw_cache_path
from vigil.evaluate.lfw import lfw_people
from vigil.evaluate.machine import machine_info
from vigil.evaluate.plots_clusters import plot_bench_clusters
from vigil.samples import data_dir
from vigil.search.clusters import DEFAULT_K
from vigil.types import FloatArray, IntArray

console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)


def _floats(text: str, what: str) -> list[float]:
    try:
        values = sorted({float(p) for p in text.split(",") if p.strip()})
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of numbers", param_hint=what
        ) from None
    if not values or not all(-1.0 <= v <= 1.0 for v in values):
        raise typer.BadParameter("give cosine similarities between -1 and 1", param_hint=what)
    return values


def pick_photos(people: dict[str, list[str]], max_photos: int | None, seed: int) -> list[tuple[str, str]]:
    """(person, photo) pairs shuffled; capped at ``max_photos`` by taking whole people in a random order, so
    that a subset keeps its same-person pairs."""
    rng = np.random.default_rng(seed)
    names = sorted(people)
    chosen: list[tuple[str, str]] = []
    for i in rng.permutation(len(names)):
        name = names[int(i)]
        chosen += [(name, p) for p in sorted(people[name])]
        if max_photos is not None and len(chosen) >= max_photos:
            chosen = chosen[:max_photos]
            break
    return [chosen[int(i)] for i in rng.permutation(len(chosen))]


def clusters(
    lfw_dir: Annotated[
        Path | None, typer.Option("--lfw", help="LFW folder with images/ (default: $VIGIL_TEST_DATA/lfw).")
    ] = None,
    thresholds: Annotated[
        str, typer.Option(help="Cosine thresholds, comma-separated.")
    ] = "0.50,0.55,0.60,0.65",
    k: Annotated[int, typer.Option(min=1, max=1000, help="Neighbours linked per photo.")] = DEFAULT_K,
    batch: Annotated[int, typer.Option(min=1, help="Photos added to the graph at a time.")] = 1000,
    max_photos: Annotated[
        int | None, typer.Option(min=2, help="Use at most N photos (whole people, at random) [all].")
    ] = None,
    linkage: Annotated[
        bool, typer.Option("--linkage/--no-linkage", help="Also run SciPy average linkage (O(N²) memory).")
    ] = False,
    whispers: Annotated[
        bool, typer.Option("--whispers/--no-whispers", help="Also run dlib Chinese Whispers.")
    ] = True,
    synthetic: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also time N synthetic templates (of the embedder's dimension) added in batches (0: skip).",
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Shuffle seed.")] = 0,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Embedding processes.")] = max(
        1, os.cpu_count() or 1
    ),
    out: Annotated[Path | None, typer.Option(help="Write the results as JSON here.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the precision/recall plot here (PNG).")] = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Pairwise precision, recall, cluster count and time of Vigil's incremental clustering of LFW photos
    at each threshold, beside Chinese Whispers on the same links and (optionally) average linkage."""
    levels = _floats(thresholds, "--thresholds")
    cfg = load_cli_config(config, model_dir)
    with cli_errors():
        root = lfw_dir or data_dir() / "lfw"
        photos = pick_photos(lfw_people(root / "images"), max_photos, seed)
        model_id, _ = embedder_identity(cfg)
        cache = VectorCache(lfw_cache_path(cfg, model_id))
        paths = [p for _, p in photos]
        if any(p not in cache.items for p in paths):
            build_engine(cfg)  # fail early, with advice, if a model is missing
        with progress_bar(console, "embedding LFW") as bar:
            task = bar.add_task("lfw", total=len(paths))
            found = embed_images(
                cfg, root / "images", paths, cache, workers=workers,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
    vectors = np.stack([found[p].vector for p in paths]).astype(np.float32)
    _, people = np.unique([name for name, _ in photos], return_inverse=True)
    people = people.astype(np.int64)
    machine, n_people = machine_info(), int(people.max()) + 1
    console.print(f"{len(paths):,} photos of {n_people:,} people ({model_id}); machine: {machine.as_text()}")
    runs = _cluster_runs(vectors, people, levels, k, batch, whispers=whispers, linkage=linkage)
    _table(runs, f"{len(paths):,} LFW photos, {model_id}, batches of {batch:,}")
    scaling = None
    if synthetic:
        level = 0.60 if 0.60 in levels else levels[len(levels) // 2]
        console.print(f"[dim]timing {synthetic:,} synthetic templates at {level:.2f}…[/dim]")
        scaling = run_scaling(synthetic, level, batch, k, dim=vectors.shape[1])
        _scaling(scaling)
    if out is not None:
        payload = {
            "command": "vigil " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "machine": machine.as_text(), "model_id": model_id, "photos": len(paths),
            "people": n_people, "batch": batch, "k": k, **as_json(runs, scaling),
        }  # fmt: skip
        out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        console.print(f"results: {out}")
    if plot is not None:
        plot_bench_clusters(runs, plot, f"Clusters of {len(paths):,} LFW photos ({model_id})")
        console.print(f"plot: {plot}")


def _cluster_runs(
    vectors: FloatArray, people: IntArray, levels: list[float], k: int, batch: int, *, whispers: bool,
    linkage: bool,
) -> list[ClusterRun]:  # fmt: skip
    steps = len(levels) * (2 if whispers else 1) + (1 if linkage else 0)
    runs: list[ClusterRun] = []
    with progress_bar(console, "clustering", transient=True) as bar:
        task = bar.add_task("clusters", total=steps)
        for level in levels:
            runs.append(run_graph(vectors, people, level, k, batch))
            bar.advance(task)
            if whispers:
                runs.append(run_whispers(vectors, people, level, k))
                bar.advance(task)
        if linkage:
            runs += run_linkage(vectors, people, levels)
            bar.advance(task)
    return runs


def _table(runs: list[ClusterRun], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("method", "threshold", "k", "precision", "recall", "clusters", "time"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for r in runs:
        took = f"{r.seconds:.2f} s" + (f" + {r.links_seconds:.2f} s links" if r.links_seconds else "")
        table.add_row(
            METHOD_LABEL[r.method], f"{r.threshold:.2f}", "all" if r.k is None else str(r.k),
            f"{r.precision:.3f}", f"{r.recall:.3f}", f"{r.clusters:,}", took,
        )  # fmt: skip
    console.print(table)


def _scaling(s: ScalingRun) -> None:
    console.print(
        f"{s.templates:,} synthetic {s.dim}-d templates at {s.threshold:.2f}, {s.batch:,} at a time: "
        f"{s.seconds:.1f} s "
        f"({s.ms_per_template:.3f} ms a template), {s.clusters:,} clusters"
    )
