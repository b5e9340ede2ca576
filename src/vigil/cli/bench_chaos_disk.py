"""`vigil bench chaos disk`: the data dir on a small tmpfs, full and then read-only; clear errors, nothing
half-written, and the service resumes when space (or write access) returns. Needs root (mount)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.evaluate.chaos_disk import TMPFS_MB, DiskResult, MountUnavailable, run_disk
from vigil.evaluate.machine import machine_info
from vigil.samples import SAMPLE_CLIP, data_dir

console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)
PHOTO = Path("refs") / "ageitgey_obama.jpg"


def disk(
    size_mb: Annotated[
        int, typer.Option(min=4, max=1024, help="Size of the tmpfs holding the data dir.")
    ] = TMPFS_MB,
    json_out: Annotated[
        Path | None, typer.Option("--out", help="Write the result to this JSON file.")
    ] = None,
) -> None:
    """Fill the data dir's disk, then remount it read-only: every write must say so clearly (507 / 503),
    reads keep working, nothing is half-written, and writes resume afterwards. Exit 1 on any failed check,
    2 when a tmpfs cannot be mounted (not root)."""
    photo, clip = data_dir() / PHOTO, data_dir() / SAMPLE_CLIP
    for needed in (photo, clip):
        if not needed.is_file():
            console.print(f"[red]error:[/red] {needed} not found (set VIGIL_TEST_DATA)")
            raise typer.Exit(2)
    try:
        result = run_disk(
            photo, clip, size_mb=size_mb, progress=lambda phase: console.print(f"phase: {phase}")
        )
    except MountUnavailable as exc:
        console.print(f"[red]error:[/red] {exc} (run as root)")
        raise typer.Exit(2) from None
    _report(result)
    if json_out is not None:
        json_out.write_text(json.dumps(asdict(result), indent=2) + "\n")
    if not result.ok:
        raise typer.Exit(1)


def _report(result: DiskResult) -> None:
    table = Table(
        title=f"vigil bench chaos disk ({result.size_mb} MB tmpfs)", caption=machine_info().as_text()
    )
    for name in ("phase", "request", "answer", "expected", "ok", "said"):
        table.add_column(name)
    for c in result.checks:
        table.add_row(
            c.phase, c.what, str(c.status), c.expected, "yes" if c.ok else "[red]NO[/]", c.detail[:90]
        )
    console.print(table)
