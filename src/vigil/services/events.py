"""Recording live track events in the store, and handing identifications to the alert router.

Each track of a camera run is one ``events`` row: created at its start, given its best shot and
decision as they come, closed at its end. A decision naming a person is a sighting the router may turn
into an alert, in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
from sqlalchemy.orm import Session

from vigil.alerts.router import Alert, AlertRouter, Sighting
from vigil.runtime.messages import CameraEvents
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import Event, EventShot
from vigil.types import EventKind, FaceEvent, FaceShot, FloatArray, IntArray

log = logging.getLogger(__name__)

_JPEG_QUALITY = 90


@dataclass(frozen=True, slots=True)
class _TrackKey:
    camera_id: int
    run: str
    track_id: int


class EventRecorder:
    """Writes events of camera workers to the store; returns the alerts raised on the way."""

    def __init__(
        self,
        db: Database,
        media: MediaStore,
        router: AlertRouter,
        model_id: str,
        *,
        keep_unmatched: bool = True,
    ) -> None:
        """``keep_unmatched`` False (``retention.unmatched_hours: 0``): a face that matched no list leaves
        no crop and no embedding on disk, only its event row (times), which the next purge deletes."""
        self._db = db
        self._media = media
        self._router = router
        self._keep_unmatched = keep_unmatched
        self._model_id = model_id
        self._open: dict[_TrackKey, int] = {}
        self._shot_of: dict[int, int] = {}  # event id -> frame index of its stored best shot
        self._start_of: dict[int, datetime] = {}  # event id -> its start_at (an end is never before it)
        self._on_archived: Callable[[IntArray, FloatArray], object] = lambda _ids, _vectors: None

    def on_archived(self, handler: Callable[[IntArray, FloatArray], object]) -> None:
        """Call ``handler(event_ids, templates)`` with the tracks that ended, once their rows commit (the
        live service keeps its search archive in step)."""
        self._on_archived = handler

    def record(self, batch: CameraEvents) -> list[Alert]:
        alerts: list[Alert] = []
        now = datetime.now(UTC)
        # Files first (content-addressed; an orphan from a crash here is swept later), rows after.
        # Only shots not stored yet: an END (or an unchanged UPDATE) repeats the track's best shot.
        crops = {
            id(e.best_shot): self._store_crop(e.best_shot)
            for e in batch.events
            if e.best_shot is not None
            and self._keeps(e)
            and self._is_new_shot(batch, e.track_id, e.best_shot)
        }
        ended: list[tuple[int, FloatArray]] = []
        with self._db.write() as s:
            for ev in batch.events:
                key = _TrackKey(batch.camera_id, batch.run, ev.track_id)
                event_id = self._open.get(key)
                if event_id is None:
                    row = Event(
                        camera_id=batch.camera_id,
                        track_id=ev.track_id,
                        start_at=_at(batch, ev.start_ms),
                        end_at=_at(batch, ev.end_ms),
                        model_id=self._model_id,
                    )
                    s.add(row)
                    s.flush()
                    event_id = self._open[key] = row.id
                    self._start_of[event_id] = row.start_at
                event = s.get(Event, event_id)
                if event is None:  # removed meanwhile (camera deleted)
                    self._forget(key)
                    continue
                # Each batch maps stream time to the wall clock anew (its last frame's capture time); a live
                # stream's burst or lag moves that mapping: a short track's end could land before its start.
                end_at = _at(batch, ev.end_ms)
                start_at = self._start_of.get(event_id)
                event.end_at, event.recorded_at = max(end_at, start_at) if start_at else end_at, now
                shot = ev.best_shot
                if shot is not None and self._keeps(ev) and self._shot_of.get(event_id) != shot.frame_index:
                    self._shot_of[event_id] = shot.frame_index
                    s.add(
                        EventShot(
                            event_id=event_id,
                            t_at=_wall(shot),
                            crop_path=crops.get(id(shot)) or self._store_crop(shot),
                            quality=shot.quality.total,
                        )
                    )
                alert = self._identify(s, event, ev, batch, now)
                if alert is not None:
                    alerts.append(alert)
                if ev.kind is EventKind.END:
                    self._forget(key)
                    if ev.decision is not None and ev.decision.vector is not None and self._keeps(ev):
                        ended.append((event_id, ev.decision.vector))
        if ended:
            self._on_archived(
                np.array([i for i, _ in ended], np.int64), np.stack([v for _, v in ended]).astype(np.float32)
            )
        return alerts

    def _identify(
        self, session: Session, event: Event, ev: FaceEvent, batch: CameraEvents, now: datetime
    ) -> Alert | None:
        d = ev.decision
        if d is not None and d.vector is not None and self._keeps(ev):
            event.embedding = np.asarray(d.vector, "<f4").tobytes()  # the track's latest template
        if ev.kind is not EventKind.UPDATE or d is None or d.candidate is None or ev.best_shot is None:
            return None
        if event.alerted_at is None:
            event.score, event.margin = d.score, d.margin
        if d.identity is None:
            return None
        sighting = Sighting(
            event.id, batch.camera_id, int(d.identity), d.score, d.margin, _wall(ev.best_shot)
        )
        return self._router.consider(session, sighting, now)

    def _keeps(self, ev: FaceEvent) -> bool:
        """Whether this track's face may be written to disk (crop, embedding)."""
        return self._keep_unmatched or (ev.decision is not None and ev.decision.identity is not None)

    def _is_new_shot(self, batch: CameraEvents, track_id: int, shot: FaceShot) -> bool:
        event_id = self._open.get(_TrackKey(batch.camera_id, batch.run, track_id))
        return event_id is None or self._shot_of.get(event_id) != shot.frame_index

    def _store_crop(self, shot: FaceShot) -> str:
        params = [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]
        ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(shot.patch), params)
        if not ok:
            raise ValueError("could not encode a best shot as JPEG")
        return self._media.put("shots", jpeg.tobytes(), ".jpg")

    def _forget(self, key: _TrackKey) -> None:
        event_id = self._open.pop(key, None)
        if event_id is not None:
            self._shot_of.pop(event_id, None)
            self._start_of.pop(event_id, None)


def _at(batch: CameraEvents, t_ms: int) -> datetime:
    return datetime.fromtimestamp(batch.frame_at, UTC) + timedelta(milliseconds=t_ms - batch.frame_t_ms)


def _wall(shot: FaceShot) -> datetime:
    return datetime.fromtimestamp(shot.captured_at, UTC)
