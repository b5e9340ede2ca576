"""A batched Kalman filter for face boxes: damped constant velocity on centre and size.

State per track (8,): ``cx, cy, w, h`` in pixels and their rates ``vcx, vcy, vw, vh`` in pixels per
second; the measurement is the box ``cx, cy, w, h``. Every function takes a batch of N tracks (means
(N, 8), covariances (N, 8, 8)) and returns new arrays, so the tracker predicts all its tracks in a few
numpy calls rather than one filter object per track.

Time is continuous (``dt_s`` in seconds, from media time), so frames may arrive at any rate and gaps
only widen the uncertainty. Velocities decay with time constant ``VELOCITY_TAU_S``: over one detection
interval this is nearly the plain constant-velocity model, but across a long gap a box drifts at most
``v * tau`` instead of flying off the frame. Noise scales with the box's size (a 200 px face jitters and
moves more pixels than a 30 px one), as in ByteTrack.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

VELOCITY_TAU_S = 1.0
"""Velocities decay as exp(-dt / tau): a head rarely keeps one velocity for more than about a second."""
MEASUREMENT_STD = 0.05
"""Detector jitter, as a fraction of the box size, on each of cx, cy, w, h."""
ACCELERATION_STD = 4.0
"""White-noise acceleration, in box sizes per second squared."""
INITIAL_VELOCITY_STD = 1.5
"""Uncertainty of a new track's (unknown, zero) velocity, in box sizes per second."""
MIN_SIDE_PX = 1.0

_H = np.hstack([np.eye(4), np.zeros((4, 4))])


def _box_size(mean: Array) -> Array:
    """A per-track length scale (N,): the mean of width and height, at least one pixel."""
    side: Array = np.maximum((mean[:, 2] + mean[:, 3]) / 2.0, MIN_SIDE_PX)
    return side


def boxes_to_measurements(xyxy: npt.NDArray[np.floating]) -> Array:
    """Boxes (N, 4) as x1, y1, x2, y2 to measurements (N, 4) as cx, cy, w, h."""
    b = np.asarray(xyxy, dtype=np.float64)
    wh = b[:, 2:4] - b[:, 0:2]
    return np.hstack([b[:, 0:2] + wh / 2.0, wh])


def states_to_boxes(mean: Array) -> Array:
    """Box part of states (N, 8) to boxes (N, 4) as x1, y1, x2, y2, sides at least one pixel."""
    half = np.maximum(mean[:, 2:4], MIN_SIDE_PX) / 2.0
    return np.hstack([mean[:, 0:2] - half, mean[:, 0:2] + half])


def initiate(z: Array) -> tuple[Array, Array]:
    """New tracks from measurements (N, 4): zero velocity, uncertainty proportional to box size.

    Returns:
        means (N, 8) and covariances (N, 8, 8).
    """
    n = len(z)
    mean = np.hstack([z, np.zeros((n, 4))])
    size = _box_size(mean)
    std = np.concatenate([np.full(4, 2.0 * MEASUREMENT_STD), np.full(4, INITIAL_VELOCITY_STD)])
    cov = (std**2)[None, :] * (size**2)[:, None]
    return mean, np.einsum("ni,ij->nij", cov, np.eye(8))


def _transition(dt_s: float) -> Array:
    """Transition matrix (8, 8) for a step of ``dt_s`` seconds."""
    decay = float(np.exp(-dt_s / VELOCITY_TAU_S))
    gain = VELOCITY_TAU_S * (1.0 - decay)  # integral of exp(-t / tau) over [0, dt]
    f = np.eye(8)
    f[0:4, 4:8] = gain * np.eye(4)
    f[4:8, 4:8] = decay * np.eye(4)
    return f


def predict(mean: Array, cov: Array, dt_s: float) -> tuple[Array, Array]:
    """Advance every track by ``dt_s`` seconds (0 leaves them unchanged).

    Args:
        mean: states (N, 8).
        cov: covariances (N, 8, 8).
        dt_s: elapsed media time in seconds; negative values are treated as 0.

    Returns:
        The predicted means and covariances, new arrays.
    """
    dt = max(0.0, dt_s)
    if dt == 0.0 or len(mean) == 0:
        return mean.copy(), cov.copy()
    f = _transition(dt)
    size2 = _box_size(mean) ** 2
    # Continuous white-noise acceleration integrated over dt (per axis: dt^3/3, dt^2/2, dt).
    q_block = ACCELERATION_STD**2 * np.array([[dt**3 / 3.0, dt**2 / 2.0], [dt**2 / 2.0, dt]])
    q = np.kron(q_block, np.eye(4))
    new_mean = mean @ f.T
    new_cov = f @ cov @ f.T + q[None, :, :] * size2[:, None, None]
    # Keep sizes positive even after a long extrapolation of a shrinking box.
    new_mean[:, 2:4] = np.maximum(new_mean[:, 2:4], MIN_SIDE_PX)
    return new_mean, new_cov


def update(mean: Array, cov: Array, z: Array) -> tuple[Array, Array]:
    """Correct tracks (N, 8) with one measurement each (N, 4) as cx, cy, w, h.

    Returns:
        The corrected means and covariances, new arrays.
    """
    if len(mean) == 0:
        return mean.copy(), cov.copy()
    size = _box_size(mean)
    r = (MEASUREMENT_STD**2) * (size**2)[:, None, None] * np.eye(4)[None, :, :]
    s = cov[:, 0:4, 0:4] + r  # innovation covariance H P H^T + R
    pht = cov[:, :, 0:4]  # P H^T
    # K = P H^T S^-1, computed as solve(S, (P H^T)^T)^T since S is symmetric.
    gain = np.linalg.solve(s, pht.transpose(0, 2, 1)).transpose(0, 2, 1)
    innovation = z - mean[:, 0:4]
    new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    new_cov = cov - gain @ (_H[None, :, :] @ cov)
    new_cov = (new_cov + new_cov.transpose(0, 2, 1)) / 2.0
    return new_mean, new_cov
