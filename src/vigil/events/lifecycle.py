"""Track lifecycle → events: a track starts, its decision changes, it ends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.types import Decision, EventKind, FaceEvent, FaceShot, TrackStep


@dataclass
class _TrackState:
    start_ms: int
    last_ms: int
    decision: Decision | None = None
    best_shot: FaceShot | None = None


@dataclass(frozen=True, slots=True)
class ShotDecision:
    """A track's decision after new shots were embedded, with the best of those shots."""

    track_id: int
    decision: Decision
    best_shot: FaceShot


class EventBuilder:
    """Keeps per-track state for one source and emits start / update / end events.

    An update is emitted when a track's decision first appears or its label changes, so consumers
    hear about every identification without a message per frame.
    """

    def __init__(self, source_id: str) -> None:
        self._source_id = source_id
        self._tracks: dict[int, _TrackState] = {}

    def step(self, t_ms: int, step: TrackStep, decided: list[ShotDecision]) -> list[FaceEvent]:
        events: list[FaceEvent] = []
        for track_id in step.started:
            self._tracks[track_id] = _TrackState(start_ms=t_ms, last_ms=t_ms)
            events.append(self._event(EventKind.START, track_id))
        for track_id in step.faces.track_id[np.asarray(step.observed, dtype=bool)].tolist():
            if track_id in self._tracks:
                self._tracks[track_id].last_ms = t_ms
        for d in decided:
            state = self._tracks.get(d.track_id)
            if state is None:
                continue
            changed = state.decision is None or state.decision.label != d.decision.label
            state.decision = d.decision
            if state.best_shot is None or d.best_shot.quality.total >= state.best_shot.quality.total:
                state.best_shot = d.best_shot
            if changed:
                events.append(self._event(EventKind.UPDATE, d.track_id))
        events.extend(self.end(step.ended))
        return events

    def end(self, track_ids: tuple[int, ...]) -> list[FaceEvent]:
        events = [self._event(EventKind.END, t) for t in track_ids if t in self._tracks]
        for t in track_ids:
            self._tracks.pop(t, None)
        return events

    def _event(self, kind: EventKind, track_id: int) -> FaceEvent:
        s = self._tracks[track_id]
        return FaceEvent(kind, self._source_id, track_id, s.start_ms, s.last_ms, s.decision, s.best_shot)
