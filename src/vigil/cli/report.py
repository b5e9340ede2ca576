"""`vigil report`: the accountability report of a period written to a file (HTML, or PDF), audited."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil.app import open_store
from vigil.cli.common import ActorOption, ConfigOption, actor_of, cli_errors, load_cli_config
from vigil.errors import BadInput, check_period
from vigil.services.report import Report, ReportService
from vigil.services.report_render import render_html, render_pdf
from vigil.store import audit

console = Console(highlight=False)


def report(
    since: Annotated[datetime, typer.Option(help="The period's start (ISO, with zone), included.")],
    until: Annotated[datetime, typer.Option(help="The period's end (ISO, with zone), excluded.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write (.html, or .pdf with --pdf).")],
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Write a PDF (figures and plots) instead of HTML.")
    ] = False,
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the accountability report of a period: searches and their reasons, alerts per list, reviews,
    thresholds, watchlist changes, purges and the audit chain's verdict. Recorded as ``report.read``."""
    with cli_errors():
        check_period(since, until, "report period")
        if out.is_dir():
            raise BadInput(out, "is a folder, not a file")
        if not out.parent.is_dir():
            raise BadInput(out, f"no such folder {out.parent}")
        if not os.access(out.parent, os.W_OK):
            raise BadInput(out, f"cannot write in {out.parent}")
        cfg = load_cli_config(config, None)
        store = open_store(cfg)
        built = ReportService(store.db, store.lists).build(since, until)
        _write(out, built, pdf=pdf)
        who, out_format = actor_of(actor), "pdf" if pdf else "html"
        with store.db.write() as s:
            audit.append(
                s, who, "report.read", "report",
                details={"since": since.isoformat(), "until": until.isoformat(), "format": out_format},
            )  # fmt: skip
    kind = "PDF" if pdf else "HTML"
    console.print(
        f"wrote {out} ({kind}, {out.stat().st_size:,} bytes): {built.alerts_total} alerts, "
        f"{len(built.searches)} searches; recorded as report.read by {who}"
    )


def _write(out: Path, built: Report, *, pdf: bool) -> None:
    """Write the report to ``out`` whole or not at all (a temporary file renamed into place)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=out.suffix)
    except OSError as exc:
        raise BadInput(out, f"cannot write in {out.parent}: {exc.strerror or exc}") from exc
    os.close(fd)
    path = Path(tmp)
    try:
        if pdf:
            render_pdf(built, path)
        else:
            path.write_text(render_html(built), encoding="utf-8")
        path.replace(out)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise BadInput(out, f"cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
