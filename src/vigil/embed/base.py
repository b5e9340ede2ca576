"""The embedding stage's interfaces: an aligner cuts chips, an embedder turns them into vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vigil.model_catalogue import EmbedderSpec
from vigil.types import Embeddings, FloatArray, Image


class Aligner(Protocol):
    """Cuts the aligned face chips (RGB) one embedder was trained on."""

    def chips(self, image: Image, xyxy: FloatArray, landmarks: FloatArray) -> list[Image]:
        """Chips for faces at boxes (N, 4) with the detector's landmarks (N, 5, 2; NaN where it gives
        none) in a BGR image; one chip per face, in order."""
        ...


class Embedder(Protocol):
    """Turns a batch of aligned face chips into L2-normalised vectors stamped with the model id."""

    model_id: str
    dim: int

    def embed(self, chips: Sequence[Image]) -> Embeddings:
        """Embed aligned RGB chips; returns one row per chip, in order."""
        ...


@dataclass(frozen=True)
class FaceModel:
    """An embedder with the aligner that cuts its chips, and the spec they were built from."""

    spec: EmbedderSpec
    aligner: Aligner
    embedder: Embedder
