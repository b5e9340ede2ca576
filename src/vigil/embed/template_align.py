"""Alignment to a landmark template: a similarity warp of the detector's 5 points onto fixed positions.

This is the alignment of ArcFace-style embedders (InsightFace's ``norm_crop``): the least-squares
similarity (rotation, uniform scale, translation; Umeyama's method) that takes the five landmarks to the
template, then one affine warp. Faces without detector landmarks (HOG boxes, the LFW fallback box) get
dlib's five points instead, mapped onto where those points sit in the same chip.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from vigil.embed.dlib_align import DlibAligner, bgr_to_rgb
from vigil.types import BoolArray, FloatArray, Image

Points = Sequence[tuple[float, float]]


def similarity(src: npt.ArrayLike, dst: npt.ArrayLike) -> FloatArray:
    """The least-squares similarity transform (2, 3) taking points ``src`` (N, 2) onto ``dst`` (N, 2).

    >>> m = similarity(np.array([[0, 0], [1, 0]], float), np.array([[1, 1], [3, 1]], float))
    >>> np.round(m, 6).tolist()
    [[2.0, 0.0, 1.0], [0.0, 2.0, 1.0]]
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mean_src, mean_dst = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mean_src, dst - mean_dst
    cov = b.T @ a / len(src)
    u, sv, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(cov) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    variance = float((a**2).sum()) / len(src)
    scale = float((sv * sign).sum()) / variance if variance > 0 else 1.0
    shift = mean_dst - scale * rotation @ mean_src
    out: FloatArray = np.hstack([scale * rotation, shift[:, None]]).astype(np.float32)
    return out


def warp_to_template(image: Image, points: FloatArray, template: Points, size: int) -> Image:
    """The ``size`` × ``size`` chip in which ``points`` (5, 2) of ``image`` land on ``template``."""
    matrix = similarity(points, np.asarray(template, np.float64) * (size / 112.0))
    chip = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return np.asarray(chip, np.uint8)


class TemplateAligner:
    """Chips of ``size`` px in which the detector's landmarks sit on ``template`` (RGB).

    Args:
        template: the 5 landmark positions in a 112 px chip (scaled to ``size``).
        size: the chip side, pixels.
        fallback: dlib's aligner, for faces the detector gave no landmarks for.
        fallback_template: where dlib's 5 points sit in the same 112 px chip.
    """

    def __init__(self, template: Points, size: int, fallback: DlibAligner, fallback_template: Points) -> None:
        self._template = template
        self._size = size
        self._fallback = fallback
        self._fallback_template = fallback_template

    def chips(self, image: Image, xyxy: FloatArray, landmarks: FloatArray) -> list[Image]:
        if len(xyxy) == 0:
            return []
        rgb = bgr_to_rgb(image)
        known: BoolArray = np.asarray(np.isfinite(landmarks).all(axis=(1, 2)), bool)
        missing = xyxy[~known]
        dlib_points = self._fallback.dlib_points(rgb, missing) if len(missing) else missing.reshape(0, 5, 2)
        chips: list[Image] = []
        j = 0
        for i in range(len(xyxy)):
            if known[i]:
                chips.append(warp_to_template(rgb, landmarks[i], self._template, self._size))
            else:
                chips.append(warp_to_template(rgb, dlib_points[j], self._fallback_template, self._size))
                j += 1
        return chips
