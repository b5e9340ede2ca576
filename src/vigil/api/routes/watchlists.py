"""/watchlists: the lists people are enrolled on; creating and removing one needs the admin role."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, status
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import AdminUser, CurrentUser, State
from vigil.api.schemas.watchlists import WatchlistCreate, WatchlistPublic, WatchlistRule
from vigil.api.scope import UserScope, out_of_scope
from vigil.services.lists import ListInfo, ListSettings
from vigil.services.visibility import list_visible

router = APIRouter(prefix="/watchlists", tags=["watchlists"])

Reason = Annotated[str, Query(min_length=1, max_length=500, description="Why; written to the audit log.")]


def watchlist_public(info: ListInfo) -> WatchlistPublic:
    st, rule = info.settings, info.rule
    return WatchlistPublic(
        id=info.id, name=info.name, description=st.description, threshold=st.threshold, fpir=st.fpir,
        effective_threshold=rule.threshold, calibrated_threshold=rule.calibrated,
        calibrated_for_size=rule.size, effective_fpir=rule.fpir, below_calibrated=rule.below_calibrated,
        extrapolated=rule.extrapolated,
        severity=st.severity, colour=st.colour, review=st.review, retention_days=st.retention_days,
        people=info.people, created_by=info.created_by, created_at=info.created_at,
    )  # fmt: skip


@router.get("")
async def list_watchlists(state: State, _user: CurrentUser, scope: UserScope) -> list[WatchlistPublic]:
    """The lists of your scope."""
    lists = await run_in_threadpool(state.lists.all)
    return [watchlist_public(wl) for wl in lists if list_visible(scope, wl.id)]


@router.get("/{name}")
async def get_watchlist(name: str, state: State, _user: CurrentUser, scope: UserScope) -> WatchlistPublic:
    """A list of your scope (404 otherwise)."""
    info = await run_in_threadpool(state.lists.get, name)
    if not list_visible(scope, info.id):
        raise out_of_scope(f"list named {name!r}")
    return watchlist_public(info)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_watchlist(body: WatchlistCreate, state: State, admin: AdminUser) -> WatchlistPublic:
    settings = ListSettings(
        threshold=body.threshold, fpir=body.fpir, severity=body.severity, colour=body.colour,
        review=body.review, retention_days=body.retention_days, description=body.description,
    )  # fmt: skip
    info = await run_in_threadpool(
        partial(state.lists.create, force=body.force), admin.username, body.name, settings, body.reason
    )
    return watchlist_public(info)


@router.put("/{name}/rule")
async def set_watchlist_rule(
    name: str, body: WatchlistRule, state: State, admin: AdminUser
) -> WatchlistPublic:
    """Set (or with nulls, clear) a list's own threshold and false-alert rate; audited with the reason."""
    info = await run_in_threadpool(
        partial(state.lists.set_rule, threshold=body.threshold, fpir=body.fpir, force=body.force),
        admin.username, name, body.reason,
    )  # fmt: skip
    return watchlist_public(info)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_watchlist(name: str, state: State, admin: AdminUser, reason: Reason) -> None:
    """Remove a list and its entries; the people stay, with their other lists."""
    await run_in_threadpool(state.lists.remove, admin.username, name, reason)
