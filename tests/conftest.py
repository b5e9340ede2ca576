"""Shared fixtures: where the real test data and models are. Tests skip with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    return Path(os.environ.get("VIGIL_TEST_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The shared data folder (LFW, clips, refs); see ../shared/data/README.md."""
    path = _data_dir()
    if not (path / "video").is_dir():
        pytest.skip(f"test data not found at {path}: set VIGIL_TEST_DATA to the shared data folder")
    return path


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The folder holding the YuNet model file."""
    path = Path(os.environ.get("VIGIL_MODEL_DIR", _data_dir() / "models")).resolve()
    if not (path / "face_detection_yunet_2023mar.onnx").is_file():
        pytest.skip(f"YuNet model not found in {path}: set VIGIL_MODEL_DIR")
    return path


@pytest.fixture(scope="session")
def hamilton_clip(test_data: Path) -> Path:
    return test_data / "video" / "ageitgey_short_hamilton_clip.mp4"


@pytest.fixture(scope="session")
def refs(test_data: Path) -> Path:
    return test_data / "refs"
