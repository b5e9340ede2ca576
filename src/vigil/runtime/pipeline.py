"""One source through every stage: detect → track → best shot → embed → match → events.

Detection runs on every ``detect_every``-th frame and the tracker predicts in between; only the shots
the best-shot selector picks are aligned and embedded, and each track gets one decision from them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vigil.bestshot import BestShotSelector
from vigil.bestshot.stats import FaceStatsWindow
from vigil.config import MatchConfig
from vigil.detect.base import Detector
from vigil.embed.base import Aligner, Embedder
from vigil.events.lifecycle import EventBuilder, ShotDecision
from vigil.match.track import IdentitySearch, TrackIdentifier
from vigil.track import Tracker
from vigil.track.cuts import SceneCutDetector
from vigil.types import FaceEvent, FaceShot, Frame, Image, TrackStep

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What the pipeline made of one frame."""

    frame_index: int
    t_ms: int
    step: TrackStep
    events: list[FaceEvent]
    decided: list[ShotDecision] = field(default_factory=list)  # tracks whose decision was re-taken


@dataclass
class StageClock:
    """Seconds spent per named stage, summed over ``with clock.timing(stage):`` blocks."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


@dataclass
class StageTimes(StageClock):
    """Seconds spent per stage and work counts, for benchmarks and metrics."""

    frames: int = 0
    detections_run: int = 0
    faces_embedded: int = 0


class SourcePipelineFactory(Protocol):
    """Makes fresh per-source pipelines over shared models (the engine)."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def pipeline(
        self, source_id: str, watchlist: IdentitySearch, match: MatchConfig | None = None
    ) -> SourcePipeline: ...


class SourcePipeline:
    """The stages for one source. Not thread-safe: one pipeline per source, fed frames in order."""

    def __init__(
        self,
        *,
        source_id: str,
        detector: Detector,
        aligner: Aligner,
        embedder: Embedder,
        tracker: Tracker,
        selector: BestShotSelector,
        identifier: TrackIdentifier,
        detect_every: int,
        cuts: SceneCutDetector,
    ) -> None:
        self._detector = detector
        self._aligner = aligner
        self._embedder = embedder
        self._tracker = tracker
        self._selector = selector
        self._identifier = identifier
        self._detect_every = detect_every
        self._cuts = cuts
        self._events = EventBuilder(source_id)
        self._frames_since_detect = detect_every  # detect on the first frame
        self.times = StageTimes()
        self.faces = FaceStatsWindow(selector.gate)
        """The source's recent faces (size between the eyes, sharpness, pose, share embeddable)."""

    def process(self, frame: Frame) -> FrameResult:
        times = self.times
        times.frames += 1
        with times.timing("cuts"):
            cut = self._cuts.is_cut(frame.image)
        # At a cut every face is someone new: end all tracks, and look again at once.
        events = self.finish() if cut else []
        dets = None
        self._frames_since_detect += 1
        if cut or self._frames_since_detect >= self._detect_every:
            self._frames_since_detect = 0
            with times.timing("detect"):
                dets = self._detector.detect(frame.image)
            times.detections_run += 1
        with times.timing("track"):
            step = self._tracker.update(frame.t_ms, dets)
        shots: list[FaceShot] = []
        if dets is not None:
            with times.timing("bestshot"):
                shots = self._selector.update(frame, step)
                for quality, landmarks in self._selector.scored:
                    self.faces.add(quality, landmarks)
        decided = self._identify(shots) if shots else []
        for track_id in step.ended:
            self._forget(track_id)
        events += self._events.step(frame.t_ms, step, decided)
        return FrameResult(frame.index, frame.t_ms, step, events, decided)

    def finish(self) -> list[FaceEvent]:
        """End every live track (end of the source, or a scene cut)."""
        ended = self._tracker.finish()
        events = self._events.end(ended)
        for track_id in ended:
            self._forget(track_id)
        return events

    def _forget(self, track_id: int) -> None:
        self._selector.end(track_id)
        self._identifier.forget(track_id)

    def _identify(self, shots: list[FaceShot]) -> list[ShotDecision]:
        times = self.times
        chips: list[Image] = []
        kept: list[FaceShot] = []
        with times.timing("align"):
            for shot in shots:
                got = self._aligner.chips(shot.patch, shot.xyxy_in_patch[None], shot.landmarks_in_patch[None])
                if got:
                    chips.append(got[0])
                    kept.append(shot)
        if not chips:
            return []
        with times.timing("embed"):
            vectors = self._embedder.embed(chips).vectors
        times.faces_embedded += len(chips)
        out: list[ShotDecision] = []
        with times.timing("match"):
            for track_id in sorted({s.track_id for s in kept}):
                rows = [i for i, s in enumerate(kept) if s.track_id == track_id]
                track_shots = [kept[i] for i in rows]
                decision = self._identifier.observe(
                    track_id, vectors[np.array(rows)], [s.quality.total for s in track_shots]
                )
                best = max(track_shots, key=lambda s: s.quality.total)
                out.append(ShotDecision(track_id, decision, best))
        return out
