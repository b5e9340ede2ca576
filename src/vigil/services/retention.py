"""The retention purge: what Vigil saw is deleted when its time is up, rows, files and index entries alike.

- Events of faces that matched no list: after ``retention.unmatched_hours``, counted from when Vigil
  recorded them (recorded footage keeps the time it was filmed as the event's time).
- Alerts: after their list's ``retention_days`` (an alert whose list was removed since counts as
  unmatched).
- Photos searched with (``probes/``): after ``retention.probe_days``; the audit keeps their hash.

Rows go in one transaction with an audit row summing up what went; then the files no row refers to any
more, then the entries of the search index. SQLite runs with ``secure_delete`` (deleted content is
zeroed) and its write-ahead log is checkpointed and truncated after a purge, so a purged face is not left
in the database file or its WAL either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import and_, delete, func, or_, select, text

from vigil.config import RetentionConfig
from vigil.services.clusters import drop_members, lock_clusters_of
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import Event, EventShot, FaceSample, NegativeTemplate, Watchlist
from vigil.types import IntArray

log = logging.getLogger(__name__)

ACTOR = "vigil:retention"
_BATCH = 5_000  # ids per IN (...): under SQLite's limit on bound parameters
OPEN_TRACK_GRACE = timedelta(minutes=10)
"""Events that ended less long ago may be tracks still going on (their rows are updated until they end)."""


@dataclass(frozen=True, slots=True)
class PurgeReport:
    unmatched_events: int
    alert_events: int
    files: int
    probes: int
    seconds: float

    @property
    def events(self) -> int:
        return self.unmatched_events + self.alert_events


_recorded = func.coalesce(Event.recorded_at, Event.end_at)
"""When Vigil last wrote an event: retention counts from there (footage is often filmed long before)."""


class RetentionPurge:
    """Deletes what is past its retention; ``forget(event_ids)`` is told which events went (the live
    search archive drops them)."""

    def __init__(
        self,
        db: Database,
        media: MediaStore,
        config: RetentionConfig,
        forget: Callable[[IntArray], object] = lambda _ids: None,
    ) -> None:
        self._db = db
        self._media = media
        self._config = config
        self._forget = forget

    def purge(self, now: datetime | None = None) -> PurgeReport:
        start = time.perf_counter()
        now = now or datetime.now(UTC)
        unmatched_before = now - max(timedelta(hours=self._config.unmatched_hours), OPEN_TRACK_GRACE)
        with self._db.write() as s:
            unmatched = list(
                s.scalars(
                    select(Event.id).where(
                        _recorded < unmatched_before,
                        or_(
                            Event.watchlist_id.is_(None),
                            and_(Event.alerted_at.is_(None), Event.cooldown_of.is_(None)),
                        ),
                    )
                )
            )
            expired_alerts: list[int] = []
            negatives = 0
            for list_id, days in s.execute(select(Watchlist.id, Watchlist.retention_days)).all():
                # "Not this person" feedback is kept as long as the list's alerts.
                done = s.execute(
                    delete(NegativeTemplate).where(
                        NegativeTemplate.watchlist_id == list_id,
                        NegativeTemplate.created_at < now - timedelta(days=days),
                    )
                )
                negatives += int(done.rowcount or 0)  # type: ignore[attr-defined]
                expired_alerts += s.scalars(
                    select(Event.id).where(
                        Event.watchlist_id == list_id,
                        or_(Event.alerted_at.is_not(None), Event.cooldown_of.is_not(None)),
                        _recorded < min(now - timedelta(days=days), now - OPEN_TRACK_GRACE),
                    )
                )
            gone = unmatched + expired_alerts
            crops: set[str] = set()
            clusters = 0
            lock_clusters_of(s, gone)
            for lo in range(0, len(gone), _BATCH):
                batch = gone[lo : lo + _BATCH]
                crops.update(s.scalars(select(EventShot.crop_path).where(EventShot.event_id.in_(batch))))
                s.execute(delete(EventShot).where(EventShot.event_id.in_(batch)))
                clusters += drop_members(s, batch)  # and the clusters they leave empty
                s.execute(delete(Event).where(Event.id.in_(batch)))
            still_used: set[str] = set()
            listed = sorted(crops)
            for lo in range(0, len(listed), _BATCH):  # a shot shared with a kept event or an enrolment stays
                part = listed[lo : lo + _BATCH]
                still_used.update(s.scalars(select(EventShot.crop_path).where(EventShot.crop_path.in_(part))))
                still_used.update(
                    s.scalars(select(FaceSample.crop_path).where(FaceSample.crop_path.in_(part)))
                )
            files = crops - still_used
            probes = self._expired_probes(now)
            if gone or probes or negatives:
                audit.append(
                    s, ACTOR, "retention.purge", "events", reason="retention",
                    details={"unmatched_events": len(unmatched), "alert_events": len(expired_alerts),
                             "files": len(files), "probes": len(probes), "negatives": negatives,
                             "clusters": clusters,
                             "unmatched_before": unmatched_before.isoformat()},
                )  # fmt: skip
        for rel in files | probes:
            self._media.remove(rel)
        if gone:
            self._forget(np.array(gone, np.int64))
            self._compact()
        report = PurgeReport(
            len(unmatched), len(expired_alerts), len(files), len(probes), time.perf_counter() - start
        )
        if gone or probes:
            log.info(
                "retention: purged %d events (%d unmatched, %d alerts), %d files, %d probes in %.1f s",
                report.events, report.unmatched_events, report.alert_events, report.files, report.probes,
                report.seconds,
            )  # fmt: skip
        return report

    def _expired_probes(self, now: datetime) -> set[str]:
        """Search photos older than ``probe_days`` at ``now`` (file ages count from the clock's now)."""
        max_age_s = self._config.probe_days * 86400.0 - (now.timestamp() - time.time())
        return {rel for rel in self._media.all_files(older_than_s=max_age_s) if rel.startswith("probes/")}

    def _compact(self) -> None:
        """SQLite: fold the write-ahead log into the database and truncate it (it still holds the deleted
        rows' old pages until then)."""
        if self._db.dialect == "sqlite":
            with self._db.engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
