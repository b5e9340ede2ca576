"""`vigil bench store`: enrolment throughput, then start-up, memory and 1:N search with 10^6 stored faces.

Part 1 (:mod:`vigil.evaluate.bench_enrol`) enrols LFW photos through the real enrolment service and
reports images/s. Part 2 writes a synthetic gallery (:mod:`vigil.evaluate.synthetic_gallery`: 10^6 unit
vectors of 10^5 people by default) into a fresh store, then starts a fresh process that opens the store
and rebuilds the gallery from it, timed, with its memory, and answers probe queries one at a time
(:mod:`vigil.evaluate.store_startup`). Each probe is a noisy copy of a stored vector, and its nearest
stored vector is found beforehand by brute force, so each answer can be checked: the right person at
rank 1, and exactly the brute-force nearest sample and score (exact search, not approximate).

Both parts run on SQLite and, when asked, on PostgreSQL, each in a fresh database: SQLite in a
temporary folder; PostgreSQL in a private cluster started for the run (:mod:`vigil.evaluate.pg_cluster`)
or in an empty database given by URL, which is emptied again afterwards.

Targets (:data:`TARGET_STARTUP_S`, :data:`TARGET_P99_MS`): start-up with 10^6 faces under 30 s, and a
1:N identification over them under 50 ms at the 99th percentile, with exact search.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, make_url, text

from vigil.errors import BadInput
from vigil.evaluate.bench_enrol import EnrolBench
from vigil.evaluate.machine import Machine
from vigil.evaluate.pg_cluster import LocalCluster
from vigil.evaluate.store_startup import FreshProcess, Queries, Startup, measure_fresh_process
from vigil.evaluate.synthetic_gallery import InsertTimes, Probes, SyntheticGallery, bulk_insert
from vigil.store.db import Database
from vigil.store.migrate import MIGRATIONS, ensure_schema

TARGET_STARTUP_S = 30.0
"""Start-up (fresh process to gallery ready) with 10^6 stored faces must take less than this."""
TARGET_P99_MS = 50.0
"""A 1:N identification over 10^6 faces must take less than this at the 99th percentile."""
STARTUP_RUNS = 2
"""Fresh processes started per database: the first also answers the probes."""
K = 5
EXACT_TOLERANCE = 1e-4
"""Largest difference between the gallery's top score and the brute-force one still taken as equal."""

StageFn = Callable[[str, int, int], None]
"""Called as ``progress(what, done, total)`` while a part runs."""


# --- where fresh databases come from ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spot:
    """A fresh, empty store: its database URL and its data dir (media files, probes)."""

    engine: str
    url: str
    data_dir: Path


class Databases(Protocol):
    """Hands out fresh stores of one kind and cleans each up after use."""

    engine: str

    def fresh(self, label: str) -> AbstractContextManager[Spot]: ...

    def version(self) -> str: ...


class SqliteDatabases:
    """A new SQLite file per store, in a folder under ``root`` deleted after use."""

    engine = "sqlite"

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextmanager
    def fresh(self, label: str) -> Iterator[Spot]:
        data_dir = self.root / f"sqlite-{label}"
        data_dir.mkdir(parents=True)
        try:
            yield Spot(self.engine, f"sqlite:///{data_dir / 'vigil.db'}", data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"


class ClusterDatabases:
    """A new database per store in a private cluster (:class:`LocalCluster`), dropped after use."""

    engine = "postgresql"

    def __init__(self, cluster: LocalCluster, root: Path) -> None:
        self.cluster = cluster
        self.root = root

    @contextmanager
    def fresh(self, label: str) -> Iterator[Spot]:
        name = f"bench_{label}"
        data_dir = self.root / f"pg-{label}"
        data_dir.mkdir(parents=True)
        url = self.cluster.new_database(name)
        try:
            yield Spot(self.engine, url, data_dir)
        finally:
            self.cluster.drop_database(name)
            shutil.rmtree(data_dir, ignore_errors=True)

    def version(self) -> str:
        return f"PostgreSQL {self.cluster.version} (private cluster, stock settings, on disk)"


class GivenDatabase:
    """One database given by URL, used for each store in turn: it must start empty and is emptied after."""

    engine = "postgresql"

    def __init__(self, url: str, root: Path) -> None:
        self.url = url
        self.root = root

    @contextmanager
    def fresh(self, label: str) -> Iterator[Spot]:
        db = Database.from_url(self.url)
        try:
            tables = inspect(db.engine).get_table_names()
            if tables:
                raise BadInput(
                    make_url(self.url).render_as_string(hide_password=True),
                    f"has {len(tables)} tables: the benchmark needs an empty database (it writes "
                    "millions of rows and drops its tables after)",
                )
            data_dir = self.root / f"pg-{label}"
            data_dir.mkdir(parents=True)
            try:
                yield Spot(self.engine, self.url, data_dir)
            finally:
                _downgrade_to_empty(db)
                shutil.rmtree(data_dir, ignore_errors=True)
        finally:
            db.dispose()

    def version(self) -> str:
        db = Database.from_url(self.url)
        try:
            with db.engine.connect() as conn:
                return f"PostgreSQL {conn.execute(text('SHOW server_version')).scalar()} (given by URL)"
        finally:
            db.dispose()


def _downgrade_to_empty(db: Database) -> None:
    """Every migration undone (tables, triggers, functions): the database as it was found."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


# --- results ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Latency:
    """1:N identification times and answers for one FAISS thread count."""

    threads: int
    ms: np.ndarray[tuple[int], np.dtype[np.float32]]
    rank1: int
    exact: int

    @property
    def queries(self) -> int:
        return len(self.ms)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.ms, q)) if len(self.ms) else 0.0

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def passed(self) -> bool:
        return self.queries > 0 and self.p99 < TARGET_P99_MS and self.exact == self.queries

    def as_json(self) -> dict[str, object]:
        return {
            "threads": self.threads,
            "queries": self.queries,
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "p99_ms": round(self.p99, 3),
            "max_ms": round(float(self.ms.max()), 3) if len(self.ms) else 0.0,
            "mean_ms": round(float(self.ms.mean()), 3) if len(self.ms) else 0.0,
            "rank1_correct": self.rank1,
            "exact_matches": self.exact,
        }


def judge(queries: Queries, probes: Probes) -> Latency:
    """Check each answer: the probe's source person at rank 1, and the brute-force nearest sample."""
    rank1 = int(np.sum(queries.top_person == probes.source_people))
    close = np.abs(queries.top_score - probes.truth_scores) <= EXACT_TOLERANCE
    exact = int(np.sum((queries.top_sample == probes.truth_ids) & close))
    return Latency(queries.threads, queries.ms, rank1, exact)


@dataclass(frozen=True, slots=True)
class ScaleResult:
    """One database with the synthetic gallery: writing it, starting on it, searching it.

    Attributes:
        engine: "sqlite" or "postgresql"; version: the server and how it was run.
        faces, people: the gallery's size.
        insert: how long writing it took.
        db_bytes: the database's size on disk afterwards.
        startups: each fresh process's start-up.
        latency: the probe queries with Vigil's FAISS thread count, then with FAISS's default if different.
        vigil_threads: the FAISS thread count Vigil sets (``vigil.app.configure_libraries``).
        library_threads: FAISS's own default (the machine's cores, or OMP_NUM_THREADS).
    """

    engine: str
    version: str
    faces: int
    people: int
    insert: InsertTimes
    db_bytes: int
    startups: tuple[Startup, ...]
    latency: tuple[Latency, ...]
    vigil_threads: int
    library_threads: int

    @property
    def startup_s(self) -> float:
        """The slowest start-up (what the target is judged on)."""
        return max(s.total_s for s in self.startups)

    @property
    def peak_rss_mib(self) -> float:
        return max(s.peak_rss_mib for s in self.startups)

    @property
    def startup_passed(self) -> bool:
        return self.startup_s < TARGET_STARTUP_S

    @property
    def shipped(self) -> Latency | None:
        """The queries as Vigil runs them (the FAISS threads it sets)."""
        return self.latency[0] if self.latency else None

    @property
    def latency_passed(self) -> bool:
        return self.shipped is not None and self.shipped.passed

    def as_json(self) -> dict[str, object]:
        return {
            "engine": self.engine,
            "version": self.version,
            "faces": self.faces,
            "people": self.people,
            "insert": self.insert.as_json(),
            "db_bytes": self.db_bytes,
            "startups": [s.as_json() for s in self.startups],
            "startup_s": round(self.startup_s, 3),
            "startup_passed": self.startup_passed,
            "vigil_threads": self.vigil_threads,
            "faiss_default_threads": self.library_threads,
            "latency": [q.as_json() for q in self.latency],
            "latency_passed": self.latency_passed,
        }


@dataclass(frozen=True, slots=True)
class StoreBenchResult:
    """A whole run: both parts on each database, and where and how it ran."""

    enrol: tuple[EnrolBench, ...]
    scale: tuple[ScaleResult, ...]
    command: str
    machine: Machine
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    probe_noise: float
    k: int = K

    @property
    def verdicts(self) -> list[tuple[bool, str]]:
        """One (passed, sentence) per target and database."""
        out: list[tuple[bool, str]] = []
        for r in self.scale:
            startup = f"start-up with {r.faces:,} faces {r.startup_s:.1f} s (target < {TARGET_STARTUP_S:g} s)"
            out.append((r.startup_passed, f"{r.engine}: {startup}"))
            q = r.shipped
            if q is not None:
                threads = f"{q.threads} thread{'s' * (q.threads > 1)}"
                search = (
                    f"1:N over {r.faces:,} faces p99 {q.p99:.1f} ms, FAISS on {threads} "
                    f"(target < {TARGET_P99_MS:g} ms), {q.exact}/{q.queries} answers exact"
                )
                out.append((q.passed, f"{r.engine}: {search}"))
        return out

    @property
    def passed(self) -> bool:
        return all(ok for ok, _ in self.verdicts)

    def as_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "machine": self.machine.as_json(),
            "load_before": list(self.load_before),
            "load_after": list(self.load_after),
            "enrol": [e.as_json() for e in self.enrol],
            "scale": [r.as_json() for r in self.scale],
            "probe_noise": self.probe_noise,
            "k": self.k,
            "targets": {"startup_s": TARGET_STARTUP_S, "p99_ms": TARGET_P99_MS},
            "verdicts": [{"passed": ok, "what": what} for ok, what in self.verdicts],
            "passed": self.passed,
        }


# --- part 2 -----------------------------------------------------------------------------------------------


def database_bytes(db: Database) -> int:
    """The database's size on disk: the SQLite file with its WAL, or ``pg_database_size``."""
    if db.dialect == "postgresql":
        with db.read() as s:
            return int(s.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    path = make_url(str(db.engine.url)).database
    if not path:
        return 0
    files = [Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")]
    return sum(f.stat().st_size for f in files if f.is_file())


def bench_scale(
    spot: Spot,
    version: str,
    gallery: SyntheticGallery,
    probes: Probes,
    *,
    progress: StageFn | None = None,
) -> ScaleResult:
    """Write ``gallery`` into the fresh store ``spot``, then measure fresh processes starting on it.

    The first process also answers ``probes`` (with the FAISS threads Vigil sets, then with FAISS's own
    default if that differs), each answer checked against the brute-force one.
    """
    db = Database.from_url(spot.url)
    try:
        ensure_schema(db.engine)
        insert = bulk_insert(
            db, gallery, None if progress is None else lambda d, n: progress(f"{spot.engine}: writing", d, n)
        )
        size = database_bytes(db)
    finally:
        db.dispose()
    runs: list[FreshProcess] = []
    for i in range(STARTUP_RUNS):
        if progress is not None:
            progress(f"{spot.engine}: fresh process {i + 1}/{STARTUP_RUNS}", i, STARTUP_RUNS)
        first = i == 0 and len(probes) > 0
        runs.append(
            measure_fresh_process(
                spot.url, spot.data_dir, gallery.model_id, gallery.dim,
                probes=probes.vectors if first else None, k=K,
            )
        )  # fmt: skip
    return ScaleResult(
        engine=spot.engine,
        version=version,
        faces=gallery.faces,
        people=gallery.people,
        insert=insert,
        db_bytes=size,
        startups=tuple(r.startup for r in runs),
        latency=tuple(judge(q, probes) for q in runs[0].queries),
        vigil_threads=runs[0].vigil_threads,
        library_threads=runs[0].library_threads,
    )
