"""dlib's ResNet face embedder (128-d), from the face_recognition_models package."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dlib
import numpy as np

from vigil.model_catalogue import DLIB_RESNET, model_id
from vigil.types import Embeddings, FloatArray, Image


def model_id_for(flip: bool) -> str:
    """The id stamped on dlib's vectors: the network plus anything that changes its output."""
    return model_id(DLIB_RESNET, flip)


def l2_normalise(vectors: FloatArray) -> FloatArray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: FloatArray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


class DlibResNetEmbedder:
    """dlib ResNet-29 metric network; chips must be 150 × 150 RGB cut by ``chips_from_landmarks``.

    With ``flip`` the vector of each chip is averaged with that of its mirror image before
    normalisation (test-time augmentation: costs a second pass, steadies the vector).
    """

    dim = 128

    def __init__(self, model_path: Path, flip: bool) -> None:
        self._net = dlib.face_recognition_model_v1(str(model_path))
        self._flip = flip
        self.model_id = model_id_for(flip)

    def embed(self, chips: Sequence[Image]) -> Embeddings:
        if not chips:
            return Embeddings(np.zeros((0, self.dim), np.float32), self.model_id)
        batch = [np.ascontiguousarray(c) for c in chips]
        if self._flip:
            batch += [np.ascontiguousarray(c[:, ::-1]) for c in chips]
        raw = np.asarray(self._net.compute_face_descriptor(batch), dtype=np.float32)
        if self._flip:
            raw = raw[: len(chips)] + raw[len(chips) :]
        return Embeddings(l2_normalise(raw), self.model_id)
