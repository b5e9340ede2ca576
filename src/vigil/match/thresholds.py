"""Each list's match rule: its threshold, derived from the false-alert rate it accepts at its size.

A list either states its own threshold (fixed by hand) or takes the one calibrated for its size and
FPIR (its own or ``match.fpir``) from the embedder's calibration (:mod:`vigil.match.calibration`). The
calibrated threshold never goes below ``match.threshold``, the embedder's 1:1 verification threshold.
Without a calibration for the model, or with ``match.fpir`` null, lists use ``match.threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.config import MatchConfig
from vigil.match.calibration import CalibratedThreshold, Calibration


@dataclass(frozen=True, slots=True)
class ListRule:
    """How close a face must be to a person on one list for an alert there, and why.

    Attributes:
        threshold: The least score that alerts.
        size: People on the list when the rule was made.
        fpir: The false-alert rate per unknown track the threshold was derived from (None: fixed).
        calibrated: The threshold calibrated for ``size`` and the FPIR (None: no calibration).
        fixed: The list's own threshold, set by hand.
        extrapolated: The list is longer than any the calibration measured.
        resolved: False when the FPIR is finer than the calibration can see (the threshold is a floor).
    """

    threshold: float
    size: int
    fpir: float | None
    calibrated: float | None
    fixed: bool = False
    extrapolated: bool = False
    resolved: bool = True

    @property
    def below_calibrated(self) -> bool:
        """A threshold set by hand under the calibrated one: more false alerts than the list's FPIR."""
        return self.calibrated is not None and self.threshold < self.calibrated - 1e-9

    @property
    def calibrated_for(self) -> int | None:
        """The list size the threshold was calibrated for (None when it was not derived)."""
        return self.size if self.calibrated is not None and not self.fixed else None


class ThresholdPolicy:
    """Makes :class:`ListRule` s from the match config and the embedder's calibration (if any)."""

    def __init__(self, match: MatchConfig, calibration: Calibration | None) -> None:
        self.match = match
        self.calibration = calibration

    def calibrated(self, size: int, fpir: float | None) -> CalibratedThreshold | None:
        fpir = fpir if fpir is not None else self.match.fpir
        if fpir is None or self.calibration is None:
            return None
        return self.calibration.threshold(size, fpir)

    def rule(self, size: int, threshold: float | None = None, fpir: float | None = None) -> ListRule:
        """The rule of a list of ``size`` people with its own ``threshold`` and ``fpir`` (None: defaults)."""
        cal = self.calibrated(size, fpir)
        target = fpir if fpir is not None else self.match.fpir
        calibrated = None if cal is None else max(cal.threshold, self.match.threshold)
        extra = {} if cal is None else {"extrapolated": cal.extrapolated, "resolved": cal.resolved}
        if threshold is not None:
            return ListRule(threshold, size, None, calibrated, fixed=True, **extra)
        if calibrated is None:
            return ListRule(self.match.threshold, size, None, None)
        return ListRule(calibrated, size, target, calibrated, **extra)


UNCALIBRATED = ThresholdPolicy(MatchConfig(fpir=None), None)
"""Every list at the default ``match.threshold``: for tools that only need a list to exist (benchmarks)."""
