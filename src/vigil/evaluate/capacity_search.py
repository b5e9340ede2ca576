"""The search for the largest N cameras the live service keeps up with, and its pass criteria.

Pure functions, no I/O: the camera counts to try (:func:`ladder`, :func:`next_cameras`), the verdict
over what was tried (:func:`capacity`), why one N fails (:func:`failures`) and the per-stage time
between two counter snapshots (:func:`stage_deltas`). :mod:`vigil.evaluate.bench_live` runs them.

Example:
    >>> tried = {1: True, 2: True, 4: True, 6: False}
    >>> next_cameras(tried, ladder(8))
    5
    >>> capacity(tried)
    4
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from vigil.runtime.messages import CameraCounters

TARGET_FPS = 5.0
"""Every camera must process at least this many frames per second."""
TARGET_P99_S = 1.0
"""p99 of frame-to-WebSocket alert latency must be at most this many seconds."""
MIN_ALERTS = 3
"""Fewer alerts than this in the window cannot vouch for the latency: the N fails."""


def ladder(max_cameras: int) -> list[int]:
    """The camera counts tried upward: 1, 2, then every even number up to ``max_cameras`` (included).

    >>> ladder(9)
    [1, 2, 4, 6, 8, 9]
    """
    steps = [n for n in (1, 2) if n <= max_cameras] + list(range(4, max_cameras + 1, 2))
    if max_cameras >= 1 and steps[-1] != max_cameras:
        steps.append(max_cameras)
    return steps


def next_cameras(tried: Mapping[int, bool], candidates: Sequence[int], *, refine: bool = True) -> int | None:
    """The next N to run, or None when the search is over.

    Candidates are run upward until the first failure. With ``refine``, the gap between the first
    failure and the largest pass below it (0 when none passed) is then bisected, so a pass at 8 and a
    failure at 10 leads to 9.

    Args:
        tried: N -> passed, for every N run so far.
        candidates: the N to try upward.
        refine: bisect the gap below the first failure.
    """
    failed = [n for n, ok in tried.items() if not ok]
    if not failed:
        rest = [n for n in sorted(set(candidates)) if n not in tried]
        return rest[0] if rest else None
    if not refine:
        return None
    first_fail = min(failed)
    below = max((n for n, ok in tried.items() if ok and n < first_fail), default=0)
    if first_fail - below <= 1:
        return None
    return (below + first_fail) // 2


def capacity(tried: Mapping[int, bool]) -> int:
    """The largest N that passed below the smallest that failed (0 when none passed)."""
    ceiling = min((n for n, ok in tried.items() if not ok), default=None)
    passed = [n for n, ok in tried.items() if ok and (ceiling is None or n < ceiling)]
    return max(passed, default=0)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation between the closest ranks); None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def failures(
    camera_fps: Mapping[str, float],
    latencies_s: Sequence[float],
    *,
    min_fps: float = TARGET_FPS,
    max_p99_s: float = TARGET_P99_S,
    min_alerts: int = MIN_ALERTS,
) -> tuple[str, ...]:
    """Why a run fails (empty: it passes): a camera under ``min_fps``, too few alerts, p99 too high."""
    out: list[str] = []
    if not camera_fps:
        out.append("no camera reported")
    slow = sorted((fps, name) for name, fps in camera_fps.items() if fps < min_fps)
    if slow:
        fps, name = slow[0]
        out.append(
            f"{len(slow)} of {len(camera_fps)} cameras under {min_fps:g} frames/s (lowest {name}: {fps:.2f})"
        )
    if len(latencies_s) < min_alerts:
        got = "no alert" if not latencies_s else f"only {len(latencies_s)} alerts"
        out.append(f"{got} in the window (≥ {min_alerts} needed to judge latency)")
    p99 = percentile(latencies_s, 99)
    if p99 is not None and p99 > max_p99_s:
        out.append(f"p99 alert latency {p99:.2f} s (> {max_p99_s:g} s)")
    return tuple(out)


def stage_deltas(
    before: Mapping[int, CameraCounters], after: Mapping[int, CameraCounters]
) -> dict[str, float]:
    """Seconds per stage spent between two counter snapshots, summed over the cameras in both."""
    total: dict[str, float] = {}
    for cid, end in after.items():
        start = before.get(cid)
        for stage, seconds in end.stage_seconds.items():
            base = start.stage_seconds.get(stage, 0.0) if start is not None else 0.0
            total[stage] = total.get(stage, 0.0) + max(0.0, seconds - base)
    return total
