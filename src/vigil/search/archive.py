"""The archive of past detections as a searchable set: each event's track template in a vector index.

The database is the truth: :meth:`Archive.load` fills the index from ``events.embedding`` (chunk by
chunk), and from ``event_templates`` for the tracks recorded with another embedder and re-embedded
since (``vigil db reembed``). A long-running service's :class:`LiveArchive` then catches up before each
search with the tracks any process recorded since (its own cameras, ``vigil scan --store``, another
server) and removes what the retention purge deletes. One lock serialises changes and searches (FAISS
indexes are not safe to change while read).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.search.index import ArchiveIndex, IvfSettings
from vigil.store.db import Database
from vigil.store.feed import OVERLAP_S, FeedCursor
from vigil.store.tables import Event, EventTemplate
from vigil.types import FloatArray, IntArray

log = logging.getLogger(__name__)

CHUNK = 50_000


class SearchableArchive(Protocol):
    """What searches need of an archive: one process's :class:`Archive`, or one sharded over a cluster's
    actors (:class:`vigil.runtime.ray_archive.ShardedArchive`)."""

    model_id: str

    def add(self, event_ids: IntArray, vectors: FloatArray) -> None: ...

    def remove(self, event_ids: IntArray) -> int: ...

    def search(self, vector: FloatArray, k: int) -> list[tuple[int, float]]: ...

    def __len__(self) -> int: ...


class Archive:
    """Event templates of one model, searchable by cosine similarity."""

    def __init__(self, model_id: str, dim: int, ivf: IvfSettings | None = None) -> None:
        self.model_id = model_id
        self.dim = dim
        self.loaded_up_to = 0  # the highest event id read by load(): later changes come by add()
        self._index = ArchiveIndex(dim, ivf)
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        db: Database,
        model_id: str,
        dim: int,
        ivf: IvfSettings | None = None,
        shard: tuple[int, int] | None = None,
    ) -> Archive:
        """Every event with a template of ``model_id`` (its own or re-embedded), read in chunks; with
        ``shard`` (i, n), only the events whose id is i modulo n."""
        archive = cls(model_id, dim, ivf)
        own = select(Event.id, Event.embedding).where(
            Event.model_id == model_id, Event.embedding.is_not(None)
        )
        again = select(EventTemplate.event_id, EventTemplate.embedding).where(
            EventTemplate.model_id == model_id
        )
        if shard is not None:
            i, n = shard
            own, again = own.where(Event.id % n == i), again.where(EventTemplate.event_id % n == i)
        ids: list[IntArray] = []
        vectors: list[FloatArray] = []
        with db.read() as s:
            for query in (own.order_by(Event.id), again.order_by(EventTemplate.event_id)):
                for chunk in s.execute(query.execution_options(yield_per=CHUNK)).partitions():
                    ids.append(np.fromiter((r[0] for r in chunk), np.int64, len(chunk)))
                    raw = b"".join(r[1] or b"" for r in chunk)  # never None here (filtered)
                    vectors.append(np.frombuffer(raw, "<f4").reshape(len(chunk), dim).astype(np.float32))
        if ids:  # at once: the index picks exact or IVF for the whole archive
            all_ids = np.concatenate(ids)
            archive.add(all_ids, np.concatenate(vectors))
            archive.loaded_up_to = int(all_ids.max())
        log.info("archive: %d faces (%s index)", len(archive), archive.kind)
        return archive

    @property
    def kind(self) -> str:
        return self._index.kind

    def add(self, event_ids: IntArray, vectors: FloatArray) -> None:
        """Add (or replace: an event read by ``load`` while its track was still open) templates."""
        with self._lock:
            seen = event_ids[event_ids <= self.loaded_up_to]
            if len(seen):
                self._index.remove(seen)
            self._index.add(event_ids, vectors)

    def remove(self, event_ids: IntArray) -> int:
        with self._lock:
            return self._index.remove(event_ids)

    def search(self, vector: FloatArray, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` (event id, score) pairs, best first."""
        with self._lock:
            if len(self._index) == 0:
                return []
            scores, ids = self._index.search(vector[None], k)
        return [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)


def template_of(session: Session, event: Event, model_id: str) -> FloatArray | None:
    """The track's template of ``model_id``: its own when it was recorded with that model, else the one
    re-embedding made (None when there is none)."""
    if event.model_id == model_id:
        raw = event.embedding
    else:
        raw = session.scalar(
            select(EventTemplate.embedding).where(
                EventTemplate.event_id == event.id, EventTemplate.model_id == model_id
            )
        )
    return None if raw is None else np.frombuffer(raw, "<f4").astype(np.float32)


def recorded_since(db: Database, model_id: str, cursor: FeedCursor) -> tuple[IntArray, FloatArray]:
    """The templates of ``model_id`` that any writer recorded after ``cursor`` (and not handed out yet)."""
    since = cursor.since()
    query = select(Event.id, Event.recorded_at, Event.embedding).where(
        Event.model_id == model_id, Event.embedding.is_not(None), Event.recorded_at.is_not(None)
    )
    if since is not None:
        query = query.where(Event.recorded_at > since)
    with db.read() as s:
        rows = {int(i): (at, raw) for i, at, raw in s.execute(query.order_by(Event.recorded_at))}
    fresh = cursor.fresh((i, at) for i, (at, _raw) in rows.items() if at is not None)
    if not fresh:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    vectors = np.stack([np.frombuffer(rows[i][1] or b"", "<f4") for i in fresh]).astype(np.float32)
    return np.asarray(fresh, np.int64), vectors


class LiveArchive:
    """The archive of a long-running service, whichever process records its tracks: loaded at the first
    search, then brought up to date from the store before every search (:func:`recorded_since`: the tracks
    this server's cameras, a ``vigil scan --store`` or another server recorded since), so a search finds
    what was committed before it began. ``add`` puts a track in at once (this process's recorder); the
    retention purge takes out what it deletes (``remove``)."""

    def __init__(
        self,
        load: Callable[[], SearchableArchive],
        changes: Callable[[FeedCursor], tuple[IntArray, FloatArray]] | None = None,
        *,
        overlap_s: float = OVERLAP_S,
    ) -> None:
        """``changes`` reads what was recorded after a cursor (None: the archive is only what ``load`` read
        and ``add`` put in)."""
        self._load = load
        self._changes = changes
        self._overlap_s = overlap_s
        self._archive: SearchableArchive | None = None
        self._cursor = FeedCursor(overlap_s)
        self._lock = threading.Lock()
        self.caught_up = 0  # tracks put in from the store since the load

    def get(self) -> SearchableArchive:
        with self._lock:
            if self._archive is None:
                self._cursor = FeedCursor(self._overlap_s, mark=datetime.now(UTC))  # before reading
                self._archive = self._load()
            elif self._changes is not None:
                self._catch_up(self._archive, self._changes)
            return self._archive

    def _catch_up(
        self, archive: SearchableArchive, changes: Callable[[FeedCursor], tuple[IntArray, FloatArray]]
    ) -> None:
        try:
            ids, vectors = changes(self._cursor)
        except Exception:  # e.g. the database briefly unavailable: search what there is, catch up next time
            log.exception("archive: could not read the tracks recorded since the last search")
            return
        if len(ids):
            archive.remove(ids)  # a track read before (still open then, or added by this process) is replaced
            archive.add(ids, vectors)
            self.caught_up += len(ids)
            log.debug("archive: %d tracks recorded since the last search put in", len(ids))

    def add(self, event_ids: IntArray, vectors: FloatArray) -> None:
        with self._lock:  # not loaded yet: the load will read them from the database
            if self._archive is not None:
                self._archive.remove(event_ids)  # the catch-up may have put it in already
                self._archive.add(event_ids, vectors)

    def remove(self, event_ids: IntArray) -> None:
        with self._lock:
            if self._archive is not None:
                self._archive.remove(event_ids)
