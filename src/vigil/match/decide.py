"""Open-set decisions: an identity only above the threshold and clear of the runner-up."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.types import Decision, IdentityScore


def decide(ranked: Sequence[IdentityScore], threshold: float, min_margin: float, n_shots: int) -> Decision:
    """Turn ranked identity scores for one probe into a decision.

    The best identity is accepted when its score reaches ``threshold`` and leads the runner-up by at
    least ``min_margin``; otherwise the face is "unknown" (the score and the nearest identity are still
    reported, as the reason).

    >>> decide([IdentityScore("a", 0.95), IdentityScore("b", 0.80)], 0.9, 0.05, 1).identity
    'a'
    """
    if not ranked:
        return Decision(None, None, float("-inf"), 0.0, None, threshold, n_shots)
    top = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else None
    margin = top.score - runner_up.score if runner_up is not None else top.score
    accepted = top.score >= threshold and margin >= min_margin
    return Decision(
        identity=top.identity if accepted else None,
        candidate=top.identity,
        score=top.score,
        margin=margin,
        runner_up=runner_up.identity if runner_up is not None else None,
        threshold=threshold,
        n_shots=n_shots,
    )
