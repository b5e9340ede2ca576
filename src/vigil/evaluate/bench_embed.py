"""`vigil bench embed`: how long each face embedder takes per face, side by side, on real LFW faces.

The faces are found once (the configured detector on the first photo of each LFW person, the face
nearest the centre), then every embedder cuts its own chips with its own aligner and embeds them. Two
things are timed separately, with :func:`time.perf_counter`, after a warm-up:

- **alignment**: ``aligner.chips`` one face at a time (what cutting a chip costs, model aside);
- **embedding**: ``embedder.embed`` over the chips in batches of each size asked, with each number of
  inference threads asked. Every batch holds exactly that many chips (the faces are reused in turn when
  there are fewer faces than a batch), so a batch size means what it says.

A measurement repeats whole rounds (every face once) until it has at least ``min_rounds`` rounds and
``min_seconds`` of timed calls. Each timed call gives one sample, its time divided by its faces; the
median and 90th percentile are over those samples, the mean is total time over total faces. ``cores`` is
the process's CPU seconds per wall second while timing: how many cores the backend really kept busy;
``others_cores`` is the same for every other process on the machine (Linux ``/proc/stat``), so a
measurement disturbed by another job says so.

Threads are given to :func:`~vigil.embed.build_face_model` exactly as the engine gives them. The ONNX
backends run onnxruntime with that many intra-op threads. dlib's backend takes no thread setting: the
dlib wheel here is built without BLAS and runs its network on the calling thread, whatever is asked. It
is measured at every thread setting all the same, so the table shows what the setting does to it
(nothing, within noise; ``cores`` stays near 1) instead of assuming it. A network whose file fixes its
batch at one is run face by face inside the ONNX backend: its larger batches save only the batched
pre- and post-processing.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil.app import configure_libraries
from vigil.config import IngestConfig, VigilConfig
from vigil.config.schema import embed_config_for
from vigil.detect import Detector, build_detector
from vigil.embed import build_face_model
from vigil.embed.base import Aligner, Embedder, FaceModel
from vigil.errors import BadInput, ConfigError
from vigil.evaluate.lfw import central_face
from vigil.evaluate.machine import Machine, load_average, machine_info
from vigil.ingest.images import load_image
from vigil.model_catalogue import DLIB_RESNET, EMBEDDERS, model_id
from vigil.types import FloatArray, Image

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Told what is being measured, and how many of all the measurements are done."""


@dataclass(frozen=True, slots=True)
class EmbedderVariant:
    """One catalogued embedder, with or without mirror averaging (a second pass per face)."""

    name: str
    flip: bool

    @property
    def model_id(self) -> str:
        """The id its vectors carry, which is also how ``--models`` names it (``name`` or ``name+flip``)."""
        return model_id(EMBEDDERS[self.name], self.flip)

    @classmethod
    def parse(cls, text: str) -> EmbedderVariant:
        """A variant from its model id: ``dlib-resnet-v1+flip`` (mirror averaging) or ``dlib-resnet-v1``.

        Raises:
            ConfigError: the name is not in the catalogue.
        """
        name, plus, suffix = text.partition("+")
        if name not in EMBEDDERS or (plus and suffix != "flip"):
            known = ", ".join(v.model_id for v in default_variants())
            raise ConfigError(f"unknown embedder {text!r}: name one of {known} (NAME+flip: mirror averaging)")
        return cls(name, bool(plus))


def default_variants() -> tuple[EmbedderVariant, ...]:
    """Every catalogued embedder as the catalogue runs it; those that mirror-average by default also
    without it, to show what the second pass costs."""
    variants: list[EmbedderVariant] = []
    for spec in EMBEDDERS.values():
        variants.append(EmbedderVariant(spec.name, spec.flip))
        if spec.flip:
            variants.append(EmbedderVariant(spec.name, False))
    return tuple(variants)


BASELINE = EmbedderVariant(DLIB_RESNET.name, flip=True)
"""The speed-ups are against dlib's ResNet with mirror averaging: Vigil's original embedder."""


@dataclass(frozen=True, slots=True)
class BenchEmbedSettings:
    """What to measure and how long.

    Attributes:
        faces: Real faces to embed, one per LFW photo.
        variants: The embedders, in the order they are reported.
        batch_sizes: Chips per ``embed`` call.
        threads: Inference threads per embedder.
        min_rounds: Each measurement runs at least this many rounds (every face once)...
        min_seconds: ...and at least this long.
        max_rounds: And at most this many rounds, however short they are.
        warmup_calls: Untimed calls before each measurement (a new session or batch shape is slow once).
    """

    faces: int = 64
    variants: tuple[EmbedderVariant, ...] = default_variants()
    batch_sizes: tuple[int, ...] = (1, 8)
    threads: tuple[int, ...] = (1, 2)
    min_rounds: int = 3
    min_seconds: float = 2.0
    max_rounds: int = 1000
    warmup_calls: int = 2

    def __post_init__(self) -> None:
        counts = {"faces": self.faces, "min_rounds": self.min_rounds, "max_rounds": self.max_rounds}
        for field_name, value in counts.items():
            if value < 1:
                raise ConfigError(f"bench embed: {field_name} must be at least 1, not {value}")
        if not self.variants or not self.batch_sizes or not self.threads:
            raise ConfigError("bench embed: name at least one embedder, batch size and thread count")
        if min(self.batch_sizes) < 1 or min(self.threads) < 1:
            raise ConfigError("bench embed: batch sizes and thread counts must be at least 1")
        if self.min_seconds < 0 or self.warmup_calls < 0:
            raise ConfigError("bench embed: min_seconds and warmup_calls cannot be negative")

    @property
    def steps(self) -> int:
        """Measurements in all: per embedder, its alignment and one per batch size and thread count."""
        return len(self.variants) * (1 + len(self.batch_sizes) * len(self.threads))


@dataclass(frozen=True, slots=True)
class BenchFaces:
    """Real faces, one per photo: the photo (BGR) with the detector's box (N, 4) and landmarks (N, 5, 2)."""

    photos: tuple[str, ...]
    images: tuple[Image, ...]
    xyxy: FloatArray
    landmarks: FloatArray
    detector: str

    def __len__(self) -> int:
        return len(self.photos)


@dataclass(frozen=True, slots=True)
class Timing:
    """Per-face times of one measurement, in milliseconds.

    Attributes:
        calls: Timed calls (the samples).
        rounds: Rounds run (every face once per round).
        faces: Faces processed in the timed calls.
        median_ms: Median over the calls of the call's time per face.
        p90_ms: 90th percentile of the same.
        mean_ms: Total time over total faces.
        cores: CPU seconds of the process per wall second while timing.
        others_cores: CPU seconds of every other process (and time stolen by a hypervisor) per wall second
            while timing; 0 where the system does not report it.
        seconds: Wall time of the timed calls.
    """

    calls: int
    rounds: int
    faces: int
    median_ms: float
    p90_ms: float
    mean_ms: float
    cores: float
    others_cores: float
    seconds: float

    def as_json(self) -> dict[str, object]:
        return {
            "ms_per_face": {
                "median": round(self.median_ms, 4),
                "p90": round(self.p90_ms, 4),
                "mean": round(self.mean_ms, 4),
            },
            "calls": self.calls,
            "rounds": self.rounds,
            "faces": self.faces,
            "cores": round(self.cores, 3),
            "others_cores": round(self.others_cores, 3),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class EmbedRun:
    """The embedding time of one embedder at one batch size and thread count."""

    batch: int
    threads: int
    timing: Timing


@dataclass(frozen=True, slots=True)
class VariantResult:
    """One embedder's alignment time and its embedding time at every batch size and thread count."""

    variant: EmbedderVariant
    input_size: int
    dim: int
    align: Timing
    runs: tuple[EmbedRun, ...]

    def at(self, batch: int, threads: int) -> Timing | None:
        """The embedding time at that batch size and thread count, None when not measured."""
        return next((r.timing for r in self.runs if (r.batch, r.threads) == (batch, threads)), None)


@dataclass(frozen=True, slots=True)
class EmbedBenchResult:
    """Every measurement of one run, with where and under what load it ran."""

    settings: BenchEmbedSettings
    detector: str
    photos: tuple[str, ...]
    variants: tuple[VariantResult, ...]
    machine: Machine
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    @property
    def baseline(self) -> VariantResult | None:
        """dlib with mirror averaging, when it was measured in this run."""
        return next((v for v in self.variants if v.variant == BASELINE), None)

    def speedup(self, result: VariantResult, batch: int, threads: int) -> float | None:
        """How many times faster per face (median) than the baseline at the same batch size and threads."""
        base = self.baseline
        mine = result.at(batch, threads)
        theirs = base.at(batch, threads) if base is not None else None
        if mine is None or theirs is None:
            return None
        return theirs.median_ms / mine.median_ms

    def as_json(self) -> dict[str, object]:
        s = self.settings
        return {
            "faces": s.faces,
            "batch_sizes": list(s.batch_sizes),
            "threads": list(s.threads),
            "min_rounds": s.min_rounds,
            "min_seconds": s.min_seconds,
            "warmup_calls": s.warmup_calls,
            "detector": self.detector,
            "photos": list(self.photos),
            "baseline": BASELINE.model_id if self.baseline is not None else None,
            "machine": self.machine.as_json(),
            "load_before": list(self.load_before),
            "load_after": list(self.load_after),
            "embedders": [
                {
                    "model_id": v.variant.model_id,
                    "name": v.variant.name,
                    "flip": v.variant.flip,
                    "input_size": v.input_size,
                    "dim": v.dim,
                    "align": v.align.as_json(),
                    "embed": [
                        {
                            "batch": r.batch,
                            "threads": r.threads,
                            **r.timing.as_json(),
                            "speedup": _rounded(self.speedup(v, r.batch, r.threads)),
                        }
                        for r in v.runs
                    ],
                }
                for v in self.variants
            ],
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def collect_faces(detector: Detector, images: Path, count: int, ingest: IngestConfig) -> BenchFaces:
    """The central face of the first photo of each LFW person (in name order) until ``count`` are found.

    Raises:
        BadInput: the folder is missing, or holds fewer faces than asked.
    """
    if not images.is_dir():
        raise BadInput(images, "LFW images folder not found (set VIGIL_TEST_DATA or give --lfw)")
    photos: list[str] = []
    pixels: list[Image] = []
    boxes: list[FloatArray] = []
    points: list[FloatArray] = []
    for person in sorted(p for p in images.iterdir() if p.is_dir()):
        first = min(person.glob("*.jpg"), default=None)
        if first is None:
            continue
        image = load_image(first, ingest)
        dets = detector.detect(image)
        i = central_face(dets, (int(image.shape[1]), int(image.shape[0])))
        if i is None:
            continue
        photos.append(first.relative_to(images).as_posix())
        pixels.append(image)
        boxes.append(dets.xyxy[i])
        points.append(dets.landmarks[i])
        if len(photos) == count:
            return BenchFaces(tuple(photos), tuple(pixels), np.stack(boxes), np.stack(points), detector.name)
    raise BadInput(images, f"only {len(photos)} photos with a face found, {count} asked")


Call = Callable[[], int]
"""One timed call: does the work, returns how many faces it did."""


def measure(calls: Sequence[Call], settings: BenchEmbedSettings) -> Timing:
    """Run the calls of one round, round after round, until the settings' rounds and seconds are met."""
    gc.collect()
    per_face: list[float] = []
    total_s, faces, rounds = 0.0, 0, 0
    busy_start, cpu_start, wall_start = _busy_cpu_s(), time.process_time(), time.perf_counter()
    while rounds < settings.max_rounds and (rounds < settings.min_rounds or total_s < settings.min_seconds):
        for call in calls:
            start = time.perf_counter()
            n = call()
            seconds = time.perf_counter() - start
            total_s += seconds
            faces += n
            per_face.append(1000 * seconds / n)
        rounds += 1
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    busy = _busy_cpu_s() - busy_start
    samples = np.asarray(per_face)
    return Timing(
        calls=len(per_face),
        rounds=rounds,
        faces=faces,
        median_ms=float(np.median(samples)),
        p90_ms=float(np.percentile(samples, 90)),
        mean_ms=1000 * total_s / faces,
        cores=cpu / wall if wall > 0 else 0.0,
        others_cores=max(0.0, busy - cpu) / wall if wall > 0 and busy > 0 else 0.0,
        seconds=total_s,
    )


def _busy_cpu_s() -> float:
    """CPU seconds every process has used since boot, with time stolen by a hypervisor (Linux
    ``/proc/stat``); 0 where the system does not report it."""
    try:
        with Path("/proc/stat").open(encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return 0.0
    if len(fields) < 9 or fields[0] != "cpu":
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _align_calls(aligner: Aligner, faces: BenchFaces) -> list[Call]:
    def call(i: int) -> Call:
        def run() -> int:
            return len(aligner.chips(faces.images[i], faces.xyxy[i : i + 1], faces.landmarks[i : i + 1]))

        return run

    return [call(i) for i in range(len(faces))]


def _embed_calls(embedder: Embedder, chips: Sequence[Image], batch: int) -> list[Call]:
    """Calls of ``batch`` chips each covering every chip once (reusing them in turn to fill the last)."""
    n = len(chips)

    def call(start: int) -> Call:
        group = [chips[(start + j) % n] for j in range(batch)]

        def run() -> int:
            embedder.embed(group)
            return batch

        return run

    return [call(k * batch) for k in range(math.ceil(n / batch))]


def cut_chips(model: FaceModel, faces: BenchFaces) -> list[Image]:
    chips: list[Image] = []
    for i in range(len(faces)):
        cut = model.aligner.chips(faces.images[i], faces.xyxy[i : i + 1], faces.landmarks[i : i + 1])
        if len(cut) != 1:
            raise BadInput(faces.photos[i], f"{model.spec.name}'s aligner cut {len(cut)} chips for one face")
        chips.append(cut[0])
    return chips


def _bench_variant(
    variant: EmbedderVariant,
    config: VigilConfig,
    faces: BenchFaces,
    settings: BenchEmbedSettings,
    tick: Callable[[str], None],
) -> VariantResult:
    section = embed_config_for(variant.name).model_copy(update={"flip": variant.flip})
    label = variant.model_id
    first = build_face_model(section, config.model_dir, faces.detector, settings.threads[0])
    tick(f"{label}: alignment")
    chips = cut_chips(first, faces)
    align = measure(_align_calls(first.aligner, faces), settings)
    runs: list[EmbedRun] = []
    for k, threads in enumerate(settings.threads):
        model = first if k == 0 else build_face_model(section, config.model_dir, faces.detector, threads)
        for batch in settings.batch_sizes:
            tick(f"{label}: batch {batch}, {threads} thread{'s' if threads > 1 else ''}")
            calls = _embed_calls(model.embedder, chips, batch)
            for j in range(settings.warmup_calls):
                calls[j % len(calls)]()
            runs.append(EmbedRun(batch, threads, measure(calls, settings)))
    spec = EMBEDDERS[variant.name]
    return VariantResult(variant, spec.input_size, spec.dim, align, tuple(runs))


def run_bench_embed(
    config: VigilConfig,
    images: Path,
    settings: BenchEmbedSettings,
    progress: Progress | None = None,
) -> EmbedBenchResult:
    """Find ``settings.faces`` faces in the LFW ``images`` folder, then time every embedder on them.

    The configured detector (and model folder) are used; each embedder gets its catalogue's default
    ``embed`` section with only ``flip`` set, so a config file's own ``embed`` section changes nothing.

    Raises:
        BadInput: the LFW folder is missing or has too few faces.
        ModelError: an embedder's model file is missing.
    """
    load_before = load_average()
    configure_libraries()
    done = 0

    def tick(label: str) -> None:
        nonlocal done
        if progress is not None:
            progress(label, done, settings.steps)
        done += 1

    if progress is not None:
        progress(f"finding {settings.faces} faces", 0, settings.steps)
    detector = build_detector(config.detector, config.model_dir)
    faces = collect_faces(detector, images, settings.faces, config.ingest)
    log.info("bench embed: %d faces found by %s", len(faces), faces.detector)
    results = tuple(_bench_variant(v, config, faces, settings, tick) for v in settings.variants)
    if progress is not None:
        progress("done", settings.steps, settings.steps)
    return EmbedBenchResult(
        settings=settings,
        detector=faces.detector,
        photos=faces.photos,
        variants=results,
        machine=machine_info(),
        load_before=load_before,
        load_after=load_average(),
    )
