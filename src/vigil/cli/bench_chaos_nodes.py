"""`vigil bench chaos node-kills`: SIGKILL Ray nodes one after another; each node's cameras stream again
elsewhere within the bound, and every alert reaches the webhook receiver exactly once."""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.common import progress_bar
from vigil.errors import VigilError
from vigil.evaluate.chaos_nodes import NodeKillResult, NodeKillSettings, run_node_kills
from vigil.evaluate.machine import machine_info
from vigil.evaluate.pg_cluster import LocalCluster
from vigil.evaluate.rtsp_server import RtspServer
from vigil.samples import SAMPLE_CLIP, SAMPLE_WATCHLIST, data_dir

console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)
_MOUNT = "hamilton"


def node_kills(
    count: Annotated[
        int, typer.Option("--kills", min=1, max=1000, help="Nodes SIGKILLed, one at a time.")
    ] = 20,
    cameras: Annotated[int, typer.Option(min=1, max=8, help="RTSP cameras looping the sample clip.")] = 3,
    fail_ratio: Annotated[
        float, typer.Option(min=0.0, max=0.95, help="Share of webhook requests the receiver fails.")
    ] = 0.5,
    seed: Annotated[int, typer.Option(help="Seeds the waits between kills and the receiver's failures.")] = 7,
    keep: Annotated[
        Path | None, typer.Option("--workdir", help="Run in this folder and keep it (data, config, log).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the result to this JSON file.")] = None,
) -> None:
    """Kill the worker nodes of a local 3-node Ray cluster one after another while RTSP cameras raise
    alerts (each time a fresh node joins); then compare the database's alerts with what a failing webhook
    receiver accepted, and check that no row was half-written. Needs Ray, PostgreSQL and GStreamer."""
    clip = (data_dir() / SAMPLE_CLIP).resolve()
    person, photo_name = SAMPLE_WATCHLIST[0]
    photo = (data_dir() / "refs" / photo_name).resolve()
    for needed in (clip, photo):
        if not needed.is_file():
            console.print(f"[red]error:[/red] {needed} not found (set VIGIL_TEST_DATA)")
            raise typer.Exit(2)
    settings = NodeKillSettings(kills=count, cameras=cameras, seed=seed, fail_ratio=fail_ratio)
    with tempfile.TemporaryDirectory(prefix="vigil-chaos-nodes-") as tmp, ExitStack() as stack:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            postgres = stack.enter_context(LocalCluster.start())
            rtsp = stack.enter_context(RtspServer({_MOUNT: clip}, loop=True))
            with progress_bar(console, "node kills") as bar:
                task = bar.add_task("starting", total=count)

                def progress(done: int, total: int, what: str) -> None:
                    bar.update(task, completed=done, description=what)

                result = run_node_kills(
                    workdir, database_url=postgres.new_database("chaos_nodes"), camera_url=rtsp.url(_MOUNT),
                    photo=photo, person=person, settings=settings, progress=progress,
                )  # fmt: skip
        except VigilError as exc:
            console.print(f"[red]error:[/red] {exc} (the service's log: {workdir / 'serve.log'})")
            raise typer.Exit(1) from exc
    _report(result, settings)
    if out is not None:
        figures = {**asdict(result), "move_summary_s": result.move_summary(), "late": result.late}
        out.write_text(json.dumps({"settings": asdict(settings), "result": figures}, indent=2) + "\n")
    if not result.ok:
        raise typer.Exit(1)


def _report(result: NodeKillResult, settings: NodeKillSettings) -> None:
    d = result.deliveries
    table = Table(title="vigil bench chaos node-kills", caption=machine_info().as_text())
    table.add_column("measure")
    table.add_column("value", justify="right")
    joins = sorted(result.join_s)
    rows: list[tuple[str, object]] = [
        ("nodes SIGKILLed (cameras moved)", f"{result.kills} ({result.cameras_moved})"),
        ("back on another node, s: min / median / max", result.move_summary()),
        (f"moves over {result.move_within_s:g} s", len(result.late)),
        ("fresh node joined to a camera on it, s: min / max",
         f"{joins[0]:.1f} / {joins[-1]:.1f}" if joins else "-"),
        ("alerts raised (database)", d.alerts_raised),
        ("alerts delivered (distinct webhook-id)", d.delivered),
        ("requests answered / failed on purpose", f"{d.requests} / {d.failed_requests}"),
        ("accepted twice", d.duplicates),
        ("missing (raised, never delivered)", len(d.missing)),
        ("unknown ids / one id, two bodies / body of another alert",
         f"{len(d.unknown)} / {len(d.conflicting)} / {len(d.wrong_alert)}"),
        ("rows half-written", len(result.half_written)),
        ("seconds", result.seconds),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    command = shlex.join(["vigil", "bench", "chaos", "node-kills", "--kills", str(settings.kills)])
    verdict = "[green]nothing lost, nothing twice[/green]" if result.ok else "[red]FAILED[/red]"
    console.print(f"{verdict}  ({command})")
    for problem in result.half_written[:20]:
        console.print(f"half-written: {problem}")
    if d.missing:
        console.print(f"missing alerts: {', '.join(map(str, d.missing[:20]))}")
