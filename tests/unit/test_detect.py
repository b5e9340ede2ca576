"""Stage 2: detectors on real photos, the box mapping for dlib's landmark model, the HOG fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import read_bgr
from vigil.config import HogConfig, YuNetConfig
from vigil.detect import build_detector
from vigil.detect.base import Detector
from vigil.detect.hog import HogDetector
from vigil.detect.yunet import YuNetDetector
from vigil.embed.dlib_align import BOX_SHAPES, BoxShape, to_dlib_box
from vigil.models import YUNET


@pytest.fixture(scope="module")
def yunet(model_dir: Path) -> YuNetDetector:
    return YuNetDetector(model_dir / YUNET.filename, YuNetConfig())


@pytest.fixture(scope="module")
def hog() -> HogDetector:
    return HogDetector(HogConfig())


@pytest.mark.parametrize("which", ["yunet", "hog"])
def test_two_people_photo_has_two_faces(
    which: str, yunet: YuNetDetector, hog: HogDetector, refs: Path
) -> None:
    detector: Detector = yunet if which == "yunet" else hog
    dets = detector.detect(read_bgr(refs / "ageitgey_two_people.jpg"))
    assert len(dets) == 2
    # One face on each half of the picture.
    centres_x = sorted(((dets.xyxy[:, 0] + dets.xyxy[:, 2]) / 2).tolist())
    assert centres_x[0] < 1126 / 2 < centres_x[1]
    assert (dets.score > 0.5).all()


def test_yunet_landmarks_lie_inside_their_boxes(yunet: YuNetDetector, refs: Path) -> None:
    dets = yunet.detect(read_bgr(refs / "ageitgey_obama.jpg"))
    assert len(dets) == 1
    (x1, y1, x2, y2), lm = dets.xyxy[0], dets.landmarks[0]
    assert ((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2)).all()
    # The subject's right eye is on the image's left, and both eyes are above the nose.
    assert lm[0, 0] < lm[1, 0]
    assert max(lm[0, 1], lm[1, 1]) < lm[2, 1]
    assert dets.has_landmarks.all()


def test_hog_gives_no_landmarks(hog: HogDetector, refs: Path) -> None:
    dets = hog.detect(read_bgr(refs / "ageitgey_biden.jpg"))
    assert len(dets) == 1
    assert not dets.has_landmarks.any()


def test_yunet_downscales_large_frames_and_scales_boxes_back(model_dir: Path, refs: Path) -> None:
    image = read_bgr(refs / "ageitgey_lin-manuel-miranda.png")
    big = np.asarray(cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC), np.uint8)
    full = YuNetDetector(model_dir / YUNET.filename, YuNetConfig()).detect(image)
    capped = YuNetDetector(model_dir / YUNET.filename, YuNetConfig(max_input_side=704)).detect(big)
    assert len(full) == len(capped) == 1
    np.testing.assert_allclose(capped.xyxy[0] / 3, full.xyxy[0], atol=6)


def test_min_face_size_drops_small_faces(model_dir: Path, refs: Path) -> None:
    image = read_bgr(refs / "ageitgey_two_people.jpg")
    assert len(YuNetDetector(model_dir / YUNET.filename, YuNetConfig(min_face_px=200)).detect(image)) == 0


def test_blank_image_has_no_faces(yunet: YuNetDetector, hog: HogDetector) -> None:
    blank = np.full((360, 640, 3), 127, np.uint8)
    assert len(yunet.detect(blank)) == 0
    assert len(hog.detect(blank)) == 0


def test_dlib_box_mapping_keeps_centre_x_and_changes_shape() -> None:
    box = np.array([[100, 100, 200, 240]], np.float32)  # 100 wide, 140 tall
    mapped = to_dlib_box(box, BoxShape(width_scale=1.2, height_scale=0.5, dy=0.1))
    np.testing.assert_allclose(mapped[0], [90, 149, 210, 219])
    np.testing.assert_allclose(to_dlib_box(box, BOX_SHAPES["hog"]), box)


def test_missing_yunet_falls_back_to_hog_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("VIGIL_MODEL_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING):
        detector = build_detector(YuNetConfig(min_face_px=40), tmp_path / "empty")
    assert detector.name == "hog"
    assert "HOG" in caplog.text
