"""Options and helpers shared by the sub-commands."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vigil.app import Engine, folder_rule
from vigil.config import MatchConfig, VigilConfig, load_config
from vigil.errors import BadInput, ConfigError, VigilError
from vigil.match.folder import enrol_folder
from vigil.match.watchlist import Watchlist

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="YAML configuration file.")]
ModelDirOption = Annotated[
    Path | None, typer.Option("--model-dir", help="Folder searched first for model files.")
]


def load_cli_config(
    path: Path | None, model_dir: Path | None, overrides: dict[str, dict[str, object]] | None = None
) -> VigilConfig:
    """The config file (or defaults) with command-line overrides applied and validated."""
    try:
        cfg = load_config(path)
        data = cfg.model_dump()
        for section, values in (overrides or {}).items():
            data[section] = {**data[section], **values}
        if model_dir is not None:
            data["model_dir"] = model_dir
        return VigilConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {problems}")
        raise typer.Exit(2) from exc
    except ConfigError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def progress_bar(console: Console, label: str = "{task.description}", *, transient: bool = False) -> Progress:
    """The progress bar of Vigil's long jobs: label, bar, done / total, time left."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=console, transient=transient)


def enrol_watchlist(engine: Engine, folder: Path, console: Console) -> tuple[Watchlist, MatchConfig]:
    """Enrol a ``<name>/<photo>`` folder with a progress bar, naming every photo that was skipped; with
    the decision rule for its size (see :func:`vigil.app.folder_rule`).

    Raises:
        BadInput: no photo in the folder could be used.
    """
    with Progress(
        TextColumn("enrolling watchlist"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("enrol", total=None)
        result = enrol_folder(
            folder,
            engine.new_watchlist(),
            engine.stills,
            engine.config.ingest,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for problem in result.problems:
        console.print(f"[yellow]skipped[/] {problem}")
    wl = result.watchlist
    if not wl.identities:
        raise BadInput(folder, "no usable photo in the watchlist: nobody to look for")
    match, rule = folder_rule(engine.config, wl)
    why = (
        f"calibrated for {rule.size:,} people at FPIR {rule.fpir:g}"
        if rule.fpir is not None
        else "match.threshold"
    )
    console.print(
        f"watchlist: {len(wl.identities)} people from {result.photos_used} photos "
        f"(threshold {rule.threshold:.3f}, {why}; model {wl.model_id})"
    )
    return wl, match


ActorOption = Annotated[
    str | None, typer.Option("--as", help="Who is acting, for the audit log [local:<login name>].")
]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why (legal basis, case reference).")]


def actor_of(given: str | None) -> str:
    """Who acts, for the audit log: ``--as``, else the local login name."""
    return given or f"local:{getpass.getuser()}"


@contextmanager
def cli_errors() -> Iterator[None]:
    """Vigil's errors as one red line on stderr and exit code 2 (no traceback)."""
    try:
        yield
    except VigilError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
