"""People on watchlists: list, show, remove (enrolment is in ``vigil.services.enrol``). Audited.

A removal deletes the rows and the audit row in one transaction, then the files no other row uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil.errors import BadInput, NotFound
from vigil.match.gallery import Gallery
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.media import MediaStore
from vigil.store.tables import FaceSample, Person, Watchlist, WatchlistEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PersonInfo:
    id: int
    name: str
    lists: dict[str, datetime | None]  # list name -> expiry
    samples: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PersonDetail:
    info: PersonInfo
    notes: str
    entries: list[dict[str, object]] = field(default_factory=list)
    samples: list[dict[str, object]] = field(default_factory=list)


class PeopleService:
    """People on lists: read, and remove. ``gallery``, when given, is kept in step with removals."""

    def __init__(self, db: Database, media: MediaStore, gallery: Gallery | None = None) -> None:
        self._db = db
        self._media = media
        self._gallery = gallery

    # --- read ------------------------------------------------------------------------------------

    def all(self, list_name: str | None = None) -> list[PersonInfo]:
        with self._db.read() as s:
            query = select(Person).order_by(Person.name, Person.id)
            if list_name is not None:
                query = query.join(WatchlistEntry).join(Watchlist).where(Watchlist.name == list_name)
            return [self._info(s, p) for p in s.scalars(query)]

    def show(self, person_id: int) -> PersonDetail:
        with self._db.read() as s:
            person = s.get(Person, person_id)
            if person is None:
                raise NotFound(f"no person with id {person_id}")
            entries: list[dict[str, object]] = [
                {"list": e.watchlist.name, "reason": e.reason, "photo_source": e.photo_source,
                 "added_by": e.added_by, "approved_by": e.approved_by, "added_at": as_utc(e.added_at),
                 "expires_at": as_utc(e.expires_at)}
                for e in person.entries
            ]  # fmt: skip
            samples: list[dict[str, object]] = [
                {"id": x.id, "photo": x.photo_path, "crop": x.crop_path, "model": x.model_id, "weak": x.weak,
                 "quality": x.quality}
                for x in person.samples
            ]  # fmt: skip
            return PersonDetail(self._info(s, person), person.notes, entries, samples)

    def face_crop(self, person_id: int, sample_id: int | None = None) -> str:
        """The media path of a person's aligned face: of ``sample_id``, or of their best sample.

        Raises:
            NotFound: no such person, or sample of theirs.
        """
        with self._db.read() as s:
            samples = s.scalars(select(FaceSample).where(FaceSample.person_id == person_id)).all()
        if sample_id is not None:
            samples = [x for x in samples if x.id == sample_id]
        if not samples:
            raise NotFound(
                f"no face of person {person_id}" + (f" in sample {sample_id}" if sample_id else "")
            )
        best = max(samples, key=lambda x: (not x.weak, float(x.quality.get("total", 0.0)), -x.id))
        return best.crop_path

    @staticmethod
    def _info(s: Session, p: Person) -> PersonInfo:
        lists = {e.watchlist.name: as_utc(e.expires_at) for e in p.entries}
        return PersonInfo(p.id, p.name, lists, len(p.samples), as_utc(p.created_at))

    # --- remove ----------------------------------------------------------------------------------

    def remove(self, actor: str, person_id: int, reason: str) -> None:
        """Delete a person with their entries and samples; files no other row uses are deleted too."""
        if not reason.strip():
            raise BadInput("reason", "removing a person needs a reason")
        with self._db.write() as s:
            person = s.get(Person, person_id)
            if person is None:
                raise NotFound(f"no person with id {person_id}")
            paths = {p for x in person.samples for p in (x.photo_path, x.crop_path)}
            lists = sorted(e.watchlist.name for e in person.entries)
            s.execute(delete(FaceSample).where(FaceSample.person_id == person_id))
            s.execute(delete(WatchlistEntry).where(WatchlistEntry.person_id == person_id))
            s.delete(person)
            audit.append(
                s, actor, "person.remove", f"person:{person_id}", reason=reason,
                details={"name": person.name, "lists": lists, "samples": len(paths) // 2},
            )  # fmt: skip
            still_used = set(
                s.scalars(select(FaceSample.photo_path).where(FaceSample.photo_path.in_(paths))).all()
            ) | set(s.scalars(select(FaceSample.crop_path).where(FaceSample.crop_path.in_(paths))).all())
        if self._gallery is not None:
            self._gallery.remove_person(person_id)
        for rel in paths - still_used:
            self._media.remove(rel)
