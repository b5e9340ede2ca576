"""dlib's HOG + linear SVM detector: needs no model file, frontal faces only (the fallback)."""

from __future__ import annotations

import cv2
import dlib
import numpy as np

from vigil.config import HogConfig
from vigil.types import FaceDetections, Image


class HogDetector:
    """dlib's frontal face detector. Boxes only: landmarks are NaN, the aligner finds its own."""

    name = "hog"

    def __init__(self, config: HogConfig) -> None:
        self._config = config
        self._detector = dlib.get_frontal_face_detector()

    def detect(self, image: Image) -> FaceDetections:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        rects, scores, _ = self._detector.run(rgb, self._config.upsample, self._config.score_threshold)
        if not rects:
            return FaceDetections.empty()
        h, w = image.shape[:2]
        xyxy = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], dtype=np.float32)
        xyxy = np.clip(xyxy, 0, [w, h, w, h]).astype(np.float32)
        # The SVM margin is unbounded; squash it to (0, 1) so scores read like other detectors'.
        score = (1.0 / (1.0 + np.exp(-2.0 * np.asarray(scores, dtype=np.float32)))).astype(np.float32)
        dets = FaceDetections(
            xyxy=xyxy, score=score, landmarks=np.full((len(rects), 5, 2), np.nan, dtype=np.float32)
        )
        return dets.filter(dets.size_wh.min(axis=1) >= self._config.min_face_px)
