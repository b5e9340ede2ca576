"""Stage 2, "where are the faces": detector backends chosen by config, plus alignment."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from vigil.config import DetectorConfig, HogConfig, YuNetConfig
from vigil.detect.base import Detector
from vigil.detect.hog import HogDetector
from vigil.detect.yunet import YuNetDetector
from vigil.models import YUNET, find_model

log = logging.getLogger(__name__)


def _yunet(config: DetectorConfig, model_dir: Path | None) -> Detector:
    if not isinstance(config, YuNetConfig):
        raise TypeError(config)
    path = find_model(YUNET, model_dir)
    if path is None:
        # find_model has said once where it looked; fall back to the detector that needs no file.
        log.warning("YuNet unavailable: using dlib's HOG detector (slower, frontal faces only)")
        return HogDetector(HogConfig(min_face_px=config.min_face_px))
    return YuNetDetector(path, config)


def _hog(config: DetectorConfig, model_dir: Path | None) -> Detector:
    if not isinstance(config, HogConfig):
        raise TypeError(config)
    return HogDetector(config)


DETECTORS: dict[str, Callable[[DetectorConfig, Path | None], Detector]] = {
    "yunet": _yunet,
    "hog": _hog,
}


def build_detector(config: DetectorConfig, model_dir: Path | None) -> Detector:
    """The detector named by ``config.type``; YuNet falls back to HOG when its model file is missing."""
    return DETECTORS[config.type](config, model_dir)


__all__ = ["DETECTORS", "Detector", "build_detector"]
