"""Impossible travel: one person seen on two cameras too close in time to have gone from one to the other.

Either the face on one of them is a look-alike, or two people share one identity: the alert is flagged
``impossible_travel`` with the other sighting, for a person to look at both side by side.

The least time a trip between two cameras takes, in this order:

1. an explicit pair in ``alerts.travel.pairs`` naming the two cameras, or their sites, or one camera and
   the other's site (either way round): its ``min_s``. For places a straight line says nothing about
   (two buildings across a river, a campus whose gates are far apart by road).
2. both cameras have coordinates, at least ``min_distance_m`` apart: the great-circle distance at
   ``speed_kmh``. Closer cameras are never judged (GPS error, two doors of one building).
3. otherwise the rule says nothing: cameras without a location, or at the same site, are never flagged.

Pure functions of the places and the times; the router (:mod:`vigil.alerts.router`) finds the sightings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from vigil.config import TravelConfig

EARTH_RADIUS_M = 6_371_008.8
"""The mean Earth radius (IUGG): the haversine distance is within 0.5% of the geodesic one."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a camera is: its name, WGS 84 coordinates in degrees (both or neither) and its site."""

    camera: str
    latitude: float | None = None
    longitude: float | None = None
    site: str | None = None

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True, slots=True)
class TravelCheck:
    """Two sightings the rule could judge: how far apart, the least time the trip needs, the time between
    them. ``impossible`` when the time between is shorter than the trip."""

    distance_m: float | None  # None: an explicit pair between places without coordinates
    needed_s: float
    elapsed_s: float

    @property
    def impossible(self) -> bool:
        return self.elapsed_s < self.needed_s

    @property
    def shortfall_s(self) -> float:
        return self.needed_s - self.elapsed_s


def distance_m(a: Place, b: Place) -> float | None:
    """Great-circle (haversine) distance between two located places in metres; None if one is not.

    Example:
        >>> paris, london = Place("p", 48.8566, 2.3522), Place("l", 51.5074, -0.1278)
        >>> round(distance_m(paris, london) / 1000)
        344
    """
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return None
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat, dlon = lat2 - lat1, math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class TravelRule:
    """``alerts.travel`` as a rule: the least trip time between two places, and the check of two sightings."""

    def __init__(self, config: TravelConfig) -> None:
        self._config = config
        self._pairs = {frozenset(p.between): p.min_s for p in config.pairs}

    @property
    def enabled(self) -> bool:
        return self._config.enabled

    @property
    def lookback_s(self) -> float:
        return self._config.lookback_h * 3600

    def needed_s(self, a: Place, b: Place) -> float | None:
        """The least time to go between ``a`` and ``b`` in seconds (see the module doc), None if unknown."""
        if a.camera == b.camera:
            return None
        names_a = {a.camera} | ({a.site} if a.site else set())
        names_b = {b.camera} | ({b.site} if b.site else set())
        explicit = [
            self._pairs[k]
            for x in names_a
            for y in names_b
            if x != y and (k := frozenset((x, y))) in self._pairs
        ]
        if explicit:
            return min(explicit)
        if a.site is not None and a.site == b.site:
            return None
        d = distance_m(a, b)
        if d is None or d < self._config.min_distance_m:
            return None
        return d / (self._config.speed_kmh / 3.6)

    def check(self, a: Place, seen_a: datetime, b: Place, seen_b: datetime) -> TravelCheck | None:
        """Judge one person seen at ``a`` then (or before) at ``b``; None if the rule cannot say."""
        if not self._config.enabled:
            return None
        needed = self.needed_s(a, b)
        if needed is None:
            return None
        return TravelCheck(distance_m(a, b), needed, abs((seen_b - seen_a).total_seconds()))


@dataclass(frozen=True, slots=True)
class TravelFlag:
    """An alert's ``impossible_travel`` flag: the other sighting, and why the trip was impossible.

    The other sighting's camera and time are None once that event is gone (retention).
    """

    other_event_id: int
    other_camera_id: int | None
    other_camera: str | None
    other_seen_at: datetime | None
    distance_m: float | None
    needed_s: float
    elapsed_s: float | None

    def payload(self) -> dict[str, object]:
        return {
            "other_event_id": self.other_event_id,
            "other_camera_id": self.other_camera_id,
            "other_camera": self.other_camera,
            "other_seen_at": None if self.other_seen_at is None else self.other_seen_at.isoformat(),
            "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
            "needed_s": round(self.needed_s, 1),
            "elapsed_s": None if self.elapsed_s is None else round(self.elapsed_s, 1),
        }
