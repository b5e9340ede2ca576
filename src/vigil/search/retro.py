"""Retro-search: when a person is put on a list, were they seen already? Earlier sightings raise
retro-alerts, marked as such.

The archive of the last ``search.retro_days`` is searched with each of the person's enrolled samples.
Each sighting found is then decided as the live service would decide it now, against the whole current
gallery: its track template must be closest to this person, clear the list's threshold and margin.
Sightings that already raised an alert are left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select

from vigil.alerts.router import Alert, AlertRouter, Sighting
from vigil.match.gallery import Gallery
from vigil.match.thresholds import ThresholdPolicy
from vigil.search.archive import SearchableArchive, template_of
from vigil.services.rules import lowest_threshold
from vigil.store.db import Database, as_utc
from vigil.store.tables import Event, FaceSample

log = logging.getLogger(__name__)

CANDIDATES_PER_SAMPLE = 500


class RetroSearch:
    def __init__(
        self,
        db: Database,
        router: AlertRouter,
        *,
        archive: Callable[[], SearchableArchive],
        gallery: Callable[[], Gallery],
        days: float,
        policy: ThresholdPolicy,
    ) -> None:
        self._db = db
        self._router = router
        self._archive = archive
        self._gallery = gallery
        self._days = days
        self._policy = policy

    def run(self, person_id: int, now: datetime | None = None) -> list[Alert]:
        """Retro-alerts for ``person_id``'s earlier sightings (committed; the caller announces them)."""
        if self._days <= 0:
            return []
        now = now or datetime.now(UTC)
        archive = self._archive()
        floor = lowest_threshold(self._db, self._policy)  # below it, no list could alert
        with self._db.read() as s:
            rows = s.scalars(
                select(FaceSample.embedding).where(
                    FaceSample.person_id == person_id, FaceSample.model_id == archive.model_id
                )
            ).all()
        found: set[int] = set()
        for raw in rows:
            sample = np.frombuffer(raw, "<f4").astype(np.float32)
            found |= {i for i, sc in archive.search(sample, CANDIDATES_PER_SAMPLE) if sc >= floor}
        if not found:
            return []
        gallery = self._gallery()
        alerts: list[Alert] = []
        with self._db.write() as s:
            events = s.scalars(
                select(Event).where(
                    Event.id.in_(sorted(found)),
                    Event.start_at >= now - timedelta(days=self._days),
                    Event.alerted_at.is_(None),
                    Event.embedding.is_not(None),
                )
            ).all()
            for event in events:
                template = template_of(s, event, archive.model_id)
                if template is None:
                    continue
                seen_at = as_utc(event.frame_at or event.start_at)
                ranked = gallery.search(template[None], 2, seen_at)[0]
                if not ranked or ranked[0].person_id != person_id:
                    continue  # closer to someone else
                score = ranked[0].score
                margin = score - ranked[1].score if len(ranked) > 1 else score
                sighting = Sighting(event.id, event.camera_id, person_id, score, margin, seen_at, retro=True)
                alert = self._router.consider(s, sighting, now)
                if alert is not None:
                    alerts.append(alert)
        if alerts:
            log.info("retro-search: %d earlier sightings of person %d raised alerts", len(alerts), person_id)
        return alerts
