"""Association of predicted track boxes with detections: gated, globally optimal (Hungarian).

A pair may be linked when its IoU reaches the threshold, or, failing that, when the centres are close
relative to the faces' size and the sizes agree (the centre gate). The gate catches faces that move
far relative to their size between two detections, or whose box changes shape: two equal boxes shifted
by two thirds of a side along one axis, or by 0.4 of a side along both, already fall under IoU 0.2, and
at a few detections per second a turning head does that. Among allowed pairs the assignment maximises
DIoU (IoU minus the squared centre distance over the squared diagonal of the enclosing box), which ranks
overlapping pairs by IoU and non-overlapping ones by distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from vigil.types import IntArray

Array = npt.NDArray[np.float64]

MAX_SCALE_RATIO = 1.5
"""The centre gate only links boxes whose sizes (square root of area) differ by at most this factor."""
_FORBIDDEN = 1e6


@dataclass(frozen=True, slots=True)
class Assignment:
    """The outcome of one association.

    Attributes:
        track_idx: (K,) rows of the track boxes that were matched.
        det_idx: (K,) rows of the detections they were matched with, pairwise with ``track_idx``.
        unmatched_tracks: rows of the track boxes left without a detection.
        unmatched_dets: rows of the detections left without a track.
    """

    track_idx: IntArray
    det_idx: IntArray
    unmatched_tracks: IntArray
    unmatched_dets: IntArray


def iou_matrix(a: Array, b: Array) -> Array:
    """Pairwise IoU (N, M) of boxes ``a`` (N, 4) and ``b`` (M, 4) as x1, y1, x2, y2.

    Example:
        >>> iou_matrix(np.array([[0.0, 0, 2, 2]]), np.array([[1.0, 0, 3, 2]]))
        array([[0.33333333]])
    """
    tl = np.maximum(a[:, None, 0:2], b[None, :, 0:2])
    br = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.prod(np.clip(br - tl, 0.0, None), axis=2)
    area_a = np.prod(a[:, 2:4] - a[:, 0:2], axis=1)
    area_b = np.prod(b[:, 2:4] - b[:, 0:2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    iou: Array = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
    return iou


def _centres_and_sizes(boxes: Array) -> tuple[Array, Array]:
    wh = np.clip(boxes[:, 2:4] - boxes[:, 0:2], 1e-6, None)
    return (boxes[:, 0:2] + boxes[:, 2:4]) / 2.0, np.sqrt(wh[:, 0] * wh[:, 1])


def associate(tracks_xyxy: Array, dets_xyxy: Array, iou_threshold: float, centre_gate: float) -> Assignment:
    """Match predicted track boxes with detections.

    Args:
        tracks_xyxy: predicted track boxes (N, 4).
        dets_xyxy: detection boxes (M, 4).
        iou_threshold: least IoU for a link (a pair must also overlap at all).
        centre_gate: a pair below ``iou_threshold`` may still link when the distance between the centres
            is at most this many face sizes (mean of the two boxes' square-root areas) and the sizes
            differ by at most ``MAX_SCALE_RATIO``; 0 disables the gate.

    Returns:
        The matched pairs and the rows left over on each side.
    """
    n, m = len(tracks_xyxy), len(dets_xyxy)
    if n == 0 or m == 0:
        return Assignment(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.arange(n, dtype=np.int64),
            np.arange(m, dtype=np.int64),
        )  # fmt: skip
    iou = iou_matrix(tracks_xyxy, dets_xyxy)
    c_t, s_t = _centres_and_sizes(tracks_xyxy)
    c_d, s_d = _centres_and_sizes(dets_xyxy)
    dist2 = np.sum((c_t[:, None, :] - c_d[None, :, :]) ** 2, axis=2)
    allowed = (iou >= iou_threshold) & (iou > 0.0)
    if centre_gate > 0.0:
        mean_size = (s_t[:, None] + s_d[None, :]) / 2.0
        ratio = np.maximum(s_t[:, None], s_d[None, :]) / np.minimum(s_t[:, None], s_d[None, :])
        allowed |= (dist2 <= (centre_gate * mean_size) ** 2) & (ratio <= MAX_SCALE_RATIO)
    enclose_tl = np.minimum(tracks_xyxy[:, None, 0:2], dets_xyxy[None, :, 0:2])
    enclose_br = np.maximum(tracks_xyxy[:, None, 2:4], dets_xyxy[None, :, 2:4])
    diag2 = np.maximum(np.sum((enclose_br - enclose_tl) ** 2, axis=2), 1e-12)
    cost = np.where(allowed, 1.0 - (iou - dist2 / diag2), _FORBIDDEN)
    rows, cols = linear_sum_assignment(cost)
    keep = allowed[rows, cols]
    rows, cols = rows[keep].astype(np.int64), cols[keep].astype(np.int64)
    return Assignment(
        track_idx=rows,
        det_idx=cols,
        unmatched_tracks=np.setdiff1d(np.arange(n, dtype=np.int64), rows),
        unmatched_dets=np.setdiff1d(np.arange(m, dtype=np.int64), cols),
    )
