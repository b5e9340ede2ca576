"""`vigil bench search`: the archive index at 10^5-10^7 stored faces: build time, memory, query latency
and recall@1, IVF against exact search (the baseline) in the same run.

The faces are synthetic (:class:`~vigil.evaluate.synthetic_gallery.SyntheticGallery`: random unit
vectors, 128-d like dlib's); the probes are noisy copies of stored faces, and the right answer for each
is its nearest stored face by brute force. Queries go one at a time on one thread, as a search by photo
does (``configure_libraries`` keeps FAISS on one thread in Vigil).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import faiss
import numpy as np

from vigil.evaluate.synthetic_gallery import Probes, SyntheticGallery, make_probes
from vigil.match.index import FlatIndex, VectorIndex
from vigil.search.index import HNSW_LINKS, TRAIN_PER_CELL, IvfIndex, IvfSettings
from vigil.types import FloatArray, IntArray

TARGET_FACES = 1_000_000
TARGET_P99_MS = 10.0
TARGET_RECALL = 0.99
_MIB = 1024.0**2

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class IndexRun:
    """One index at one setting: how long it took to build, what it holds in memory, how it answers."""

    kind: str  # "exact" or "ivf"
    nprobe: int | None
    build_s: float
    memory_mib: float  # what the index holds: vectors, ids, cell centres (and their graph)
    queries: int
    p50_ms: float
    p99_ms: float
    recall_at_1: float

    @property
    def meets_target(self) -> bool:
        return self.p99_ms <= TARGET_P99_MS and self.recall_at_1 >= TARGET_RECALL


@dataclass(frozen=True, slots=True)
class SizeResult:
    faces: int
    nlist: int
    truth_s: float  # brute force over every stored face, for the right answers
    runs: list[IndexRun] = field(default_factory=list)
    peak_rss_mib: float = 0.0  # of the whole process, so far (vectors are generated chunk by chunk)


def _peak_rss_mib() -> float:
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0  # KiB on Linux


def _flat_mib(n: int, dim: int) -> float:
    return n * (4 * dim + 8) / _MIB  # float32 vectors and int64 ids


def _ivf_mib(n: int, dim: int, nlist: int) -> float:
    return (n * (4 * dim + 8) + nlist * (4 * dim + 8 * HNSW_LINKS)) / _MIB  # lists, centres and their graph


def _answer(
    index: VectorIndex, probes: FloatArray, truth: IntArray, n: int, k: int = 1
) -> tuple[float, float, float]:
    """p50 and p99 latency (ms) of ``n`` single-probe top-``k`` searches, and recall@1 against ``truth``."""
    latencies = np.empty(n)
    hits = 0
    for i in range(n):
        start = time.perf_counter()
        _, ids = index.search(probes[i : i + 1], k)
        latencies[i] = time.perf_counter() - start
        hits += int(ids[0, 0] == truth[i])
    return float(np.percentile(latencies, 50) * 1e3), float(np.percentile(latencies, 99) * 1e3), hits / n


def bench_size(
    faces: int,
    *,
    queries: int,
    exact_queries: int,
    nprobes: list[int],
    ivf: IvfSettings,
    progress: Progress = lambda _m: None,
) -> SizeResult:
    """Exact search (if ``exact_queries``) and IVF at each of ``nprobes`` over ``faces`` synthetic faces."""
    gallery = SyntheticGallery(faces=faces, people=max(1, faces // 5), model_id="synthetic")
    progress(f"{faces:,} faces: the right answers by brute force")
    start = time.perf_counter()
    probes = make_probes(gallery, queries)
    result = SizeResult(faces, ivf.cells_for(faces), time.perf_counter() - start)
    result.runs.extend(
        faiss_runs(gallery, probes, exact_queries=exact_queries, nprobes=nprobes, nlist=result.nlist,
                   progress=progress)
    )  # fmt: skip
    return replace(result, peak_rss_mib=_peak_rss_mib())


def faiss_runs(
    gallery: SyntheticGallery,
    probes: Probes,
    *,
    exact_queries: int,
    nprobes: list[int],
    nlist: int,
    k: int = 1,
    progress: Progress = lambda _m: None,
) -> list[IndexRun]:
    """The archive's two FAISS indexes over ``gallery``: exact (if ``exact_queries``), then IVF with
    ``nlist`` cells at each of ``nprobes``, answering ``probes`` top-``k``, one at a time on one thread."""
    faiss.omp_set_num_threads(1)
    faces, runs = gallery.faces, list[IndexRun]()
    if exact_queries:
        progress(f"{faces:,} faces: exact search")
        start = time.perf_counter()
        flat = FlatIndex(gallery.dim)
        for ids, vectors in gallery.chunks():
            flat.add(ids, vectors)
        build_s, memory = time.perf_counter() - start, _flat_mib(len(flat), gallery.dim)
        n = min(exact_queries, len(probes))
        p50, p99, recall = _answer(flat, probes.vectors, probes.truth_ids, n, k)
        runs.append(IndexRun("exact", None, build_s, memory, n, p50, p99, recall))
        del flat

    progress(f"{faces:,} faces: IVF with {nlist:,} cells (training, then adding)")
    start = time.perf_counter()
    sample = _training_sample(gallery, nlist * TRAIN_PER_CELL)
    index = IvfIndex(gallery.dim, sample, nlist, nprobes[0])
    del sample
    for ids, vectors in gallery.chunks():
        index.add(ids, vectors)
    build_s, memory = time.perf_counter() - start, _ivf_mib(len(index), gallery.dim, nlist)
    for nprobe in nprobes:
        progress(f"{faces:,} faces: IVF, nprobe {nprobe}")
        index.nprobe = nprobe
        p50, p99, recall = _answer(index, probes.vectors, probes.truth_ids, len(probes), k)
        runs.append(IndexRun("ivf", nprobe, build_s, memory, len(probes), p50, p99, recall))
    del index
    return runs


def _training_sample(gallery: SyntheticGallery, n: int) -> FloatArray:
    """The first ``n`` stored faces (the faces are independent draws: any ``n`` are a fair sample)."""
    parts: list[FloatArray] = []
    for _, vectors in gallery.chunks():
        parts.append(vectors[: n - sum(len(p) for p in parts)])
        if sum(len(p) for p in parts) >= n:
            break
    return np.concatenate(parts)


def as_json(results: list[SizeResult]) -> list[dict[str, object]]:
    return [
        {**{k: v for k, v in asdict(r).items() if k != "runs"},
         "runs": [{**asdict(x), "meets_target": x.meets_target} for x in r.runs]}
        for r in results
    ]  # fmt: skip
