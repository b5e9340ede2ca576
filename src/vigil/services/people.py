"""People on watchlists: list, show, put on and take off lists, remove (enrolment is in
``vigil.services.enrol``). Audited. A person is enrolled once and may be on several lists.

A removal deletes the rows and the audit row in one transaction, then the files no other row uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil.errors import BadInput, NotFound
from vigil.match.gallery import Gallery, ListMembership
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


def _person(s: Session, person_id: int) -> Person:
    person = s.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id}")
    return person


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
            person = _person(s, person_id)
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

    def list_ids_of(self, person_id: int) -> frozenset[int]:
        """The ids of the lists ``person_id`` has an entry on (for scope checks).

        Raises:
            NotFound: no such person.
        """
        with self._db.read() as s:
            _person(s, person_id)
            return frozenset(
                s.scalars(select(WatchlistEntry.watchlist_id).where(WatchlistEntry.person_id == person_id))
            )

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

    # --- lists -----------------------------------------------------------------------------------

    def put_on_list(  # noqa: PLR0917
        self,
        actor: str,
        person_id: int,
        list_name: str,
        reason: str,
        expires_at: datetime | None = None,
        approved_by: str | None = None,
    ) -> PersonInfo:
        """Put an enrolled person on another list (their photos and vectors are shared, not copied)."""
        if not reason.strip():
            raise BadInput("reason", "putting a person on a list needs a reason (legal basis or case)")
        if expires_at is not None and (expires_at.utcoffset() is None or expires_at <= datetime.now(UTC)):
            raise BadInput("expires", f"{expires_at.isoformat()} has no time zone or is already past")
        with self._db.write() as s:
            person = _person(s, person_id)
            wl = s.scalar(select(Watchlist).where(Watchlist.name == list_name))
            if wl is None:
                raise NotFound(f"no list named {list_name!r}")
            if any(e.watchlist_id == wl.id for e in person.entries):
                raise BadInput(list_name, f"{person.name} (person {person_id}) is already on this list")
            s.add(
                WatchlistEntry(
                    watchlist_id=wl.id, person_id=person_id, reason=reason, added_by=actor,
                    approved_by=approved_by, added_at=datetime.now(UTC),
                    expires_at=None if expires_at is None else expires_at.astimezone(UTC),
                )
            )  # fmt: skip
            audit.append(
                s, actor, "person.list.add", f"person:{person_id}", reason=reason,
                details={"name": person.name, "list": list_name, "expires_at": expires_at,
                         "approved_by": approved_by},
            )  # fmt: skip
            info, memberships = self._after_entries_changed(s, person)
        if self._gallery is not None:  # this process's gallery (the others follow the database)
            self._gallery.set_lists(person_id, memberships)
        return info

    def take_off_list(self, actor: str, person_id: int, list_name: str, reason: str) -> PersonInfo:
        """End a person's entry on one list; they stay enrolled, with their other lists."""
        if not reason.strip():
            raise BadInput("reason", "taking a person off a list needs a reason")
        with self._db.write() as s:
            person = _person(s, person_id)
            entry = next((e for e in person.entries if e.watchlist.name == list_name), None)
            if entry is None:
                raise NotFound(f"{person.name} (person {person_id}) is not on a list named {list_name!r}")
            s.delete(entry)
            audit.append(
                s, actor, "person.list.remove", f"person:{person_id}", reason=reason,
                details={"name": person.name, "list": list_name},
            )  # fmt: skip
            info, memberships = self._after_entries_changed(s, person)
        if self._gallery is not None:  # this process's gallery (the others follow the database)
            self._gallery.set_lists(person_id, memberships)
        return info

    def _after_entries_changed(self, s: Session, person: Person) -> tuple[PersonInfo, list[ListMembership]]:
        """The person as they are now, and their list entries for the gallery."""
        s.flush()
        s.refresh(person)
        memberships = [ListMembership(e.watchlist_id, as_utc(e.expires_at)) for e in person.entries]
        return self._info(s, person), memberships

    # --- remove ----------------------------------------------------------------------------------

    def remove(self, actor: str, person_id: int, reason: str) -> None:
        """Delete a person with their entries and samples; files no other row uses are deleted too."""
        if not reason.strip():
            raise BadInput("reason", "removing a person needs a reason")
        with self._db.write() as s:
            person = _person(s, person_id)
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
