"""dlib's alignment: dlib's 5-point landmarks on a detector box, then a similarity warp to a 150 px chip.

dlib's ResNet was trained on chips cut by dlib's own aligner from landmarks its 5-point model found on
HOG-detector boxes. Other detectors draw their boxes differently, so a box is first mapped to the shape a
HOG box would have (``to_dlib_box``); the landmark model then lands where it was trained to. The warp
itself (``chips_from_landmarks``) is a pure function of the image and the landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dlib
import numpy as np

from vigil.types import FloatArray, Image

CHIP_SIZE = 150
CHIP_PADDING = 0.25


@dataclass(frozen=True, slots=True)
class BoxShape:
    """How a detector's box relates to dlib's HOG box, as fractions of the detector box's size.

    Measured on 594 LFW images found by both (median; see docs/accuracy.md): the YuNet box is taller and
    narrower than dlib's, and dlib's centre sits a little lower.
    """

    width_scale: float = 1.0
    height_scale: float = 1.0
    dy: float = 0.0


BOX_SHAPES: dict[str, BoxShape] = {
    "hog": BoxShape(),
    "yunet": BoxShape(width_scale=1.14, height_scale=0.85, dy=0.037),
}


def to_dlib_box(xyxy: FloatArray, shape: BoxShape) -> FloatArray:
    """Map detector boxes (N, 4) to the boxes dlib's HOG detector would draw on the same faces."""
    w = xyxy[:, 2] - xyxy[:, 0]
    h = xyxy[:, 3] - xyxy[:, 1]
    cx = (xyxy[:, 0] + xyxy[:, 2]) / 2
    cy = (xyxy[:, 1] + xyxy[:, 3]) / 2 + shape.dy * h
    half_w = w * shape.width_scale / 2
    half_h = h * shape.height_scale / 2
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1).astype(np.float32)


class Landmarker:
    """dlib's 5-point shape predictor: two corners per eye and the base of the nose."""

    def __init__(self, model_path: Path) -> None:
        self._predictor = dlib.shape_predictor(str(model_path))

    def landmarks(self, rgb: Image, dlib_xyxy: FloatArray) -> FloatArray:
        """Landmarks (N, 5, 2) for each box (already mapped with ``to_dlib_box``) in an RGB image."""
        out = np.empty((len(dlib_xyxy), 5, 2), dtype=np.float32)
        for i, (x1, y1, x2, y2) in enumerate(np.rint(dlib_xyxy).astype(int)):
            shape = self._predictor(rgb, dlib.rectangle(int(x1), int(y1), int(x2) - 1, int(y2) - 1))
            out[i] = [(p.x, p.y) for p in shape.parts()]
        return out


def chips_from_landmarks(rgb: Image, landmarks: FloatArray, size: int = CHIP_SIZE) -> list[Image]:
    """Cut aligned face chips (size × size, RGB) from dlib 5-point landmarks (N, 5, 2).

    The similarity transform is dlib's own (``get_face_chip_details``), so chips match what the embedding
    model was trained on.
    """
    dets = dlib.full_object_detections()
    for pts in landmarks:
        xs, ys = pts[:, 0], pts[:, 1]
        rect = dlib.rectangle(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
        dets.append(
            dlib.full_object_detection(rect, [dlib.point(round(float(x)), round(float(y))) for x, y in pts])
        )
    if len(dets) == 0:
        return []
    chips: list[Image] = dlib.get_face_chips(rgb, dets, size=size, padding=CHIP_PADDING)
    return chips


def bgr_to_rgb(image: Image) -> Image:
    return np.ascontiguousarray(image[:, :, ::-1])


class DlibAligner:
    """Detector boxes in, aligned 150 px RGB chips out (landmark model + dlib's warp).

    The detector's own landmarks are not used: dlib's ResNet was trained on chips cut from dlib's points.
    """

    def __init__(self, landmarker: Landmarker, box_shape: BoxShape) -> None:
        self._landmarker = landmarker
        self._box_shape = box_shape

    def dlib_points(self, rgb: Image, xyxy: FloatArray) -> FloatArray:
        """dlib's 5 points (N, 5, 2) for detector boxes (N, 4) on an RGB image."""
        return self._landmarker.landmarks(rgb, to_dlib_box(xyxy, self._box_shape))

    def chips(self, image: Image, xyxy: FloatArray, landmarks: FloatArray) -> list[Image]:
        """Aligned chips for boxes (N, 4) drawn by this aligner's detector on a BGR image."""
        if len(xyxy) == 0:
            return []
        rgb = bgr_to_rgb(image)
        return chips_from_landmarks(rgb, self.dlib_points(rgb, xyxy))
