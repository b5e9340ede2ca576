"""Alerts as people handle them: list, show, acknowledge, confirm, reject, each audited with the user.

A list whose review is ``two_person`` shows an alert as confirmed only once two different users have
confirmed it; until then it is visibly waiting for the second confirmation. One rejection closes an
alert (a false match needs no second opinion to be dismissed); the reviews stay on record.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.alerts.router import Alert, AlertRouter, strictest, travel_flag
from vigil.errors import BadInput, NotFound
from vigil.services.feedback import add_negative
from vigil.services.scopes import event_in_scope
from vigil.services.visibility import Scope, alert_visible, event_lists
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.tables import Camera, Event, EventReview, EventStatus, Person, Review, Severity, Watchlist

ACTIONS = {
    "acknowledge": EventStatus.ACKNOWLEDGED,
    "confirm": EventStatus.CONFIRMED,
    "reject": EventStatus.REJECTED,
}


@dataclass(frozen=True, slots=True)
class ReviewInfo:
    username: str
    action: EventStatus
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AlertView:
    alert: Alert
    reviews: tuple[ReviewInfo, ...]
    confirmations: int
    confirmations_needed: int

    @property
    def awaiting_second_confirmation(self) -> bool:
        return self.alert.status is not EventStatus.CONFIRMED and 0 < self.confirmations < (
            self.confirmations_needed
        )


def alert_lists(session: Session, event: Event) -> list[Watchlist]:
    """The lists an alert passed (its own first) that still exist."""
    ids = event.list_ids or ([event.watchlist_id] if event.watchlist_id is not None else [])
    return [wl for wl in (session.get(Watchlist, i) for i in ids) if wl is not None]


def _visible(scope: Scope, event: Event) -> bool:
    return alert_visible(scope, event.camera_id, event_lists(event.watchlist_id, event.list_ids) or [])


def confirmations_needed(review: Review) -> int:
    return 2 if review is Review.TWO_PERSON else 1


def load_alert(session: Session, event: Event, image_url: Callable[[int], str | None]) -> Alert:
    """The :class:`Alert` of an alerted event row, as the router built it."""
    if event.alerted_at is None:
        raise NotFound(f"event {event.id} is not an alert")
    if event.watchlist_id is None or event.person_id is None:
        raise NotFound(f"alert {event.id} is gone: its person or list was removed since")
    wl = session.get(Watchlist, event.watchlist_id)
    lists = alert_lists(session, event)
    person = session.get(Person, event.person_id)
    camera = session.get(Camera, event.camera_id)
    return Alert(
        event_id=event.id,
        camera_id=event.camera_id,
        camera=camera.name if camera else str(event.camera_id),
        person_id=event.person_id,
        person=person.name if person else str(event.person_id),
        watchlist_id=event.watchlist_id,
        watchlist=wl.name if wl else str(event.watchlist_id),
        lists=tuple(x.name for x in lists),
        severity=event.severity or (wl.severity if wl else Severity.MEDIUM),
        colour=wl.colour if wl else "#888888",
        review=strictest([x.review for x in lists]),
        score=event.score or 0.0,
        margin=event.margin or 0.0,
        threshold=event.threshold,
        fpir=event.fpir,
        calibrated_for=event.calibrated_for,
        seen_at=as_utc(event.frame_at or event.start_at),
        raised_at=as_utc(event.alerted_at),
        status=event.status,
        image_url=image_url(event.id),
        retro=event.retro,
        travel=travel_flag(session, event),
    )


class AlertService:
    def __init__(
        self,
        db: Database,
        router: AlertRouter,
        image_url: Callable[[int], str | None],
    ) -> None:
        self._db = db
        self._router = router
        self._image_url = image_url
        self._on_change: Callable[[AlertView], None] = lambda _v: None

    def on_change(self, handler: Callable[[AlertView], None]) -> None:
        """Call ``handler`` after each review is committed (the live service publishes it)."""
        self._on_change = handler

    def list(
        self,
        *,
        after_id: int | None = None,
        limit: int = 50,
        status: EventStatus | None = None,
        camera_id: int | None = None,
        watchlist_id: int | None = None,
        watchlist_ids: Collection[int] | None = None,
        scope: Scope = Scope.EVERYTHING,
    ) -> list[AlertView]:
        """Newest first; with ``after_id``, the alerts raised after that one, oldest first (catch-up).

        ``watchlist_ids`` keeps the alerts of those lists only (the officer view: see ``AlertScopes``);
        ``scope`` the alerts the user may see (see :mod:`vigil.services.visibility`).
        """
        if not 1 <= limit <= 1000:
            raise BadInput("limit", f"{limit} is not between 1 and 1000")
        # An alert whose person or list was removed since is history (the events keep it), not an alert.
        q = select(Event).where(
            Event.alerted_at.is_not(None), Event.person_id.is_not(None), Event.watchlist_id.is_not(None)
        )
        if status is not None:
            q = q.where(Event.status == status)
        if camera_id is not None:
            q = q.where(Event.camera_id == camera_id)
        if watchlist_id is not None:
            q = q.where(Event.watchlist_id == watchlist_id)
        if watchlist_ids is not None:
            q = q.where(Event.watchlist_id.in_(sorted(watchlist_ids)))
        if not scope.unlimited:
            q = q.where(event_in_scope(scope))
        q = (
            q.where(Event.id > after_id).order_by(Event.id)
            if after_id is not None
            else q.order_by(Event.id.desc())
        )
        with self._db.read() as s:
            return [self._view(s, e) for e in s.scalars(q.limit(limit))]

    def get(self, alert_id: int, scope: Scope = Scope.EVERYTHING) -> AlertView:
        """Raises NotFound: no such alert, or one outside ``scope``."""
        with self._db.read() as s:
            event = s.get(Event, alert_id)
            if event is None or event.alerted_at is None or not _visible(scope, event):
                raise NotFound(f"no alert {alert_id}")
            return self._view(s, event)

    def visible(self, alert_id: int, scope: Scope) -> bool:
        """Whether alert ``alert_id`` exists and lies inside ``scope``."""
        with self._db.read() as s:
            event = s.get(Event, alert_id)
            return event is not None and event.alerted_at is not None and _visible(scope, event)

    def review(
        self, username: str, alert_id: int, action: str, note: str = "", *, wrong_person: bool = False
    ) -> AlertView:
        """Acknowledge, confirm or reject an alert. A rejection with ``wrong_person`` keeps the track as a
        negative of the person: faces closer to it than to them are not named as them again."""
        target = ACTIONS.get(action)
        if target is None:
            raise BadInput("action", f"{action!r} is not one of {', '.join(ACTIONS)}")
        if wrong_person and target is not EventStatus.REJECTED:
            raise BadInput("wrong_person", "only a rejection can say the alert named the wrong person")
        now = datetime.now(UTC)
        with self._db.write() as s:
            event = s.get(Event, alert_id)
            if event is None or event.alerted_at is None:
                raise NotFound(f"no alert {alert_id}")
            before = event.status
            if before in (EventStatus.REJECTED, EventStatus.CONFIRMED):
                raise BadInput("alert", f"alert {alert_id} is already {before.value}")
            prior = {r.username for r in event.reviews if r.action is EventStatus.CONFIRMED}
            if target is EventStatus.CONFIRMED and username in prior:
                raise BadInput("alert", f"{username} has already confirmed alert {alert_id}")
            s.add(EventReview(event_id=alert_id, username=username, action=target, note=note, at=now))
            needed = self._needed(s, event)
            if target is EventStatus.CONFIRMED:
                event.status = EventStatus.CONFIRMED if len(prior) + 1 >= needed else EventStatus.ACKNOWLEDGED
            elif target is EventStatus.REJECTED or before is EventStatus.NEW:
                event.status = target
            event.status_by, event.status_at = username, now
            audit.append(
                s, actor=username, action=f"alert.{action}", subject=f"alert:{alert_id}", reason=note,
                details={"status": event.status.value, "before": before.value, "at": now.isoformat(),
                         "wrong_person": wrong_person},
            )  # fmt: skip
            if wrong_person and target is EventStatus.REJECTED:
                add_negative(s, username, event, note, now)
            s.flush()
            s.refresh(event)
            view = self._view(s, event)
            if event.status is not before:
                self._router.enqueue(s, view.alert, f"alert.{event.status.value}", now)
        self._on_change(view)
        return view

    def _needed(self, session: Session, event: Event) -> int:
        """Confirmations an alert needs: two when any list it passed asks for two-person review."""
        return confirmations_needed(strictest([wl.review for wl in alert_lists(session, event)]))

    def _view(self, session: Session, event: Event) -> AlertView:
        reviews = tuple(
            ReviewInfo(r.username, r.action, r.note, as_utc(r.at))
            for r in session.scalars(
                select(EventReview).where(EventReview.event_id == event.id).order_by(EventReview.id)
            )
        )
        confirmed = len({r.username for r in reviews if r.action is EventStatus.CONFIRMED})
        alert = load_alert(session, event, self._image_url)
        return AlertView(alert, reviews, confirmed, confirmations_needed(alert.review))
