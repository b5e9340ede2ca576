"""/alerts: the alert history, one alert, and its review (acknowledge / confirm / reject)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import MAX_ROW_ID, CurrentUser, OperatorUser, RowId, RowIdFilter, State, permit
from vigil.api.schemas.live import AlertPublic, AlertReview, ReviewPublic, TravelPublic
from vigil.api.scope import UserScope, refuse_act
from vigil.services.alerts import AlertView
from vigil.services.permissions import Permission
from vigil.store.tables import EventStatus

router = APIRouter(
    prefix="/alerts", tags=["alerts"], dependencies=[Depends(permit(Permission.SIGHTINGS_READ))]
)


def alert_public(view: AlertView) -> AlertPublic:
    a = view.alert
    return AlertPublic(
        id=a.event_id, event_id=a.event_id, camera_id=a.camera_id, camera=a.camera, person_id=a.person_id,
        person=a.person, watchlist_id=a.watchlist_id, watchlist=a.watchlist,
        lists=list(a.lists), severity=a.severity.value,
        colour=a.colour, review=a.review.value, score=a.score, margin=a.margin, threshold=a.threshold,
        fpir=a.fpir, calibrated_for_size=a.calibrated_for,
        seen_at=a.seen_at, raised_at=a.raised_at, status=a.status.value, image_url=a.image_url,
        confirmations=view.confirmations, confirmations_needed=view.confirmations_needed,
        awaiting_second_confirmation=view.awaiting_second_confirmation,
        reviews=[ReviewPublic(username=r.username, action=r.action.value, note=r.note, at=r.at)
                 for r in view.reviews],
        retro=a.retro,
        impossible_travel=None if a.travel is None else TravelPublic(**a.travel.payload()),
    )  # fmt: skip


@router.get("")
async def list_alerts(  # noqa: PLR0917 (FastAPI passes query parameters by name)
    state: State,
    user: CurrentUser,
    scope: UserScope,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_ROW_ID, description="Only alerts after this id, oldest first (catch-up)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    status: EventStatus | None = None,
    camera_id: RowIdFilter = None,
    watchlist_id: RowIdFilter = None,
    mine: Annotated[
        bool, Query(description="Only the lists assigned to you for the officer view (none assigned: all).")
    ] = False,
) -> list[AlertPublic]:
    """The alerts you may see (your scope's), newest first; with ``after``, oldest first."""

    def fetch() -> list[AlertView]:
        mine_ids = state.scopes.list_ids_of(user.user_id) if mine else None
        return state.live.alerts.list(
            after_id=after, limit=limit, status=status, camera_id=camera_id, watchlist_id=watchlist_id,
            watchlist_ids=mine_ids, scope=scope,
        )  # fmt: skip

    views = await run_in_threadpool(fetch)
    return [alert_public(v) for v in views]


@router.get("/{alert_id}")
async def get_alert(alert_id: RowId, state: State, _user: CurrentUser, scope: UserScope) -> AlertPublic:
    """One alert (404 outside your scope)."""
    return alert_public(await run_in_threadpool(state.live.alerts.get, alert_id, scope))


@router.post("/{alert_id}/review")
async def review_alert(
    alert_id: RowId, body: AlertReview, state: State, user: OperatorUser, scope: UserScope
) -> AlertPublic:
    """Acknowledge, confirm or reject an alert of your scope (404 outside it, audited)."""
    if not await run_in_threadpool(state.live.alerts.visible, alert_id, scope):
        raise await refuse_act(state, user, "alert.review", f"alert:{alert_id}")
    view = await run_in_threadpool(
        partial(state.live.alerts.review, wrong_person=body.wrong_person),
        user.username, alert_id, body.action, body.note,
    )  # fmt: skip
    return alert_public(view)
