"""Enrolment throughput: LFW photos through the real :class:`~vigil.services.enrol.EnrolmentService`.

One enrolment request per LFW identity folder (all its photos, or those drawn by ``limit``), on the list
:data:`LFW_LIST` of a fresh store. The service does what it does for an operator: decode, detect,
align, embed (dlib ResNet, mirror-averaged: two passes), the quality gate, the duplicate check against
the gallery, the photo and crop files (written and fsynced), then one audited transaction per person.
Photos the gate refuses (no face, several faces, too small, blurred, turned away) are counted by
reason; they are the service working, not errors.

The service embeds one photo at a time in its caller's process, so the work is spread over worker
processes, one identity per task, each with its own models and its own service over the same database
(SQLite queues their write transactions; the audit chain serialises them on PostgreSQL). Each worker's
in-memory gallery holds only the people it enrolled itself, so the duplicate check ("looks like someone
already enrolled") sees part of the list; nothing else differs from one process doing it all.

The time inside the service is split by instrumented subclasses of the service's collaborators:
detect + align + embed (the :class:`~vigil.embed.stills.StillEncoder`), media files
(:class:`~vigil.store.media.MediaStore`), the write transaction (:meth:`Database.write`), and the rest
(reading and decoding the file, quality scores, the crop's JPEG, the duplicate search, reads).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import cv2
import faiss
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.app import Engine, build_engine
from vigil.config import VigilConfig
from vigil.embed.stills import StillEncoder, StillFaces
from vigil.errors import BadInput, StoreError
from vigil.match.folder import list_photos
from vigil.match.thresholds import UNCALIBRATED
from vigil.runtime.pipeline import StageClock
from vigil.services.enrol import EnrolmentRejected, EnrolmentService, EnrolRequest, Photo, PhotoVerdict
from vigil.services.gallery import load_gallery
from vigil.services.lists import ListService, ListSettings
from vigil.store import audit
from vigil.store.db import Database, make_engine
from vigil.store.media import MediaStore
from vigil.store.migrate import ensure_schema
from vigil.store.tables import FaceSample, Person
from vigil.types import Image

log = logging.getLogger(__name__)

LFW_LIST = "lfw"
ACTOR = "bench:store"
STAGES = ("detect_align_embed", "media_files", "db_write")
_READY_TIMEOUT_S = 300.0
_POLL_S = 0.2

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(photos_done, photos_total)``."""


@dataclass(frozen=True, slots=True)
class PersonPhotos:
    """One LFW identity folder: the person's name (underscores as spaces) and the photos to enrol."""

    name: str
    paths: tuple[Path, ...]


def lfw_people(root: Path, limit: int | None = None, seed: int = 0) -> list[PersonPhotos]:
    """The identities under ``root`` (``<Name>/<photo>``), with ``limit`` photos drawn at random if given.

    Largest first, so that worker processes finish together.

    Raises:
        BadInput: ``root`` is not a folder of person folders, or holds no photo.
    """
    photos, _problems = list_photos(root)
    if not photos:
        raise BadInput(root, "no photos in <name>/<photo> folders")
    if limit is not None and limit < len(photos):
        keep = np.sort(np.random.default_rng(seed).choice(len(photos), limit, replace=False))
        photos = [photos[i] for i in keep.tolist()]
    grouped: dict[str, list[Path]] = {}
    for identity, path in photos:
        grouped.setdefault(identity, []).append(path)
    people = [PersonPhotos(" ".join(name.replace("_", " ").split()), tuple(p)) for name, p in grouped.items()]
    return sorted(people, key=lambda p: (-len(p.paths), p.name))


def reason_kind(reason: str) -> str:
    """A refusal reason with its numbers replaced by ``#``, so that like reasons are counted together.

    >>> reason_kind("face is 61 px, below the minimum of 80 px")
    'face is # px, below the minimum of # px'
    """
    return re.sub(r"\d+(?:\.\d+)?", "#", reason)


# --- results ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonOutcome:
    """What the service did with one identity's request, and the seconds spent where."""

    photos: int
    accepted: int
    refused: dict[str, int]
    refused_photos: int
    created: bool
    seconds: dict[str, float]


@dataclass(frozen=True, slots=True)
class EnrolBench:
    """Enrolment of LFW photos into one database.

    Attributes:
        engine: "sqlite" or "postgresql".
        workers: worker processes (each with its own models and service).
        people: identities submitted; photos: photos submitted.
        accepted: photos now enrolled as face samples; refused_photos: photos the service refused.
        refused: refusals by kind (:func:`reason_kind`); a photo may have several.
        people_enrolled: identities with at least one accepted photo.
        wall_s: from the first request to the last answer (model loading excluded).
        models_s: time each worker took to load the models (the longest).
        seconds: worker-seconds per stage (:data:`STAGES`, plus "other"), summed over workers.
        samples_in_db: face samples counted in the database afterwards.
        audit_rows: audit rows afterwards, the hash chain verified intact.
    """

    engine: str
    workers: int
    people: int
    photos: int
    accepted: int
    refused_photos: int
    refused: dict[str, int]
    people_enrolled: int
    wall_s: float
    models_s: float
    seconds: dict[str, float]
    samples_in_db: int
    audit_rows: int

    @property
    def images_per_s(self) -> float:
        return self.photos / self.wall_s if self.wall_s > 0 else 0.0

    def ms_per_photo(self, stage: str) -> float:
        """Worker milliseconds per submitted photo spent in ``stage``."""
        return 1000 * self.seconds.get(stage, 0.0) / max(self.photos, 1)

    def as_json(self) -> dict[str, object]:
        return {
            "engine": self.engine,
            "workers": self.workers,
            "people": self.people,
            "photos": self.photos,
            "accepted": self.accepted,
            "refused_photos": self.refused_photos,
            "refused": dict(sorted(self.refused.items(), key=lambda kv: -kv[1])),
            "people_enrolled": self.people_enrolled,
            "wall_s": round(self.wall_s, 3),
            "models_s": round(self.models_s, 3),
            "images_per_s": round(self.images_per_s, 3),
            "worker_seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "ms_per_photo": {k: round(self.ms_per_photo(k), 2) for k in self.seconds},
            "samples_in_db": self.samples_in_db,
            "audit_rows": self.audit_rows,
        }


# --- instrumented collaborators ------------------------------------------------------------------------


class _TimedStills(StillEncoder):
    def __init__(self, engine: Engine, clock: StageClock) -> None:
        super().__init__(engine.detector, engine.aligner, engine.embedder)
        self._clock = clock

    def encode(self, image: Image) -> StillFaces:
        with self._clock.timing("detect_align_embed"):
            return super().encode(image)


class _TimedMedia(MediaStore):
    def __init__(self, root: Path, clock: StageClock) -> None:
        super().__init__(root)
        self._clock = clock

    def put(self, kind: str, data: bytes, suffix: str) -> str:
        with self._clock.timing("media_files"):
            return super().put(kind, data, suffix)


class _TimedDatabase(Database):
    def __init__(self, url: str, clock: StageClock) -> None:
        super().__init__(make_engine(url))
        self._clock = clock

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._clock.timing("db_write"), super().write() as s:
            yield s


@dataclass(frozen=True, slots=True)
class EnrolSetup:
    """What every worker needs to build its own service (picklable)."""

    config: VigilConfig
    url: str
    data_dir: Path


class _Enroller:
    """The real service over instrumented collaborators, in one process."""

    def __init__(self, setup: EnrolSetup, engine: Engine) -> None:
        self.clock = StageClock()
        self.db = _TimedDatabase(setup.url, self.clock)
        cfg = setup.config
        gallery = load_gallery(self.db, engine.embedder.model_id, engine.embedder.dim)
        self.service = EnrolmentService(
            self.db, _TimedMedia(setup.data_dir / "media", self.clock), _TimedStills(engine, self.clock),
            gallery, ingest=cfg.ingest, gate=cfg.enrol, duplicate_threshold=cfg.match.threshold,
        )  # fmt: skip

    def enrol(self, person: PersonPhotos, progress: Callable[[int, int], None] | None) -> PersonOutcome:
        self.clock.seconds.clear()
        start = time.perf_counter()
        photos = [Photo(p.name, p.read_bytes()) for p in person.paths]
        request = EnrolRequest(
            list_name=LFW_LIST, name=person.name, reason="benchmark: LFW enrolment throughput",
            photos=photos, photo_source="LFW (lfw.cs.umass.edu)",
        )  # fmt: skip
        created = False
        verdicts: list[PhotoVerdict]
        try:
            result = self.service.enrol(ACTOR, request, progress)
            verdicts, created = result.verdicts, result.created
        except EnrolmentRejected as exc:
            verdicts = exc.verdicts
        except BadInput as exc:  # the request as a whole (e.g. the name): every photo refused for it
            verdicts = [PhotoVerdict(p.name, False, (exc.reason,)) for p in photos]
        seconds = dict(self.clock.seconds)
        seconds["other"] = time.perf_counter() - start - sum(seconds.values())
        refused = Counter(reason_kind(r) for v in verdicts if not v.accepted for r in v.reasons)
        return PersonOutcome(
            photos=len(photos),
            accepted=sum(v.accepted for v in verdicts),
            refused=dict(refused),
            refused_photos=sum(not v.accepted for v in verdicts),
            created=created,
            seconds=seconds,
        )

    def close(self) -> None:
        self.db.dispose()


# --- worker processes -----------------------------------------------------------------------------------

_worker: _Enroller | None = None
_events: Any = None  # the multiprocessing queue to the parent: ("ready", seconds) and ("photo", 1)


def _init_worker(setup: EnrolSetup, events: Any) -> None:
    global _worker, _events  # one service per worker process, built once by the pool
    logging.basicConfig(level=logging.WARNING)
    cv2.setNumThreads(1)  # one process per core already: no thread pools competing inside each
    faiss.omp_set_num_threads(1)
    start = time.perf_counter()
    try:
        _worker, _events = _Enroller(setup, build_engine(setup.config)), events
    except Exception as exc:
        events.put(("failed", f"{type(exc).__name__}: {exc}"))
        raise
    events.put(("ready", time.perf_counter() - start))


def _work(person: PersonPhotos) -> PersonOutcome:
    if _worker is None or _events is None:
        raise RuntimeError("worker not initialised")
    events = _events
    return _worker.enrol(person, lambda _done, _n: events.put(("photo", 1)))


def prepare_store(url: str, data_dir: Path) -> None:
    """Create the schema and the list :data:`LFW_LIST` in a fresh store.

    Raises:
        BadInput: the database already holds people.
    """
    db = Database.from_url(url)
    try:
        ensure_schema(db.engine)
        with db.read() as s:
            if s.scalar(select(func.count()).select_from(Person)):
                raise BadInput("database", "already holds people: the benchmark needs an empty one")
        ListService(db, UNCALIBRATED).create(
            ACTOR, LFW_LIST, ListSettings(description="LFW photos, vigil bench store"),
            reason="benchmark: LFW enrolment throughput",
        )  # fmt: skip
    finally:
        db.dispose()
    (data_dir / "media").mkdir(parents=True, exist_ok=True)


def bench_enrol(
    setup: EnrolSetup,
    people: list[PersonPhotos],
    *,
    workers: int,
    engine: Engine | None = None,
    progress: ProgressFn | None = None,
) -> EnrolBench:
    """Enrol ``people`` into the fresh store of ``setup`` and measure it.

    Args:
        setup: config, database URL and data dir (see :func:`prepare_store`).
        people: the requests, largest first.
        workers: worker processes; 1 runs in this process with ``engine`` (built if None).
        engine: models already loaded, for ``workers == 1``.
        progress: called after each photo.

    Raises:
        StoreError: a worker could not start.
    """
    prepare_store(setup.url, setup.data_dir)
    total = sum(len(p.paths) for p in people)
    if workers <= 1:
        start = time.perf_counter()
        enroller = _Enroller(setup, engine or build_engine(setup.config))
        models_s = time.perf_counter() - start
        done = 0

        def tick(_i: int, _n: int) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        start = time.perf_counter()
        try:
            outcomes = [enroller.enrol(p, tick) for p in people]
        finally:
            enroller.close()
        wall_s = time.perf_counter() - start
    else:
        outcomes, wall_s, models_s = _in_workers(setup, people, workers, total, progress)
    return _summarise(setup, people, outcomes, workers=workers, wall_s=wall_s, models_s=models_s)


def _in_workers(
    setup: EnrolSetup, people: list[PersonPhotos], workers: int, total: int, progress: ProgressFn | None
) -> tuple[list[PersonOutcome], float, float]:
    build_engine(setup.config)  # fail here on a missing model, not in workers the pool keeps restarting
    ctx = mp.get_context("spawn")  # a clean process: no threads or OpenMP state inherited through fork
    events = ctx.Queue()
    pool: Pool = ctx.Pool(workers, _init_worker, (setup, events))
    try:
        models_s = max(_wait_ready(events, workers))
        start = time.perf_counter()
        results = pool.imap_unordered(_work, people, chunksize=1)
        outcomes: list[PersonOutcome] = []
        done = 0
        while len(outcomes) < len(people):
            with suppress(mp.TimeoutError):
                outcomes.append(results.next(timeout=_POLL_S))
            done += _drain(events)
            if progress is not None:
                progress(done, total)
        wall_s = time.perf_counter() - start
        pool.close()
    finally:
        pool.terminate()
        pool.join()
    return outcomes, wall_s, models_s


def _wait_ready(events: Any, workers: int) -> list[float]:
    ready: list[float] = []
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while len(ready) < workers:
        try:
            kind, value = events.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty as exc:
            raise StoreError(
                f"{workers - len(ready)} enrolment workers did not start in {_READY_TIMEOUT_S:.0f} s"
            ) from exc
        if kind == "failed":
            raise StoreError(f"an enrolment worker could not start: {value}")
        if kind == "ready":
            ready.append(float(value))
    return ready


def _drain(events: Any) -> int:
    photos = 0
    while True:
        try:
            kind, value = events.get_nowait()
        except queue.Empty:
            return photos
        if kind == "photo":
            photos += int(value)


def _summarise(
    setup: EnrolSetup,
    people: list[PersonPhotos],
    outcomes: list[PersonOutcome],
    *,
    workers: int,
    wall_s: float,
    models_s: float,
) -> EnrolBench:
    refused: Counter[str] = Counter()
    seconds = dict.fromkeys((*STAGES, "other"), 0.0)
    for o in outcomes:
        refused.update(o.refused)
        for stage, spent in o.seconds.items():
            seconds[stage] = seconds.get(stage, 0.0) + spent
    db = Database.from_url(setup.url)
    try:
        with db.read() as s:
            samples = s.scalar(select(func.count()).select_from(FaceSample)) or 0
            chain = audit.verify(s)
    finally:
        db.dispose()
    if not chain.ok:
        raise StoreError(f"the audit chain broke at row {chain.broken_at}: {chain.reason}")
    return EnrolBench(
        engine=db.dialect,
        workers=workers,
        people=len(people),
        photos=sum(o.photos for o in outcomes),
        accepted=sum(o.accepted for o in outcomes),
        refused_photos=sum(o.refused_photos for o in outcomes),
        refused=dict(refused),
        people_enrolled=sum(o.accepted > 0 for o in outcomes),
        wall_s=wall_s,
        models_s=models_s,
        seconds=seconds,
        samples_in_db=samples,
        audit_rows=chain.rows,
    )
