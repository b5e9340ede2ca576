"""Which worker a camera goes to: the least busy, and as few moves as possible to even the load.

Pure functions over names and counts, so the rule is the same whatever the workers are (and is tested
without a cluster).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def least_loaded(loads: Mapping[str, int], prefer: Sequence[str] = ()) -> str | None:
    """The worker with the fewest cameras; among ties (or any worker within one camera of the least) one
    of ``prefer`` (where the camera ran before) first, then by name. None without workers."""
    if not loads:
        return None
    fewest = min(loads.values())
    for name in prefer:
        if name in loads and loads[name] <= fewest:
            return name
    return min((n for n, load in loads.items() if load == fewest))


def rebalance(assigned: Mapping[str, Sequence[int]]) -> list[tuple[int, str, str]]:
    """Moves ``(camera, from, to)`` that leave no worker more than one camera above another, moving the
    fewest cameras (one at a time from the busiest to the least busy; the newest camera of a worker
    moves first, so long-running cameras stay put)."""
    cameras = {name: sorted(ids) for name, ids in assigned.items()}
    moves: list[tuple[int, str, str]] = []
    while cameras:
        busiest = max(cameras, key=lambda n: (len(cameras[n]), n))
        idlest = min(cameras, key=lambda n: (len(cameras[n]), n))
        if len(cameras[busiest]) - len(cameras[idlest]) <= 1:
            break
        camera = cameras[busiest].pop()
        cameras[idlest].append(camera)
        moves.append((camera, busiest, idlest))
    return moves
