"""Score fusion: several networks embed the same chip and their unit vectors are joined, each scaled by
1/sqrt(k), so that the cosine of two fused vectors is the mean of the parts' cosines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vigil.embed.base import Embedder
from vigil.types import Embeddings, Image


class FusedEmbedder:
    """The parts' vectors of each chip, joined with equal weights (a unit vector of the summed dims)."""

    def __init__(self, model_id: str, parts: Sequence[Embedder]) -> None:
        if len(parts) < 2:
            raise ValueError("a fusion needs at least two embedders")
        self.model_id = model_id
        self.dim = sum(p.dim for p in parts)
        self._parts = tuple(parts)
        self._scale = np.float32(1.0 / np.sqrt(len(parts)))

    def embed(self, chips: Sequence[Image]) -> Embeddings:
        if not chips:
            return Embeddings(np.zeros((0, self.dim), np.float32), self.model_id)
        blocks = [p.embed(chips).vectors * self._scale for p in self._parts]  # each row a unit vector
        return Embeddings(np.ascontiguousarray(np.concatenate(blocks, axis=1), np.float32), self.model_id)
