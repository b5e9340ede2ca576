"""What a camera's faces look like lately: a rolling window of per-face measures and its summary.

Each face the detector finds (on the frames detection ran on) adds one row: the distance between its
eye centres in pixels (from the detector's landmarks), the shorter side of its box, its sharpness, its
estimated yaw, and whether it passes the gate that lets a shot be embedded (:func:`unusable`). The
summary (:class:`FaceStats`, medians and shares over the last ``WINDOW_FACES`` faces) is what the camera
reports in its status and what :mod:`vigil.bestshot.advice` judges the camera on.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from vigil.bestshot.quality import head_pose
from vigil.bestshot.selector import unusable
from vigil.config import BestShotConfig
from vigil.types import FloatArray, QualityScores

WINDOW_FACES = 300
"""Faces the summary covers (the newest): about a minute of one person in view at the default 10 fps
processed and detection on every third frame; long enough to smooth one bad track, short enough to show
a change of zoom or light within a minute or two."""
FRONTAL_YAW_DEG = 30.0
"""A face within this yaw counts as frontal: the enrolment gate's limit (``enrol.min_frontal`` 0.5 is
about 30 degrees), beyond which one half of the face is foreshortened."""


@dataclass(frozen=True, slots=True)
class FaceStats:
    """A summary of a camera's recent faces.

    Attributes:
        faces: faces in the window (at most ``WINDOW_FACES``).
        faces_total: faces measured since the camera started.
        eye_px: median distance between the eye centres, pixels (None: the detector gives no landmarks).
        eye_px_p90: its 90th percentile: the largest faces the camera gets (people nearest to it).
        size_px: median shorter side of the face box, pixels.
        sharpness: median sharpness in [0, 1] (:func:`vigil.bestshot.quality.sharpness_score`).
        yaw_deg: median absolute yaw, degrees (None without landmarks).
        frontal_share: share of faces within ``FRONTAL_YAW_DEG`` of yaw (1 without landmarks).
        usable_share: share of faces good enough to be embedded (the ``bestshot`` gate: size, sharpness,
            total quality).
    """

    faces: int
    faces_total: int
    eye_px: float | None
    eye_px_p90: float | None
    size_px: float
    sharpness: float
    yaw_deg: float | None
    frontal_share: float
    usable_share: float


def eye_distance_px(landmarks: FloatArray) -> float:
    """Distance between the two eye centres (landmarks 0 and 1) in pixels; NaN without landmarks."""
    pts = np.asarray(landmarks, np.float64)
    if pts.shape[0] < 2 or not np.isfinite(pts[:2]).all():
        return math.nan
    return float(np.hypot(*(pts[1] - pts[0])))


class FaceStatsWindow:
    """The newest ``window`` faces of one source and their summary. Not thread-safe (one per source).

    Example:
        >>> w = FaceStatsWindow(BestShotConfig())
        >>> w.summary() is None
        True
    """

    def __init__(self, gate: BestShotConfig, window: int = WINDOW_FACES) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1 face, not {window}")
        self._gate = gate
        # Rows: eye px, size px, sharpness, |yaw| deg, usable (1/0).
        self._rows: deque[tuple[float, float, float, float, float]] = deque(maxlen=window)
        self.total = 0

    def add(self, quality: QualityScores, landmarks: FloatArray) -> None:
        """One observed face: its quality scores and its (5, 2) landmarks in frame pixels (NaN: none)."""
        yaw, _roll = head_pose(landmarks) if np.isfinite(landmarks).all() else (math.nan, math.nan)
        usable = 0.0 if unusable(quality, self._gate) else 1.0
        self._rows.append((eye_distance_px(landmarks), quality.size_px, quality.sharpness, abs(yaw), usable))
        self.total += 1

    def summary(self) -> FaceStats | None:
        """The window's summary, or None before the first face."""
        if not self._rows:
            return None
        rows = np.array(self._rows, np.float64)
        eyes, yaws = rows[:, 0], rows[:, 3]
        have_eyes, have_yaw = np.isfinite(eyes), np.isfinite(yaws)
        return FaceStats(
            faces=len(rows),
            faces_total=self.total,
            eye_px=float(np.median(eyes[have_eyes])) if have_eyes.any() else None,
            eye_px_p90=float(np.percentile(eyes[have_eyes], 90)) if have_eyes.any() else None,
            size_px=float(np.median(rows[:, 1])),
            sharpness=float(np.median(rows[:, 2])),
            yaw_deg=float(np.median(yaws[have_yaw])) if have_yaw.any() else None,
            frontal_share=float(np.mean(yaws[have_yaw] <= FRONTAL_YAW_DEG)) if have_yaw.any() else 1.0,
            usable_share=float(np.mean(rows[:, 4])),
        )
