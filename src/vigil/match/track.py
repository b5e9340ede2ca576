"""Per-track identification: one decision per track, from the mean of its embedded best shots."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from vigil.config import MatchConfig
from vigil.match.decide import decide
from vigil.match.watchlist import weighted_mean
from vigil.types import Decision, FloatArray, IdentityScore


class IdentitySearch(Protocol):
    """1:N search by identity: a folder :class:`~vigil.match.watchlist.Watchlist`, or the store's gallery
    (:class:`~vigil.match.gallery.GalleryIdentities`, identities are person ids)."""

    def search(self, vectors: FloatArray, k: int) -> list[list[IdentityScore]]: ...


@dataclass
class _Shots:
    vectors: list[FloatArray] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


class TrackIdentifier:
    """Aggregates a track's shot vectors (quality-weighted mean) and decides against a watchlist.

    Averaging the unit vectors of several views of one face cancels much of what differs between
    frames (pose, blur, light) and keeps what is the person's; the decision is re-taken as each new best
    shot arrives, so an early alert can be confirmed or withdrawn by later, better shots.
    """

    def __init__(self, watchlist: IdentitySearch, config: MatchConfig) -> None:
        self._watchlist = watchlist
        self._config = config
        self._tracks: dict[int, _Shots] = {}

    def observe(self, track_id: int, vectors: FloatArray, weights: list[float]) -> Decision:
        shots = self._tracks.setdefault(track_id, _Shots())
        shots.vectors.extend(vectors)
        shots.weights.extend(weights)
        probe = weighted_mean(shots.vectors, shots.weights)
        ranked = self._watchlist.search(probe[None], k=2)[0]
        decision = decide(ranked, self._config.threshold, self._config.min_margin, len(shots.vectors))
        return replace(decision, vector=probe)

    def forget(self, track_id: int) -> None:
        self._tracks.pop(track_id, None)
