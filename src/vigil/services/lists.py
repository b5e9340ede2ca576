"""Watchlists: create, list, remove. Each change is written with its audit row in one transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from vigil.errors import BadInput, NotFound
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.tables import Review, Severity, Watchlist, WatchlistEntry

LIST_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ListSettings:
    """What a list decides: its threshold (None: the configured default), severity, review, retention."""

    threshold: float | None = None
    severity: Severity = Severity.MEDIUM
    colour: str = "#d97706"
    review: Review = Review.ACKNOWLEDGE
    retention_days: int = 30
    description: str = ""

    def check(self) -> None:
        if self.threshold is not None and not -1.0 <= self.threshold <= 1.0:
            raise BadInput("threshold", f"{self.threshold} is not a cosine similarity in [-1, 1]")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.colour):
            raise BadInput("colour", f"{self.colour!r} is not a #rrggbb colour")
        if not 0 <= self.retention_days <= 36_500:
            raise BadInput("retention_days", f"{self.retention_days} is not between 0 and 36500")


@dataclass(frozen=True, slots=True)
class ListInfo:
    id: int
    name: str
    settings: ListSettings
    people: int
    created_by: str
    created_at: datetime


def check_list_name(name: str) -> str:
    if not LIST_NAME.fullmatch(name):
        raise BadInput(
            name, "list names are 1-64 lowercase letters, digits, '-' or '_', starting alphanumeric"
        )
    return name


def _info(wl: Watchlist, people: int) -> ListInfo:
    settings = ListSettings(
        wl.threshold, wl.severity, wl.colour, wl.review, wl.retention_days, wl.description
    )  # fmt: skip
    return ListInfo(wl.id, wl.name, settings, people, wl.created_by, as_utc(wl.created_at))


class ListService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, actor: str, name: str, settings: ListSettings, reason: str) -> ListInfo:
        check_list_name(name)
        settings.check()
        if not reason.strip():
            raise BadInput("reason", "creating a list needs a reason")
        try:
            with self._db.write() as s:
                wl = Watchlist(
                    name=name, description=settings.description, threshold=settings.threshold,
                    severity=settings.severity, colour=settings.colour, review=settings.review,
                    retention_days=settings.retention_days, created_by=actor, created_at=datetime.now(UTC),
                )  # fmt: skip
                s.add(wl)
                s.flush()
                audit.append(
                    s, actor, "list.create", f"list:{name}", reason=reason,
                    details={"threshold": settings.threshold, "severity": settings.severity.value,
                             "review": settings.review.value, "retention_days": settings.retention_days},
                )  # fmt: skip
        except IntegrityError as exc:
            raise BadInput(name, "a list with this name already exists") from exc
        return _info(wl, 0)

    def all(self) -> list[ListInfo]:
        with self._db.read() as s:
            counts = dict(
                s.execute(
                    select(WatchlistEntry.watchlist_id, func.count()).group_by(WatchlistEntry.watchlist_id)
                ).all()
            )
            return [
                _info(wl, counts.get(wl.id, 0))
                for wl in s.scalars(select(Watchlist).order_by(Watchlist.name))
            ]

    def get(self, name: str) -> ListInfo:
        with self._db.read() as s:
            wl = s.scalar(select(Watchlist).where(Watchlist.name == name))
            if wl is None:
                raise NotFound(f"no list named {name!r}")
            n = s.scalar(select(func.count()).where(WatchlistEntry.watchlist_id == wl.id)) or 0
            return _info(wl, n)

    def remove(self, actor: str, name: str, reason: str) -> int:
        """Delete a list and its entries (people stay, with their other lists); returns entries removed."""
        if not reason.strip():
            raise BadInput("reason", "removing a list needs a reason")
        with self._db.write() as s:
            wl = s.scalar(select(Watchlist).where(Watchlist.name == name))
            if wl is None:
                raise NotFound(f"no list named {name!r}")
            n = s.scalar(select(func.count()).where(WatchlistEntry.watchlist_id == wl.id)) or 0
            s.delete(wl)
            audit.append(s, actor, "list.remove", f"list:{name}", reason=reason, details={"entries": n})
        return n
