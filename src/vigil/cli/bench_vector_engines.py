"""`vigil bench vector-engines`: pgvector (IVFFlat, HNSW) against Vigil's FAISS archive index, same faces."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vigil.cli.bench_search import _ints
from vigil.cli.common import ConfigOption, load_cli_config
from vigil.errors import StoreError
from vigil.evaluate.bench_vector_engines import (
    INSTALL_HINT,
    EngineSize,
    VectorBenchSettings,
    as_json,
    bench_vector_engines,
    pgserver_bin,
    pgvector_database,
)
from vigil.evaluate.machine import load_average, machine_info
from vigil.evaluate.plots_vector_engines import plot_vector_engines
from vigil.search.index import IvfSettings

console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)


def vector_engines(
    sizes: Annotated[str, typer.Option(help="Stored faces, comma-separated.")] = "1e5,1e6",
    queries: Annotated[int, typer.Option(help="Probes per size (every approximate index).")] = 300,
    exact_queries: Annotated[int, typer.Option(help="Probes for FAISS exact search (0: skip it).")] = 200,
    probes: Annotated[str, typer.Option(help="pgvector ivfflat.probes, comma-separated.")] = "4,16,32,64",
    ef_search: Annotated[str, typer.Option(help="pgvector hnsw.ef_search, comma-separated.")] = "40,100,200",
    lists_factor: Annotated[float, typer.Option(help="pgvector IVFFlat lists = factor·√N.")] = 1.0,
    hnsw_budget: Annotated[
        float, typer.Option(help="Skip an HNSW build estimated (N·log N) to take longer, in seconds.")
    ] = 600.0,
    dim: Annotated[
        int, typer.Option(help="Vector dimensions (512: faceplugin-fr512; 704: the default fusion).")
    ] = 512,
    out: Annotated[
        Path | None, typer.Option(help="Write the results as JSON here (after each size).")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the latency/recall plot here (PNG).")] = None,
    config: ConfigOption = None,
) -> None:
    """pgvector against FAISS: build time, size, p50/p99 top-10 query time and recall@1 on the same faces."""
    if pgserver_bin() is None:
        console.print(f"[red]{escape(INSTALL_HINT)}[/red]")
        raise typer.Exit(2)
    cfg = load_cli_config(config, None).search
    settings = VectorBenchSettings(
        queries=queries, exact_queries=exact_queries, nprobe=cfg.ivf_nprobe,
        ivf=IvfSettings(cfg.ivf_min_faces, cfg.ivf_nlist, cfg.ivf_nprobe), lists_factor=lists_factor,
        ivfflat_probes=tuple(_ints(probes, "--probes")), ef_search=tuple(_ints(ef_search, "--ef-search")),
        hnsw_budget_s=hnsw_budget, dim=dim,
    )  # fmt: skip
    machine = machine_info()
    command = "vigil " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    console.print(f"machine: {machine.as_text()}; load average at start {_load()}")
    started = time.perf_counter()
    done: list[EngineSize] = []
    server = ""

    def progress(message: str) -> None:
        console.print(f"[dim]{time.perf_counter() - started:7.0f} s  {message}  (load {_load()})[/dim]")

    def on_size(result: EngineSize) -> None:
        done.append(result)
        _table(result)
        if out is not None:
            payload = {"command": command, "machine": machine.as_text(), "server": server,
                       "load_average_end": load_average(), "minutes": (time.perf_counter() - started) / 60,
                       "sizes": as_json(done)}  # fmt: skip
            out.write_text(json.dumps(payload, indent=2), encoding="utf-8")

    try:
        with pgvector_database() as (conn, server):
            console.print(f"server: {server}, private cluster on 127.0.0.1")
            bench_vector_engines(conn, _ints(sizes, "--sizes"), settings, progress, on_size)
    except StoreError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    if plot is not None:
        plot_vector_engines(done, plot)
        console.print(f"plot: {plot}")


def _table(r: EngineSize) -> None:
    title = (
        f"{r.faces:,} faces, {r.dim}-d (answers by brute force in {r.truth_s:.0f} s; COPY {r.load_s:.0f} s)"
    )
    table = Table(title=title, title_justify="left")
    for column in ("engine", "index", "built with", "knob", "build s", "index MiB", "table MiB", "queries",
                   "p50 ms", "p99 ms", "recall@1"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("engine", "index", "built with") else "right")
    for x in r.runs:
        table.add_row(
            x.engine, x.index, x.build_params, str(x.knob or "—"), f"{x.build_s:.1f}", f"{x.index_mib:,.0f}",
            "—" if x.table_mib is None else f"{x.table_mib:,.0f}", str(x.queries), f"{x.p50_ms:.2f}",
            f"{x.p99_ms:.2f}", f"{x.recall_at_1:.3f}",
        )  # fmt: skip
    console.print(table)
    for note in r.notes:
        console.print(f"[yellow]{note}[/yellow]")


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in load_average())
