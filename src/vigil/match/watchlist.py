"""A watchlist: identities, their template vectors, and 1:N search collapsed per identity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vigil.errors import ModelError
from vigil.match.index import FlatIndex, VectorIndex
from vigil.types import FloatArray, IdentityScore, IntArray


@dataclass(frozen=True, slots=True)
class Template:
    """One enrolled face of one identity."""

    identity: str
    vector: FloatArray
    source: str


@dataclass
class Watchlist:
    """Enrolled identities with one or more templates each, searchable by cosine similarity.

    An identity's score for a probe is its best template's similarity. Vectors from another model than
    ``model_id`` are refused: similarities across models mean nothing.
    """

    model_id: str
    dim: int
    templates: list[Template] = field(default_factory=list)
    _index: VectorIndex | None = field(default=None, repr=False)

    @property
    def identities(self) -> list[str]:
        return sorted({t.identity for t in self.templates})

    def add(self, identity: str, vector: FloatArray, source: str, model_id: str) -> None:
        if model_id != self.model_id:
            raise ModelError(f"{source}: embedded with {model_id}, watchlist uses {self.model_id}")
        self.templates.append(Template(identity, vector.astype(np.float32), source))
        if self._index is not None:
            self._index.add(np.array([len(self.templates) - 1]), vector[None].astype(np.float32))

    def _ensure_index(self) -> VectorIndex:
        if self._index is None:
            self._index = FlatIndex(self.dim)
            if self.templates:
                vectors = np.stack([t.vector for t in self.templates])
                self._index.add(np.arange(len(self.templates), dtype=np.int64), vectors)
        return self._index

    def search(self, vectors: FloatArray, k: int = 5) -> list[list[IdentityScore]]:
        """For each probe, the ``k`` best identities (best first), one entry per identity."""
        index = self._ensure_index()
        if len(index) == 0:
            return [[] for _ in range(len(vectors))]
        # Fetch enough templates that k distinct identities survive collapsing.
        per_identity = max(len(self.templates) // max(1, len(self.identities)), 1)
        scores, ids = index.search(vectors, k * per_identity * 2 + 8)
        return [self._collapse(row_s, row_i, k) for row_s, row_i in zip(scores, ids, strict=True)]

    def _collapse(self, scores: FloatArray, ids: IntArray, k: int) -> list[IdentityScore]:
        best: dict[str, float] = {}
        for score, idx in zip(scores.tolist(), ids.tolist(), strict=True):
            if idx < 0:
                continue
            name = self.templates[idx].identity
            if name not in best:  # results come best first
                best[name] = score
        ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)[:k]
        return [IdentityScore(name, score) for name, score in ranked]


def weighted_mean(vectors: Sequence[FloatArray], weights: Sequence[float]) -> FloatArray:
    """The L2-normalised, weighted mean of unit vectors: one probe for a set of shots of one face."""
    stacked = np.stack(vectors).astype(np.float32)
    w = np.asarray(weights, dtype=np.float32)[:, None]
    mean = (stacked * w).sum(axis=0)
    unit: FloatArray = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
    return unit
