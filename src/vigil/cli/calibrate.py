"""`vigil calibrate`: the thresholds a list needs for a false-alert rate at its size (show, build)."""

from __future__ import annotations

import os
import shlex
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url

from vigil.app import build_engine, embedder_identity, open_store, threshold_policy
from vigil.cli.common import (
    ActorOption,
    ConfigOption,
    ModelDirOption,
    actor_of,
    cli_errors,
    load_cli_config,
    progress_bar,
)
from vigil.config import VigilConfig
from vigil.errors import StoreError, VigilError
from vigil.evaluate.calibrate import calibrate_lfw, lfw_gallery
from vigil.evaluate.embed_images import VectorCache, lfw_cache_path
from vigil.evaluate.plots import plot_calibration
from vigil.match.calibration import Calibration, calibrate, shipped_path
from vigil.samples import data_dir
from vigil.services.site_calibration import SiteScope, SiteStrangers
from vigil.store import migrate
from vigil.store.db import Database
from vigil.store.paths import database_url

calibrate_app = typer.Typer(
    help="Thresholds calibrated from a false-alert rate (FPIR) for each list size.", no_args_is_help=True
)
console = Console(width=None if sys.stdout.isatty() else 150, highlight=False)
err_console = Console(stderr=True)

SHOWN_SIZES = (1, 10, 100, 300, 1_000, 3_000, 10_000, 100_000)
SHOWN_FPIRS = (0.01, 0.001, 0.0001)


def print_table(cal: Calibration, sizes: tuple[int, ...] = SHOWN_SIZES) -> None:
    table = Table(
        title=f"Thresholds for {cal.model_id} by list size and FPIR (false alerts per unknown track)"
    )
    table.add_column("people on the list", justify="right")
    for f in SHOWN_FPIRS:
        table.add_column(f"FPIR {f:g}", justify="right")
    for size in sizes:
        cells = []
        for f in SHOWN_FPIRS:
            t = cal.threshold(size, f)
            mark = ("*" if t.extrapolated else "") + ("" if t.resolved else " ≥")
            cells.append(f"{t.threshold:.3f}{mark}")
        table.add_row(f"{size:,}", *cells)
    console.print(table)
    console.print(
        f"* extrapolated beyond the {cal.sizes[-1]:,} people measured; ≥ finer than the calibration can "
        "see (the highest stranger score seen)."
    )
    console.print(f"calibrated on: {cal.source}", markup=False)
    console.print(f"made with: {cal.command}", markup=False)


@calibrate_app.command("show")
def show(
    plot: Annotated[Path | None, typer.Option("--plot", help="Write threshold against size (PNG).")] = None,
    size: Annotated[list[int] | None, typer.Option("--size", min=1, help="List sizes to show.")] = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """The calibration in use for the configured embedder: the threshold for each list size and FPIR."""
    cfg = load_cli_config(config, model_dir)
    try:
        policy = threshold_policy(cfg)
    except VigilError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    cal = policy.calibration
    if cal is None:
        model, _ = embedder_identity(cfg)
        err_console.print(f"[red]error:[/] no calibration for {model}: make one with `vigil calibrate build`")
        raise typer.Exit(2)
    print_table(cal, tuple(size) if size else SHOWN_SIZES)
    fpir = cfg.match.fpir
    console.print(
        f"configured: match.fpir {fpir if fpir is not None else 'null (calibration off)'}, "
        f"floor match.threshold {cfg.match.threshold:.3f}"
    )
    if plot is not None:
        plot_calibration(cal, plot, SHOWN_FPIRS)
        console.print(f"plot: {plot}")


class Strangers(StrEnum):
    LFW = "lfw"  # the other half of LFW's people
    STORE = "store"  # the configured store's unknown tracks: a site's own cameras


@calibrate_app.command("build")
def build(
    strangers: Annotated[
        Strangers,
        typer.Option(
            "--strangers",
            help="Who the strangers are: lfw (the other half of LFW's people) or store (the configured "
            "store's unknown tracks: thresholds for the site's own cameras; needs --reason).",
        ),
    ] = Strangers.LFW,
    lfw_dir: Annotated[
        Path | None,
        typer.Option("--lfw", help="LFW folder with images/ (default: $VIGIL_TEST_DATA/lfw)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the calibration here.")] = None,
    ship: Annotated[
        bool, typer.Option("--ship", help="Write it into the source tree as the shipped calibration.")
    ] = False,
    camera: Annotated[
        list[str] | None,
        typer.Option("--camera", help="With --strangers store: only this camera (repeatable)."),
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="With --strangers store: tracks filmed from (ISO, with zone).")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="With --strangers store: tracks filmed before (ISO, with zone).")
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", "-r", help="Why the archive's face templates are read (--strangers store)."),
    ] = None,
    actor: ActorOption = None,
    repeats: Annotated[int, typer.Option(min=1, max=1000, help="Random lists drawn per size.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the split and the draws.")] = 0,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Embedding processes.")] = max(
        1, os.cpu_count() or 1
    ),
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Calibrate the configured embedder: LFW's people enrolled from one photo, and as strangers the
    other half of LFW (default) or the configured store's unknown tracks (--strangers store)."""
    site = strangers is Strangers.STORE
    if (out is None) == (not ship):
        _refuse("give --out FILE or --ship")
    if site and ship:
        _refuse("--ship writes the calibration Vigil ships (made from LFW): write a site's with --out FILE")
    if not site and (camera or since or until or reason):
        _refuse("--camera, --since, --until and --reason choose and justify --strangers store")
    command = shlex.join(["vigil", *sys.argv[1:]])
    cfg = load_cli_config(config, model_dir)
    model, dim = embedder_identity(cfg)
    images = (lfw_dir or data_dir() / "lfw") / "images"
    cache = VectorCache(lfw_cache_path(cfg, model))
    with cli_errors():
        if site:
            scope = SiteScope(model, dim, tuple(dict.fromkeys(camera or ())), since, until)
            cal = _site(
                cfg, scope, actor_of(actor), reason or "", images, cache, command, workers, seed, repeats
            )
        else:
            build_engine(cfg)  # fail early, with advice, if a model is missing
            with progress_bar(err_console, "embedding LFW") as bar:
                task = bar.add_task("lfw", total=None)
                cal = calibrate_lfw(
                    cfg, images, cache, model, command=command, workers=workers, seed=seed, repeats=repeats,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )  # fmt: skip
    target = shipped_path(model) if ship else out
    assert target is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    cal.save(target)
    print_table(cal)
    console.print(f"calibration: {target}")


def _site(
    cfg: VigilConfig,
    scope: SiteScope,
    actor: str,
    reason: str,
    images: Path,
    cache: VectorCache,
    command: str,
    workers: int,
    seed: int,
    repeats: int,
) -> Calibration:
    """The store's unknown tracks (read and audited first: a refusal embeds nothing) against LFW's gallery."""
    found = SiteStrangers.read(_recorded_store(cfg), actor, reason, scope)
    err_console.print(f"strangers: {len(found.vectors):,} unknown tracks (audited as #{found.audit_id})")
    build_engine(cfg)
    with progress_bar(err_console, "embedding LFW's gallery") as bar:
        task = bar.add_task("lfw", total=None)
        gallery, listed = lfw_gallery(
            cfg, images, cache, workers=workers, seed=seed,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
    return calibrate(
        gallery, found.vectors, model_id=scope.model_id, source=found.source(listed), command=command,
        repeats=repeats, seed=seed,
    )  # fmt: skip


def _recorded_store(cfg: VigilConfig) -> Database:
    """The configured store, which must exist and be at this Vigil's schema (an empty one is not made)."""
    url = database_url(cfg.store)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if not path or not Path(path).is_file():
            raise StoreError(f"no store at {path}: nothing was recorded there (store.data_dir, store.url)")
    db = open_store(cfg, create=False).db
    if migrate.current(db.engine) is None:
        raise StoreError(f"no Vigil store at {db.engine.url.render_as_string(hide_password=True)}")
    migrate.ensure_schema(db.engine)  # refuses a schema behind this Vigil's
    return db


def _refuse(message: str) -> NoReturn:
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(2)
