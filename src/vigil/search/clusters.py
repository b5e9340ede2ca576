"""Grouping unknown faces: the connected components of the graph of above-threshold neighbours.

Each track template is linked to those of its ``k`` nearest neighbours (cosine, through the archive's
vector index: exact while small, FAISS IVF when large) that score at least ``threshold``; a cluster is a
connected component of those links. Adding templates only ever joins components, so clusters are kept
incrementally with a union-find: a new batch costs one k-NN search per template, whatever was added
before. ``vigil bench clusters`` measures this against Chinese Whispers (dlib) and average linkage
(SciPy) on LFW: pairwise precision and recall against the identities, and the time for 10^5 templates
(docs/benchmarks.md).

Example:
    >>> graph = ThresholdGraph(dim=512, threshold=0.45)  # doctest: +SKIP
    >>> graph.add(event_ids, templates)  # doctest: +SKIP
    >>> graph.labels(event_ids)  # the smallest event id of each one's cluster  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.search.index import ArchiveIndex, IvfSettings
from vigil.types import FloatArray, IntArray

DEFAULT_K = 10
"""Neighbours examined per template: more finds a few more links, and chains more strangers together."""


@dataclass(frozen=True, slots=True)
class Links:
    """Above-threshold neighbour pairs, one array per field: ``a[i]`` linked to ``b[i]`` by ``score[i]``."""

    a: IntArray
    b: IntArray
    score: FloatArray

    def __post_init__(self) -> None:
        if not (self.a.shape == self.b.shape == self.score.shape) or self.a.ndim != 1:
            raise ValueError(
                f"link arrays differ in shape: {self.a.shape}, {self.b.shape}, {self.score.shape}"
            )

    def __len__(self) -> int:
        return len(self.a)


def neighbour_links(
    index: ArchiveIndex, ids: IntArray, vectors: FloatArray, threshold: float, k: int = DEFAULT_K
) -> Links:
    """The links of each template (``ids``, ``vectors``) to its ``k`` nearest neighbours in ``index``
    scoring at least ``threshold``; itself excluded, each pair once (``a < b``)."""
    if len(ids) == 0 or len(index) == 0:
        empty = np.zeros(0, np.int64)
        return Links(empty, empty.copy(), np.zeros(0, np.float32))
    scores, found = index.search(np.ascontiguousarray(vectors, np.float32), k + 1)
    rows = np.repeat(np.asarray(ids, np.int64), scores.shape[1])
    cols, flat = found.ravel(), scores.ravel()
    keep = (cols >= 0) & (cols != rows) & (flat >= threshold)
    a, b = np.minimum(rows[keep], cols[keep]), np.maximum(rows[keep], cols[keep])
    pairs, first = np.unique(np.stack([a, b], axis=1), axis=0, return_index=True)
    if len(pairs) == 0:
        return Links(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    return Links(pairs[:, 0].copy(), pairs[:, 1].copy(), flat[keep][first].astype(np.float32))


class UnionFind:
    """Disjoint sets of ids (any int64), each named by its smallest id."""

    def __init__(self) -> None:
        self._parent: dict[int, int] = {}

    def add(self, ident: int) -> None:
        self._parent.setdefault(ident, ident)

    def find(self, ident: int) -> int:
        parent = self._parent
        root = ident
        while parent[root] != root:
            root = parent[root]
        while parent[ident] != root:  # path compression
            parent[ident], ident = root, parent[ident]
        return root

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        lo, hi = min(ra, rb), max(ra, rb)
        self._parent[hi] = lo
        return lo

    def forget(self, idents: IntArray) -> None:
        """Drop ``idents`` (purged) and rebuild the sets of the others: what linked only through a purged
        template falls apart only when the links are found again (see :meth:`ThresholdGraph.remove`)."""
        gone = {int(i) for i in idents}
        self._parent = {i: i for i in self._parent if i not in gone}

    def __contains__(self, ident: int) -> bool:
        return ident in self._parent

    def __len__(self) -> int:
        return len(self._parent)


class ThresholdGraph:
    """Incremental clusters: the connected components of the above-threshold k-NN graph."""

    def __init__(
        self, dim: int, threshold: float, k: int = DEFAULT_K, ivf: IvfSettings | None = None
    ) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold {threshold} is not a cosine similarity (-1 to 1)")
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        self.dim = dim
        self.threshold = threshold
        self.k = k
        self.index = ArchiveIndex(dim, ivf)
        self._sets = UnionFind()

    def add(self, ids: IntArray, vectors: FloatArray) -> Links:
        """Add templates (ids not seen before) and join the clusters they link; returns the new links."""
        ids = np.asarray(ids, np.int64)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"vectors have shape {vectors.shape}, expected ({len(ids)}, {self.dim})")
        if any(int(i) in self._sets for i in ids):
            raise ValueError("some ids are in the graph already")
        self.index.add(ids, np.ascontiguousarray(vectors, np.float32))
        for i in ids:
            self._sets.add(int(i))
        links = neighbour_links(self.index, ids, vectors, self.threshold, self.k)
        for a, b in zip(links.a.tolist(), links.b.tolist(), strict=True):
            self._sets.union(a, b)
        return links

    def remove(self, ids: IntArray) -> None:
        """Forget purged templates. The others keep their clusters until rebuilt (``relink``): a cluster
        does not split by itself when the template that joined two halves expires."""
        ids = np.asarray(ids, np.int64)
        self.index.remove(ids)
        self._sets.forget(ids)

    def labels(self, ids: IntArray) -> IntArray:
        """The cluster of each id: the smallest id in it."""
        return np.fromiter((self._sets.find(int(i)) for i in ids), np.int64, len(ids))

    def __len__(self) -> int:
        return len(self._sets)


def threshold_clusters(
    vectors: FloatArray, threshold: float, k: int = DEFAULT_K, batch: int = 1000
) -> IntArray:
    """Cluster labels (0..C-1, by first appearance) of ``vectors`` added ``batch`` at a time to a
    :class:`ThresholdGraph`, as a live service adds tracks."""
    graph = ThresholdGraph(vectors.shape[1], threshold, k, IvfSettings(min_vectors=1 << 62))
    ids = np.arange(len(vectors), dtype=np.int64)
    for lo in range(0, len(vectors), batch):
        graph.add(ids[lo : lo + batch], vectors[lo : lo + batch])
    return dense_labels(graph.labels(ids))


def dense_labels(labels: IntArray) -> IntArray:
    """Labels renumbered 0..C-1 in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.int64)
