"""`vigil bench vector-engines`: pgvector (IVFFlat and HNSW) against Vigil's FAISS archive index, on the
same synthetic faces and the same probes, in one run.

PostgreSQL with pgvector is not a Debian package here; the PyPI wheel ``pgserver`` (``pip install
'vigil[pgvector]'``) bundles a PostgreSQL 16 server with the extension. This module starts a private
cluster from the wheel's own binaries (:class:`~vigil.evaluate.pg_cluster.LocalCluster`: a temporary
folder, 127.0.0.1 only, deleted after), loads the vectors by binary ``COPY`` and measures each index
one query at a time over the loopback connection, as a search by photo would ask it. The faces are
:class:`~vigil.evaluate.synthetic_gallery.SyntheticGallery` unit vectors at faceplugin-fr512's 512
dimensions, the probes noisy copies of stored faces with their brute-force nearest face as the right
answer (as in ``vigil bench search``, whose FAISS runs are reused here unchanged).
"""

from __future__ import annotations

import importlib.util
import math
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

from vigil.errors import StoreError
from vigil.evaluate.bench_search import IndexRun, faiss_runs
from vigil.evaluate.pg_cluster import SUPERUSER, LocalCluster
from vigil.evaluate.synthetic_gallery import Probes, SyntheticGallery, make_probes
from vigil.search.index import IvfSettings
from vigil.types import FloatArray

DIM = 512  # faceplugin-fr512's, at which docs/benchmarks.md measured them (the default fusion: 704)
TOP_K = 10
WARMUP_QUERIES = 20  # untimed, before each pgvector setting: the index pages into shared buffers
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
INSTALL_HINT = (
    "pgvector is measured with the pgserver wheel: pip install 'vigil[pgvector]' (or pip install pgserver)"
)
_MIB = 1024.0**2

# The private cluster: room for a 10^6-face table and its index in shared buffers, an HNSW graph built in
# memory, one parallel build worker beside the leader (two cores), no JIT for millisecond queries.
SERVER_SETTINGS = {
    "shared_buffers": "4GB",
    "maintenance_work_mem": "4GB",
    "max_parallel_maintenance_workers": "1",
    "max_wal_size": "8GB",
    "jit": "off",
}

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class EngineRun:
    """One index of one engine at one search setting.

    Attributes:
        engine: "faiss" or "pgvector".
        index: "exact" or "ivf" (FAISS); "ivfflat" or "hnsw" (pgvector).
        build_params: how the index was built ("4,000 cells", "lists 1,000", "m 16, ef_construction 64").
        knob: the search setting swept: FAISS nprobe, ivfflat.probes or hnsw.ef_search (None for exact).
        build_s: building the index (k-means included; for pgvector, not loading the table).
        index_mib: FAISS: what the index holds in memory; pgvector: the index on disk (pg_relation_size).
        table_mib: pgvector only: the table on disk, TOAST included (pg_table_size), without indexes.
        p50_ms, p99_ms: one top-10 query at a time (pgvector: over a loopback TCP connection).
        recall_at_1: the first answer is the brute-force nearest stored face.
    """

    engine: str
    index: str
    build_params: str
    knob: int | None
    build_s: float
    index_mib: float
    table_mib: float | None
    queries: int
    p50_ms: float
    p99_ms: float
    recall_at_1: float


@dataclass(frozen=True, slots=True)
class EngineSize:
    faces: int
    dim: int
    truth_s: float
    load_s: float = 0.0  # pgvector: COPY of every face into the table, and its primary key
    runs: list[EngineRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was skipped, and why


def pgserver_bin() -> Path | None:
    """The bin folder (initdb, pg_ctl, postgres) of the installed pgserver wheel, or None."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    return bin_dir if (bin_dir / "pg_ctl").exists() else None


class _VectorCluster(LocalCluster):
    """The benchmark cluster, with :data:`SERVER_SETTINGS` in its configuration before it starts."""

    def _start_server(self) -> None:
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("# vigil bench vector-engines\n")
            conf.writelines(f"{key} = '{value}'\n" for key, value in SERVER_SETTINGS.items())
        super()._start_server()


@contextmanager
def pgvector_database(parent: Path | None = None) -> Iterator[tuple[psycopg.Connection, str]]:
    """A private cluster from pgserver's binaries with the vector extension: (connection, its version).

    Raises:
        StoreError: pgserver is not installed, or the cluster would not start.
    """
    bin_dir = pgserver_bin()
    if bin_dir is None:
        raise StoreError(INSTALL_HINT)
    with _VectorCluster.start(parent=parent, bin_dir=bin_dir) as cluster:
        cluster.new_database("vectors")
        with psycopg.connect(
            host="127.0.0.1", port=cluster.port, user=SUPERUSER, dbname="vectors", autocommit=True
        ) as conn:
            conn.execute("CREATE EXTENSION vector")
            version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            yield conn, f"PostgreSQL {cluster.version}, pgvector {version[0] if version else '?'}"


def _copy_binary(ids: np.ndarray, vectors: FloatArray) -> bytes:
    """Rows (id bigint, embedding vector) in COPY's binary format (pgvector's wire form: dim, 0, floats)."""
    n, dim = vectors.shape
    row = np.dtype(
        [("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("vec_len", ">i4"), ("dim", ">i2"),
         ("unused", ">i2"), ("v", ">f4", (dim,))]
    )  # fmt: skip
    rows = np.zeros(n, row)
    rows["fields"], rows["id_len"], rows["id"] = 2, 8, ids
    rows["vec_len"], rows["dim"], rows["v"] = 4 + 4 * dim, dim, vectors
    return rows.tobytes()


def load_table(conn: psycopg.Connection, gallery: SyntheticGallery) -> float:
    """``faces (id bigint primary key, embedding vector(dim))`` holding every face; seconds taken."""
    start = time.perf_counter()
    conn.execute(f"CREATE TABLE faces (id bigint NOT NULL, embedding vector({gallery.dim}) NOT NULL)")
    with conn.transaction(), conn.cursor() as cur, cur.copy("COPY faces FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
        for ids, vectors in gallery.chunks():
            copy.write(_copy_binary(ids, vectors))
        copy.write(struct.pack(">h", -1))
    conn.execute("ALTER TABLE faces ADD PRIMARY KEY (id)")
    conn.execute("VACUUM ANALYZE faces")
    return time.perf_counter() - start


def _literal(vector: FloatArray) -> str:
    return "[" + ",".join(map(repr, vector.tolist())) + "]"


def _mib(conn: psycopg.Connection, function: str, relation: str) -> float:
    row = conn.execute(
        sql.SQL("SELECT {}(%s::regclass)").format(sql.Identifier(function)), [relation]
    ).fetchone()
    return float(row[0]) / _MIB if row else 0.0


def _query_pg(conn: psycopg.Connection, probes: Probes, index_name: str) -> tuple[float, float, float]:
    """p50, p99 (ms) and recall@1 of top-10 cosine queries one at a time; checks the index answers them."""
    query = f"SELECT id FROM faces ORDER BY embedding <=> %s::vector LIMIT {TOP_K}"
    texts = [_literal(v) for v in probes.vectors]
    conn.execute("SET enable_seqscan = off")  # a tiny table's planner would scan it instead of the index
    plan = [str(r[0]) for r in conn.execute("EXPLAIN " + query, [texts[0]]).fetchall()]
    if not any(f"Index Scan using {index_name}" in line for line in plan):
        nodes = "; ".join(line.strip()[:80] for line in plan if "->" in line or line is plan[0])
        raise StoreError(f"pgvector: the planner did not use {index_name}: {nodes}")
    with conn.cursor() as cur:
        for text in texts[:WARMUP_QUERIES]:
            cur.execute(query, [text], prepare=True).fetchall()
        latencies = np.empty(len(texts))
        hits = 0
        for i, text in enumerate(texts):
            start = time.perf_counter()
            rows = cur.execute(query, [text], prepare=True).fetchall()
            latencies[i] = time.perf_counter() - start
            hits += int(bool(rows) and rows[0][0] == probes.truth_ids[i])
    return (
        float(np.percentile(latencies, 50) * 1e3),
        float(np.percentile(latencies, 99) * 1e3),
        hits / len(texts),
    )


def _build_index(conn: psycopg.Connection, name: str, method: str, options: str) -> float:
    start = time.perf_counter()
    conn.execute(
        f"CREATE INDEX {name} ON faces USING {method} (embedding vector_cosine_ops) WITH ({options})"
    )
    return time.perf_counter() - start


def ivfflat_lists(faces: int, factor: float) -> int:
    """``factor``·√N lists (pgvector's advice: N/1,000 up to 10^6 rows, √N beyond; √N is both at 10^6)."""
    return max(1, round(factor * math.sqrt(faces)))


def pgvector_runs(
    conn: psycopg.Connection,
    faces: int,
    probes: Probes,
    *,
    lists: int,
    ivfflat_probes: list[int],
    ef_search: list[int] | None,
    progress: Progress,
) -> tuple[list[EngineRun], float]:
    """IVFFlat at each of ``ivfflat_probes``, then (unless ``ef_search`` is None) HNSW at each ``ef_search``.

    Each index is dropped after it is measured, so the planner has one to choose and the next build has the
    memory. Returns the runs and the HNSW build time (0 when not built).
    """
    runs: list[EngineRun] = []
    table = _mib(conn, "pg_table_size", "faces")
    progress(f"{faces:,} faces: pgvector IVFFlat, {lists:,} lists (k-means, then assigning)")
    build_s = _build_index(conn, "faces_ivfflat", "ivfflat", f"lists = {lists}")
    size = _mib(conn, "pg_relation_size", "faces_ivfflat")
    for n in ivfflat_probes:
        progress(f"{faces:,} faces: pgvector IVFFlat, probes {n}")
        conn.execute(f"SET ivfflat.probes = {int(n)}")
        p50, p99, recall = _query_pg(conn, probes, "faces_ivfflat")
        runs.append(EngineRun("pgvector", "ivfflat", f"lists {lists:,}", n, build_s, size, table,
                              len(probes), p50, p99, recall))  # fmt: skip
    conn.execute("DROP INDEX faces_ivfflat")
    if ef_search is None:
        return runs, 0.0
    progress(f"{faces:,} faces: pgvector HNSW, m {HNSW_M}, ef_construction {HNSW_EF_CONSTRUCTION}")
    hnsw_s = _build_index(
        conn, "faces_hnsw", "hnsw", f"m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}"
    )
    size = _mib(conn, "pg_relation_size", "faces_hnsw")
    for ef in ef_search:
        progress(f"{faces:,} faces: pgvector HNSW, ef_search {ef}")
        conn.execute(f"SET hnsw.ef_search = {int(ef)}")
        p50, p99, recall = _query_pg(conn, probes, "faces_hnsw")
        runs.append(EngineRun("pgvector", "hnsw", f"m {HNSW_M}, ef_construction {HNSW_EF_CONSTRUCTION}", ef,
                              hnsw_s, size, table, len(probes), p50, p99, recall))  # fmt: skip
    conn.execute("DROP INDEX faces_hnsw")
    return runs, hnsw_s


def _from_faiss(run: IndexRun, nlist: int) -> EngineRun:
    params = "—" if run.kind == "exact" else f"{nlist:,} cells"
    return EngineRun("faiss", run.kind, params, run.nprobe, run.build_s, run.memory_mib, None, run.queries,
                     run.p50_ms, run.p99_ms, run.recall_at_1)  # fmt: skip


def hnsw_estimate_s(measured_faces: int, measured_s: float, faces: int) -> float:
    """An HNSW build at ``faces`` from one at ``measured_faces``: N·log N (an **assumption**)."""
    return measured_s * faces * math.log(faces) / (measured_faces * math.log(measured_faces))


@dataclass(frozen=True, slots=True)
class VectorBenchSettings:
    """What to sweep. ``hnsw_budget_s``: skip an HNSW build whose N·log N estimate exceeds it."""

    queries: int = 300
    exact_queries: int = 200
    nprobe: int = 128
    ivf: IvfSettings = field(default_factory=IvfSettings)
    lists_factor: float = 1.0
    ivfflat_probes: tuple[int, ...] = (4, 16, 32, 64)
    ef_search: tuple[int, ...] = (40, 100, 200)
    hnsw_budget_s: float = 600.0
    dim: int = DIM


def bench_vector_engines(
    conn: psycopg.Connection, sizes: list[int], settings: VectorBenchSettings, progress: Progress,
    on_size: Callable[[EngineSize], None] = lambda _r: None,
) -> list[EngineSize]:  # fmt: skip
    """Each size in turn (ascending): FAISS exact and IVF, then pgvector IVFFlat and HNSW, same probes."""
    results: list[EngineSize] = []
    hnsw_seen: tuple[int, float] | None = None
    for faces in sorted(sizes):
        gallery = SyntheticGallery(
            faces=faces, people=max(1, faces // 5), model_id="synthetic", dim=settings.dim
        )
        progress(f"{faces:,} faces, {settings.dim}-d: the right answers by brute force")
        start = time.perf_counter()
        probes = make_probes(gallery, settings.queries)
        truth_s = time.perf_counter() - start
        nlist = settings.ivf.cells_for(faces)
        faiss = faiss_runs(gallery, probes, exact_queries=settings.exact_queries, nprobes=[settings.nprobe],
                           nlist=nlist, k=TOP_K, progress=progress)  # fmt: skip
        progress(f"{faces:,} faces: loading them into PostgreSQL (binary COPY)")
        load_s = load_table(conn, gallery)
        notes: list[str] = []
        ef: list[int] | None = list(settings.ef_search)
        if hnsw_seen is not None:
            estimate = hnsw_estimate_s(*hnsw_seen, faces)
            if estimate > settings.hnsw_budget_s:
                ef = None
                notes.append(f"HNSW not built at {faces:,} faces: ~{estimate / 60:.0f} min estimated from "
                             f"{hnsw_seen[1]:.0f} s at {hnsw_seen[0]:,} (N·log N), over the "
                             f"{settings.hnsw_budget_s / 60:.0f} min budget")  # fmt: skip
                progress(notes[-1])
        pg, hnsw_s = pgvector_runs(
            conn, faces, probes, lists=ivfflat_lists(faces, settings.lists_factor),
            ivfflat_probes=list(settings.ivfflat_probes), ef_search=ef, progress=progress,
        )  # fmt: skip
        if hnsw_s:
            hnsw_seen = (faces, hnsw_s)
        conn.execute("DROP TABLE faces")
        result = EngineSize(
            faces, settings.dim, truth_s, load_s, [_from_faiss(r, nlist) for r in faiss] + pg, notes
        )
        results.append(result)
        on_size(result)
    return results


def as_json(results: list[EngineSize]) -> list[dict[str, object]]:
    return [asdict(r) for r in results]
