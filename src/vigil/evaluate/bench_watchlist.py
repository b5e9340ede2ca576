"""Open-set identification on video, per track, as the watchlist grows (``vigil bench watchlist``).

Protocol:

- Clips with their ground truth (:data:`CLIPS`): who on the watchlist appears in each. The Hamilton clip
  shows Lin-Manuel Miranda on stage and Barack Obama in the audience; the Intel webcam clips, GIFs and
  the ceiling-camera video show nobody listed.
- Watchlist: the sample watchlist (the true people, from their reference photos, as ``vigil demo``
  enrols them) plus N people of LFW as distractors, one photo each (their first), drawn with a fixed
  seed; the lists are nested (the 300 are among the 1,000). LFW folders of listed people are left out.
- Each clip goes through Vigil's own pipeline once per embedder (detect, track, best shots, embed,
  per-track templates); every probe a track was judged on (its template after each new best shot) is
  kept, so every list size is judged on the same tracks.
- A track is *named* as the person its first accepted probe is accepted as, as the live router raises
  one alert per track: nearest person at or above the list's threshold and clear of the runner-up by
  ``match.min_margin``. The threshold is the one calibrated for the list's size at ``match.fpir``
  (:mod:`vigil.match.thresholds`), unless the config fixes it.
- Per N: tracks named as a listed person who is in that clip (true), listed people in a clip never named
  there (missed), tracks named as anyone not in that clip (strangers named: each a false alert), and
  false alerts per 1,000 tracks (of tracks with at least one embedded shot).
- Feedback: every false alert of that run is rejected as "not this person" (its track's last template
  becomes a negative of the person it named), and the same tracks are judged again with Vigil's veto
  (:func:`vigil.match.feedback.vetoed_by`): the second run's false alerts and true tracks are reported.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from vigil.app import Engine, threshold_policy
from vigil.config import VigilConfig
from vigil.errors import BadInput, SourceError
from vigil.evaluate.embed_images import VectorCache, embed_images
from vigil.ingest import open_source
from vigil.match.decide import decide
from vigil.match.feedback import vetoed_by
from vigil.match.folder import enrol_folder, list_photos
from vigil.match.watchlist import Watchlist
from vigil.samples import sample_watchlist
from vigil.types import FloatArray

SIZES: tuple[int, ...] = (0, 300, 1000, 3000)
"""Distractors added to the true people (one LFW photo each)."""

SEED = 0


@dataclass(frozen=True, slots=True)
class Clip:
    """A clip (relative to the data folder; a folder means every video in it) and who is in it."""

    path: str
    present: frozenset[str]


CLIPS: tuple[Clip, ...] = (
    Clip("video/ageitgey_short_hamilton_clip.mp4", frozenset({"Lin-Manuel Miranda", "Barack Obama"})),
    Clip("video/intel/asl_gestures", frozenset()),
    Clip("video/intel/preview_gif", frozenset()),
    Clip("video/intel/one-by-one-person-detection.mp4", frozenset()),
)

LISTED_IN_LFW: dict[str, str] = {"Joe Biden": "Joseph_Biden"}
"""LFW folders of people on the sample watchlist: never distractors (they would be the person)."""

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".gif", ".webm")


@dataclass(frozen=True, slots=True)
class TrackProbes:
    """The probes one track was judged on, in order (its template after each new best shot)."""

    clip: str
    track_id: int
    probes: FloatArray  # (K, d)


@dataclass(frozen=True, slots=True)
class Named:
    """A track named as someone (by its first accepted probe)."""

    clip: str
    track_id: int
    person: str
    score: float

    def __str__(self) -> str:
        return f"{self.clip} #{self.track_id}: named as {self.person} ({self.score:.3f})"


@dataclass(frozen=True, slots=True)
class SizeResult:
    """What a watchlist of ``people`` people (true people + distractors) made of the clips."""

    distractors: int
    people: int
    threshold: float
    tracks: int
    judged: int  # tracks with at least one embedded shot
    true_named: int
    missed: tuple[str, ...]  # "clip: person" never named in a clip they are in
    strangers: tuple[Named, ...]  # tracks named as someone not in their clip: false alerts
    after_feedback: SizeResult | None = None  # the same tracks again, the false alerts rejected

    @property
    def strangers_named(self) -> tuple[str, ...]:
        return tuple(str(n) for n in self.strangers)

    @property
    def false_alerts_per_1000(self) -> float:
        return 1000.0 * len(self.strangers) / max(self.judged, 1)

    def as_json(self) -> dict[str, object]:
        return {
            "distractors": self.distractors,
            "people": self.people,
            "threshold": round(self.threshold, 4),
            "tracks": self.tracks,
            "judged_tracks": self.judged,
            "true_tracks_named": self.true_named,
            "listed_missed": list(self.missed),
            "strangers_named": list(self.strangers_named),
            "false_alerts_per_1000_tracks": round(self.false_alerts_per_1000, 2),
            "after_feedback": None if self.after_feedback is None else self.after_feedback.as_json(),
        }


@dataclass(frozen=True, slots=True)
class ModelResult:
    model_id: str
    fpir: float | None
    sizes: tuple[SizeResult, ...]
    fixed: bool = False  # every size judged at one given threshold, not the calibrated ones
    # The same sizes at the embedder's 1:1 threshold (``match.threshold``): what calibration changes.
    baseline: tuple[SizeResult, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "model_id": self.model_id, "fpir": self.fpir, "fixed_threshold": self.fixed,
            "sizes": [s.as_json() for s in self.sizes],
            "at_1to1_threshold": [s.as_json() for s in self.baseline],
        }  # fmt: skip


def clip_files(data: Path, clips: Sequence[Clip] = CLIPS) -> list[tuple[Path, Clip]]:
    """Every video of ``clips`` under ``data``, with its clip's truth.

    Raises:
        BadInput: a clip (or folder) is missing.
    """
    out: list[tuple[Path, Clip]] = []
    for clip in clips:
        path = data / clip.path
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            out.extend((f, clip) for f in files)
        elif path.is_file():
            out.append((path, clip))
        else:
            raise BadInput(path, "benchmark clip not found (set VIGIL_TEST_DATA)")
    return out


def track_probes(engine: Engine, video: Path) -> tuple[list[TrackProbes], int]:
    """Run the pipeline over ``video``; every track's probes, and how many tracks there were."""
    source = open_source(video, engine.config.ingest)
    pipeline = engine.pipeline(source.source_id, engine.new_watchlist())
    probes: dict[int, list[FloatArray]] = {}
    tracks: set[int] = set()
    try:
        for frame in source.frames():
            result = pipeline.process(frame)
            tracks.update(e.track_id for e in result.events)
            for d in result.decided:
                if d.decision.vector is not None:
                    probes.setdefault(d.track_id, []).append(d.decision.vector)
        tracks.update(e.track_id for e in pipeline.finish())
    finally:
        source.close()
    name = video.name
    return [TrackProbes(name, t, np.stack(v).astype(np.float32)) for t, v in sorted(probes.items())], len(
        tracks
    )


def distractor_photos(images: Path, exclude: Sequence[str], seed: int = SEED) -> list[str]:
    """One photo (the first) of every LFW person but the excluded, in a fixed random order."""
    found, _ = list_photos(images)
    first: dict[str, str] = {}
    for name, path in found:
        if name not in exclude:
            first.setdefault(name, f"{name}/{path.name}")
    names = sorted(first)
    order = np.random.default_rng(seed).permutation(len(names))
    return [first[names[i]] for i in order]


def judge(
    tracks: Sequence[TrackProbes],
    truth: dict[str, frozenset[str]],
    watchlist: Watchlist,
    *,
    threshold: float,
    min_margin: float,
    n_tracks: int,
    distractors: int,
    negatives: dict[str, FloatArray] | None = None,
) -> SizeResult:
    """Name each track by its first accepted probe (see the module doc) and count against the truth;
    a probe closer to one of the named person's ``negatives`` than to them is not accepted."""
    named: dict[tuple[str, int], tuple[str, float]] = {}
    for t in tracks:
        for probe, ranked in zip(t.probes, watchlist.search(t.probes, k=2), strict=True):
            d = decide(ranked, threshold, min_margin, 1)
            if d.identity is None:
                continue
            own = (negatives or {}).get(d.identity)
            if own is not None and vetoed_by(probe, d.score, own) is not None:
                continue
            named[(t.clip, t.track_id)] = (d.identity, d.score)
            break
    true_named = 0
    strangers: list[Named] = []
    seen: set[tuple[str, str]] = set()
    for (clip, track), (who, score) in sorted(named.items()):
        if who in truth[clip]:
            true_named += 1
            seen.add((clip, who))
        else:
            strangers.append(Named(clip, track, who, score))
    missed = tuple(
        f"{clip}: {who}" for clip, present in sorted(truth.items()) for who in sorted(present)
        if (clip, who) not in seen
    )  # fmt: skip
    return SizeResult(
        distractors=distractors,
        people=len(watchlist.identities),
        threshold=threshold,
        tracks=n_tracks,
        judged=len(tracks),
        true_named=true_named,
        missed=missed,
        strangers=tuple(strangers),
    )


def rejected(result: SizeResult, tracks: Sequence[TrackProbes]) -> dict[str, FloatArray]:
    """The negatives an operator makes by rejecting every false alert of ``result`` as "not this
    person": each such track's last template, under the person it was named as."""
    by_key = {(t.clip, t.track_id): t for t in tracks}
    out: dict[str, list[FloatArray]] = {}
    for n in result.strangers:
        out.setdefault(n.person, []).append(by_key[(n.clip, n.track_id)].probes[-1])
    return {person: np.stack(v) for person, v in out.items()}


def run_model(
    engine: Engine,
    config: VigilConfig,
    data: Path,
    lfw_cache: VectorCache,
    *,
    sizes: Sequence[int] = SIZES,
    clips: Sequence[Clip] = CLIPS,
    fixed_threshold: float | None = None,
    workers: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> ModelResult:
    """The benchmark for one embedder (``engine`` built from ``config``)."""
    files = clip_files(data, clips)
    tracks: list[TrackProbes] = []
    n_tracks = 0
    for i, (video, _clip) in enumerate(files):
        try:
            got, n = track_probes(engine, video)
        except SourceError as exc:
            raise BadInput(video, f"benchmark clip could not be read: {exc}") from exc
        tracks.extend(got)
        n_tracks += n
        if progress is not None:
            progress("clips", i + 1, len(files))
    truth = {video.name: clip.present for video, clip in files}

    with tempfile.TemporaryDirectory(prefix="vigil-bench-watchlist-") as tmp:
        folder = sample_watchlist(data / "refs", Path(tmp))
        base = enrol_folder(folder, engine.new_watchlist(), engine.stills, config.ingest).watchlist
    images = data / "lfw" / "images"
    exclude = [*LISTED_IN_LFW.values(), *(n.replace(" ", "_") for n in base.identities)]
    photos = distractor_photos(images, exclude)[: max(sizes)]
    vectors = embed_images(
        config,
        images,
        photos,
        lfw_cache,
        workers=workers,
        progress=(lambda d, t: progress("distractors", d, t)) if progress is not None else None,
    )
    policy = threshold_policy(config)
    results: list[SizeResult] = []
    baseline: list[SizeResult] = []
    for n in sorted(sizes):
        wl = Watchlist(base.model_id, base.dim, list(base.templates))
        for rel in photos[:n]:
            wl.add(f"LFW {rel.split('/')[0]}", vectors[rel].vector, rel, base.model_id)
        calibrated = policy.rule(len(wl.identities)).threshold
        judged = _judge_twice(tracks, truth, wl, calibrated if fixed_threshold is None else fixed_threshold,
                              config.match.min_margin, n_tracks, n)  # fmt: skip
        results.append(judged)
        if fixed_threshold is None:
            floor = config.match.threshold
            baseline.append(_judge_twice(tracks, truth, wl, floor, config.match.min_margin, n_tracks, n))
    return ModelResult(
        engine.model_id, config.match.fpir, tuple(results), fixed_threshold is not None, tuple(baseline)
    )


def _judge_twice(  # noqa: PLR0917
    tracks: Sequence[TrackProbes],
    truth: dict[str, frozenset[str]],
    wl: Watchlist,
    threshold: float,
    min_margin: float,
    n_tracks: int,
    distractors: int,
) -> SizeResult:
    """Judge the tracks, reject that run's false alerts as "not this person", and judge them again."""
    first = judge(
        tracks, truth, wl, threshold=threshold, min_margin=min_margin, n_tracks=n_tracks,
        distractors=distractors,
    )  # fmt: skip
    second = judge(
        tracks, truth, wl, threshold=threshold, min_margin=min_margin, n_tracks=n_tracks,
        distractors=distractors, negatives=rejected(first, tracks),
    )  # fmt: skip
    return replace(first, after_feedback=second)
