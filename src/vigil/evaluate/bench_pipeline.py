"""Vigil's pipeline against the per-frame loop a face_recognition user writes, on the same clips.

The loop is :class:`~vigil.evaluate.facerec_loop.FaceRecognitionLoop` (its module says which
face_recognition call each line stands for). Vigil runs its own pipeline (detect every
``detect_every``-th frame, track in between, embed only best shots, decide per track). Both sides read
the clip through :func:`~vigil.ingest.open_source` in this process, one after the other; the time spent
waiting for the next decoded frame is measured apart from the time spent processing it, so frames/s are
reported with and without decoding. The decoding work is the same for both sides, but each side's own
wait is what is added to its processing: "end to end" is the wall-clock rate of that side's sequential
loop, and it is the rate the verdict compares (:data:`TARGET_SPEEDUP`).

Example:
    >>> loop = FaceRecognitionLoop(dlib_model_paths())  # doctest: +SKIP
    >>> problems = loop.enrol_folder(watchlist_dir, IngestConfig())  # doctest: +SKIP
    >>> result = bench_clip(engine, watchlist, loop, "clip.mp4", max_frames=100)  # doctest: +SKIP
    >>> result.speedup, result.missed  # doctest: +SKIP
    (14.2, frozenset())
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vigil.app import Engine
from vigil.config import IngestConfig
from vigil.errors import SourceError
from vigil.evaluate.facerec_loop import TOLERANCE, FaceRecognitionLoop
from vigil.evaluate.machine import Machine
from vigil.ingest import Source, open_source
from vigil.match.watchlist import Watchlist
from vigil.runtime.pipeline import StageTimes
from vigil.samples import SAMPLE_CLIP
from vigil.types import EventKind, FaceEvent, Frame

TARGET_SPEEDUP = 10.0
"""Vigil must process at least this many times the loop's frames/s (end to end, decoding included)."""

DEFAULT_CLIPS: tuple[str, ...] = (
    SAMPLE_CLIP,
    "video/intel/asl_gestures/again.mkv",
    "video/intel/asl_gestures/bird.mkv",
    "video/intel/preview_gif/face-demographics-walking-and-pause.gif",
)
"""The default clips, relative to the test data folder: Lin-Manuel Miranda on stage (up to 7 faces),
two webcam clips of people not on the watchlist (the first two asl_gestures clips by name), and a
low-resolution GIF of several people walking toward a ceiling camera."""

Side = Literal["loop", "vigil"]
ProgressFn = Callable[[Side, int], None]
"""Called as ``progress(side, frames_done)`` after each frame."""


def default_clips(data: Path) -> list[Path]:
    """:data:`DEFAULT_CLIPS` under the test data folder ``data``."""
    return [data / rel for rel in DEFAULT_CLIPS]


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    """Frames processed by one side and the seconds spent decoding and processing them."""

    frames: int
    decode_s: float
    process_s: float

    @property
    def processing_fps(self) -> float:
        """Frames per second of processing alone (decoding excluded)."""
        return self.frames / self.process_s if self.process_s > 0 else 0.0

    @property
    def end_to_end_fps(self) -> float:
        """Frames per second including decoding."""
        total = self.decode_s + self.process_s
        return self.frames / total if total > 0 else 0.0

    def __add__(self, other: Timing) -> Timing:
        return Timing(
            self.frames + other.frames, self.decode_s + other.decode_s, self.process_s + other.process_s
        )

    def as_json(self) -> dict[str, object]:
        return {
            "frames": self.frames,
            "decode_s": round(self.decode_s, 4),
            "process_s": round(self.process_s, 4),
            "processing_fps": round(self.processing_fps, 3),
            "end_to_end_fps": round(self.end_to_end_fps, 3),
        }


@dataclass(frozen=True, slots=True)
class LoopResult:
    """What the face_recognition loop made of one clip.

    Attributes:
        timing: frames, decode and processing seconds.
        faces: faces detected (each was embedded and matched).
        identity_frames: for each identity found, in how many frames it was found.
        unknown_faces: faces whose nearest known encoding was farther than the tolerance.
    """

    timing: Timing
    faces: int
    identity_frames: dict[str, int]
    unknown_faces: int

    @property
    def identities(self) -> frozenset[str]:
        return frozenset(self.identity_frames)

    def as_json(self) -> dict[str, object]:
        return {
            **self.timing.as_json(),
            "faces_embedded": self.faces,
            "unknown_faces": self.unknown_faces,
            "identity_frames": dict(sorted(self.identity_frames.items())),
        }


@dataclass(frozen=True, slots=True)
class VigilResult:
    """What Vigil's pipeline made of one clip.

    Attributes:
        timing: frames, decode and processing seconds.
        tracks: tracks reported (each ends with one decision, or none if no shot was embedded).
        identity_tracks: for each identity found, how many tracks were identified as it.
        unknown_tracks: tracks decided "unknown" or never embedded.
        stages: seconds per stage and work counts (detections run, faces embedded).
    """

    timing: Timing
    tracks: int
    identity_tracks: dict[str, int]
    unknown_tracks: int
    stages: StageTimes

    @property
    def identities(self) -> frozenset[str]:
        return frozenset(self.identity_tracks)

    def as_json(self) -> dict[str, object]:
        return {
            **self.timing.as_json(),
            "tracks": self.tracks,
            "unknown_tracks": self.unknown_tracks,
            "identity_tracks": dict(sorted(self.identity_tracks.items())),
            "stages": stages_json(self.stages),
        }


@dataclass(frozen=True, slots=True)
class ClipResult:
    """Both sides on one clip."""

    clip: str
    loop: LoopResult
    vigil: VigilResult

    @property
    def speedup(self) -> float:
        """Vigil's end-to-end frames/s over the loop's (decoding included on both sides)."""
        return _ratio(self.vigil.timing.end_to_end_fps, self.loop.timing.end_to_end_fps)

    @property
    def processing_speedup(self) -> float:
        """The same ratio with decoding left out."""
        return _ratio(self.vigil.timing.processing_fps, self.loop.timing.processing_fps)

    @property
    def missed(self) -> frozenset[str]:
        """Identities the loop found in this clip and Vigil did not."""
        return self.loop.identities - self.vigil.identities

    def as_json(self) -> dict[str, object]:
        return {
            "clip": self.clip,
            "loop": self.loop.as_json(),
            "vigil": self.vigil.as_json(),
            "speedup": _finite(self.speedup),
            "processing_speedup": _finite(self.processing_speedup),
            "missed": sorted(self.missed),
        }


@dataclass(frozen=True, slots=True)
class BenchResult:
    """A whole run: every clip, the totals, the verdict and where it ran.

    Attributes:
        clips: one result per clip, in the order run.
        detect_every: Vigil's detection stride.
        command: the command line that produced it.
        machine: the hardware and library versions.
        load_before: load averages when the run started.
        load_after: load averages when it ended.
        target: the speed-up Vigil must reach.
        tolerance: the loop's match tolerance.
    """

    clips: tuple[ClipResult, ...]
    detect_every: int
    command: str
    machine: Machine
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    target: float = TARGET_SPEEDUP
    tolerance: float = TOLERANCE

    @property
    def loop_total(self) -> Timing:
        return sum((c.loop.timing for c in self.clips), Timing(0, 0.0, 0.0))

    @property
    def vigil_total(self) -> Timing:
        return sum((c.vigil.timing for c in self.clips), Timing(0, 0.0, 0.0))

    @property
    def speedup(self) -> float:
        """Over all clips: Vigil's end-to-end frames/s over the loop's."""
        return _ratio(self.vigil_total.end_to_end_fps, self.loop_total.end_to_end_fps)

    @property
    def processing_speedup(self) -> float:
        return _ratio(self.vigil_total.processing_fps, self.loop_total.processing_fps)

    @property
    def stages(self) -> StageTimes:
        """Vigil's stage times summed over the clips."""
        return sum_stage_times([c.vigil.stages for c in self.clips])

    @property
    def missed(self) -> dict[str, frozenset[str]]:
        """Per clip, the identities the loop found and Vigil did not (clips with none left out)."""
        return {c.clip: c.missed for c in self.clips if c.missed}

    @property
    def passed(self) -> bool:
        return self.speedup >= self.target and not self.missed

    @property
    def verdict(self) -> str:
        """One line: PASS, or FAIL with the part that failed."""
        speed = f"Vigil {self.speedup:.1f}× the loop's frames/s (target ≥ {self.target:g}×)"
        if self.passed:
            return f"PASS: {speed}, and every identity the loop found, Vigil found"
        failures: list[str] = []
        if self.speedup < self.target:
            failures.append(f"speed: {speed}")
        for clip, names in self.missed.items():
            failures.append(f"identities: Vigil missed {', '.join(sorted(names))} in {clip}")
        return "FAIL: " + "; ".join(failures)

    def as_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "machine": self.machine.as_json(),
            "load_before": list(self.load_before),
            "load_after": list(self.load_after),
            "detect_every": self.detect_every,
            "tolerance": self.tolerance,
            "clips": [c.as_json() for c in self.clips],
            "total": {
                "loop": self.loop_total.as_json(),
                "vigil": self.vigil_total.as_json(),
                "vigil_stages": stages_json(self.stages),
                "speedup": _finite(self.speedup),
                "processing_speedup": _finite(self.processing_speedup),
            },
            "target": self.target,
            "passed": self.passed,
            "verdict": self.verdict,
        }


def sum_stage_times(parts: Sequence[StageTimes]) -> StageTimes:
    """Stage seconds and work counts added up over several runs."""
    total = StageTimes()
    for part in parts:
        for stage, seconds in part.seconds.items():
            total.seconds[stage] = total.seconds.get(stage, 0.0) + seconds
        total.frames += part.frames
        total.detections_run += part.detections_run
        total.faces_embedded += part.faces_embedded
    return total


def stages_json(times: StageTimes) -> dict[str, object]:
    return {
        "seconds": {k: round(v, 4) for k, v in sorted(times.seconds.items())},
        "frames": times.frames,
        "detections_run": times.detections_run,
        "faces_embedded": times.faces_embedded,
    }


# --- runners -----------------------------------------------------------------------------------------


@dataclass
class _DecodeClock:
    seconds: float = 0.0
    frames: int = 0


def _timed_frames(source: Source, max_frames: int | None, clock: _DecodeClock) -> Iterator[Frame]:
    """The source's frames, the time spent decoding each added to ``clock`` (the consumer's is not)."""
    frames = source.frames()
    while max_frames is None or clock.frames < max_frames:
        start = time.perf_counter()
        frame = next(frames, None)
        clock.seconds += time.perf_counter() - start
        if frame is None:
            return
        clock.frames += 1
        yield frame


def run_loop(
    loop: FaceRecognitionLoop,
    spec: str | Path,
    ingest: IngestConfig,
    *,
    max_frames: int | None = None,
    progress: ProgressFn | None = None,
) -> LoopResult:
    """Run the face_recognition loop over one clip.

    Args:
        loop: the loop, with its known encodings enrolled.
        spec: the clip (anything :func:`~vigil.ingest.open_source` opens).
        ingest: decoding limits.
        max_frames: stop after this many frames (None: the whole clip).
        progress: called after each frame.

    Returns:
        Frames, times, faces and the identities found with the number of frames each was found in.

    Raises:
        SourceError: the clip cannot be opened or decoded.
    """
    source = open_source(spec, ingest)
    clock = _DecodeClock()
    process_s = 0.0
    faces = unknown = 0
    identity_frames: Counter[str] = Counter()
    try:
        for frame in _timed_frames(source, max_frames, clock):
            start = time.perf_counter()
            names = loop.process(frame)
            process_s += time.perf_counter() - start
            faces += len(names)
            unknown += sum(n is None for n in names)
            identity_frames.update({n for n in names if n is not None})
            if progress is not None:
                progress("loop", clock.frames)
    finally:
        source.close()
    return LoopResult(Timing(clock.frames, clock.seconds, process_s), faces, dict(identity_frames), unknown)


def run_vigil(
    engine: Engine,
    watchlist: Watchlist,
    spec: str | Path,
    *,
    max_frames: int | None = None,
    progress: ProgressFn | None = None,
) -> VigilResult:
    """Run Vigil's pipeline over one clip; each track's identity is its decision when it ends.

    Args:
        engine: the engine (its config sets the detection stride).
        watchlist: the enrolled watchlist.
        spec: the clip (anything :func:`~vigil.ingest.open_source` opens).
        max_frames: stop after this many frames (None: the whole clip); live tracks then end.
        progress: called after each frame.

    Returns:
        Frames, times, tracks, the identities found with their track counts, and stage times.

    Raises:
        SourceError: the clip cannot be opened or decoded.
    """
    source = open_source(spec, engine.config.ingest)
    pipeline = engine.pipeline(source.source_id, watchlist)
    clock = _DecodeClock()
    process_s = 0.0
    ended: list[FaceEvent] = []
    try:
        for frame in _timed_frames(source, max_frames, clock):
            start = time.perf_counter()
            events = pipeline.process(frame).events
            process_s += time.perf_counter() - start
            ended.extend(e for e in events if e.kind is EventKind.END)
            if progress is not None:
                progress("vigil", clock.frames)
        start = time.perf_counter()
        ended.extend(e for e in pipeline.finish() if e.kind is EventKind.END)
        process_s += time.perf_counter() - start
    finally:
        source.close()
    identities = [e.decision.identity if e.decision is not None else None for e in ended]
    return VigilResult(
        timing=Timing(clock.frames, clock.seconds, process_s),
        tracks=len(ended),
        identity_tracks=dict(Counter(i for i in identities if i is not None)),
        unknown_tracks=sum(i is None for i in identities),
        stages=sum_stage_times([pipeline.times]),
    )


def bench_clip(
    engine: Engine,
    watchlist: Watchlist,
    loop: FaceRecognitionLoop,
    spec: str | Path,
    *,
    max_frames: int | None = None,
    progress: ProgressFn | None = None,
) -> ClipResult:
    """Both sides on one clip, the loop first, in this process.

    Raises:
        SourceError: the clip cannot be opened or decoded, or the two sides read a different number of
            frames (the comparison would be void).
    """
    loop_result = run_loop(loop, spec, engine.config.ingest, max_frames=max_frames, progress=progress)
    vigil_result = run_vigil(engine, watchlist, spec, max_frames=max_frames, progress=progress)
    if loop_result.timing.frames != vigil_result.timing.frames:
        raise SourceError(
            str(spec),
            f"decoded {loop_result.timing.frames} frames for the loop but "
            f"{vigil_result.timing.frames} for Vigil",
        )
    return ClipResult(Path(spec).name, loop_result, vigil_result)


def _ratio(a: float, b: float) -> float:
    """``a / b``; infinite when ``b`` is 0 (the loop processed nothing) and ``a`` is not."""
    if b > 0:
        return a / b
    return math.inf if a > 0 else math.nan


def _finite(x: float) -> float | None:
    """Rounded for JSON; None for inf and nan (JSON has neither)."""
    return round(x, 3) if math.isfinite(x) else None
