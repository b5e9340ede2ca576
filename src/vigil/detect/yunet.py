"""YuNet (OpenCV Zoo) face detector: fast, multi-pose, boxes plus 5 landmarks."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from vigil.config import YuNetConfig
from vigil.errors import ModelError
from vigil.types import FaceDetections, Image

log = logging.getLogger(__name__)


class YuNetDetector:
    """``cv2.FaceDetectorYN`` with the frame downscaled to ``max_input_side`` and boxes scaled back."""

    name = "yunet"

    def __init__(self, model_path: Path, config: YuNetConfig) -> None:
        self._config = config
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(model_path), "", (320, 320), config.score_threshold, config.nms_threshold, 5000
            )
        except cv2.error as exc:
            raise ModelError(f"{model_path}: YuNet model could not be loaded ({exc.msg.strip()})") from exc
        self._input_wh: tuple[int, int] = (0, 0)

    def detect(self, image: Image) -> FaceDetections:
        h, w = image.shape[:2]
        scale = min(1.0, self._config.max_input_side / max(h, w))
        if scale < 1.0:
            small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        else:
            small = image
        wh = (int(small.shape[1]), int(small.shape[0]))
        if wh != self._input_wh:
            self._net.setInputSize(wh)
            self._input_wh = wh
        _, rows = self._net.detect(small)
        if rows is None or len(rows) == 0:
            return FaceDetections.empty()
        rows = np.asarray(rows, dtype=np.float32)
        coords = rows[:, :14] / np.float32(scale)
        x, y, bw, bh = coords[:, 0], coords[:, 1], coords[:, 2], coords[:, 3]
        dets = FaceDetections(
            xyxy=np.stack([x, y, x + bw, y + bh], axis=1).astype(np.float32),
            score=rows[:, 14].astype(np.float32),
            landmarks=coords[:, 4:14].reshape(-1, 5, 2).astype(np.float32),
        )
        return dets.filter(dets.size_wh.min(axis=1) >= self._config.min_face_px)
