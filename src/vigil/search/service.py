"""Search by photo: where was this person seen, and is this person on a list? Every search is audited.

A search needs a reason (a case reference). It finds the face in the photo (or, when there are several,
asks which one), then ranks candidates from the watchlists (the gallery of enrolled people) and from the
archive (the templates of past tracks), filtered by time, cameras, lists and a minimum score. The audit
row names the user, the reason, the probe photo by hash (the photo itself is kept in the media folder
under ``probes/``, subject to retention) and the ids of every result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select

from vigil.config import BestShotConfig, IngestConfig
from vigil.embed.stills import StillEncoder, StillFaces
from vigil.errors import BadInput, check_period
from vigil.ingest.images import decode_image
from vigil.match.gallery import Gallery
from vigil.match.thresholds import ThresholdPolicy
from vigil.search.archive import SearchableArchive
from vigil.search.recognize import Names, Recognition, candidates, recognize_faces, within_lists
from vigil.services.enrol import Photo
from vigil.services.rules import list_rules
from vigil.services.visibility import Scope, event_lists, event_visible
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.media import MediaStore, image_suffix, sha256_hex
from vigil.store.tables import Camera, Event, EventTemplate, Person, Watchlist
from vigil.types import FloatArray

log = logging.getLogger(__name__)

MAX_K = 200


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """What results may be: time range (archive), cameras (archive), lists, minimum score, how many."""

    since: datetime | None = None
    until: datetime | None = None
    camera_ids: frozenset[int] | None = None
    list_ids: frozenset[int] | None = None  # people on these lists; sightings alerted on them
    min_score: float | None = None  # None: the configured default
    k: int = 20

    def check(self) -> None:
        if not 1 <= self.k <= MAX_K:
            raise BadInput("k", f"{self.k} is not between 1 and {MAX_K}")
        check_period(self.since, self.until)
        if self.min_score is not None and not -1 <= self.min_score <= 1:
            raise BadInput("min_score", f"{self.min_score} is not a cosine similarity in [-1, 1]")

    def as_audit(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "cameras": sorted(self.camera_ids) if self.camera_ids is not None else None,
            "lists": sorted(self.list_ids) if self.list_ids is not None else None,
            "min_score": self.min_score, "k": self.k,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class SearchRequest:
    photo: Photo
    reason: str
    face: int | None = None  # which face of the photo, when it shows several
    filter: SearchFilter = field(default_factory=SearchFilter)


@dataclass(frozen=True, slots=True)
class FaceBox:
    index: int
    xyxy: tuple[float, float, float, float]
    score: float


@dataclass(frozen=True, slots=True)
class ListHit:
    """An enrolled person the face resembles, with the lists they are on."""

    person_id: int
    name: str
    score: float
    lists: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ArchiveHit:
    """A past sighting (a recorded track) the face resembles."""

    event_id: int
    score: float
    camera_id: int
    camera: str
    start_at: datetime
    end_at: datetime
    person: str | None  # whom it was identified as at the time (alerts only)
    watchlist: str | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    audit_id: int
    probe_sha256: str
    faces: list[FaceBox]
    face: int
    min_score: float
    list_hits: list[ListHit]
    archive_hits: list[ArchiveHit]
    # Archived tracks recorded with another embedder, by model id: not searched (vectors of different
    # models are never compared); they are found only by a search under their own model.
    other_models: dict[str, int] = field(default_factory=dict)


class ChooseFace(BadInput):
    """The photo shows several faces and the request did not say which: nothing was searched."""

    def __init__(self, name: str, faces: list[FaceBox]) -> None:
        n = len(faces)
        super().__init__(name, f"the photo shows {n} faces: say which one (face 0 to {n - 1}, largest first)")
        self.faces = faces


class PhotoSearch:
    """Searches by photo over ``gallery()`` (enrolled people) and ``archive()`` (past tracks), and names
    every face of a photo from the gallery (:meth:`recognize`, judged by ``policy`` as live).

    The callables give the current gallery and archive (the composition root decides how they are kept
    fresh) and the face models (loaded at the first search in a server).
    """

    def __init__(
        self,
        db: Database,
        media: MediaStore,
        *,
        stills: Callable[[], StillEncoder],
        gallery: Callable[[], Gallery],
        archive: Callable[[], SearchableArchive],
        ingest: IngestConfig,
        min_score: float,
        policy: ThresholdPolicy,
        shots: BestShotConfig,
    ) -> None:
        self._db = db
        self._media = media
        self._stills = stills
        self._gallery = gallery
        self._archive = archive
        self._ingest = ingest
        self._min_score = min_score
        self._policy = policy
        self._shots = shots

    def search(self, actor: str, req: SearchRequest, scope: Scope = Scope.EVERYTHING) -> SearchResult:
        """Results inside ``scope`` only: people of its lists (with those lists named), sightings of its
        cameras that are unknown faces or identified under its lists.

        Raises:
        BadInput: no reason, a bad filter, an unreadable photo, no face in it; ChooseFace when it shows
            several and ``req.face`` is not given (or out of range).
        """
        _check_reason(req.reason)
        f = req.filter
        f.check()
        image = decode_image(req.photo.data, req.photo.name, self._ingest)
        found = self._stills().encode(image)
        faces = _boxes(found)
        if not faces:
            raise BadInput(req.photo.name, "no face found")
        chosen = req.face if req.face is not None else 0
        if (len(faces) > 1 and req.face is None) or not 0 <= chosen < len(faces):
            raise ChooseFace(req.photo.name, faces)
        vector = found.embeddings.vectors[chosen]
        min_score = self._min_score if f.min_score is None else f.min_score
        list_hits = self._on_lists(vector, f, min_score, scope)
        archive_hits = self._in_archive(vector, f, min_score, scope)
        details = {
            "face": chosen,
            "faces": len(faces),
            "filter": f.as_audit(),
            "min_score": min_score,
            "people": [h.person_id for h in list_hits],
            "events": [h.event_id for h in archive_hits],
        }
        audit_id, digest = self._record(actor, "search.photo", req.photo, req.reason, details)
        log.info("search by %s: %d people, %d sightings", actor, len(list_hits), len(archive_hits))
        others = self._other_models(found.embeddings.model_id)
        return SearchResult(audit_id, digest, faces, chosen, min_score, list_hits, archive_hits, others)

    def recognize(
        self, actor: str, photo: Photo, reason: str, scope: Scope = Scope.EVERYTHING
    ) -> Recognition:
        """Every face of ``photo``, largest first, named from the gallery or unknown (see
        :mod:`vigil.search.recognize`); audited and the photo kept like a search's. Judged against every
        list, as live; then a user limited to lists sees only their people named (others: unknown).

        Raises:
            BadInput: no reason, or an unreadable, corrupt or oversized photo (nothing is recorded).
        """
        _check_reason(reason)
        image = decode_image(photo.data, photo.name, self._ingest)
        found = self._stills().encode(image)
        now = datetime.now(UTC)
        ranked = candidates(self._gallery(), found, now)
        with self._db.read() as s:
            wanted = sorted({c.person_id for row in ranked for c in row})
            people = dict(s.execute(select(Person.id, Person.name).where(Person.id.in_(wanted))).all())
            lists = dict(s.execute(select(Watchlist.id, Watchlist.name)).all())
            rules = list_rules(s, self._policy, now)
        names = Names(people, lists, rules)
        faces = recognize_faces(image, found, ranked, names, match=self._policy.match, shots=self._shots)
        if scope.list_ids is not None:
            faces = within_lists(faces, {lists[i] for i in scope.list_ids if i in lists})
        details = {
            "faces": len(faces),
            "model": found.embeddings.model_id,
            "answers": [
                {
                    "face": f.face.index,
                    "person": f.identity.person_id if f.identity else None,
                    "candidate": f.candidate.person_id if f.candidate else None,
                    "score": f.candidate.score if f.candidate else None,
                    "threshold": f.face.decision.threshold,
                    "judged": f.face.judged,
                }
                for f in faces
            ],
        }
        audit_id, digest = self._record(actor, "recognize.photo", photo, reason, details)
        named = sum(f.identity is not None for f in faces)
        log.info("recognition by %s: %d faces, %d named", actor, len(faces), named)
        return Recognition(audit_id, digest, found.embeddings.model_id, faces)

    def _record(
        self, actor: str, action: str, photo: Photo, reason: str, details: dict[str, object]
    ) -> tuple[int, str]:
        """Keep the probe photo (under ``probes/``, for ``retention.probe_days``) and write the audit row
        naming it by hash: (the row's id, the photo's SHA-256)."""
        digest = sha256_hex(photo.data)
        self._media.put("probes", photo.data, image_suffix(photo.name, photo.data))
        with self._db.write() as s:
            row = audit.append(
                s, actor, action, f"probe:{digest[:16]}", reason=reason,
                details={"probe_sha256": digest, "photo": photo.name, **details},
            )  # fmt: skip
            return row.id, digest

    def _other_models(self, model_id: str) -> dict[str, int]:
        """Archived tracks of other models that have no template of ``model_id`` (not re-embedded)."""
        again = select(EventTemplate.id).where(
            EventTemplate.event_id == Event.id, EventTemplate.model_id == model_id
        )
        with self._db.read() as s:
            rows = s.execute(
                select(Event.model_id, func.count())
                .where(Event.model_id != model_id, Event.embedding.is_not(None), ~again.exists())
                .group_by(Event.model_id)
            ).all()
        return {str(m): int(n) for m, n in rows}

    def _on_lists(self, vector: FloatArray, f: SearchFilter, min_score: float, scope: Scope) -> list[ListHit]:
        narrowed = scope.lists_within(f.list_ids)
        lists = set(narrowed) if narrowed is not None else None
        found = self._gallery().search(vector[None], f.k, datetime.now(UTC), list_ids=lists)[0]
        found = [c for c in found if c.score >= min_score]
        if not found:
            return []
        with self._db.read() as s:
            wanted = [c.person_id for c in found]
            names = dict(s.execute(select(Person.id, Person.name).where(Person.id.in_(wanted))).all())
            list_names = dict(s.execute(select(Watchlist.id, Watchlist.name)).all())
        return [
            ListHit(c.person_id, names.get(c.person_id, "?"), round(c.score, 4),
                    tuple(sorted(list_names.get(i, str(i)) for i in c.list_ids
                                 if scope.list_ids is None or i in scope.list_ids)))
            for c in found
        ]  # fmt: skip

    def _in_archive(
        self, vector: FloatArray, f: SearchFilter, min_score: float, scope: Scope
    ) -> list[ArchiveHit]:
        """The best ``k`` sightings passing the filters: asks the index for more until enough pass."""
        archive = self._archive()
        fetch = min(len(archive), max(10 * f.k, 200))
        while fetch > 0:
            ranked = [(i, sc) for i, sc in archive.search(vector, fetch) if sc >= min_score]
            hits = self._sightings(ranked, f, scope)
            exhausted = len(ranked) < fetch or fetch >= len(archive)  # the rest score lower or are gone
            if len(hits) >= f.k or exhausted:
                return hits[: f.k]
            fetch = min(len(archive), fetch * 4)
        return []

    def _sightings(self, ranked: list[tuple[int, float]], f: SearchFilter, scope: Scope) -> list[ArchiveHit]:
        if not ranked:
            return []
        score_of = dict(ranked)
        q = (
            select(Event, Camera.name, Person.name, Watchlist.name)
            .join(Camera, Camera.id == Event.camera_id)
            .outerjoin(Person, Person.id == Event.person_id)
            .outerjoin(Watchlist, Watchlist.id == Event.watchlist_id)
            .where(Event.id.in_(list(score_of)))
        )
        if f.since is not None:
            q = q.where(Event.start_at >= f.since)
        if f.until is not None:
            q = q.where(Event.start_at < f.until)
        if f.camera_ids is not None:
            q = q.where(Event.camera_id.in_(sorted(f.camera_ids)))
        if f.list_ids is not None:
            q = q.where(Event.watchlist_id.in_(sorted(f.list_ids)))
        with self._db.read() as s:
            hits = [
                ArchiveHit(e.id, round(score_of[e.id], 4), e.camera_id, camera, as_utc(e.start_at),
                           as_utc(e.end_at), *((person, watchlist) if e.alerted_at else (None, None)))
                for e, camera, person, watchlist in s.execute(q)
                if event_visible(scope, e.camera_id, event_lists(e.watchlist_id, e.list_ids))
            ]  # fmt: skip
        return sorted(hits, key=lambda h: (-h.score, h.event_id))


def _check_reason(reason: str) -> None:
    if not reason.strip():
        raise BadInput("reason", "a search needs a reason (a case reference)")


def _boxes(found: StillFaces) -> list[FaceBox]:
    d = found.detections
    return [
        FaceBox(i, (round(float(x0), 1), round(float(y0), 1), round(float(x1), 1), round(float(y1), 1)),
                round(float(d.score[i]), 3))
        for i, (x0, y0, x1, y1) in enumerate(d.xyxy)
    ]  # fmt: skip
