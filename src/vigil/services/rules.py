"""The match rule of every list at its current size (see :mod:`vigil.match.thresholds`)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from vigil.match.thresholds import ListRule, ThresholdPolicy
from vigil.store.db import Database
from vigil.store.tables import Watchlist, WatchlistEntry


def list_sizes(session: Session, at: datetime, list_ids: Collection[int] | None = None) -> dict[int, int]:
    """People actively on each list at ``at`` (expired entries do not count: they cannot alert)."""
    q = (
        select(WatchlistEntry.watchlist_id, func.count())
        .where(or_(WatchlistEntry.expires_at.is_(None), WatchlistEntry.expires_at > at))
        .group_by(WatchlistEntry.watchlist_id)
    )
    if list_ids is not None:
        q = q.where(WatchlistEntry.watchlist_id.in_(sorted(list_ids)))
    return {int(i): int(n) for i, n in session.execute(q).all()}


def rule_of(policy: ThresholdPolicy, wl: Watchlist, size: int) -> ListRule:
    return policy.rule(size, wl.threshold, wl.fpir)


def list_rules(
    session: Session, policy: ThresholdPolicy, at: datetime | None = None, lists: Collection[Watchlist] = ()
) -> dict[int, ListRule]:
    """The rule of each of ``lists`` (every list when none is given), by list id."""
    at = at or datetime.now(UTC)
    rows = list(lists) or list(session.scalars(select(Watchlist)))
    sizes = list_sizes(session, at, [wl.id for wl in rows] if lists else None)
    return {wl.id: rule_of(policy, wl, sizes.get(wl.id, 0)) for wl in rows}


def lowest_threshold(db: Database, policy: ThresholdPolicy) -> float:
    """The lowest threshold of any list: a track's decision is taken there, and each list's own rule then
    picks its alerts (no list could alert below it)."""
    with db.read() as s:
        rules = list_rules(s, policy)
    return min((r.threshold for r in rules.values()), default=policy.match.threshold)
