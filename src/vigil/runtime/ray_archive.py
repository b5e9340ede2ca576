"""The archive index sharded over a Ray cluster: one FAISS index per shard actor, searches fanned out and
merged.

Event ``e`` lives in shard ``e mod n``. Each shard actor loads its share from the database itself
(:meth:`vigil.search.archive.Archive.load` with ``shard``), so the API process never holds the whole
archive; tracks that end and purges are sent to the shard that holds them. A search asks every shard
for its best ``k`` and keeps the best ``k`` of all: the same answer as one index over everything (every
shard is exact below the IVF size, and each returns its own best ``k``). Shards are spread over the
cluster's nodes (``SPREAD``); their memory is that of the vectors they hold (4 bytes × dimension per
track, plus the index's own).

This module imports Ray only when an archive is built (the optional extra ``vigil[cluster]``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from vigil.config import StoreConfig
from vigil.search.archive import Archive
from vigil.search.index import IvfSettings
from vigil.store.db import Database
from vigil.store.paths import database_url
from vigil.types import FloatArray, IntArray

log = logging.getLogger(__name__)


class ArchiveShard:
    """One shard's index, in its actor's process (wrapped with ``ray.remote`` by :class:`ShardedArchive`)."""

    def __init__(
        self, store: StoreConfig, model_id: str, dim: int, ivf: IvfSettings | None, shard: tuple[int, int]
    ) -> None:
        db = Database.from_url(database_url(store))  # on this node (``$VIGIL_DATABASE_URL`` there first)
        try:
            self._archive = Archive.load(db, model_id, dim, ivf, shard)
        finally:
            db.dispose()

    def add(self, event_ids: IntArray, vectors: FloatArray) -> None:
        self._archive.add(event_ids, vectors)

    def remove(self, event_ids: IntArray) -> int:
        return self._archive.remove(event_ids)

    def search(self, vector: FloatArray, k: int) -> list[tuple[int, float]]:
        return self._archive.search(vector, k)

    def size(self) -> int:
        return len(self._archive)


class ShardedArchive:
    """Event templates of one model over ``n`` shard actors; the verbs of :class:`Archive`.

    Raises (from :meth:`load`):
        Exception: whatever a shard raised while loading (Ray's error wraps it, naming it).
    """

    def __init__(self, ray: Any, model_id: str, dim: int, shards: list[Any]) -> None:
        self.model_id = model_id
        self.dim = dim
        self._ray = ray
        self._shards = shards

    @classmethod
    def load(
        cls,
        ray: Any,
        store: StoreConfig,
        model_id: str,
        dim: int,
        shards: int,
        *,
        ivf: IvfSettings | None = None,
    ) -> ShardedArchive:
        """Start ``shards`` actors (spread over the nodes), each loading its share from the database."""
        remote = ray.remote(num_cpus=0, scheduling_strategy="SPREAD")(ArchiveShard)
        actors = [remote.remote(store, model_id, dim, ivf, (i, shards)) for i in range(shards)]
        archive = cls(ray, model_id, dim, actors)
        log.info("archive: %d faces in %d shards", len(archive), shards)
        return archive

    def _split(self, event_ids: IntArray) -> dict[int, np.ndarray]:
        n = len(self._shards)
        owner = event_ids % n
        return {int(i): np.flatnonzero(owner == i) for i in np.unique(owner)}

    def add(self, event_ids: IntArray, vectors: FloatArray) -> None:
        parts = self._split(np.asarray(event_ids, np.int64))
        self._ray.get(
            [self._shards[i].add.remote(event_ids[rows], vectors[rows]) for i, rows in parts.items()]
        )

    def remove(self, event_ids: IntArray) -> int:
        ids = np.asarray(event_ids, np.int64)
        parts = self._split(ids)
        return int(
            sum(self._ray.get([self._shards[i].remove.remote(ids[rows]) for i, rows in parts.items()]))
        )

    def search(self, vector: FloatArray, k: int) -> list[tuple[int, float]]:
        """The best ``k`` (event id, score) of every shard's best ``k``, best first."""
        answers = self._ray.get([s.search.remote(vector, k) for s in self._shards])
        merged: list[tuple[int, float]] = sorted(
            (hit for answer in answers for hit in answer), key=lambda h: (-h[1], h[0])
        )
        return merged[:k]

    def __len__(self) -> int:
        return int(sum(self._ray.get([s.size.remote() for s in self._shards])))

    def shutdown(self) -> None:
        for s in self._shards:
            self._ray.kill(s)
        self._shards = []
