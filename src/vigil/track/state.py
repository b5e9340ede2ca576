"""The tracker's book of live tracks: one array per field, one row per track."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vigil.track.kalman import Array
from vigil.types import BoolArray, IntArray


@dataclass(slots=True)
class TrackTable:
    """Live tracks (tentative and confirmed), columnar, kept in ascending id order.

    Attributes:
        ids: (N,) track ids.
        mean: (N, 8) Kalman states (see ``vigil.track.kalman``).
        cov: (N, 8, 8) Kalman covariances.
        hits: (N,) how many detections each track has been linked with.
        last_hit_ms: (N,) media time of each track's latest detection.
        confirmed: (N,) True once a track has ``min_hits`` detections.
    """

    ids: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    mean: Array = field(default_factory=lambda: np.zeros((0, 8)))
    cov: Array = field(default_factory=lambda: np.zeros((0, 8, 8)))
    hits: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    last_hit_ms: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    confirmed: BoolArray = field(default_factory=lambda: np.zeros(0, np.bool_))

    def __len__(self) -> int:
        return len(self.ids)

    def keep(self, mask: BoolArray) -> None:
        """Drop every track whose ``mask`` entry is False."""
        self.ids = self.ids[mask]
        self.mean = self.mean[mask]
        self.cov = self.cov[mask]
        self.hits = self.hits[mask]
        self.last_hit_ms = self.last_hit_ms[mask]
        self.confirmed = self.confirmed[mask]

    def append(self, ids: IntArray, mean: Array, cov: Array, t_ms: int, confirmed: bool) -> None:
        """Add new tracks with one hit each, seen at ``t_ms``."""
        n = len(ids)
        self.ids = np.concatenate([self.ids, ids])
        self.mean = np.concatenate([self.mean, mean])
        self.cov = np.concatenate([self.cov, cov])
        self.hits = np.concatenate([self.hits, np.ones(n, np.int64)])
        self.last_hit_ms = np.concatenate([self.last_hit_ms, np.full(n, t_ms, np.int64)])
        self.confirmed = np.concatenate([self.confirmed, np.full(n, confirmed, np.bool_)])
