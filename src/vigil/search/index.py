"""The archive's vector index: exact while small, FAISS IVF (inverted lists over k-means cells) when large.

:class:`ArchiveIndex` has the shape of every Vigil vector index (:class:`vigil.match.index.VectorIndex`:
``add``, ``remove``, ``search``, ``len``), so callers never see which one serves them, and a distributed
vector database can stand behind the same four verbs later.

Exact search costs O(N) per query: ~30 ms at 10^6 faces on one core. IVF compares a query with the
``nprobe`` cells nearest to it only (``nprobe / nlist`` of the vectors) and finds the exact nearest
neighbour almost always: recall@1 and latency for each size are measured by ``vigil bench search``
(docs/benchmarks.md). Removal is real in both (the vectors are deleted from memory, not masked), which
the retention purge relies on.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import faiss
import numpy as np

from vigil.match.index import FlatIndex
from vigil.types import FloatArray, IntArray

log = logging.getLogger(__name__)

TRAIN_PER_CELL = 40  # k-means training points per cell (FAISS wants at least 39)
KMEANS_ITERATIONS = 10
MAX_CELLS = 8192  # 4·√N up to 4·10^6 faces; beyond, cells grow longer instead (k-means time ∝ cells²)
ADD_EF_SEARCH = 24
HNSW_LINKS = 32  # of the coarse quantizer: finding a vector's cells costs O(log cells), not O(cells)


@dataclass(frozen=True, slots=True)
class IvfSettings:
    """When and how to switch to IVF; ``nlist`` None picks ``4·√N`` cells at build time."""

    min_vectors: int = 200_000
    nlist: int | None = None
    nprobe: int = 128

    def cells_for(self, n: int) -> int:
        return self.nlist or max(16, min(MAX_CELLS, int(4 * math.sqrt(n))))


class IvfIndex:
    """FAISS ``IndexIVFFlat`` over inner products (cosine on unit vectors): k-means cells trained on (a sample
    of) the vectors given, found through an HNSW graph of the cell centres (IVF-HNSW)."""

    def __init__(self, dim: int, vectors: FloatArray, nlist: int, nprobe: int, seed: int = 0) -> None:
        self.dim = dim
        self.nlist = nlist
        rng = np.random.default_rng(seed)
        n_train = min(len(vectors), nlist * TRAIN_PER_CELL)
        sample = (
            vectors if n_train == len(vectors) else vectors[rng.choice(len(vectors), n_train, replace=False)]
        )
        self._quantizer = faiss.IndexHNSWFlat(dim, HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
        self._index = faiss.IndexIVFFlat(self._quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        self._index.cp.niter = KMEANS_ITERATIONS
        self._index.cp.seed = seed
        self._index.train(np.ascontiguousarray(sample, np.float32))
        self.nprobe = nprobe

    @property
    def nprobe(self) -> int:
        return int(self._index.nprobe)

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self._index.nprobe = value
        self._quantizer.hnsw.efSearch = max(64, 2 * value)  # the graph must yield the nprobe nearest cells

    def add(self, ids: IntArray, vectors: FloatArray) -> None:
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"vectors have shape {vectors.shape}, expected ({len(ids)}, {self.dim})")
        # A new vector needs only its one nearest cell: a narrower walk of the graph than a query's.
        self._quantizer.hnsw.efSearch = ADD_EF_SEARCH
        try:
            self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.asarray(ids, np.int64))
        finally:
            self.nprobe = self.nprobe

    def remove(self, ids: IntArray) -> int:
        return int(self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, np.int64))))

    def search(self, vectors: FloatArray, k: int) -> tuple[FloatArray, IntArray]:
        scores, ids = self._index.search(np.ascontiguousarray(vectors, np.float32), max(1, k))
        return np.where(ids < 0, -np.inf, scores).astype(np.float32), ids.astype(np.int64)

    def __len__(self) -> int:
        return int(self._index.ntotal)


class ArchiveIndex:
    """Exact search up to ``ivf.min_vectors`` faces, IVF from there on (switched over once, in place).

    Example:
        >>> index = ArchiveIndex(128)
        >>> index.add(event_ids, vectors)  # doctest: +SKIP
        >>> scores, ids = index.search(probe[None], k=20)  # doctest: +SKIP
    """

    def __init__(self, dim: int, ivf: IvfSettings | None = None, *, exact: bool = False) -> None:
        self.dim = dim
        self._ivf = ivf or IvfSettings()
        self._exact = exact
        self._index: FlatIndex | IvfIndex = FlatIndex(dim)

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, IvfIndex) else "flat"

    def add(self, ids: IntArray, vectors: FloatArray) -> None:
        index = self._index
        if (
            isinstance(index, FlatIndex)
            and not self._exact
            and len(index) + len(ids) >= self._ivf.min_vectors
        ):
            self._to_ivf(index, ids, vectors)
        else:
            index.add(ids, vectors)

    def remove(self, ids: IntArray) -> int:
        return self._index.remove(ids)

    def search(self, vectors: FloatArray, k: int) -> tuple[FloatArray, IntArray]:
        return self._index.search(vectors, k)

    def __len__(self) -> int:
        return len(self._index)

    def _to_ivf(self, flat: FlatIndex, ids: IntArray, vectors: FloatArray) -> None:
        old_ids, old_vectors = flat.contents()
        all_ids = np.concatenate([old_ids, np.asarray(ids, np.int64)])
        all_vectors = np.concatenate([old_vectors, np.asarray(vectors, np.float32)])
        nlist = self._ivf.cells_for(len(all_ids))
        log.info("archive index: %d faces, switching to IVF with %d cells", len(all_ids), nlist)
        ivf = IvfIndex(self.dim, all_vectors, nlist, self._ivf.nprobe)
        ivf.add(all_ids, all_vectors)
        self._index = ivf
