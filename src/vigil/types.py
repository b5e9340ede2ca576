"""Value objects passed between pipeline stages.

Every stage talks to the next through these frozen dataclasses; none of them does I/O. Arrays are
columnar (one array per field) and their shapes are checked on creation, so a wrong shape fails where
it is made rather than three stages later. Names carry units: ``xyxy`` in pixels, ``t_ms`` in ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Image = npt.NDArray[np.uint8]
"""An 8-bit BGR image, shape (H, W, 3), as OpenCV uses it."""


def _check_shape(name: str, arr: npt.NDArray[np.generic], shape: tuple[int | None, ...]) -> None:
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)):
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame of one source.

    Attributes:
        source_id: the id of the source the frame came from.
        index: 0-based position of the frame in its source.
        t_ms: media time of the frame in ms since the start of the source.
        image: BGR pixels, shape (H, W, 3).
        captured_at: wall-clock time (Unix seconds) at which the frame was decoded.
    """

    source_id: str
    index: int
    t_ms: int
    image: Image
    captured_at: float

    def __post_init__(self) -> None:
        _check_shape("Frame.image", self.image, (None, None, 3))

    @property
    def size_wh(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class FaceDetections:
    """The faces found (or tracked) in one frame, one row per face.

    Attributes:
        xyxy: boxes (N, 4) as x1, y1, x2, y2 in pixels.
        score: detector confidence (N,) in [0, 1].
        landmarks: (N, 5, 2) right eye, left eye, nose tip, right and left mouth corner (the subject's
            right/left); NaN where the detector gives none (HOG).
        track_id: (N,) track ids, -1 until the tracker has assigned one.
    """

    xyxy: FloatArray
    score: FloatArray
    landmarks: FloatArray
    track_id: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if len(self.track_id) == 0 and n:
            object.__setattr__(self, "track_id", np.full(n, -1, dtype=np.int64))
        _check_shape("FaceDetections.xyxy", self.xyxy, (n, 4))
        _check_shape("FaceDetections.score", self.score, (n,))
        _check_shape("FaceDetections.landmarks", self.landmarks, (n, 5, 2))
        _check_shape("FaceDetections.track_id", self.track_id, (n,))

    @classmethod
    def empty(cls) -> FaceDetections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            score=np.zeros(0, np.float32),
            landmarks=np.zeros((0, 5, 2), np.float32),
            track_id=np.zeros(0, np.int64),
        )

    @classmethod
    def merge(cls, parts: Sequence[FaceDetections]) -> FaceDetections:
        if not parts:
            return cls.empty()
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]).astype(np.float32, copy=False),
            score=np.concatenate([p.score for p in parts]).astype(np.float32, copy=False),
            landmarks=np.concatenate([p.landmarks for p in parts]).astype(np.float32, copy=False),
            track_id=np.concatenate([p.track_id for p in parts]).astype(np.int64, copy=False),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def filter(self, mask: BoolArray | IntArray) -> FaceDetections:
        """Rows selected by a boolean mask or an index array."""
        return FaceDetections(
            xyxy=self.xyxy[mask],
            score=self.score[mask],
            landmarks=self.landmarks[mask],
            track_id=self.track_id[mask],
        )

    def with_track_ids(self, track_id: IntArray) -> FaceDetections:
        return FaceDetections(self.xyxy, self.score, self.landmarks, track_id.astype(np.int64, copy=False))

    @property
    def size_wh(self) -> FloatArray:
        """Box widths and heights (N, 2) in pixels."""
        return (self.xyxy[:, 2:4] - self.xyxy[:, 0:2]).astype(np.float32, copy=False)

    @property
    def has_landmarks(self) -> BoolArray:
        return np.asarray(~np.isnan(self.landmarks).any(axis=(1, 2)), dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class TrackStep:
    """What the tracker knows after one frame.

    Attributes:
        faces: one row per live track, ``track_id`` set. On a frame where detection ran, a row whose
            ``observed`` flag is set carries that frame's detection (box, score, landmarks); other rows
            are predictions (box only, score 0, NaN landmarks).
        observed: (N,) True where the row is this frame's detection.
        started: ids of tracks that started on this frame.
        ended: ids of tracks that ended on this frame (person left or was lost).
    """

    faces: FaceDetections
    observed: BoolArray
    started: tuple[int, ...] = ()
    ended: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_shape("TrackStep.observed", self.observed, (len(self.faces),))


@dataclass(frozen=True, slots=True)
class QualityScores:
    """Pure quality measures of one face crop, each in [0, 1] (1 = best) but ``size_px``.

    Attributes:
        size_px: the shorter side of the face box in pixels.
        size: size_px mapped to [0, 1] (saturates at a size where recognition stops improving).
        sharpness: normalised variance of the Laplacian of the face region.
        frontal: 1 for a frontal face, falling with yaw and roll estimated from landmarks.
        det_score: the detector's confidence.
        edge: 1 when the face is well inside the frame, 0 when it touches the border.
        total: the combined score used to rank shots.
    """

    size_px: float
    size: float
    sharpness: float
    frontal: float
    det_score: float
    edge: float
    total: float


@dataclass(frozen=True, slots=True)
class FaceShot:
    """One observation of a tracked face, with the pixels needed to align and embed it later.

    ``patch`` is a copy of the frame region around the face (with a margin), so a shot can outlive its
    frame; ``xyxy_in_patch`` and ``landmarks_in_patch`` are in patch coordinates.
    """

    source_id: str
    track_id: int
    frame_index: int
    t_ms: int
    xyxy: FloatArray
    quality: QualityScores
    patch: Image
    xyxy_in_patch: FloatArray
    landmarks_in_patch: FloatArray
    captured_at: float = 0.0  # wall clock (Unix seconds) when the frame was decoded

    def __post_init__(self) -> None:
        _check_shape("FaceShot.xyxy", self.xyxy, (4,))
        _check_shape("FaceShot.xyxy_in_patch", self.xyxy_in_patch, (4,))
        _check_shape("FaceShot.landmarks_in_patch", self.landmarks_in_patch, (5, 2))

    def face_crop(self) -> Image:
        """The face box itself (no margin), for display and saving."""
        x1, y1, x2, y2 = (round(float(v)) for v in self.xyxy_in_patch)
        h, w = self.patch.shape[:2]
        return self.patch[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)]


@dataclass(frozen=True, slots=True)
class Embeddings:
    """L2-normalised face vectors (N, D), all from the model named by ``model_id``."""

    vectors: FloatArray
    model_id: str

    def __post_init__(self) -> None:
        _check_shape("Embeddings.vectors", self.vectors, (None, None))

    def __len__(self) -> int:
        return len(self.vectors)


@dataclass(frozen=True, slots=True)
class IdentityScore:
    """How well one probe matches one identity (cosine similarity, higher is closer)."""

    identity: str
    score: float


@dataclass(frozen=True, slots=True)
class Decision:
    """The open-set decision for one track (or one probe), with the reasons for it.

    Attributes:
        identity: the matched identity, or None for "unknown".
        candidate: the closest identity whether or not it was accepted (None for an empty watchlist).
        score: similarity of the closest identity (for a track: of the mean of its embedded shots).
        margin: score minus the runner-up identity's score (the full score if there is no runner-up).
        runner_up: the second-closest identity, if any.
        threshold: the threshold the decision was taken against.
        n_shots: how many embedded shots the decision is based on.
        vector: the probe the decision was taken on (for a track: the L2-normalised, quality-weighted
            mean of its shots), kept for the archive; None when not known.
    """

    identity: str | None
    candidate: str | None
    score: float
    margin: float
    runner_up: str | None
    threshold: float
    n_shots: int
    vector: FloatArray | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        return self.identity if self.identity is not None else "unknown"


class EventKind(StrEnum):
    START = "start"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True, slots=True)
class FaceEvent:
    """A lifecycle event of one track: it started, its decision changed, or it ended.

    ``best_shot`` is the highest-quality embedded shot so far (None until one is embedded).
    """

    kind: EventKind
    source_id: str
    track_id: int
    start_ms: int
    end_ms: int
    decision: Decision | None
    best_shot: FaceShot | None
