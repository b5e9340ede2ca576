"""The camera suitability advisor: its thresholds (table-driven), the rolling face statistics it reads, and
its verdict on real footage: the Hamilton clip as filmed, and the same clip downscaled until its faces are
too small to identify (made here with OpenCV)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.app import Engine
from vigil.bestshot.advice import DETECT_ONLY_EYE_PX, IDENTIFY_EYE_PX, MIN_FACES, Verdict, advise
from vigil.bestshot.stats import FaceStats, FaceStatsWindow, eye_distance_px
from vigil.config import BestShotConfig
from vigil.errors import BadInput
from vigil.services.camera_advice import advise_source
from vigil.types import QualityScores

GOOD = FaceStats(
    faces=200, faces_total=900, eye_px=55.0, eye_px_p90=80.0, size_px=140.0, sharpness=0.7, yaw_deg=12.0,
    frontal_share=0.85, usable_share=0.8,
)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "verdict", "codes"),
    [
        ({}, Verdict.GOOD, []),
        ({"eye_px_p90": IDENTIFY_EYE_PX}, Verdict.GOOD, []),
        ({"eye_px_p90": IDENTIFY_EYE_PX - 0.5}, Verdict.MARGINAL, ["small"]),
        ({"eye_px_p90": 38.0}, Verdict.MARGINAL, ["small"]),
        ({"eye_px_p90": DETECT_ONLY_EYE_PX}, Verdict.MARGINAL, ["small"]),
        ({"eye_px_p90": DETECT_ONLY_EYE_PX - 0.5}, Verdict.UNSUITABLE, ["too_small"]),
        ({"eye_px": None, "eye_px_p90": None, "yaw_deg": None}, Verdict.GOOD, []),  # HOG: no landmarks
        ({"usable_share": 0.5}, Verdict.GOOD, []),
        ({"usable_share": 0.3}, Verdict.MARGINAL, ["few_usable"]),
        ({"usable_share": 0.05}, Verdict.UNSUITABLE, ["few_usable"]),
        ({"sharpness": 0.1}, Verdict.MARGINAL, ["blurred"]),
        ({"frontal_share": 0.3}, Verdict.MARGINAL, ["side_view"]),
        # The worst finding decides, and comes first; the others are still listed.
        ({"eye_px_p90": 20.0, "sharpness": 0.1, "usable_share": 0.3}, Verdict.UNSUITABLE,
         ["too_small", "few_usable", "blurred"]),
        ({"faces": MIN_FACES - 1}, Verdict.UNKNOWN, ["few_faces"]),
    ],
)  # fmt: skip
def test_the_verdict_follows_the_documented_thresholds(
    change: dict[str, object], verdict: Verdict, codes: list[str]
) -> None:
    advice = advise(replace(GOOD, **change))  # type: ignore[arg-type]
    assert advice.verdict is verdict
    assert [r.code for r in advice.reasons] == codes
    assert advice.summary == (advice.reasons[0].message if codes else advice.summary)
    if verdict is Verdict.GOOD:
        assert advice.summary.startswith("suitable for identification")


def test_a_small_face_is_told_its_size_and_what_to_do() -> None:
    advice = advise(replace(GOOD, eye_px_p90=38.0))
    assert advice.summary.startswith(
        "faces are 38 px between the eyes at the nearest: small for identification"
    )
    assert "zoom in or move the camera closer" in advice.summary
    tiny = advise(replace(GOOD, eye_px_p90=12.0)).summary
    assert "12 px" in tiny and "too small for identification" in tiny


def test_the_sharpness_check_is_the_configured_gate() -> None:
    stats = replace(GOOD, sharpness=0.3)
    assert advise(stats).verdict is Verdict.GOOD
    assert [r.code for r in advise(stats, BestShotConfig(min_sharpness=0.4)).reasons] == ["blurred"]


def test_no_face_yet_is_no_verdict() -> None:
    advice = advise(None)
    assert advice.verdict is Verdict.UNKNOWN and "only 0 faces seen" in advice.summary


def _quality(size_px: float, sharpness: float) -> QualityScores:
    return QualityScores(size_px, min(1.0, size_px / 100), sharpness, 0.9, 0.9, 1.0, 0.8)


def _landmarks(eye_px: float, yaw_shift: float = 0.0) -> np.ndarray:
    """Five points with the eyes ``eye_px`` apart and the nose moved sideways by ``yaw_shift`` of it."""
    nose = 50 + eye_px / 2 + yaw_shift * eye_px
    return np.array([[50, 50], [50 + eye_px, 50], [nose, 70], [55, 90], [45 + eye_px, 90]], np.float32)


def test_the_window_keeps_the_newest_faces_and_measures_them() -> None:
    window = FaceStatsWindow(BestShotConfig(), window=10)
    for _ in range(10):  # small, blurred, turned away: not embeddable
        window.add(_quality(20.0, 0.05), _landmarks(10.0, yaw_shift=0.5))
    for _ in range(10):  # then large, sharp, frontal ones push them out
        window.add(_quality(120.0, 0.8), _landmarks(64.0))
    stats = window.summary()
    assert stats is not None
    assert (stats.faces, stats.faces_total) == (10, 20)
    assert stats.eye_px == pytest.approx(64.0) and stats.eye_px_p90 == pytest.approx(64.0)
    assert stats.yaw_deg == pytest.approx(0.0, abs=1e-6)
    assert (stats.usable_share, stats.frontal_share) == (1.0, 1.0)
    window.add(_quality(20.0, 0.05), _landmarks(10.0, yaw_shift=0.5))
    later = window.summary()
    assert later is not None and later.usable_share == pytest.approx(0.9) and later.frontal_share == 0.9
    assert later.yaw_deg == pytest.approx(0.0, abs=1e-6), "a median, not a mean"


def test_faces_without_landmarks_have_no_eye_distance() -> None:
    window = FaceStatsWindow(BestShotConfig())
    window.add(_quality(80.0, 0.6), np.full((5, 2), np.nan, np.float32))
    stats = window.summary()
    assert stats is not None and stats.eye_px is None and stats.yaw_deg is None and stats.frontal_share == 1.0
    assert math.isnan(eye_distance_px(np.full((5, 2), np.nan, np.float32)))


def _downscaled(clip: Path, out: Path, scale: float) -> Path:
    """The clip with every frame resized by ``scale`` (same frame rate), as a new MP4."""
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    size = (
        round(cap.get(cv2.CAP_PROP_FRAME_WIDTH) * scale),
        round(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) * scale),
    )
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    cap.release()
    writer.release()
    return out


def test_the_hamilton_clip_is_fit_to_identify_but_its_half_size_copy_is_not(
    engine: Engine, hamilton_clip: Path, tmp_path: Path
) -> None:
    """Miranda's face on stage is ~37 px between the eyes at its nearest (640x360): small, but above the
    detection-only floor; the audience's faces are blurred. At half the size his face is ~18 px: the
    advisor says it is too small for identification (the faces are still found)."""
    full = advise_source(engine, str(hamilton_clip), seconds=30)
    assert (full.width, full.height) == (640, 360) and full.frames > 100
    stats = full.advice.stats
    assert stats is not None and stats.faces >= MIN_FACES and stats.eye_px_p90 is not None
    assert DETECT_ONLY_EYE_PX <= stats.eye_px_p90 < IDENTIFY_EYE_PX
    assert full.advice.verdict is Verdict.MARGINAL, full.advice
    assert "too_small" not in [r.code for r in full.advice.reasons]

    half = advise_source(engine, str(_downscaled(hamilton_clip, tmp_path / "half.mp4", 0.5)), seconds=30)
    assert (half.width, half.height) == (320, 180)
    small = half.advice.stats
    assert small is not None and small.faces >= MIN_FACES and small.eye_px_p90 is not None
    assert small.eye_px_p90 == pytest.approx(stats.eye_px_p90 / 2, rel=0.25)
    assert half.advice.verdict is Verdict.UNSUITABLE
    assert half.advice.reasons[0].code == "too_small"
    assert "too small for identification" in half.advice.summary


def test_a_short_look_analyses_only_that_long(engine: Engine, hamilton_clip: Path) -> None:
    short = advise_source(engine, str(hamilton_clip), seconds=1.0)
    assert short.seconds <= 1.0 and 10 <= short.frames <= 40
    with pytest.raises(BadInput, match="seconds"):
        advise_source(engine, str(hamilton_clip), seconds=0)
