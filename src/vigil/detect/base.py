"""The detector interface: where are the faces in one image."""

from __future__ import annotations

from typing import Protocol

from vigil.types import FaceDetections, Image


class Detector(Protocol):
    """Finds faces in one BGR image."""

    name: str

    def detect(self, image: Image) -> FaceDetections:
        """Return every face found, boxes in the image's pixel coordinates."""
        ...
