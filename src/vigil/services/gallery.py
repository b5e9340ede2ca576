"""Rebuilding the in-memory gallery from the database, and sweeping files no row refers to."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict

import numpy as np
from sqlalchemy import func, select

from vigil.match.gallery import Gallery, ListMembership
from vigil.store.db import Database, as_utc
from vigil.store.media import MediaStore
from vigil.store.tables import EventShot, FaceSample, Person, Watchlist, WatchlistEntry

log = logging.getLogger(__name__)

CHUNK = 50_000


def load_gallery(db: Database, model_id: str, dim: int) -> Gallery:
    """Every enrolled sample of ``model_id`` and every list entry, streamed from the database in chunks."""
    gallery = Gallery(model_id=model_id, dim=dim)
    query = (
        select(FaceSample.id, FaceSample.person_id, FaceSample.embedding)
        .where(FaceSample.model_id == model_id)
        .execution_options(yield_per=CHUNK)
    )
    with db.read() as s:
        for chunk in s.execute(query).partitions():
            ids = np.fromiter((r[0] for r in chunk), np.int64, len(chunk))
            people = np.fromiter((r[1] for r in chunk), np.int64, len(chunk))
            vectors = np.frombuffer(b"".join(r[2] for r in chunk), dtype="<f4").reshape(len(chunk), dim)
            gallery.add_samples(ids, people, vectors.astype(np.float32), model_id)
        entries: dict[int, list[ListMembership]] = defaultdict(list)
        for person_id, list_id, expires in s.execute(
            select(WatchlistEntry.person_id, WatchlistEntry.watchlist_id, WatchlistEntry.expires_at)
        ):
            entries[person_id].append(ListMembership(list_id, as_utc(expires)))
    for person_id, memberships in entries.items():
        gallery.set_lists(person_id, memberships)
    log.info("gallery: %d samples of %d people (%s)", len(gallery), len(gallery.people), model_id)
    return gallery


def gallery_fingerprint(db: Database) -> tuple[object, ...]:
    """Changes whenever a sample, a person, a list entry or a list is added or removed (a cheap poll for
    processes whose gallery must follow edits made elsewhere)."""
    with db.read() as s:
        parts: list[object] = []
        for table in (FaceSample, Person, WatchlistEntry, Watchlist):
            parts.extend(s.execute(select(func.count(table.id), func.max(table.id))).one())
        parts.append(s.scalar(select(func.max(WatchlistEntry.expires_at))))
        parts.append(s.scalar(select(func.sum(Watchlist.threshold))))
        parts.append(s.scalar(select(func.sum(Watchlist.fpir))))
    return tuple(parts)


class FreshGallery:
    """A process's gallery kept in step with the database: reloaded when its fingerprint changes (an
    enrolment or removal by another process). For a server's occasional reads (searches)."""

    def __init__(self, db: Database, model_id: str, dim: int) -> None:
        self._db = db
        self._model_id = model_id
        self._dim = dim
        self._gallery: Gallery | None = None
        self._fingerprint: tuple[object, ...] | None = None
        self._lock = threading.Lock()

    def get(self) -> Gallery:
        with self._lock:
            now = gallery_fingerprint(self._db)
            if self._gallery is None or now != self._fingerprint:
                self._gallery = load_gallery(self._db, self._model_id, self._dim)
                self._fingerprint = now
            return self._gallery


ORPHAN_MIN_AGE_S = 3600.0
"""A file younger than this may belong to an enrolment still in flight in another process."""


def sweep_orphans(db: Database, media: MediaStore, min_age_s: float = ORPHAN_MIN_AGE_S) -> int:
    """Delete media files no row refers to (left by a crash between writing a file and committing).

    Only files older than ``min_age_s`` go: another process may have written a file whose row it has
    not committed yet (a live enrolment), and that file is not an orphan.
    """
    with db.read() as s:
        used = set(s.scalars(select(FaceSample.photo_path)).all())
        used |= set(s.scalars(select(FaceSample.crop_path)).all())
        used |= set(s.scalars(select(EventShot.crop_path)).all())
    orphans = media.all_files(older_than_s=min_age_s) - used
    for rel in orphans:
        media.remove(rel)
    if orphans:
        log.warning("removed %d media files no record refers to", len(orphans))
    return len(orphans)
