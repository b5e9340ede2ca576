"""The camera suitability advisor: from a camera's recent face statistics, a verdict an installer can act on.

A pure function of :class:`~vigil.bestshot.stats.FaceStats` (and the embedding gate): each check that
fails gives a reason with its level and what to do; the verdict is the worst level among them.

Thresholds, and why:

- **faces seen, 20**: fewer is no evidence either way; the verdict waits (``unknown``).
- **between the eyes, nearest faces, 60 px**: ISO/IEC 19794-5 asks 60 px between the eye centres for its
  smallest ("token") frontal face image and 90 px for a full frontal one; identification against a large
  list wants at least that. Below: ``marginal`` (small for identification).
- **between the eyes, nearest faces, 30 px**: the embedder's aligned chip has ~35 px between the eyes (the
  ArcFace template at 112 px); below 30 px every chip is upsampled from less than it needs, and guidance
  (NIST, ISO) treats ~25-30 px as enough to detect a face, not to tell who it is. Below: ``unsuitable``
  (detection only).
- **share embeddable, 50% / 10%**: the share of faces passing the ``bestshot`` gate (size, sharpness,
  quality). Below half, many passers-by never get an embedded shot (``marginal``); below a tenth, almost
  nobody does (``unsuitable``).
- **median sharpness, ``bestshot.min_sharpness``**: below it the typical face is refused as blurred or dark
  (``marginal``).
- **share frontal, 50%**: faces within 30 degrees of yaw (the enrolment gate's limit); when most faces are
  turned further, the camera looks at people from the side (``marginal``).

The size is judged on the nearest faces (the 90th percentile of the distance between the eyes), not the
median: a camera does not need every face large, only each passer-by large at their nearest, which is
where the best-shot selector takes its shots.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vigil.bestshot.stats import FRONTAL_YAW_DEG, FaceStats
from vigil.config import BestShotConfig

MIN_FACES = 20
IDENTIFY_EYE_PX = 60.0
DETECT_ONLY_EYE_PX = 30.0
USABLE_GOOD = 0.5
USABLE_POOR = 0.1
FRONTAL_GOOD = 0.5


class Verdict(StrEnum):
    """How fit a camera is for identification, best first."""

    GOOD = "good"
    MARGINAL = "marginal"
    UNSUITABLE = "unsuitable"
    UNKNOWN = "unknown"  # not enough faces seen to tell


_RANK = {Verdict.GOOD: 0, Verdict.UNKNOWN: 1, Verdict.MARGINAL: 2, Verdict.UNSUITABLE: 3}


@dataclass(frozen=True, slots=True)
class Reason:
    """One finding: ``code`` (stable, for programs), its ``level`` and a sentence saying what to do."""

    code: str
    level: Verdict
    message: str


@dataclass(frozen=True, slots=True)
class Advice:
    """The verdict, a one-line summary (its worst reason, or why the camera is fine) and every reason."""

    verdict: Verdict
    summary: str
    reasons: tuple[Reason, ...]
    stats: FaceStats | None


def advise(stats: FaceStats | None, gate: BestShotConfig | None = None) -> Advice:
    """Judge a camera on its recent faces (see the module doc for the thresholds).

    Args:
        stats: the camera's face statistics (None: no face seen yet).
        gate: the embedding gate the camera's shots must pass [the default ``bestshot`` section].

    Returns:
        The advice; ``unknown`` until ``MIN_FACES`` faces were seen.

    Example:
        >>> s = FaceStats(100, 100, 30.0, 38.0, 90.0, 0.7, 10.0, 0.9, 0.8)
        >>> advise(s).verdict, [r.code for r in advise(s).reasons]
        (<Verdict.MARGINAL: 'marginal'>, ['small'])
    """
    gate = gate or BestShotConfig()
    if stats is None or stats.faces < MIN_FACES:
        seen = 0 if stats is None else stats.faces
        reason = Reason(
            "few_faces", Verdict.UNKNOWN,
            f"only {seen} face{'' if seen == 1 else 's'} seen so far ({MIN_FACES} needed for a verdict): "
            "wait until people have passed in front of the camera",
        )  # fmt: skip
        return Advice(Verdict.UNKNOWN, reason.message, (reason,), stats)
    reasons = [r for r in (_size(stats), _usable(stats), _sharpness(stats, gate), _pose(stats)) if r]
    if not reasons:
        eyes = (
            "" if stats.eye_px_p90 is None else f"{stats.eye_px_p90:.0f} px between the eyes at the nearest, "
        )
        summary = f"suitable for identification: {eyes}{stats.usable_share:.0%} of faces good enough to embed"
        return Advice(Verdict.GOOD, summary, (), stats)
    reasons.sort(key=lambda r: -_RANK[r.level])
    return Advice(reasons[0].level, reasons[0].message, tuple(reasons), stats)


def _size(stats: FaceStats) -> Reason | None:
    eyes = stats.eye_px_p90
    if eyes is None:  # a detector without landmarks (HOG): the embeddable share still says it
        return None
    if eyes < DETECT_ONLY_EYE_PX:
        return Reason(
            "too_small", Verdict.UNSUITABLE,
            f"faces are {eyes:.0f} px between the eyes at the nearest: too small for identification "
            f"(detection only below {DETECT_ONLY_EYE_PX:.0f} px, {IDENTIFY_EYE_PX:.0f} px wanted); zoom in, "
            "use a higher resolution or move the camera closer",
        )  # fmt: skip
    if eyes < IDENTIFY_EYE_PX:
        return Reason(
            "small", Verdict.MARGINAL,
            f"faces are {eyes:.0f} px between the eyes at the nearest: small for identification "
            f"({IDENTIFY_EYE_PX:.0f} px wanted); zoom in or move the camera closer",
        )  # fmt: skip
    return None


def _usable(stats: FaceStats) -> Reason | None:
    share = stats.usable_share
    if share >= USABLE_GOOD:
        return None
    level = Verdict.UNSUITABLE if share < USABLE_POOR else Verdict.MARGINAL
    return Reason(
        "few_usable", level,
        f"only {share:.0%} of faces are good enough to embed (size, sharpness, quality): most passers-by are "
        "never compared with the watchlists",
    )  # fmt: skip


def _sharpness(stats: FaceStats, gate: BestShotConfig) -> Reason | None:
    if stats.sharpness >= gate.min_sharpness:
        return None
    return Reason(
        "blurred", Verdict.MARGINAL,
        f"faces are blurred or dark (median sharpness {stats.sharpness:.2f}, below the "
        f"{gate.min_sharpness:.2f} a shot needs): check the focus, add light or shorten the shutter time",
    )  # fmt: skip


def _pose(stats: FaceStats) -> Reason | None:
    if stats.frontal_share >= FRONTAL_GOOD:
        return None
    yaw = "" if stats.yaw_deg is None else f", median {stats.yaw_deg:.0f} degrees"
    return Reason(
        "side_view", Verdict.MARGINAL,
        f"only {stats.frontal_share:.0%} of faces are within {FRONTAL_YAW_DEG:.0f} degrees of frontal{yaw}: "
        "point the camera along the way people walk or look, not across it",
    )  # fmt: skip
