"""`vigil bench chaos kills`: random SIGKILLs of the service and its workers; every alert delivered once."""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.common import progress_bar
from vigil.evaluate.chaos_kill import KillResult, KillSettings, run_kills
from vigil.evaluate.machine import machine_info
from vigil.samples import SAMPLE_CLIP, SAMPLE_WATCHLIST, data_dir

console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)


def kills(
    count: Annotated[int, typer.Option("--kills", min=1, max=10_000, help="SIGKILLs over the run.")] = 100,
    cameras: Annotated[int, typer.Option(min=1, max=8, help="File cameras looping the sample clip.")] = 2,
    fail_ratio: Annotated[
        float, typer.Option(min=0.0, max=0.95, help="Share of webhook requests the receiver fails.")
    ] = 0.5,
    worker_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the kills aimed at a camera worker.")
    ] = 0.5,
    seed: Annotated[int, typer.Option(help="Seeds the waits, the targets and the receiver's failures.")] = 7,
    keep: Annotated[
        Path | None, typer.Option("--workdir", help="Run in this folder and keep it (data, config, log).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the result to this JSON file.")] = None,
) -> None:
    """Kill the service and its camera workers at random while alerts flow to a failing webhook receiver;
    then compare the database's alerts with what the receiver accepted."""
    clip = (data_dir() / SAMPLE_CLIP).resolve()  # a file camera needs an absolute path
    person, photo_name = SAMPLE_WATCHLIST[0]
    photo = (data_dir() / "refs" / photo_name).resolve()
    for needed in (clip, photo):
        if not needed.is_file():
            console.print(f"[red]error:[/red] {needed} not found (set VIGIL_TEST_DATA)")
            raise typer.Exit(2)
    settings = KillSettings(
        kills=count, seed=seed, cameras=cameras, fail_ratio=fail_ratio, worker_share=worker_share
    )
    with tempfile.TemporaryDirectory(prefix="vigil-chaos-") as tmp:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        with progress_bar(console, "SIGKILLs") as bar:
            task = bar.add_task("kills", total=count)

            def progress(done: int, total: int, what: str) -> None:
                bar.update(task, completed=done, description=what)

            result = run_kills(
                workdir, clip=clip, photo=photo, person=person, settings=settings, progress=progress
            )
    _report(result, settings)
    if out is not None:
        out.write_text(json.dumps({"settings": asdict(settings), "result": asdict(result)}, indent=2) + "\n")
    if not result.ok:
        raise typer.Exit(1)


def _report(result: KillResult, settings: KillSettings) -> None:
    table = Table(title="vigil bench chaos kills", caption=machine_info().as_text())
    table.add_column("measure")
    table.add_column("value", justify="right")
    d = result.deliveries
    rows: list[tuple[str, object]] = [
        ("SIGKILLs: service / camera worker", f"{result.kills_service} / {result.kills_worker}"),
        ("alerts raised (database)", d.alerts_raised),
        ("alerts delivered (distinct webhook-id)", d.delivered),
        ("requests answered / failed on purpose", f"{d.requests} / {d.failed_requests}"),
        ("accepted twice (de-duplicated by webhook-id)", d.duplicates),
        ("missing (raised, never delivered)", len(d.missing)),
        ("unknown ids / one id, two bodies / body of another alert",
         f"{len(d.unknown)} / {len(d.conflicting)} / {len(d.wrong_alert)}"),
        ("camera removed and added again (old id → new id)",
         "→".join(map(str, result.readded_camera)) if result.readded_camera else "-"),
        ("alerts of the removed camera kept", result.removed_camera_alerts),
        ("seconds", result.seconds),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    command = shlex.join(["vigil", "bench", "chaos", "kills", "--kills", str(settings.kills)])
    verdict = "[green]nothing lost[/green]" if result.ok else "[red]FAILED[/red]"
    console.print(f"{verdict}  ({command})")
    if d.missing:
        console.print(f"missing alerts: {', '.join(map(str, d.missing[:20]))}")
