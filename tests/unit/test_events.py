"""Stage 7: track lifecycle events (start, decision change, end) from tracker steps and decisions."""

from __future__ import annotations

import numpy as np

from vigil.events.lifecycle import EventBuilder, ShotDecision
from vigil.types import Decision, EventKind, FaceDetections, FaceShot, QualityScores, TrackStep


def _step(
    ids: list[int], observed: list[bool], started: tuple[int, ...] = (), ended: tuple[int, ...] = ()
) -> TrackStep:
    n = len(ids)
    faces = FaceDetections(
        xyxy=np.tile(np.array([[10, 10, 60, 70]], np.float32), (n, 1)),
        score=np.full(n, 0.9, np.float32),
        landmarks=np.full((n, 5, 2), np.nan, np.float32),
        track_id=np.array(ids, np.int64),
    )
    return TrackStep(faces, np.array(observed, bool), started, ended)


def _decision(identity: str | None, score: float) -> Decision:
    return Decision(identity, identity or "x", score, 0.05, None, 0.92, 1)


def _shot(track_id: int, total: float) -> FaceShot:
    q = QualityScores(50.0, 0.5, total, total, 0.9, 1.0, total)
    z = np.zeros(4, np.float32)
    return FaceShot(
        "cam", track_id, 0, 0, z, q, np.zeros((8, 8, 3), np.uint8), z, np.zeros((5, 2), np.float32)
    )


def test_a_track_starts_changes_decision_and_ends() -> None:
    events = EventBuilder("cam")
    out = events.step(100, _step([1], [True], started=(1,)), [])
    assert [(e.kind, e.track_id, e.start_ms) for e in out] == [(EventKind.START, 1, 100)]

    first = events.step(200, _step([1], [True]), [ShotDecision(1, _decision(None, 0.85), _shot(1, 0.6))])
    assert [e.kind for e in first] == [EventKind.UPDATE]
    assert first[0].decision is not None and first[0].decision.label == "unknown"

    same = events.step(300, _step([1], [True]), [ShotDecision(1, _decision(None, 0.88), _shot(1, 0.5))])
    assert same == []  # the label did not change: no message

    named = events.step(400, _step([1], [True]), [ShotDecision(1, _decision("Ann", 0.95), _shot(1, 0.9))])
    assert [e.kind for e in named] == [EventKind.UPDATE]
    assert named[0].decision is not None and named[0].decision.identity == "Ann"

    # Predicted-only frames do not move the end time; the end carries the last decision and best shot.
    events.step(500, _step([1], [False]), [])
    end = events.step(1400, _step([], [], ended=(1,)), [])
    assert [e.kind for e in end] == [EventKind.END]
    assert (end[0].start_ms, end[0].end_ms) == (100, 400)
    assert end[0].best_shot is not None and end[0].best_shot.quality.total == 0.9
    assert events.end((1,)) == []  # ended once only


def test_decisions_for_unknown_tracks_are_ignored() -> None:
    events = EventBuilder("cam")
    assert events.step(0, _step([], []), [ShotDecision(9, _decision("Ann", 0.99), _shot(9, 0.9))]) == []
