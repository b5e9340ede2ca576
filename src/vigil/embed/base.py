"""The embedder interface: aligned chips in, L2-normalised vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from vigil.types import Embeddings, Image


class Embedder(Protocol):
    """Turns a batch of aligned face chips into L2-normalised vectors stamped with the model id."""

    model_id: str
    dim: int

    def embed(self, chips: Sequence[Image]) -> Embeddings:
        """Embed aligned RGB chips; returns one row per chip, in order."""
        ...
