"""Per-track choice of the face shots worth embedding, and of the best shot to show."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from vigil.bestshot.quality import face_quality, is_better
from vigil.config import BestShotConfig
from vigil.types import FaceShot, FloatArray, Frame, QualityScores, TrackStep

log = logging.getLogger(__name__)

PATCH_MARGIN = 0.5
"""A shot keeps the frame region around the face box grown by this fraction of the box on each side
(clipped to the frame): room for the aligner's own landmark model and its padded chip."""


@dataclass(slots=True)
class _TrackShots:
    """What the selector remembers about one track."""

    n_embedded: int = 0
    best_embedded_total: float = -math.inf
    last_embedded_ms: int = 0
    best_seen: FaceShot | None = None


def cut_shot(
    frame: Frame, track_id: int, xyxy: FloatArray, landmarks: FloatArray, quality: QualityScores
) -> FaceShot:
    """Copy the region around a face out of a frame, with box and landmarks in patch coordinates.

    Args:
        frame: the frame the face was seen in.
        track_id: the face's track.
        xyxy: the face box (4,) in frame pixels.
        landmarks: (5, 2) landmarks in frame pixels (NaN stays NaN).
        quality: the face's quality scores.

    Returns:
        The shot, its ``patch`` a copy (the frame may be released).
    """
    w, h = frame.size_wh
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    mx, my = PATCH_MARGIN * (x2 - x1), PATCH_MARGIN * (y2 - y1)
    px1, py1 = max(0, math.floor(x1 - mx)), max(0, math.floor(y1 - my))
    px2, py2 = min(w, math.ceil(x2 + mx)), min(h, math.ceil(y2 + my))
    offset = np.array([px1, py1], np.float32)
    return FaceShot(
        source_id=frame.source_id,
        track_id=track_id,
        frame_index=frame.index,
        t_ms=frame.t_ms,
        xyxy=np.asarray(xyxy, np.float32).copy(),
        quality=quality,
        patch=frame.image[py1:py2, px1:px2].copy(),
        xyxy_in_patch=(np.asarray(xyxy, np.float32) - np.tile(offset, 2)).astype(np.float32),
        landmarks_in_patch=(np.asarray(landmarks, np.float32) - offset).astype(np.float32),
        captured_at=frame.captured_at,
    )


def unusable(quality: QualityScores, config: BestShotConfig) -> tuple[str, ...]:
    """Why a face is too poor to be embedded and judged (empty when it is good enough): smaller than
    ``min_face_px``, blurrier than ``min_sharpness`` or of total quality below ``min_quality``. The live
    path never embeds such a shot; a still photo's face is reported with these reasons instead.

    Example:
        >>> unusable(QualityScores(20.0, 0.1, 0.8, 0.9, 0.9, 1.0, 0.3), BestShotConfig())[0]
        'face is 20 px, below the 32 px needed'
    """
    reasons = []
    if quality.size_px < config.min_face_px:
        reasons.append(f"face is {quality.size_px:.0f} px, below the {config.min_face_px} px needed")
    if quality.sharpness < config.min_sharpness:
        reasons.append(
            f"face is blurred or dark (sharpness {quality.sharpness:.2f} < {config.min_sharpness:.2f})"
        )
    if quality.total < config.min_quality:
        reasons.append(f"face quality {quality.total:.2f} is below {config.min_quality:.2f}")
    return tuple(reasons)


class BestShotSelector:
    """Decides, track by track, which observed faces to embed now.

    Policy, per track: only rows the tracker observed on this frame count; a shot smaller than
    ``min_face_px``, sharper than ``min_sharpness`` or of total quality below ``min_quality`` is never
    embedded; the first acceptable shot is embedded at once (so an alert can fire on it); a later one if
    its total beats the best embedded so far by ``improve_by``, or if ``refresh_ms`` have passed since
    the last embedded shot and it is nearly as good (within ``improve_by`` of the best), so a long track
    is judged on several views; never more than ``max_shots`` in all. Independently, the best shot
    seen (embedded or not) is kept for display. Call ``end`` for every id in ``TrackStep.ended``.

    Example:
        >>> selector = BestShotSelector(BestShotConfig())
        >>> # for each frame: shots = selector.update(frame, tracker.update(frame.t_ms, dets))
        >>> selector.end(7) is None
        True
    """

    def __init__(self, config: BestShotConfig) -> None:
        """Create a selector with no tracks.

        Args:
            config: the embedding policy (K, quality floor, improvement step, least face size).
        """
        self._config = config
        self._tracks: dict[int, _TrackShots] = {}
        self.scored: list[tuple[QualityScores, FloatArray]] = []
        """The faces scored by the last :meth:`update`: (quality, landmarks in frame pixels), row order."""

    def update(self, frame: Frame, step: TrackStep) -> list[FaceShot]:
        """Score this frame's observed faces and return the shots to embed now.

        Args:
            frame: the frame the tracker step belongs to.
            step: the tracker's output for ``frame``.

        Returns:
            The shots to embed, at most one per track, in row order.
        """
        faces = step.faces
        to_embed: list[FaceShot] = []
        self.scored = []
        for row in np.flatnonzero(step.observed):
            track_id = int(faces.track_id[row])
            xyxy, landmarks = faces.xyxy[row], faces.landmarks[row]
            quality = face_quality(frame.image, xyxy, float(faces.score[row]), landmarks)
            self.scored.append((quality, landmarks))
            state = self._tracks.setdefault(track_id, _TrackShots())
            embed = self._worth_embedding(state, quality, frame.t_ms)
            new_best = state.best_seen is None or is_better(quality, state.best_seen.quality)
            if not (embed or new_best):
                continue
            shot = cut_shot(frame, track_id, xyxy, landmarks, quality)
            if shot.patch.size == 0:
                log.debug("track %d: box %s lies outside the frame, shot skipped", track_id, xyxy)
                continue
            if new_best:
                state.best_seen = shot
            if embed:
                state.n_embedded += 1
                state.best_embedded_total = max(state.best_embedded_total, quality.total)
                state.last_embedded_ms = frame.t_ms
                to_embed.append(shot)
        return to_embed

    def _worth_embedding(self, state: _TrackShots, quality: QualityScores, t_ms: int) -> bool:
        cfg = self._config
        if unusable(quality, cfg):
            return False
        if state.n_embedded == 0:
            return True
        if state.n_embedded >= cfg.max_shots:
            return False
        gain = quality.total - state.best_embedded_total
        if gain > 0.0 and gain >= cfg.improve_by:
            return True
        return t_ms - state.last_embedded_ms >= cfg.refresh_ms and gain > -cfg.improve_by

    @property
    def gate(self) -> BestShotConfig:
        """The embedding policy (its size and sharpness floors are the gate a shot must pass)."""
        return self._config

    def best(self, track_id: int) -> FaceShot | None:
        """The best shot seen so far of a live track (embedded or not), or None."""
        state = self._tracks.get(track_id)
        return state.best_seen if state is not None else None

    def end(self, track_id: int) -> FaceShot | None:
        """Forget a track and return its best shot seen overall (None if it never had one)."""
        state = self._tracks.pop(track_id, None)
        return state.best_seen if state is not None else None
