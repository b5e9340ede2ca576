"""Enrolment: putting people on watchlists from photos, through the quality gate. Audited.

Enrolment order, so that a crash at any point leaves the database and the gallery in agreement: the
photos are judged and embedded first (nothing written), the files go to the media folder (content
named: a crash leaves at worst an unreferenced file, which ``sweep_orphans`` removes), then one
database transaction writes the person, the list entry, the samples and the audit row, and only
after it commits is the in-memory gallery updated. The gallery is rebuilt from the database at every start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.config import EnrolConfig, IngestConfig
from vigil.embed.stills import StillEncoder
from vigil.errors import BadInput, NotFound, StorageFull, StoreError
from vigil.ingest.images import decode_image
from vigil.match.gallery import Gallery, ListMembership
from vigil.services.gate import GatedFace, examine, quality_json
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.media import MediaStore, image_suffix, sha256_hex
from vigil.store.tables import FaceSample, Person, Watchlist, WatchlistEntry
from vigil.types import QualityScores

log = logging.getLogger(__name__)

MAX_NAME = 128


@dataclass(frozen=True, slots=True)
class Photo:
    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class EnrolRequest:
    """Who to put on which list, from which photos, why, on whose authority, until when."""

    list_name: str
    name: str
    reason: str
    photos: Sequence[Photo]
    photo_source: str = ""
    approved_by: str | None = None
    expires_at: datetime | None = None
    notes: str = ""
    force: bool = False
    person_id: int | None = None  # add to this existing person instead of matching by name
    new_person: bool = False  # someone else with the name of a person already enrolled on another list
    # Also written in the enrolment's transaction, with the person's id (a cluster of unknown faces marked
    # named: both commit, or neither); raising in it writes nothing.
    within: Callable[[Session, int], None] | None = None


@dataclass(frozen=True, slots=True)
class PhotoVerdict:
    """What happened to one photo, and why."""

    name: str
    accepted: bool
    reasons: tuple[str, ...] = ()
    weak: bool = False
    quality: QualityScores | None = None
    looks_like: tuple[int, str, float] | None = None  # (person id, name, score) of another person
    sample_id: int | None = None


@dataclass(frozen=True, slots=True)
class EnrolResult:
    person_id: int
    name: str
    list_name: str
    created: bool
    verdicts: list[PhotoVerdict]


class EnrolmentRejected(BadInput):
    """No photo could be used: nothing was written. ``verdicts`` says why for each."""

    def __init__(self, name: str, verdicts: list[PhotoVerdict]) -> None:
        super().__init__(
            name, "no usable photo: " + "; ".join(f"{v.name}: {', '.join(v.reasons)}" for v in verdicts)
        )
        self.verdicts = verdicts


def check_person_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean or len(clean) > MAX_NAME or any(not c.isprintable() for c in clean):
        raise BadInput(repr(name), f"a person's name is 1-{MAX_NAME} printable characters")
    if clean != name:
        raise BadInput(repr(name), "a person's name may not have leading, trailing or repeated spaces")
    return name


def _refuse_a_second_person(s: Session, req: EnrolRequest) -> None:
    """A person of this name is enrolled (on other lists): one person is enrolled once, and put on more
    lists; a second record of them would split their alerts and zero every margin."""
    other = s.scalar(select(Person).where(Person.name == req.name).order_by(Person.id))
    if other is None:
        return
    lists = ", ".join(sorted(e.watchlist.name for e in other.entries)) or "no list"
    raise BadInput(
        req.name,
        f"already enrolled as person {other.id} (on {lists}): put them on {req.list_name} too with "
        f"`vigil people add-list {other.id} {req.list_name}` (POST /people/{other.id}/lists), add photos "
        f"to them with --person {other.id}, or enrol someone else of the same name with --new-person",
    )


class EnrolmentService:
    """Puts people on lists from photos (needs the face models; see the module docstring for the order)."""

    def __init__(
        self,
        db: Database,
        media: MediaStore,
        stills: StillEncoder,
        gallery: Gallery,
        *,
        ingest: IngestConfig,
        gate: EnrolConfig,
        duplicate_threshold: float,
    ) -> None:
        self._db = db
        self._media = media
        self._stills = stills
        self._gallery = gallery
        self._ingest = ingest
        self._gate = gate
        self._duplicate_threshold = duplicate_threshold

    # --- enrol -----------------------------------------------------------------------------------

    def enrol(
        self, actor: str, req: EnrolRequest, progress: Callable[[int, int], None] | None = None
    ) -> EnrolResult:
        check_person_name(req.name)
        if not req.reason.strip():
            raise BadInput("reason", "putting a person on a list needs a reason (legal basis or case)")
        if not req.photos:
            raise BadInput(req.name, "no photo given")
        if req.expires_at is not None:
            if req.expires_at.utcoffset() is None:
                raise BadInput("expires", f"{req.expires_at:%Y-%m-%d %H:%M} has no time zone")
            if req.expires_at <= datetime.now(UTC):
                raise BadInput("expires", f"{req.expires_at:%Y-%m-%d %H:%M} is already past")
            req = replace(req, expires_at=req.expires_at.astimezone(UTC))  # SQLite keeps only the digits
        with self._db.read() as s:
            if s.scalar(select(Watchlist.id).where(Watchlist.name == req.list_name)) is None:
                raise NotFound(f"no list named {req.list_name!r}")
            if req.person_id is not None and s.get(Person, req.person_id) is None:
                raise NotFound(f"no person with id {req.person_id}")
            same = req.person_id  # adding to this person: their photos are not flagged as someone else
            if same is None and not req.new_person:
                same = s.scalar(
                    select(Person.id).join(WatchlistEntry).join(Watchlist)
                    .where(Person.name == req.name, Watchlist.name == req.list_name)
                )  # fmt: skip
            if same is None and not req.new_person:
                _refuse_a_second_person(s, req)
        judged = [
            self._judge(p, req, i, len(req.photos), progress, same=same) for i, p in enumerate(req.photos)
        ]
        usable = [
            (i, p, v, f)
            for i, (p, (v, f)) in enumerate(zip(req.photos, judged, strict=True))
            if v.accepted and f is not None
        ]
        if not usable:
            raise EnrolmentRejected(req.name, [v for v, _ in judged])
        files, fresh = self._store_files(usable)
        with self._unless_stored(fresh), self._db.write() as s:
            person, created = self._person(s, actor, req)
            entry, new_entry = self._entry(s, actor, req, person)
            verdicts, new = self._add_samples(s, person, usable, files, judged)
            if not (created or new_entry or new):
                raise EnrolmentRejected(req.name, verdicts)  # nothing new: rolled back, not audited
            audit.append(
                s, actor, "person.enrol", f"person:{person.id}", reason=req.reason,
                details={"name": person.name, "list": req.list_name, "created": created,
                         "photos": [{"name": v.name, "accepted": v.accepted, "weak": v.weak,
                                     "reasons": list(v.reasons), "looks_like": v.looks_like}
                                    for v in verdicts],
                         "expires_at": entry.expires_at, "approved_by": entry.approved_by},
            )  # fmt: skip
            if req.within is not None:
                req.within(s, person.id)
            memberships = self._memberships(s, person.id)
        if new:
            self._gallery.add_samples(
                np.array([sid for sid, _ in new], np.int64), np.full(len(new), person.id, np.int64),
                np.stack([f.vector for _, f in new]), new[0][1].model_id,
            )  # fmt: skip
        self._gallery.set_lists(person.id, memberships)
        return EnrolResult(person.id, person.name, req.list_name, created, verdicts)

    def _store_files(
        self, usable: Sequence[tuple[int, Photo, PhotoVerdict, GatedFace]]
    ) -> tuple[dict[int, tuple[str, str]], list[str]]:
        """Each usable photo and its crop as media files; returns them and those this call created (to
        delete if the rows naming them are not written: a full disk leaves no orphan file)."""
        files: dict[int, tuple[str, str]] = {}
        fresh: list[str] = []
        with self._unless_stored(fresh):
            for i, p, _, f in usable:
                pair = []
                for kind, data, suffix in (("photos", p.data, image_suffix(p.name, p.data)),
                                           ("crops", f.chip_jpeg, ".jpg")):  # fmt: skip
                    rel = self._media.rel_path(kind, data, suffix)
                    if not self._media.path(rel).is_file():
                        fresh.append(rel)
                    pair.append(self._media.put(kind, data, suffix))
                files[i] = (pair[0], pair[1])
        return files, fresh

    @contextmanager
    def _unless_stored(self, fresh: list[str]) -> Iterator[None]:
        """Delete the ``fresh`` media files when the disk is full (they hold the space that is missing).
        Other store errors (a locked database) leave them to the orphan sweep: deleting at once could
        take a file from a concurrent enrolment of the same photo that did commit."""
        try:
            yield
        except StorageFull:
            for rel in fresh:
                with suppress(OSError, StoreError):
                    self._media.remove(rel)
            raise

    def _judge(
        self,
        photo: Photo,
        req: EnrolRequest,
        i: int,
        n: int,
        progress: Callable[[int, int], None] | None,
        *,
        same: int | None,
    ) -> tuple[PhotoVerdict, GatedFace | None]:
        try:
            face = examine(
                self._stills, decode_image(photo.data, photo.name, self._ingest), photo.name, self._gate
            )
        except BadInput as exc:
            return PhotoVerdict(photo.name, False, (exc.reason,)), None
        finally:
            if progress is not None:
                progress(i + 1, n)
        looks_like = self._looks_like(face, same)
        if face.problems and not req.force:
            return PhotoVerdict(
                photo.name, False, face.problems, quality=face.quality, looks_like=looks_like
            ), face
        return PhotoVerdict(
            photo.name, True, face.problems, bool(face.problems), face.quality, looks_like
        ), face

    def _looks_like(self, face: GatedFace, person_id: int | None) -> tuple[int, str, float] | None:
        """Another enrolled person this face already matches above the threshold, if any."""
        found = self._gallery.search(face.vector[None], 1, datetime.now(UTC), exclude_person=person_id)[0]
        if not found or found[0].score < self._duplicate_threshold:
            return None
        with self._db.read() as s:
            name = s.scalar(select(Person.name).where(Person.id == found[0].person_id)) or "?"
        return (found[0].person_id, name, round(found[0].score, 4))

    def _person(self, s: Session, actor: str, req: EnrolRequest) -> tuple[Person, bool]:
        if req.person_id is not None:
            person = s.get(Person, req.person_id)
            if person is None:
                raise NotFound(f"no person with id {req.person_id}")
            return person, False
        same_name_on_list = None if req.new_person else s.scalar(
            select(Person).join(WatchlistEntry).join(Watchlist)
            .where(Person.name == req.name, Watchlist.name == req.list_name)
        )  # fmt: skip
        if same_name_on_list is not None:
            return same_name_on_list, False
        person = Person(name=req.name, notes=req.notes, created_by=actor, created_at=datetime.now(UTC))
        s.add(person)
        s.flush()
        return person, True

    def _entry(
        self, s: Session, actor: str, req: EnrolRequest, person: Person
    ) -> tuple[WatchlistEntry, bool]:
        """The person's entry on the list, and whether it was made now."""
        wl = s.scalar(select(Watchlist).where(Watchlist.name == req.list_name))
        if wl is None:
            raise NotFound(f"no list named {req.list_name!r}")
        entry = s.scalar(
            select(WatchlistEntry).where(
                WatchlistEntry.watchlist_id == wl.id, WatchlistEntry.person_id == person.id
            )
        )
        if entry is None:
            entry = WatchlistEntry(
                watchlist_id=wl.id, person_id=person.id, reason=req.reason, photo_source=req.photo_source,
                added_by=actor, approved_by=req.approved_by, added_at=datetime.now(UTC),
                expires_at=req.expires_at,
            )  # fmt: skip
            s.add(entry)
            s.flush()
            return entry, True
        return entry, False

    def _add_samples(
        self,
        s: Session,
        person: Person,
        usable: list[tuple[int, Photo, PhotoVerdict, GatedFace]],
        files: dict[int, tuple[str, str]],
        judged: list[tuple[PhotoVerdict, GatedFace | None]],
    ) -> tuple[list[PhotoVerdict], list[tuple[int, GatedFace]]]:
        """Insert the usable photos not already enrolled; the verdicts of all, and the new samples."""
        model_id = self._stills.model_id
        existing = set(
            s.scalars(
                select(FaceSample.photo_sha256).where(
                    FaceSample.person_id == person.id, FaceSample.model_id == model_id
                )
            ).all()
        )
        added: dict[int, PhotoVerdict] = {}  # by position: two photos may share a name
        new: list[tuple[int, GatedFace]] = []
        for i, photo, verdict, face in usable:
            digest = sha256_hex(photo.data)
            if digest in existing:
                added[i] = PhotoVerdict(photo.name, False, ("already enrolled for this person",))
                continue
            existing.add(digest)
            q = face.quality
            sample = FaceSample(
                person_id=person.id, photo_sha256=digest, photo_path=files[i][0],
                crop_path=files[i][1], embedding=face.vector.astype("<f4").tobytes(),
                model_id=face.model_id, dim=len(face.vector), weak=verdict.weak, created_at=datetime.now(UTC),
                quality=quality_json(q),
            )  # fmt: skip
            s.add(sample)
            s.flush()
            new.append((sample.id, face))
            added[i] = PhotoVerdict(
                photo.name, True, verdict.reasons, verdict.weak, q, verdict.looks_like, sample.id
            )  # fmt: skip
        return [added.get(i, v) for i, (v, _) in enumerate(judged)], new

    @staticmethod
    def _memberships(s: Session, person_id: int) -> list[ListMembership]:
        rows = s.execute(
            select(WatchlistEntry.watchlist_id, WatchlistEntry.expires_at).where(
                WatchlistEntry.person_id == person_id
            )
        )
        return [ListMembership(list_id, as_utc(expires)) for list_id, expires in rows]


class EnrolmentDesk:
    """Enrolment for a long-running server: the models are loaded at the first enrolment, not at start,
    and the gallery (for the "looks like someone else" check) is rebuilt when the database says it changed
    (people removed, or enrolled from another process). One enrolment at a time: each runs the face models
    on every photo, and two at once would only compete for the same cores.
    """

    def __init__(self, build: Callable[[], EnrolmentService], fingerprint: Callable[[], object]) -> None:
        self._build = build
        self._fingerprint = fingerprint
        self._lock = threading.Lock()
        self._service: EnrolmentService | None = None
        self._seen: object = None

    def enrol(self, actor: str, req: EnrolRequest) -> EnrolResult:
        with self._lock:
            now = self._fingerprint()
            if self._service is None or now != self._seen:
                self._service = self._build()
            try:
                return self._service.enrol(actor, req)
            finally:
                self._seen = self._fingerprint()  # its own change is already in its gallery
