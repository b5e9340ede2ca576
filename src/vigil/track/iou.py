"""``IouTracker``: SORT-style tracking of faces (Kalman prediction, IoU association, Hungarian)."""

from __future__ import annotations

import logging

import numpy as np

from vigil.config import TrackerConfig
from vigil.track import kalman
from vigil.track.associate import associate
from vigil.track.state import TrackTable
from vigil.types import FaceDetections, IntArray, TrackStep

log = logging.getLogger(__name__)


class IouTracker:
    """Multi-face tracker for one camera: a Kalman filter per track, IoU association, Hungarian matching.

    Each frame every track is predicted to the frame's media time. On frames where detection ran,
    confirmed tracks are matched first and tentative ones get the detections left over, so a spurious
    duplicate cannot steal a detection from an established face. A track is tentative until it has
    ``min_hits`` detections; a tentative track that misses a detection frame is dropped silently. A
    confirmed track ends once it has been unseen for more than ``max_missed_ms``; until then it is
    reported with its predicted box.

    Example:
        >>> tracker = IouTracker(TrackerConfig(min_hits=1))
        >>> dets = FaceDetections(
        ...     np.array([[10, 10, 50, 60]], np.float32), np.array([0.9], np.float32),
        ...     np.full((1, 5, 2), np.nan, np.float32))
        >>> tracker.update(0, dets).started
        (1,)
        >>> tracker.finish()
        (1,)
    """

    def __init__(self, config: TrackerConfig) -> None:
        """Create an empty tracker.

        Args:
            config: IoU and centre gates, time until a lost track ends, hits to confirm a track.
        """
        self._config = config
        self._tracks = TrackTable()
        self._t_ms: int | None = None
        self._next_id = 1

    def update(self, t_ms: int, detections: FaceDetections | None) -> TrackStep:
        """Advance to ``t_ms``, link ``detections`` (None: detection did not run) and report.

        Args:
            t_ms: the frame's media time in ms.
            detections: the frame's faces, or None on a frame where only prediction happens.

        Returns:
            One row per live confirmed track, ascending by id, with the tracks started and ended now.
        """
        self._advance(t_ms)
        ended = self._end_lost(t_ms)  # before matching, so a track unseen too long is not revived
        if detections is None:
            return self._report(None, np.full(len(self._tracks), -1, np.int64), (), ended)
        det_of_track, started = self._link(t_ms, detections)
        return self._report(detections, det_of_track, started, ended)

    def finish(self) -> tuple[int, ...]:
        """End every live confirmed track (tentative ones are dropped) and return their ids.

        The tracker is then empty and may take a new stream; ids keep growing.
        """
        ended = tuple(int(i) for i in self._tracks.ids[self._tracks.confirmed])
        self._tracks = TrackTable()
        self._t_ms = None
        if ended:
            log.debug("stream finished, tracks %s ended", ended)
        return ended

    def _advance(self, t_ms: int) -> None:
        """Predict every track to ``t_ms``; a backward jump (stream restart) keeps the tracks' ages."""
        t = self._tracks
        if self._t_ms is not None and t_ms < self._t_ms:
            log.warning("media time went back from %d to %d ms; tracks keep their ages", self._t_ms, t_ms)
            t.last_hit_ms = t.last_hit_ms - (self._t_ms - t_ms)
        elif self._t_ms is not None:
            t.mean, t.cov = kalman.predict(t.mean, t.cov, (t_ms - self._t_ms) / 1000.0)
        self._t_ms = t_ms

    def _match(self, detections: FaceDetections) -> tuple[IntArray, IntArray, IntArray]:
        """Confirmed tracks first, then tentative ones on the rest.

        Returns:
            matched track rows, their detection rows, and the detection rows left unmatched.
        """
        t = self._tracks
        predicted = kalman.states_to_boxes(t.mean)
        dets_xyxy = detections.xyxy.astype(np.float64)
        thr, gate = self._config.iou_threshold, self._config.centre_gate
        confirmed = np.flatnonzero(t.confirmed)
        tentative = np.flatnonzero(~t.confirmed)
        first = associate(predicted[confirmed], dets_xyxy, thr, gate)
        rest = first.unmatched_dets
        second = associate(predicted[tentative], dets_xyxy[rest], thr, gate)
        track_rows = np.concatenate([confirmed[first.track_idx], tentative[second.track_idx]])
        det_rows = np.concatenate([first.det_idx, rest[second.det_idx]])
        return track_rows, det_rows, rest[second.unmatched_dets]

    def _link(self, t_ms: int, detections: FaceDetections) -> tuple[IntArray, tuple[int, ...]]:
        """Match, correct, confirm, drop missed tentative tracks and open new ones.

        Returns:
            for every live track, the row of its detection (-1 if none), and the ids confirmed now.
        """
        t = self._tracks
        track_rows, det_rows, new_rows = self._match(detections)
        if len(track_rows):
            z = kalman.boxes_to_measurements(detections.xyxy[det_rows])
            t.mean[track_rows], t.cov[track_rows] = kalman.update(t.mean[track_rows], t.cov[track_rows], z)
            t.hits[track_rows] += 1
            t.last_hit_ms[track_rows] = t_ms
        det_of_track = np.full(len(t), -1, np.int64)
        det_of_track[track_rows] = det_rows

        newly = ~t.confirmed & (t.hits >= self._config.min_hits)
        t.confirmed |= newly
        started = [int(i) for i in t.ids[newly]]
        missed_tentative = ~t.confirmed & (det_of_track < 0)
        if missed_tentative.any():
            t.keep(~missed_tentative)
            det_of_track = det_of_track[~missed_tentative]

        if len(new_rows):
            ids = np.arange(self._next_id, self._next_id + len(new_rows), dtype=np.int64)
            self._next_id += len(new_rows)
            mean, cov = kalman.initiate(kalman.boxes_to_measurements(detections.xyxy[new_rows]))
            confirmed_now = self._config.min_hits <= 1
            t.append(ids, mean, cov, t_ms, confirmed_now)
            det_of_track = np.concatenate([det_of_track, new_rows])
            if confirmed_now:
                started.extend(int(i) for i in ids)
        if started:
            log.debug("t=%d ms: tracks %s started", t_ms, started)
        return det_of_track, tuple(started)

    def _end_lost(self, t_ms: int) -> tuple[int, ...]:
        """Remove tracks unseen for longer than ``max_missed_ms``; return the confirmed ones' ids."""
        t = self._tracks
        lost = (t_ms - t.last_hit_ms) > self._config.max_missed_ms
        if not lost.any():
            return ()
        ended = tuple(int(i) for i in t.ids[lost & t.confirmed])
        t.keep(~lost)
        if ended:
            log.debug("t=%d ms: tracks %s ended (unseen > %d ms)", t_ms, ended, self._config.max_missed_ms)
        return ended

    def _report(
        self,
        detections: FaceDetections | None,
        det_of_track: IntArray,
        started: tuple[int, ...],
        ended: tuple[int, ...],
    ) -> TrackStep:
        """One row per confirmed track: its detection where it has one, else its predicted box."""
        t = self._tracks
        rows = np.flatnonzero(t.confirmed)
        det_rows = det_of_track[rows]
        observed = det_rows >= 0
        n = len(rows)
        xyxy = kalman.states_to_boxes(t.mean[rows]).astype(np.float32)
        score = np.zeros(n, np.float32)
        landmarks = np.full((n, 5, 2), np.nan, np.float32)
        if detections is not None and observed.any():
            src = det_rows[observed]
            xyxy[observed] = detections.xyxy[src]
            score[observed] = detections.score[src]
            landmarks[observed] = detections.landmarks[src]
        faces = FaceDetections(xyxy, score, landmarks, t.ids[rows].copy())
        return TrackStep(faces=faces, observed=observed, started=started, ended=ended)
