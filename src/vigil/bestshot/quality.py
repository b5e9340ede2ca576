"""Quality of one face observation: pure functions of the pixels, the box, the landmarks and the score.

Each measure lies in [0, 1], 1 being best, and ``total`` combines them with a weighted geometric mean:

    total = size^0.25 * sharpness^0.20 * frontal^0.30 * det_score^0.10 * edge^0.15

A geometric mean because the failure modes multiply rather than add: a large, sharp profile face or a
frontal face cut in half by the frame border is not worth embedding, while an arithmetic mean would let
the good measures hide the bad one. Each factor is first floored at ``FLOOR`` so one zero does not erase
the ranking among poor shots (a zero still costs at least 0.01^weight, e.g. x0.25 for a profile).
Pose carries the largest weight because it hurts the 128-d embedding most; the detector score the least
because it is already thresholded upstream and saturates on any clear face.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from vigil.types import FloatArray, Image, QualityScores

SIZE_SATURATION_PX = 100.0
"""A face whose shorter side reaches this many pixels gets size 1 (the embedder works on 150 px chips
and gains little from faces above ~100 px)."""
SHARPNESS_SIDE_PX = 64
"""The face region is resized to this square before the Laplacian, so sharpness does not grow with size."""
SHARPNESS_SCALE = 250.0
"""sharpness = 1 - exp(-var / SHARPNESS_SCALE), var the Laplacian variance (8-bit grey, 3x3 kernel).
Calibrated on 300 random LFW faces (YuNet boxes): median var 400 -> 0.80; the same faces under a
Gaussian blur of sigma 1 px: 194 -> 0.54; sigma 2 px: 72 -> 0.25. The variance also falls with
contrast, so a face lost in the dark scores low too, which is what ranking wants."""
YAW_ZERO_DEG = 60.0
"""Yaw at (and beyond) which the pose term reaches 0: landmarks past that are guesses and the
embedding of a near-profile face is unreliable."""
NEUTRAL_FRONTAL = 0.8
"""``frontal`` when the detector gives no landmarks (HOG). dlib's HOG detector only fires on roughly
frontal faces (about +-30 degrees of yaw), so the pose is probably good; 0.8 rather than 1 so a face
whose landmarks prove it frontal still ranks above it."""
EDGE_MARGIN = 0.5
"""``edge`` reaches 1 once the box is this many box sides (shorter side) away from every frame border:
the margin the aligner wants around a face."""
FLOOR = 0.01
WEIGHTS: dict[str, float] = {
    "size": 0.25,
    "sharpness": 0.20,
    "frontal": 0.30,
    "det_score": 0.10,
    "edge": 0.15,
}


def size_score(size_px: float) -> float:
    """Map the shorter side of a face box (px) linearly to [0, 1], saturating at ``SIZE_SATURATION_PX``."""
    return float(np.clip(size_px / SIZE_SATURATION_PX, 0.0, 1.0))


def laplacian_variance(image: Image, xyxy: FloatArray) -> float:
    """Variance of the Laplacian of the grey face region resized to ``SHARPNESS_SIDE_PX`` square.

    Args:
        image: BGR frame (H, W, 3).
        xyxy: the face box (4,) in pixels; the part outside the frame is ignored.

    Returns:
        The variance, or 0 if the box holds no pixel of the frame.
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (round(float(v)) for v in xyxy)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return 0.0
    grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    side = SHARPNESS_SIDE_PX
    shrinking = grey.shape[0] * grey.shape[1] > side * side
    grey = cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    lap = cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F)
    return float(lap.var())


def sharpness_score(image: Image, xyxy: FloatArray) -> float:
    """Sharpness of the face region in [0, 1] (see ``SHARPNESS_SCALE`` for the mapping)."""
    return 1.0 - math.exp(-laplacian_variance(image, xyxy) / SHARPNESS_SCALE)


def head_pose(landmarks: npt.NDArray[np.floating]) -> tuple[float, float]:
    """Estimate yaw and roll in degrees from the 5 landmarks (right eye, left eye, nose, mouth corners).

    Yaw comes from where the nose tip falls between the eyes: its projection on the eye line, ``t`` (0 at
    the right eye, 1 at the left, 0.5 when frontal). With the nose tip in front of the eye plane by about
    half the inter-ocular distance (a typical adult face), tan(yaw) = 2 (t - 0.5). Roll is the angle of
    the eye line to the image's horizontal.

    Args:
        landmarks: (5, 2) points in pixels, the subject's right eye first.

    Returns:
        (yaw, roll). Yaw is positive when the face turns toward the image's right (the subject's left),
        roll positive when the subject's left eye is lower in the image than the right one (a clockwise
        tilt on screen). NaN if the landmarks are missing or the eyes coincide.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    eye_r, eye_l, nose = pts[0], pts[1], pts[2]
    eyes = eye_l - eye_r
    iod2 = float(eyes @ eyes)
    if not np.isfinite(pts[:3]).all() or iod2 < 1e-9:
        return math.nan, math.nan
    t = float((nose - eye_r) @ eyes) / iod2
    yaw = math.degrees(math.atan(2.0 * (t - 0.5)))
    roll = math.degrees(math.atan2(float(eyes[1]), float(eyes[0])))
    return yaw, roll


def frontal_score(landmarks: npt.NDArray[np.floating]) -> float:
    """How frontal a face is, in [0, 1]: 1 frontal, 0 at ``YAW_ZERO_DEG`` of yaw or more.

    The yaw term falls linearly with |yaw|; the roll term is cos(roll), milder, because the aligner
    rotates roll away and only yaw hides half of the face. Without landmarks (NaN) the result is
    ``NEUTRAL_FRONTAL``.
    """
    yaw, roll = head_pose(landmarks)
    if math.isnan(yaw):
        return NEUTRAL_FRONTAL
    yaw_term = max(0.0, 1.0 - abs(yaw) / YAW_ZERO_DEG)
    roll_term = max(0.0, math.cos(math.radians(roll)))
    return yaw_term * roll_term


def edge_score(xyxy: FloatArray, frame_wh: tuple[int, int]) -> float:
    """Distance of the box from the nearest frame border, in units of ``EDGE_MARGIN`` box sides, in [0, 1].

    0 when the box touches or crosses a border (the face may be cut off), 1 when the box is at least
    ``EDGE_MARGIN`` times its shorter side inside every border.
    """
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    w, h = frame_wh
    gap = min(x1, y1, w - x2, h - y2)
    side = max(min(x2 - x1, y2 - y1), 1.0)
    return float(np.clip(gap / (EDGE_MARGIN * side), 0.0, 1.0))


def combine(size: float, sharpness: float, frontal: float, det_score: float, edge: float) -> float:
    """Weighted geometric mean of the measures (``WEIGHTS``), each floored at ``FLOOR`` first."""
    parts = {"size": size, "sharpness": sharpness, "frontal": frontal, "det_score": det_score, "edge": edge}
    log_total = sum(WEIGHTS[k] * math.log(max(FLOOR, min(1.0, v))) for k, v in parts.items())
    return math.exp(log_total / sum(WEIGHTS.values()))


def face_quality(image: Image, xyxy: FloatArray, det_score: float, landmarks: FloatArray) -> QualityScores:
    """Every quality measure of one face in one frame.

    Args:
        image: the BGR frame (H, W, 3).
        xyxy: the face box (4,) in frame pixels.
        det_score: the detector's confidence (clipped to [0, 1]).
        landmarks: (5, 2) landmarks in frame pixels, NaN if the detector gives none.

    Returns:
        The scores, ``total`` combining them.
    """
    size_px = float(min(xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]))
    h, w = image.shape[:2]
    scores = {
        "size": size_score(size_px),
        "sharpness": sharpness_score(image, xyxy),
        "frontal": frontal_score(landmarks),
        "det_score": float(np.clip(det_score, 0.0, 1.0)),
        "edge": edge_score(xyxy, (w, h)),
    }
    return QualityScores(size_px=size_px, total=combine(**scores), **scores)


def is_better(a: QualityScores, b: QualityScores) -> bool:
    """True if shot ``a`` should be preferred to shot ``b``: higher total, ties broken by larger size.

    Example:
        >>> q = QualityScores(60.0, 0.6, 0.8, 0.9, 0.9, 1.0, 0.78)
        >>> is_better(q, q)
        False
    """
    if a.total != b.total:
        return a.total > b.total
    return a.size_px > b.size_px
