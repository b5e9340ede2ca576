"""The audit log for administrators and auditors: pages of rows with their chain verdict, the filters'
choices, and the whole chain's verdict. Reading a page is itself audited (``audit.read``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import MAX_ROW_ID, AuditReader, State
from vigil.api.schemas.audit import AuditFacetsPublic, AuditPagePublic, AuditRowPublic, ChainPublic
from vigil.api.scope import unlimited
from vigil.services.audit_log import MAX_PAGE, AuditFilter

router = APIRouter(
    prefix="/audit", tags=["audit"],
    dependencies=[Depends(unlimited("the audit log covers every camera and list"))],
)  # fmt: skip


@router.get("")
async def list_audit(  # noqa: PLR0917 (FastAPI passes query parameters by name)
    state: State,
    reader: AuditReader,
    actor: Annotated[str | None, Query(max_length=64, description="Who acted (exactly).")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="An action, or a prefix ending in '.' or '*' (alert.*).")
    ] = None,
    since: Annotated[datetime | None, Query(description="Rows at or after (ISO, with zone).")] = None,
    until: Annotated[datetime | None, Query(description="Rows before (ISO, with zone).")] = None,
    list_: Annotated[
        str | None,
        Query(alias="list", max_length=64, description="A watchlist's name or id, in the row or its alert."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="next_cursor of the last page.")
    ] = None,
) -> AuditPagePublic:
    """Newest first. Each read is recorded as an ``audit.read`` row of the reader, with its filters."""
    f = AuditFilter(actor, action, since, until, list_)
    page = await run_in_threadpool(lambda: state.audit.page(reader.username, f, limit=limit, cursor=cursor))
    return AuditPagePublic(
        rows=[AuditRowPublic.model_validate(r) for r in page.rows], next_cursor=page.next_cursor
    )


@router.get("/facets")
async def audit_facets(state: State, _reader: AuditReader) -> AuditFacetsPublic:
    """Every actor and action in the log (for the viewer's filters)."""
    return AuditFacetsPublic.model_validate(await run_in_threadpool(state.audit.facets))


@router.get("/verify")
async def verify_audit(state: State, _reader: AuditReader) -> ChainPublic:
    """Walk the whole hash chain: the first row that does not follow, and why."""
    check = await run_in_threadpool(state.audit.verify)
    return ChainPublic(rows=check.rows, ok=check.ok, broken_at=check.broken_at, reason=check.reason)
