"""Vector index backends: exact inner-product search over L2-normalised vectors (cosine similarity)."""

from __future__ import annotations

from typing import Protocol

import faiss
import numpy as np

from vigil.types import FloatArray, IntArray


class VectorIndex(Protocol):
    """Stores vectors under integer ids and returns the nearest by cosine similarity."""

    dim: int

    def add(self, ids: IntArray, vectors: FloatArray) -> None: ...

    def remove(self, ids: IntArray) -> int: ...

    def search(self, vectors: FloatArray, k: int) -> tuple[FloatArray, IntArray]:
        """Scores and ids (N, k), best first; missing neighbours have id -1 and score -inf."""
        ...

    def __len__(self) -> int: ...


class FlatIndex:
    """FAISS exact search (``IndexFlatIP`` behind an id map): the right choice up to ~10^6 vectors."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def add(self, ids: IntArray, vectors: FloatArray) -> None:
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"vectors have shape {vectors.shape}, expected ({len(ids)}, {self.dim})")
        self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.asarray(ids, np.int64))

    def remove(self, ids: IntArray) -> int:
        return int(self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, np.int64))))

    def search(self, vectors: FloatArray, k: int) -> tuple[FloatArray, IntArray]:
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            n = len(vectors)
            return np.full((n, 1), -np.inf, np.float32), np.full((n, 1), -1, np.int64)
        scores, ids = self._index.search(np.ascontiguousarray(vectors, np.float32), k)
        scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
        return scores, ids.astype(np.int64)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def contents(self) -> tuple[IntArray, FloatArray]:
        """Every id and its vector, in insertion order (to rebuild them into another index)."""
        n = len(self)
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vectors = self._index.index.reconstruct_n(0, n) if n else np.zeros((0, self.dim), np.float32)
        return ids, np.asarray(vectors, np.float32)
