"""`vigil bench embed-pool`: embedding in every camera actor against a shared pool of embedding actors."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vigil.cli.common import ConfigOption, ModelDirOption, load_cli_config, progress_bar
from vigil.errors import VigilError
from vigil.evaluate.bench_embed_pool import EmbedPoolResult, EmbedPoolSettings, run_bench_embed_pool
from vigil.evaluate.plots_embed_pool import plot_bench_embed_pool
from vigil.samples import data_dir

console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)
err_console = Console(stderr=True)


def _report(result: EmbedPoolResult, command: str) -> None:
    s = result.settings
    table = Table(
        title=f"{result.model_id} on {s.faces} LFW chips: {s.clients} client actors, {s.faces_per_request} "
        f"chip(s) per request, {s.seconds:g} s per mode"
        f" after {s.warmup_s:g} s warm-up (Ray, {s.ray_cpus} CPUs)"
    )
    for name in ("mode", "faces/s", "requests", "latency p50 ms", "latency p99 ms"):
        table.add_column(name, justify="left" if name == "mode" else "right", no_wrap=name == "mode")
    for name in (
        "CPU ms/face\n(actors)",
        "actor\ncores",
        "machine\ncores",
        "chips per\nembed call",
        "max |Δ| vs\nin-process",
    ):
        table.add_column(name, justify="right")
    best = result.best()
    for m in result.modes:
        per_call = f"{m.batched_chips / m.batches:.2f}" if m.batches else "-"
        table.add_row(
            m.mode.label,
            f"{m.faces_per_s:.1f}",
            str(m.requests),
            f"{m.latency(50):.1f}",
            f"{m.latency(99):.1f}",
            f"{m.cpu_ms_per_face:.1f}",
            f"{m.actor_cpu_s / m.seconds:.2f}",
            f"{m.machine_cores:.2f}",
            per_call,
            f"{m.probe_diff:.2g}",
            style="bold" if m is best else None,
        )
    console.print(table)
    console.print(
        "faces/s: every client's faces in the timed window; latency: one request, sent to its answer; CPU "
        "ms/face: the mode's actor processes (clients and pool) over its faces; machine cores: every "
        "process's busy CPU per second (Ray's daemons and other users' jobs too); chips per embed call: "
        "what the gathering pool put together (counting its warm-up)."
    )
    console.print(f"fastest: {best.mode.label} ({best.faces_per_s:.1f} faces/s)")
    console.print(f"machine: {result.machine.as_text()}")
    load = "load average (1, 5, 15 min) before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}"
    console.print(load.format(*result.load_before, *result.load_after))
    console.print(f"command: {command}", markup=False)


def embed_pool(
    faces: Annotated[int, typer.Option("--faces", min=1, max=1000, help="Real LFW faces to embed.")] = 64,
    clients: Annotated[
        int, typer.Option("--clients", min=1, max=64, help="Client actors (the camera actors).")
    ] = 2,
    per_request: Annotated[
        int, typer.Option("--faces-per-request", min=1, max=64, help="Chips per request (a frame's faces).")
    ] = 1,
    pools: Annotated[
        list[int] | None,
        typer.Option(
            "--pool", min=1, help="Pool actors, repeatable, each at most --clients [1 to --clients]."
        ),
    ] = None,
    gather: Annotated[
        bool, typer.Option("--gather/--no-gather", help="Also measure one pool actor gathering requests.")
    ] = True,
    seconds: Annotated[float, typer.Option("--seconds", min=0.1, help="Timed window of each mode.")] = 10.0,
    warmup: Annotated[float, typer.Option("--warmup", min=0.0, help="Untimed seconds before it.")] = 2.0,
    lfw_dir: Annotated[
        Path | None,
        typer.Option("--lfw", help="LFW folder with images/ (default: $VIGIL_TEST_DATA/lfw)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write every number to this JSON file.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write faces/s bars (PNG).")] = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Embed in every camera actor, or in a shared pool of embedding actors? Measure both, side by side.

    On a private local Ray instance (2 CPUs), client actors embed real LFW chips for a fixed time: with
    their own embedder, or by sending them to a pool of embedding actors round-robin (and to one pool
    actor that gathers the requests waiting at once into one call).
    """
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    cfg = load_cli_config(config, model_dir)
    images = (lfw_dir or data_dir() / "lfw") / "images"
    try:
        settings = EmbedPoolSettings(
            faces=faces,
            clients=clients,
            faces_per_request=per_request,
            pools=tuple(dict.fromkeys(pools or range(1, clients + 1))),
            gather=gather,
            seconds=seconds,
            warmup_s=warmup,
        )
        with progress_bar(err_console, transient=True) as bar:
            task = bar.add_task("bench embed-pool", total=len(settings.modes) + 2)
            result = run_bench_embed_pool(
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
    _report(result, command)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        doc = {"command": command, **result.as_json()}
        out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        console.print(f"JSON: {out}")
    if plot is not None:
        plot_bench_embed_pool(result, plot)
        console.print(f"plot: {plot}")
