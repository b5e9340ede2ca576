"""Every face of one still photo judged against a watchlist: the open-set decision of a one-shot track.

A photo has no track to aggregate over, so each face is decided on its own vector with the same rule as
a track (:func:`vigil.match.decide`): the closest identity when it reaches the threshold and leads the
runner-up by the margin. A face too poor for the live path to embed (too small, blurred: see
:func:`vigil.bestshot.selector.unusable`) is not called anyone; it says why instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from vigil.bestshot.quality import face_quality
from vigil.bestshot.selector import unusable
from vigil.config import BestShotConfig
from vigil.embed.stills import StillFaces
from vigil.match.decide import decide
from vigil.types import Decision, IdentityScore, Image, QualityScores


@dataclass(frozen=True, slots=True)
class PhotoFace:
    """One face of a photo and the decision on it.

    Attributes:
        index: its rank in the photo, largest first (as :meth:`StillEncoder.encode` gives them).
        xyxy: the box in the photo's pixels.
        det_score: the detector's confidence.
        quality: its quality scores.
        problems: why it was too poor to judge (empty: it was judged).
        decision: identity (None: unknown or not judged), closest candidate, score, margin, runner-up
            and the threshold it was judged at.
    """

    index: int
    xyxy: tuple[float, float, float, float]
    det_score: float
    quality: QualityScores
    problems: tuple[str, ...]
    decision: Decision

    @property
    def judged(self) -> bool:
        return not self.problems


def judge_faces(
    image: Image,
    faces: StillFaces,
    ranked: Sequence[Sequence[IdentityScore]],
    thresholds: Sequence[float],
    *,
    min_margin: float,
    shots: BestShotConfig,
) -> list[PhotoFace]:
    """Decide every face of ``image``.

    Args:
        image: the photo (BGR), for the quality measures.
        faces: its faces, as :meth:`StillEncoder.encode` found them.
        ranked: for each face, the closest identities, best first (at least two, for the margin).
        thresholds: for each face, the threshold it is judged at (the same for every face with a folder
            watchlist; with the store's, the closest person's lists decide it).
        min_margin: the least lead of the best identity over the runner-up.
        shots: the live path's floor on face size, sharpness and quality.
    """
    det = faces.detections
    out = []
    for i, (row, threshold) in enumerate(zip(ranked, thresholds, strict=True)):
        quality = face_quality(image, det.xyxy[i], float(det.score[i]), det.landmarks[i])
        problems = unusable(quality, shots)
        decision = decide(row, threshold, min_margin, 0 if problems else 1)
        if problems:
            decision = dataclasses.replace(decision, identity=None)
        x0, y0, x1, y1 = (round(float(v), 1) for v in det.xyxy[i])
        out.append(PhotoFace(i, (x0, y0, x1, y1), round(float(det.score[i]), 3), quality, problems, decision))
    return out
