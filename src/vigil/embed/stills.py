"""Faces in still photos (watchlist enrolment, evaluation, search by photo): detect, align, embed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.detect.base import Detector
from vigil.embed.base import Aligner, Embedder
from vigil.errors import BadInput
from vigil.types import Embeddings, FaceDetections, FloatArray, Image


@dataclass(frozen=True, slots=True)
class StillFaces:
    """Every face found in one photo with its aligned chip (RGB) and vector (rows match)."""

    detections: FaceDetections
    chips: list[Image]
    embeddings: Embeddings


class StillEncoder:
    """Runs detect → align → embed on one photo."""

    def __init__(self, detector: Detector, aligner: Aligner, embedder: Embedder) -> None:
        self.detector = detector
        self._aligner = aligner
        self._embedder = embedder

    @property
    def model_id(self) -> str:
        return self._embedder.model_id

    def encode(self, image: Image) -> StillFaces:
        """All faces in the photo, largest first."""
        dets = self.detector.detect(image)
        if len(dets):
            dets = dets.filter(np.argsort(-dets.size_wh.prod(axis=1)))
        chips = self._aligner.chips(image, dets.xyxy, dets.landmarks)
        return StillFaces(dets, chips, self._embedder.embed(chips))

    def embed_boxes(self, image: Image, xyxy: FloatArray, landmarks: FloatArray | None = None) -> Embeddings:
        """Vectors for faces at known boxes (drawn by this encoder's detector), with its landmarks (N, 5, 2)
        when it gave them."""
        if landmarks is None:
            landmarks = np.full((len(xyxy), 5, 2), np.nan, np.float32)
        return self._embedder.embed(self._aligner.chips(image, xyxy, landmarks))

    def encode_single(self, image: Image, name: str) -> StillFaces:
        """The one face of an enrolment photo.

        Raises:
            BadInput: no face, or more than one face, was found (naming ``name``).
        """
        faces = self.encode(image)
        n = len(faces.detections)
        if n == 0:
            raise BadInput(name, "no face found")
        if n > 1:
            raise BadInput(name, f"{n} faces found; a watchlist photo must show exactly one person")
        return faces
