"""Helpers for tests of the live camera reader: wait for a status, drain frames, check their order."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import pairwise

import pytest

from vigil.ingest.live import LiveReader
from vigil.ingest.status import CameraStatus
from vigil.types import Frame


def wait_for_status(reader: LiveReader, test: Callable[[CameraStatus], bool], timeout: float) -> CameraStatus:
    """The reader's first status that passes ``test``; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        status = reader.status()
        if test(status):
            return status
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s; last status: {status}")
        time.sleep(0.02)


def drain(reader: LiveReader, seconds: float) -> list[Frame]:
    """Everything the reader delivers during ``seconds``, read as fast as it comes."""
    frames: list[Frame] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        frame = reader.get(timeout=min(left, 0.2))
        if frame is not None:
            frames.append(frame)
    return frames


def assert_increasing(frames: list[Frame]) -> None:
    assert all(b.t_ms > a.t_ms for a, b in pairwise(frames)), [f.t_ms for f in frames]
    assert all(b.index > a.index for a, b in pairwise(frames))
