"""The event history: every face track recorded by the live service, filtered and paged, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVarTuple

from sqlalchemy import Select, func, select

from vigil.errors import BadInput, NotFound, check_period
from vigil.services.scopes import event_in_scope
from vigil.services.visibility import Scope, event_lists, event_visible
from vigil.store.db import Database, as_utc
from vigil.store.tables import Camera, Event, EventShot, EventStatus, Person, Watchlist

MAX_PAGE = 200
_Ts = TypeVarTuple("_Ts")


class Decision(StrEnum):
    ALERT = "alert"  # matched a list and raised an alert
    UNKNOWN = "unknown"  # matched no list (or not well enough to alert)


@dataclass(frozen=True, slots=True)
class EventFilter:
    camera_id: int | None = None
    watchlist_id: int | None = None
    person_id: int | None = None
    since: datetime | None = None  # tracks that started at or after
    until: datetime | None = None  # tracks that started before
    decision: Decision | None = None
    status: EventStatus | None = None

    def check(self) -> None:
        check_period(self.since, self.until)


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    camera_id: int
    camera: str
    track_id: int
    start_at: datetime
    end_at: datetime
    decision: Decision
    person_id: int | None
    person: str | None
    watchlist_id: int | None
    watchlist: str | None
    score: float | None
    margin: float | None
    status: EventStatus | None  # alerts only
    has_image: bool


@dataclass(frozen=True, slots=True)
class EventPage:
    total: int
    offset: int
    items: list[EventRow]


def _where(query: Select[*_Ts], f: EventFilter) -> Select[*_Ts]:
    if f.camera_id is not None:
        query = query.where(Event.camera_id == f.camera_id)
    if f.watchlist_id is not None:
        query = query.where(Event.watchlist_id == f.watchlist_id)
    if f.person_id is not None:
        query = query.where(Event.person_id == f.person_id)
    if f.since is not None:
        query = query.where(Event.start_at >= f.since)
    if f.until is not None:
        query = query.where(Event.start_at < f.until)
    if f.decision is Decision.ALERT:
        query = query.where(Event.alerted_at.is_not(None))
    elif f.decision is Decision.UNKNOWN:
        query = query.where(Event.alerted_at.is_(None))
    if f.status is not None:
        query = query.where(Event.alerted_at.is_not(None), Event.status == f.status)
    return query


class EventHistory:
    def __init__(self, db: Database) -> None:
        self._db = db

    def page(
        self, f: EventFilter, *, limit: int = 50, offset: int = 0, scope: Scope = Scope.EVERYTHING
    ) -> EventPage:
        """One page of the events matching ``f`` inside ``scope``, newest first, with the total count."""
        f.check()
        if not 1 <= limit <= MAX_PAGE:
            raise BadInput("limit", f"{limit} is not between 1 and {MAX_PAGE}")
        if offset < 0:
            raise BadInput("offset", f"{offset} is negative")
        ids = _where(select(Event.id), f)
        rows_q = _where(_joined(), f)
        if not scope.unlimited:
            ids, rows_q = ids.where(event_in_scope(scope)), rows_q.where(event_in_scope(scope))
        rows_q = rows_q.order_by(Event.start_at.desc(), Event.id.desc()).limit(limit).offset(offset)
        with self._db.read() as s:
            total = s.scalar(select(func.count()).select_from(ids.subquery())) or 0
            items = [
                _row(e, camera, person, watchlist, bool(image))
                for e, camera, person, watchlist, image in s.execute(rows_q)
            ]
        return EventPage(total, offset, items)

    def get(self, event_id: int, scope: Scope = Scope.EVERYTHING) -> EventRow:
        """Raises NotFound: no such event, or one outside ``scope``."""
        with self._db.read() as s:
            found = s.execute(_joined().where(Event.id == event_id)).first()
        if found is None or not event_visible(
            scope, found[0].camera_id, event_lists(found[0].watchlist_id, found[0].list_ids)
        ):
            raise NotFound(f"no event {event_id}")
        e, camera, person, watchlist, image = found
        return _row(e, camera, person, watchlist, bool(image))


def _joined() -> Select[Event, str, str | None, str | None, bool]:
    has_image = select(EventShot.id).where(EventShot.event_id == Event.id).exists()
    return (
        select(Event, Camera.name, Person.name, Watchlist.name, has_image)
        .join(Camera, Camera.id == Event.camera_id)
        .outerjoin(Person, Person.id == Event.person_id)
        .outerjoin(Watchlist, Watchlist.id == Event.watchlist_id)
    )


def _row(e: Event, camera: str, person: str | None, watchlist: str | None, has_image: bool) -> EventRow:
    alerted = e.alerted_at is not None
    return EventRow(
        id=e.id, camera_id=e.camera_id, camera=camera, track_id=e.track_id, start_at=as_utc(e.start_at),
        end_at=as_utc(e.end_at), decision=Decision.ALERT if alerted else Decision.UNKNOWN,
        person_id=e.person_id, person=person, watchlist_id=e.watchlist_id, watchlist=watchlist,
        score=e.score, margin=e.margin, status=e.status if alerted else None, has_image=has_image,
    )  # fmt: skip
