"""The alert router: which identifications become alerts, on which list, and where they are sent.

Rules, per watchlist: the list's threshold (its own, else the one calibrated for its size and false-alert
rate: :mod:`vigil.match.thresholds`) and the configured margin; among the lists a person is actively on
and whose rule the score passes, the most severe list is the alert's own and the alert names all of
them; it needs the strictest review of those lists. The rule passed is recorded with the alert.
De-duplication: one alert per event (track). Cool-down: after an alert for a person on a camera, that
person raises no new alert on that camera for ``alerts.cooldown_s``, counted in the time the footage was
filmed (recorded video processed faster than real time keeps its sightings apart as they happened). A
sighting in a cool-down is still recorded as who it was, with its score, its list and the alert whose
cool-down it fell in; retro-alerts keep the cool-down too, so an archive search does not turn each of
those sightings into its own alert.

The decision is taken inside the caller's write transaction, together with the outbox rows of every
delivery, so an alert and its deliveries are committed (or lost) together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vigil.alerts.discovery import topic_slug
from vigil.alerts.outbox import Outbox
from vigil.alerts.travel import Place, TravelCheck, TravelFlag, TravelRule
from vigil.config import AlertsConfig
from vigil.match.feedback import vetoed_by
from vigil.match.thresholds import ListRule, ThresholdPolicy
from vigil.services.feedback import negatives_of
from vigil.services.rules import list_rules
from vigil.store.db import as_utc
from vigil.store.tables import Camera, Event, EventStatus, Person, Review, Severity, Watchlist, WatchlistEntry

SEVERITY_ORDER = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}
REVIEW_ORDER = {Review.NONE: 0, Review.ACKNOWLEDGE: 1, Review.TWO_PERSON: 2}
TRAVEL_COMPARED = 200
"""The person's newest sightings on other cameras an alert is checked against for impossible travel."""


def strictest(reviews: Sequence[Review]) -> Review:
    """The review that asks most of people (two-person over acknowledge over none)."""
    return max(reviews, key=REVIEW_ORDER.__getitem__, default=Review.NONE)


@dataclass(frozen=True, slots=True)
class Alert:
    """A raised alert, as every channel sees it (:meth:`payload` is the JSON they get)."""

    event_id: int
    camera_id: int
    camera: str
    person_id: int
    person: str
    watchlist_id: int
    watchlist: str
    lists: tuple[str, ...]  # every list whose rule it passed, its own (``watchlist``) first
    severity: Severity
    colour: str
    review: Review
    score: float
    margin: float
    threshold: float | None  # None: raised before Vigil recorded each alert's threshold
    fpir: float | None  # the false-alert rate the threshold was derived from (None: set by hand)
    calibrated_for: int | None  # the list size it was calibrated for
    seen_at: datetime
    raised_at: datetime
    status: EventStatus
    image_url: str | None
    retro: bool = False  # raised later on an earlier sighting, when the person was put on a list
    travel: TravelFlag | None = None  # seen elsewhere too shortly before or after (impossible travel)

    def payload(self) -> dict[str, Any]:
        """Flat JSON (Home Assistant templates read ``value_json.person`` etc.)."""
        return {
            "type": "alert",
            "alert_id": self.event_id,
            "event_id": self.event_id,
            "camera_id": self.camera_id,
            "camera": self.camera,
            "person_id": self.person_id,
            "person": self.person,
            "watchlist_id": self.watchlist_id,
            "watchlist": self.watchlist,
            "lists": list(self.lists),
            "severity": self.severity.value,
            "colour": self.colour,
            "review": self.review.value,
            "score": round(self.score, 4),
            "margin": round(self.margin, 4),
            "threshold": None if self.threshold is None else round(self.threshold, 4),
            "fpir": self.fpir,
            "calibrated_for_size": self.calibrated_for,
            "seen_at": self.seen_at.isoformat(),
            "raised_at": self.raised_at.isoformat(),
            "status": self.status.value,
            "image_url": self.image_url,
            "retro": self.retro,
            "impossible_travel": None if self.travel is None else self.travel.payload(),
        }


@dataclass(frozen=True, slots=True)
class Sighting:
    """A track's current decision, as recorded: who it most resembles and how closely."""

    event_id: int
    camera_id: int
    person_id: int
    score: float
    margin: float
    seen_at: datetime
    retro: bool = False  # found by searching the archive for a person just put on a list


class AlertRouter:
    """Decides alerts (see the module doc) and enqueues their deliveries."""

    def __init__(
        self,
        alerts: AlertsConfig,
        policy: ThresholdPolicy,
        outbox: Outbox,
        sinks: Sequence[str],
        image_url: Callable[[int], str | None],
    ) -> None:
        self._config = alerts
        self._policy = policy
        self._outbox = outbox
        self._sinks = list(sinks)
        self._image_url = image_url
        self._webhook_lists = {f"webhook:{w.name}": set(w.lists) for w in alerts.webhooks}
        self._travel = TravelRule(alerts.travel)

    def consider(self, session: Session, sighting: Sighting, now: datetime) -> Alert | None:
        event = session.get(Event, sighting.event_id)
        if event is None or event.alerted_at is not None:
            return None  # one alert per event
        passed = self._passed_lists(session, sighting)
        if not passed:
            return None
        watchlist, rule = passed[0]
        review = strictest([wl.review for wl, _ in passed])
        veto = self._vetoed(session, event, sighting)
        if veto is not None:
            event.vetoed_by = veto  # closer to a face rejected as not this person: not named as them
            return None
        event.vetoed_by = None
        event.person_id = sighting.person_id  # who it was, alerted or not
        event.watchlist_id = watchlist.id
        event.score, event.margin = sighting.score, sighting.margin
        event.threshold, event.fpir, event.calibrated_for = rule.threshold, rule.fpir, rule.calibrated_for
        event.frame_at = sighting.seen_at
        earlier = self._cooling_down(session, sighting)
        if earlier is not None:
            event.cooldown_of = earlier
            return None
        event.cooldown_of = None
        event.list_ids = [wl.id for wl, _ in passed]
        event.severity = watchlist.severity
        event.alerted_at = now
        event.status = EventStatus.NEW
        event.retro = sighting.retro
        camera = session.get(Camera, sighting.camera_id)
        person = session.get(Person, sighting.person_id)
        travel = self._impossible_travel(session, sighting, camera)
        if travel is not None:
            event.travel_of, event.travel_distance_m = travel.other_event_id, travel.distance_m
            event.travel_needed_s = travel.needed_s
        session.flush()
        alert = Alert(
            event_id=event.id,
            camera_id=sighting.camera_id,
            camera=camera.name if camera is not None else str(sighting.camera_id),
            person_id=sighting.person_id,
            person=person.name if person is not None else str(sighting.person_id),
            watchlist_id=watchlist.id,
            watchlist=watchlist.name,
            lists=tuple(wl.name for wl, _ in passed),
            severity=watchlist.severity,
            colour=watchlist.colour,
            review=review,
            score=sighting.score,
            margin=sighting.margin,
            threshold=rule.threshold,
            fpir=rule.fpir,
            calibrated_for=rule.calibrated_for,
            seen_at=sighting.seen_at,
            raised_at=now,
            status=EventStatus.NEW,
            image_url=self._image_url(event.id),
            retro=sighting.retro,
            travel=travel,
        )
        self.enqueue(session, alert, "alert", now)
        return alert

    def enqueue(self, session: Session, alert: Alert, kind: str, now: datetime) -> None:
        """Queue ``alert`` for every sink that wants its list (``kind``: "alert" or "alert.<status>")."""
        body = alert.payload() | {"type": kind}
        key = f"alert-{alert.event_id}" if kind == "alert" else f"alert-{alert.event_id}-{kind}"
        slug = topic_slug(alert.camera)
        topic = f"alerts/{slug}" if kind == "alert" else f"alerts/{slug}/status"
        for sink in self._sinks:
            wanted = self._webhook_lists.get(sink)
            if wanted and wanted.isdisjoint(alert.lists):
                continue
            self._outbox.enqueue(session, sink, key, topic, body, now)

    def _passed_lists(self, session: Session, sighting: Sighting) -> list[tuple[Watchlist, ListRule]]:
        """The lists the person is actively on whose rule the sighting passes, most severe first."""
        rows = session.execute(
            select(Watchlist)
            .join(WatchlistEntry, WatchlistEntry.watchlist_id == Watchlist.id)
            .where(
                WatchlistEntry.person_id == sighting.person_id,
                or_(WatchlistEntry.expires_at.is_(None), WatchlistEntry.expires_at > sighting.seen_at),
            )
        ).scalars()
        lists = list(rows)
        if not lists:
            return []
        rules = list_rules(session, self._policy, sighting.seen_at, lists)
        margin = self._policy.match.min_margin
        passed = [
            (wl, rules[wl.id])
            for wl in lists
            if sighting.score >= rules[wl.id].threshold and sighting.margin >= margin
        ]
        return sorted(passed, key=lambda p: (-SEVERITY_ORDER[p[0].severity], p[0].name))

    @staticmethod
    def _vetoed(session: Session, event: Event, sighting: Sighting) -> int | None:
        """The person's negative this track's template is closer to than to the person, if any."""
        if event.embedding is None:
            return None
        ids, vectors = negatives_of(session, sighting.person_id, event.model_id)
        if not ids:
            return None
        at = vetoed_by(np.frombuffer(event.embedding, "<f4"), sighting.score, vectors)
        return None if at is None else ids[at]

    def _impossible_travel(
        self, session: Session, sighting: Sighting, camera: Camera | None
    ) -> TravelFlag | None:
        """The person's sighting on another camera this one could not have been reached from (or left for)
        in time, the most impossible of them (see :mod:`vigil.alerts.travel`); None if there is none."""
        if not self._travel.enabled or camera is None:
            return None
        window = timedelta(seconds=self._travel.lookback_s)
        rows = session.execute(
            select(Event.id, Event.camera_id, Event.frame_at)
            .where(
                Event.person_id == sighting.person_id,
                Event.camera_id != sighting.camera_id,
                Event.frame_at.is_not(None),
                Event.frame_at > sighting.seen_at - window,
                Event.frame_at < sighting.seen_at + window,
                Event.status != EventStatus.REJECTED,  # an operator said it was not them
                Event.id != sighting.event_id,
            )
            .order_by(Event.frame_at.desc())
            .limit(TRAVEL_COMPARED)
        ).all()
        here, places = place_of(camera), dict[int, tuple[Place, str]]()
        worst: tuple[TravelCheck, int, int, datetime] | None = None
        for event_id, camera_id, frame_at in rows:
            if camera_id not in places:
                other = session.get(Camera, camera_id)
                places[camera_id] = (place_of(other), other.name) if other else (Place(str(camera_id)), "")
            seen = as_utc(frame_at or sighting.seen_at)  # never None: the query wants a frame_at
            check = self._travel.check(places[camera_id][0], seen, here, sighting.seen_at)
            if (
                check is not None
                and check.impossible
                and (worst is None or check.shortfall_s > worst[0].shortfall_s)
            ):
                worst = (check, event_id, camera_id, seen)
        if worst is None:
            return None
        check, event_id, camera_id, seen = worst
        return TravelFlag(
            event_id, camera_id, places[camera_id][1], seen, check.distance_m, check.needed_s, check.elapsed_s
        )

    def _cooling_down(self, session: Session, sighting: Sighting) -> int | None:
        """The alert of this person on this camera filmed within the cool-down of this sighting, if any."""
        if self._config.cooldown_s <= 0:
            return None
        window = timedelta(seconds=self._config.cooldown_s)
        return session.scalar(
            select(Event.id)
            .where(
                Event.person_id == sighting.person_id,
                Event.camera_id == sighting.camera_id,
                Event.alerted_at.is_not(None),
                Event.frame_at > sighting.seen_at - window,
                Event.frame_at < sighting.seen_at + window,
                Event.id != sighting.event_id,
            )
            .order_by(Event.frame_at.desc())
            .limit(1)
        )


def place_of(camera: Camera) -> Place:
    """Where a camera is, as the travel rule reads it."""
    return Place(camera.name, camera.latitude, camera.longitude, camera.site)


def travel_flag(session: Session, event: Event) -> TravelFlag | None:
    """The ``impossible_travel`` flag recorded on an alert's row, with its other sighting as it is now."""
    if event.travel_of is None or event.travel_needed_s is None:
        return None
    other = session.get(Event, event.travel_of)
    if other is None:  # gone under retention: the flag stays, its other side is unknown
        return TravelFlag(
            event.travel_of, None, None, None, event.travel_distance_m, event.travel_needed_s, None
        )
    camera = session.get(Camera, other.camera_id)
    seen = as_utc(other.frame_at or other.start_at)
    here = as_utc(event.frame_at or event.start_at)
    return TravelFlag(
        other.id, other.camera_id, camera.name if camera else str(other.camera_id), seen,
        event.travel_distance_m, event.travel_needed_s, abs((here - seen).total_seconds()),
    )  # fmt: skip
