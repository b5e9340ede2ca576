"""/events: the history of every face track the live service recorded, filtered and paged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import MAX_ROW_ID, CurrentUser, RowId, RowIdFilter, State, permit
from vigil.api.schemas.events import EventPagePublic, EventPublic
from vigil.api.scope import UserScope
from vigil.services.history import MAX_PAGE, Decision, EventFilter, EventRow
from vigil.services.permissions import Permission
from vigil.store.tables import EventStatus

router = APIRouter(
    prefix="/events", tags=["events"], dependencies=[Depends(permit(Permission.SIGHTINGS_READ))]
)


def event_public(row: EventRow) -> EventPublic:
    return EventPublic(
        id=row.id, camera_id=row.camera_id, camera=row.camera, track_id=row.track_id, start_at=row.start_at,
        end_at=row.end_at, decision=row.decision.value, person_id=row.person_id, person=row.person,
        watchlist_id=row.watchlist_id, watchlist=row.watchlist, score=row.score, margin=row.margin,
        status=row.status.value if row.status else None,
        image_url=f"/media/events/{row.id}/best.jpg" if row.has_image else None,
    )  # fmt: skip


@router.get("")
async def list_events(  # noqa: PLR0917 (FastAPI passes query parameters by name)
    state: State,
    _user: CurrentUser,
    scope: UserScope,
    camera_id: RowIdFilter = None,
    watchlist_id: RowIdFilter = None,
    person_id: RowIdFilter = None,
    since: Annotated[
        datetime | None, Query(description="Tracks that started at or after (ISO, with zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Tracks that started before (ISO, with zone).")
    ] = None,
    decision: Annotated[Decision | None, Query(description="alert or unknown.")] = None,
    status: Annotated[EventStatus | None, Query(description="An alert's review status.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> EventPagePublic:
    """Newest first, inside your scope; ``total`` counts every match, for paging with ``offset``."""
    f = EventFilter(camera_id, watchlist_id, person_id, since, until, decision, status)
    page = await run_in_threadpool(lambda: state.history.page(f, limit=limit, offset=offset, scope=scope))
    return EventPagePublic(
        total=page.total, offset=page.offset, limit=limit, items=[event_public(r) for r in page.items]
    )


@router.get("/{event_id}")
async def get_event(event_id: RowId, state: State, _user: CurrentUser, scope: UserScope) -> EventPublic:
    """One event (404 outside your scope)."""
    return event_public(await run_in_threadpool(state.history.get, event_id, scope))
