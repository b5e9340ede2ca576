"""Verification protocols over scored pairs: k-fold accuracy, ROC, TAR at FAR. Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.types import BoolArray, FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class FoldResult:
    fold: int
    threshold: float
    accuracy: float


@dataclass(frozen=True, slots=True)
class Roc:
    """False-accept and true-accept rates at every distinct threshold, thresholds descending."""

    thresholds: FloatArray
    far: FloatArray
    tar: FloatArray

    def tar_at_far(self, far: float) -> tuple[float, float]:
        """The best TAR whose FAR does not exceed ``far``, and the threshold that gives it."""
        ok = np.flatnonzero(self.far <= far)
        if len(ok) == 0:
            return 0.0, float("inf")
        i = ok[-1]
        return float(self.tar[i]), float(self.thresholds[i])


def best_threshold(scores: FloatArray, same: BoolArray) -> float:
    """The threshold (score ≥ t means "same person") with the highest accuracy on these pairs.

    Midpoints between consecutive distinct scores are tried, so the choice does not sit on a sample.
    """
    s = np.unique(scores)
    candidates = np.concatenate([[s[0] - 1e-6], (s[:-1] + s[1:]) / 2, [s[-1] + 1e-6]])
    pos = np.sort(scores[same])
    neg = np.sort(scores[~same])
    tp = len(pos) - np.searchsorted(pos, candidates, side="left")
    tn = np.searchsorted(neg, candidates, side="left")
    return float(candidates[int(np.argmax(tp + tn))])


def kfold_accuracy(scores: FloatArray, same: BoolArray, fold: IntArray) -> list[FoldResult]:
    """Leave-one-fold-out: the threshold is chosen on the other folds and applied to the held-out one."""
    out: list[FoldResult] = []
    for f in np.unique(fold).tolist():
        test = fold == f
        t = best_threshold(scores[~test], same[~test])
        acc = float(((scores[test] >= t) == same[test]).mean())
        out.append(FoldResult(int(f), t, acc))
    return out


def roc(scores: FloatArray, same: BoolArray) -> Roc:
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], same[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each distinct score
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return Roc(
        thresholds=s[last].astype(np.float32),
        far=(fp[last] / n_neg).astype(np.float32),
        tar=(tp[last] / n_pos).astype(np.float32),
    )
