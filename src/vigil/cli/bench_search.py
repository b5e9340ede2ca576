"""`vigil bench search`: the archive index at 10^5, 10^6 and 10^7 stored faces, IVF against exact search."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.common import ConfigOption, load_cli_config
from vigil.evaluate.bench_search import (
    TARGET_FACES,
    TARGET_P99_MS,
    TARGET_RECALL,
    SizeResult,
    as_json,
    bench_size,
)
from vigil.evaluate.machine import machine_info
from vigil.evaluate.plots import plot_bench_search
from vigil.search.index import IvfSettings

console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)


def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(float(p)) for p in text.split(",") if p.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of numbers", param_hint=what
        ) from None
    if not values or min(values) < 1:
        raise typer.BadParameter("give positive numbers", param_hint=what)
    return values


def search(
    sizes: Annotated[str, typer.Option(help="Stored faces, comma-separated.")] = "1e5,1e6,1e7",
    queries: Annotated[int, typer.Option(help="Probes per size (IVF).")] = 500,
    exact_queries: Annotated[int, typer.Option(help="Probes for the exact baseline (0: skip it).")] = 200,
    nprobe: Annotated[
        str, typer.Option(help="IVF cells searched per query, comma-separated.")
    ] = "32,64,96,128,192",
    out: Annotated[Path | None, typer.Option(help="Write the results as JSON here.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the latency/recall plot here (PNG).")] = None,
    config: ConfigOption = None,
) -> None:
    """The archive index: build time, memory, p50/p99 query time and recall@1 against exact search."""
    cfg = load_cli_config(config, None).search
    ivf = IvfSettings(cfg.ivf_min_faces, cfg.ivf_nlist, cfg.ivf_nprobe)
    probes = sorted(set(_ints(nprobe, "--nprobe")) | {cfg.ivf_nprobe})
    machine = machine_info()
    command = "vigil " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    console.print(f"machine: {machine.as_text()}")
    results: list[SizeResult] = []
    started = time.perf_counter()
    for faces in _ints(sizes, "--sizes"):
        result = bench_size(
            faces, queries=queries, exact_queries=exact_queries, nprobes=probes, ivf=ivf,
            progress=lambda m: console.print(f"[dim]{time.perf_counter() - started:7.0f} s  {m}[/dim]"),
        )  # fmt: skip
        results.append(result)
        _table(result, cfg.ivf_nprobe)
    if out is not None:
        payload = {"command": command, "machine": machine.as_text(), "default_nprobe": cfg.ivf_nprobe,
                   "sizes": as_json(results)}  # fmt: skip
        out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    if plot is not None:
        plot_bench_search(results, cfg.ivf_nprobe, plot)
        console.print(f"plot: {plot}")


def _table(r: SizeResult, default_nprobe: int) -> None:
    title = (
        f"{r.faces:,} faces ({r.nlist:,} IVF cells; brute-force answers in {r.truth_s:.0f} s; "
        f"peak RSS so far {r.peak_rss_mib / 1024:.1f} GiB)"
    )
    table = Table(title=title, title_justify="left")
    for column in (
        "index",
        "nprobe",
        "build s",
        "memory MiB",
        "queries",
        "p50 ms",
        "p99 ms",
        "recall@1",
        "target",
    ):
        table.add_column(column, justify="left" if column == "index" else "right")
    for x in r.runs:
        target = ""
        if r.faces == TARGET_FACES and x.kind == "ivf":
            target = "✓" if x.meets_target else f"✗ (p99 ≤ {TARGET_P99_MS:g} ms, recall ≥ {TARGET_RECALL})"
        kind = x.kind + (" (default)" if x.nprobe == default_nprobe else "")
        table.add_row(
            kind, str(x.nprobe or "—"), f"{x.build_s:.1f}", f"{x.memory_mib:,.0f}", str(x.queries),
            f"{x.p50_ms:.2f}", f"{x.p99_ms:.2f}", f"{x.recall_at_1:.3f}", target,
        )  # fmt: skip
    console.print(table)
