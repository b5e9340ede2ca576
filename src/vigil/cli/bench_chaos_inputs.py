"""`vigil bench chaos inputs`: generated malformed images and videos through enrolment, search and footage
upload; every answer a clear 4xx (or a 2xx for a usable file), no crash, no hang, memory bounded."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.common import progress_bar
from vigil.evaluate.chaos_inputs_run import InputsResult, run_inputs
from vigil.evaluate.machine import machine_info
from vigil.samples import data_dir

console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)


def inputs(
    count: Annotated[int, typer.Option(min=1, max=1_000_000, help="Uploads to send.")] = 10_000,
    seed: Annotated[
        int, typer.Option(help="Seeds the generator: the same seed replays the same bytes.")
    ] = 11,
    json_out: Annotated[
        Path | None, typer.Option("--out", help="Write the result to this JSON file.")
    ] = None,
) -> None:
    """Send malformed media made from the test data's photos and clips to the API, in process; exit 1 on
    any crash (5xx, escaping exception, stuck job), hang or unclear answer."""
    source = data_dir()
    if not (source / "lfw" / "images").is_dir() or not (source / "video").is_dir():
        console.print(f"[red]error:[/red] test data not found at {source} (set VIGIL_TEST_DATA)")
        raise typer.Exit(2)
    with progress_bar(console, "malformed uploads") as bar:
        task = bar.add_task("uploads", total=count)
        result = run_inputs(source, count, seed, progress=lambda done, _t: bar.update(task, completed=done))
    _report(result)
    if json_out is not None:
        json_out.write_text(json.dumps(asdict(result), indent=2) + "\n")
    if not result.ok:
        raise typer.Exit(1)


def _report(result: InputsResult) -> None:
    table = Table(title=f"vigil bench chaos inputs ({result.count} uploads, seed {result.seed})")
    for name in ("route", "kind", "n", "answers", "crash", "hang", "unclear", "max s"):
        table.add_column(name, justify="left" if name in {"route", "kind", "answers"} else "right")
    for t in result.tallies:
        answers = ", ".join(f"{k}×{v}" for k, v in t.statuses.items())
        table.add_row(
            t.route,
            t.kind,
            str(t.count),
            answers,
            str(t.crashes),
            str(t.hangs),
            str(t.unclear),
            f"{t.max_s:.2f}",
        )
    console.print(table)
    console.print(
        f"crashes {result.crashes}, hangs {result.hangs}, unclear {result.unclear}; {result.seconds:.0f} s; "
        f"RSS {result.rss_start_mb:.0f} MB after start-up, peak {result.rss_peak_mb:.0f} MB"
    )
    console.print(machine_info().as_text())
    for problem in result.problems:
        console.print(f"[red]{problem}[/red]")
    if result.kinds_missing:
        console.print(f"[yellow]kinds not exercised (count too small):[/] {', '.join(result.kinds_missing)}")
