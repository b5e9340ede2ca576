"""A synthetic gallery for scale tests: up to millions of stored faces, written straight into the store.

The vectors are random normal, L2-normalised float32, drawn chunk by chunk from a seeded generator, so
any chunk can be drawn again instead of kept: memory stays at one chunk however large the gallery.
Sample ``i`` (ids from 1) belongs to person ``(i - 1) % people + 1``; every person has one entry on the
list :data:`SYNTHETIC_LIST`.

:func:`bulk_insert` writes them the fast way a migration or an import tool would, not through the
enrolment service (which judges and embeds photos, one transaction per person): SQLAlchemy Core
``executemany`` in chunks (one transaction each), or ``COPY`` on PostgreSQL. The rows look like the
service's: same columns, a real model id, a quality record, and an audit row saying what was loaded.

Example:
    >>> synthetic = SyntheticGallery(faces=1_000_000, people=100_000, model_id="dlib-resnet-v1+flip")
    >>> times = bulk_insert(db, synthetic)  # doctest: +SKIP
    >>> probes = make_probes(synthetic, 1000)  # noisy copies of stored vectors, with the exact answer
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from vigil.errors import BadInput, StoreError
from vigil.match.thresholds import UNCALIBRATED
from vigil.services.lists import ListService, ListSettings
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.tables import Base, FaceSample, Person, WatchlistEntry
from vigil.types import FloatArray, IntArray

SYNTHETIC_LIST = "synthetic"
ACTOR = "bench:store"
CHUNK = 50_000
PROBE_NOISE = 0.5
"""Length of the Gaussian noise added to a stored unit vector to make a probe (cosine ≈ 0.89 to it)."""

_QUALITY = {"size_px": 120.0, "sharpness": 0.8, "frontal": 0.9, "det_score": 0.95, "edge": 1.0, "total": 0.85}
_TRUTH_BLOCK = 256  # probes per brute-force block: 256 × CHUNK float32 scores = 51 MB

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with face samples as the unit."""


@dataclass(frozen=True, slots=True)
class SyntheticGallery:
    """``faces`` unit vectors of ``dim`` floats spread over ``people`` people, reproducible from ``seed``."""

    faces: int
    people: int
    model_id: str
    dim: int = 128
    seed: int = 0
    chunk: int = CHUNK

    def __post_init__(self) -> None:
        if self.faces < 1 or not 1 <= self.people <= self.faces:
            raise BadInput(
                f"{self.faces} faces of {self.people} people", "need 1 ≤ people ≤ faces (each has a face)"
            )

    @property
    def n_chunks(self) -> int:
        return -(-self.faces // self.chunk)

    def person_of(self, sample_ids: IntArray) -> IntArray:
        person: IntArray = (sample_ids - 1) % self.people + 1
        return person

    def chunk_ids(self, c: int) -> IntArray:
        start = c * self.chunk
        return np.arange(start + 1, min(start + self.chunk, self.faces) + 1, dtype=np.int64)

    def chunk_vectors(self, c: int) -> FloatArray:
        """The unit vectors of chunk ``c`` (the same every time)."""
        n = len(self.chunk_ids(c))
        raw = np.random.default_rng([self.seed, c]).standard_normal((n, self.dim), dtype=np.float32)
        return _unit(raw)

    def chunks(self) -> Iterator[tuple[IntArray, FloatArray]]:
        """(sample ids, vectors) chunk by chunk."""
        for c in range(self.n_chunks):
            yield self.chunk_ids(c), self.chunk_vectors(c)


def _unit(v: FloatArray) -> FloatArray:
    out: FloatArray = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class Probes:
    """Noisy copies of stored vectors, and the right answers.

    Attributes:
        vectors: the probes (N, dim), unit length.
        source_ids: the sample each probe was made from.
        source_people: that sample's person: the right rank-1 answer.
        truth_ids: the stored sample nearest each probe by brute force over the whole gallery.
        truth_scores: its cosine similarity to the probe.
    """

    vectors: FloatArray
    source_ids: IntArray
    source_people: IntArray
    truth_ids: IntArray
    truth_scores: FloatArray

    def __len__(self) -> int:
        return len(self.vectors)


def make_probes(gallery: SyntheticGallery, n: int, noise: float = PROBE_NOISE, seed: int = 1) -> Probes:
    """``n`` probes from distinct random samples, with their brute-force nearest neighbours.

    Two passes over the gallery's chunks (to find the sources, then to search them all with NumPy);
    about 10 s for 10^6 faces and 1,000 probes.
    """
    rng = np.random.default_rng(seed)
    n = min(n, gallery.faces)
    source_ids = np.sort(rng.choice(gallery.faces, n, replace=False)).astype(np.int64) + 1
    sources = np.empty((n, gallery.dim), np.float32)
    chunk_of = (source_ids - 1) // gallery.chunk
    for c in np.unique(chunk_of).tolist():
        rows = np.flatnonzero(chunk_of == c)
        sources[rows] = gallery.chunk_vectors(c)[source_ids[rows] - 1 - c * gallery.chunk]
    noisy = sources + rng.standard_normal(sources.shape, dtype=np.float32) * np.float32(
        noise / np.sqrt(gallery.dim)
    )
    vectors = _unit(noisy)
    truth_ids = np.zeros(n, np.int64)
    truth_scores = np.full(n, -np.inf, np.float32)
    for ids, chunk in gallery.chunks():
        for lo in range(0, n, _TRUTH_BLOCK):
            block = slice(lo, lo + _TRUTH_BLOCK)
            scores = vectors[block] @ chunk.T
            best = np.argmax(scores, axis=1)
            best_scores = scores[np.arange(len(best)), best]
            better = best_scores > truth_scores[block]
            truth_ids[block] = np.where(better, ids[best], truth_ids[block])
            truth_scores[block] = np.where(better, best_scores, truth_scores[block])
    return Probes(vectors, source_ids, gallery.person_of(source_ids), truth_ids, truth_scores)


# --- writing -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InsertTimes:
    """Seconds spent writing a synthetic gallery.

    Attributes:
        people_s: the list, the people and their list entries.
        samples_s: the face samples (vectors), in chunks.
        finish_s: sequences, statistics (PostgreSQL ``ANALYZE``) and the audit row.
        samples: face samples written.
        method: how rows were sent ("executemany" or "COPY").
    """

    people_s: float
    samples_s: float
    finish_s: float
    samples: int
    method: str

    @property
    def total_s(self) -> float:
        return self.people_s + self.samples_s + self.finish_s

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.samples_s if self.samples_s > 0 else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "people_s": round(self.people_s, 3),
            "samples_s": round(self.samples_s, 3),
            "finish_s": round(self.finish_s, 3),
            "total_s": round(self.total_s, 3),
            "samples": self.samples,
            "samples_per_s": round(self.samples_per_s, 1),
            "method": self.method,
        }


Row = tuple[Any, ...]


def _write_rows(s: Session, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
    """COPY on PostgreSQL (psycopg adapts each value); SQLAlchemy Core executemany elsewhere."""
    if s.get_bind().dialect.name == "postgresql":
        raw = s.connection().connection.driver_connection
        if not isinstance(raw, psycopg.Connection):
            raise StoreError(f"COPY needs the psycopg driver, not {type(raw).__name__}")
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with raw.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    s.execute(insert(Base.metadata.tables[table]), [dict(zip(columns, row, strict=True)) for row in rows])


def _check_empty(db: Database) -> None:
    with db.read() as s:
        people = s.scalar(select(func.count()).select_from(Person)) or 0
        samples = s.scalar(select(func.count()).select_from(FaceSample)) or 0
    if people or samples:
        raise BadInput(
            "database", f"holds {people} people and {samples} face samples: the benchmark needs an empty one"
        )


def bulk_insert(db: Database, gallery: SyntheticGallery, progress: ProgressFn | None = None) -> InsertTimes:
    """Write ``gallery`` into an empty store: list, people, entries, samples, one audit row.

    Raises:
        BadInput: the database already holds people or face samples.
    """
    _check_empty(db)
    postgres = db.dialect == "postgresql"
    now = datetime.now(UTC)
    start = time.perf_counter()
    wl = ListService(db, UNCALIBRATED).create(
        ACTOR, SYNTHETIC_LIST, ListSettings(description="synthetic faces for vigil bench store"),
        reason="benchmark: synthetic gallery",
    )  # fmt: skip
    person_ids = range(1, gallery.people + 1)
    with db.write() as s:
        _write_rows(
            s, Person.__tablename__, ("id", "name", "notes", "created_by", "created_at"),
            ((i, f"Synthetic {i:07d}", "", ACTOR, now) for i in person_ids),
        )  # fmt: skip
        _write_rows(
            s, WatchlistEntry.__tablename__,
            ("id", "watchlist_id", "person_id", "reason", "photo_source", "added_by", "approved_by",
             "added_at", "expires_at"),
            ((i, wl.id, i, "benchmark", "synthetic", ACTOR, None, now, None) for i in person_ids),
        )  # fmt: skip
    people_s = time.perf_counter() - start
    quality: object = json.dumps(_QUALITY) if postgres else _QUALITY
    columns = ("id", "person_id", "photo_sha256", "photo_path", "crop_path", "embedding", "model_id", "dim",
               "quality", "weak", "created_at")  # fmt: skip
    start = time.perf_counter()
    for ids, vectors in gallery.chunks():
        blobs = vectors.astype("<f4")
        rows = zip(
            ids.tolist(), gallery.person_of(ids).tolist(), (f"{i:064x}" for i in ids.tolist()),
            repeat(""), repeat(""), (b.tobytes() for b in blobs), repeat(gallery.model_id),
            repeat(gallery.dim), repeat(quality), repeat(False), repeat(now),
        )  # fmt: skip
        with db.write() as s:
            _write_rows(s, FaceSample.__tablename__, columns, rows)
        if progress is not None:
            progress(int(ids[-1]), gallery.faces)
    samples_s = time.perf_counter() - start
    start = time.perf_counter()
    with db.write() as s:
        if postgres:
            for table in ("people", "watchlist_entries", "face_samples"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                s.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"))
        audit.append(
            s, ACTOR, "bench.synthetic", f"list:{SYNTHETIC_LIST}", reason="benchmark: synthetic gallery",
            details={"faces": gallery.faces, "people": gallery.people, "seed": gallery.seed,
                     "model_id": gallery.model_id},
        )  # fmt: skip
    if postgres:  # what autovacuum would do within a minute of such a load, done now so runs compare
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    finish_s = time.perf_counter() - start
    return InsertTimes(people_s, samples_s, finish_s, gallery.faces, "COPY" if postgres else "executemany")
