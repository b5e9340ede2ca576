""" "Not this person" feedback: templates of tracks an operator rejected as a wrong person.

A rejected alert's track template is kept as a *negative* of the person it was wrongly named as. A later
probe that is closer to one of a person's negatives than to the person themself is not named as them:
the face that fooled the match once is recognised as "the one that is not them" next time. One rule,
used by the alert router and by ``vigil bench watchlist``.
"""

from __future__ import annotations

import numpy as np

from vigil.types import FloatArray


def vetoed_by(probe: FloatArray, score: float, negatives: FloatArray) -> int | None:
    """The index of the negative (rows of ``negatives``) that vetoes naming ``probe`` as the person it
    scored ``score`` against: the closest negative, if it is closer than the person. None: no veto."""
    if len(negatives) == 0:
        return None
    sims = negatives.astype(np.float32) @ probe.astype(np.float32)
    best = int(np.argmax(sims))
    return best if float(sims[best]) > score else None
