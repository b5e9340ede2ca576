"""A site's own strangers: the templates of the archive's unknown tracks, to calibrate thresholds on.

``vigil calibrate build --strangers store`` measures how high the faces a site's cameras actually see
score against a list (:func:`vigil.match.calibration.calibrate`). Its strangers are the tracks that
matched nobody: no person, no list, no alert, not a cool-down sighting and not vetoed by a "not this
person" negative (a vetoed or cooling-down track was someone's, even if the person was removed since).
A listed person the list missed is still among them: that makes thresholds a little higher, not lower.

Reading templates of people's faces is audited: :meth:`SiteStrangers.read` writes its audit row in the
transaction that reads them. A store with too few unknown tracks is refused before any is read: with
S tracks and R draws per list size, the finest FPIR measured is 1/(S × R), and 1/S for the whole gallery
(drawn once); :data:`MIN_TRACKS` keeps the default FPIR 0.001 resolved at every measured size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import ColumnElement, and_, case, func, or_, select

from vigil.errors import BadInput, NotFound, check_period
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.tables import Camera, Event, EventTemplate
from vigil.types import FloatArray

MIN_TRACKS = 200
"""Fewest unknown tracks a site calibration is made from: 200 tracks × 20 draws resolve FPIR 1/4,000
(the default 0.001 is the 5th highest of 4,000 best scores), and the whole gallery, drawn once, 1/200."""


@dataclass(frozen=True, slots=True)
class SiteScope:
    """Which unknown tracks: of one model, optionally some cameras (by name) and a period of filming."""

    model_id: str
    dim: int
    cameras: tuple[str, ...] = ()
    since: datetime | None = None  # tracks that started at or after
    until: datetime | None = None  # tracks that started before

    def check(self) -> None:
        check_period(self.since, self.until, "period")

    def describe(self) -> str:
        """The scope in words, e.g. ``cameras door, lobby; from 2026-11-01 00:00 UTC``."""
        parts = (
            [f"camera{'s' if len(self.cameras) > 1 else ''} {', '.join(self.cameras)}"]
            if self.cameras
            else []
        )
        if self.since is not None:
            parts.append(f"from {_when(self.since)}")
        if self.until is not None:
            parts.append(f"before {_when(self.until)}")
        return "; ".join(parts) or "every camera, the whole archive"


@dataclass(frozen=True, slots=True)
class SiteStrangers:
    """The unknown tracks' templates, ``(S, dim)`` unit vectors, and where and when they were filmed."""

    vectors: FloatArray
    store: str  # the database, password hidden
    cameras: tuple[str, ...]  # the cameras the tracks came from
    first_at: datetime
    last_at: datetime
    audit_id: int

    def source(self, gallery: str) -> str:
        """What a calibration made from them was made from (its ``source``)."""
        return (
            f"site store {self.store}: {len(self.vectors):,} unknown tracks (matched nobody) of cameras "
            f"{', '.join(self.cameras)}, filmed {_when(self.first_at)} to {_when(self.last_at)}, as "
            f"strangers; {gallery} as the listed people"
        )

    @classmethod
    def read(
        cls, db: Database, actor: str, reason: str, scope: SiteScope, *, minimum: int = MIN_TRACKS
    ) -> SiteStrangers:
        """The templates of the unknown tracks in ``scope``, the read audited.

        Raises:
            BadInput: no reason; a bad period; too few unknown tracks of the model (or only of others).
            NotFound: a camera name the store does not know.
            StoreError: the store is unreachable.
        """
        if not reason.strip():
            raise BadInput("reason", "reading the archive's face templates needs a reason (--reason)")
        scope.check()
        where = _unknown(db, scope)
        # A track recorded with another embedder counts under this one once re-embedded (event_templates).
        again = and_(EventTemplate.event_id == Event.id, EventTemplate.model_id == scope.model_id)
        ours = or_(Event.model_id == scope.model_id, EventTemplate.id.is_not(None))
        with db.read() as s:
            found = int(
                s.scalar(select(func.count()).select_from(Event).outerjoin(EventTemplate, again)
                         .where(where, ours)) or 0
            )  # fmt: skip
            counted = s.execute(
                select(Event.model_id, func.count())
                .outerjoin(EventTemplate, again)
                .where(where, ~ours)
                .group_by(Event.model_id)
            )
            by_model = {str(row[0]): int(row[1]) for row in counted}
        if found < minimum:
            raise BadInput("store", _too_few(found, minimum, scope, by_model))
        template = case((Event.model_id == scope.model_id, Event.embedding), else_=EventTemplate.embedding)
        query = (
            select(Event.id, template, Event.start_at, Camera.name)
            .join(Camera, Camera.id == Event.camera_id)
            .outerjoin(EventTemplate, again)
            .where(where, ours)
            .order_by(Event.id)
        )
        with db.write() as s:
            rows = s.execute(query).all()
            vectors = np.frombuffer(b"".join(r[1] or b"" for r in rows), "<f4").reshape(len(rows), scope.dim)
            starts = [as_utc(r[2]) for r in rows]
            cameras = tuple(sorted({r[3] for r in rows}))
            row = audit.append(
                s, actor, "calibration.site", f"model:{scope.model_id}", reason=reason,
                details={"tracks": len(rows), "first_event": rows[0][0], "last_event": rows[-1][0],
                         "cameras": list(cameras), "since": _iso(scope.since), "until": _iso(scope.until)},
            )  # fmt: skip
            audit_id = row.id
        store = db.engine.url.render_as_string(hide_password=True)
        return cls(vectors.astype(np.float32), store, cameras, min(starts), max(starts), audit_id)


def _unknown(db: Database, scope: SiteScope) -> ColumnElement[bool]:
    """Tracks with a template that matched nobody, in ``scope`` (any model)."""
    conditions: list[ColumnElement[bool]] = [
        Event.embedding.is_not(None),
        Event.person_id.is_(None),
        Event.watchlist_id.is_(None),
        Event.alerted_at.is_(None),
        Event.cooldown_of.is_(None),
        Event.vetoed_by.is_(None),
    ]
    if scope.cameras:
        with db.read() as s:
            named = s.execute(select(Camera.name, Camera.id).where(Camera.name.in_(scope.cameras))).all()
        missing = sorted(set(scope.cameras) - {name for name, _ in named})
        if missing:
            raise NotFound(f"no camera named {', '.join(map(repr, missing))}")
        conditions.append(Event.camera_id.in_([i for _, i in named]))  # a reused name: its old camera too
    if scope.since is not None:
        conditions.append(Event.start_at >= scope.since)
    if scope.until is not None:
        conditions.append(Event.start_at < scope.until)
    return and_(*conditions)


def _too_few(found: int, minimum: int, scope: SiteScope, others: dict[str, int]) -> str:
    if found == 0 and others:
        models = ", ".join(f"{n:,} of {m}" for m, n in sorted(others.items()))
        return (
            f"its unknown tracks ({scope.describe()}) are of another model ({models}), the configured "
            f"embedder is {scope.model_id}: scores of different models are not comparable (configure the "
            "embedder that recorded them, or embed them again: `vigil db reembed --model NAME`)"
        )
    also = f"; {sum(others.values()):,} more of other models" if others else ""
    return (
        f"{found:,} unknown tracks of {scope.model_id} ({scope.describe()}{also}), a site calibration "
        f"needs at least {minimum:,}: the finest FPIR it can measure is 1/(tracks × draws), and the whole "
        "list's 1/tracks (record more footage, or widen --camera/--since)"
    )


def _when(at: datetime) -> str:
    return f"{as_utc(at).astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
