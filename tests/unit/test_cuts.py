"""Scene-cut detection: ends tracks where edited video jumps to another shot."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from vigil.track.cuts import SceneCutDetector


def _cuts(path: Path, threshold: float) -> list[int]:
    detector = SceneCutDetector(threshold)
    with av.open(str(path)) as container:
        return [
            i
            for i, f in enumerate(container.decode(video=0))
            if detector.is_cut(np.asarray(f.to_ndarray(format="bgr24"), np.uint8))
        ]


def test_hamilton_clip_has_its_three_cuts(hamilton_clip: Path) -> None:
    assert _cuts(hamilton_clip, 20.0) == [20, 82, 211]


def test_fixed_camera_has_none(test_data: Path) -> None:
    assert _cuts(test_data / "video" / "intel" / "asl_gestures" / "again.mkv", 20.0) == []


def test_zero_threshold_turns_detection_off() -> None:
    detector = SceneCutDetector(0.0)
    assert not detector.is_cut(np.zeros((10, 10, 3), np.uint8))
    assert not detector.is_cut(np.full((10, 10, 3), 255, np.uint8))


def test_the_same_picture_at_another_size_is_not_a_cut(hamilton_clip: Path) -> None:
    with av.open(str(hamilton_clip)) as container:
        image = np.asarray(next(iter(container.decode(video=0))).to_ndarray(format="bgr24"), np.uint8)
    detector = SceneCutDetector(20.0)
    assert not detector.is_cut(image)
    assert not detector.is_cut(np.ascontiguousarray(image[::2, ::2]))
    assert detector.is_cut(255 - image)
