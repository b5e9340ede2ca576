"""The accountability report of a period, as one self-contained HTML page (administrators, auditors)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import ReportReader, State
from vigil.api.scope import unlimited
from vigil.services.report_render import render_html
from vigil.store import audit

router = APIRouter(
    tags=["reports"], dependencies=[Depends(unlimited("the report covers every camera and list"))]
)

# The page carries its plots as data: URLs and its styles inline, and runs no script.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


@router.get("/reports", response_class=HTMLResponse)
async def report(
    state: State,
    reader: ReportReader,
    since: Annotated[datetime, Query(description="The period's start (ISO, with zone), included.")],
    until: Annotated[datetime, Query(description="The period's end (ISO, with zone), excluded.")],
) -> HTMLResponse:
    """Searches with their reasons, alerts per list, reviews per reviewer and time to review, thresholds and
    their calibration, watchlist changes with their legal basis, purges and the hash-chain verdict, with
    plots. An empty period is an empty report. Recorded as ``report.read``."""

    def build() -> str:
        page = render_html(state.reports.build(since, until))
        with state.db.write() as s:
            audit.append(
                s, reader.username, "report.read", "report",
                details={"since": since.isoformat(), "until": until.isoformat()},
            )  # fmt: skip
        return page

    body = await run_in_threadpool(build)
    return HTMLResponse(body, headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-store"})
