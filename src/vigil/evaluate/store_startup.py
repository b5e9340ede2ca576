"""Start-up and 1:N search over a stored gallery, measured in a fresh Python process.

A cold start is what an operator waits for after a restart: the interpreter, the imports, opening the
store (:func:`~vigil.app.open_store`) and rebuilding the gallery from the database
(:func:`~vigil.services.gallery.load_gallery`). :func:`measure_fresh_process` runs exactly that in a
child process (``python -m vigil.evaluate.store_startup``), which then answers probe queries one at a
time through :meth:`Gallery.search <vigil.match.gallery.Gallery.search>` and reports, as JSON on its
standard output, its timings, its memory (resident and peak, from ``/proc/self/status``) and each
query's time and answer. The database URL reaches the child in ``VIGIL_DATABASE_URL``, never on its
command line (where other users could read a password).

The process is fresh, the operating system's file cache is not: the database was just written, so its
pages are likely cached. A start after a reboot reads them from disk as well.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from vigil.app import open_store
from vigil.config import StoreConfig, VigilConfig
from vigil.errors import StoreError
from vigil.match.gallery import Gallery
from vigil.services.gallery import load_gallery
from vigil.store.paths import DATABASE_URL_ENV
from vigil.types import FloatArray, IntArray

WARMUP_QUERIES = 5
CHILD_TIMEOUT_S = 1800.0
_KIB = 1024.0


@dataclass(frozen=True, slots=True)
class Startup:
    """One cold start.

    Attributes:
        total_s: from starting the process to the gallery being ready.
        imports_s: from starting the process to Vigil's code running (interpreter and imports).
        open_store_s: connecting and checking the schema.
        load_gallery_s: reading every vector and list entry into the in-memory gallery.
        samples: face samples in the gallery.
        people: people they belong to.
        rss_base_mib: resident memory before opening the store (Python and the libraries).
        rss_ready_mib: resident memory with the gallery loaded.
        peak_rss_mib: the most the process held up to then, loading included.
    """

    total_s: float
    imports_s: float
    open_store_s: float
    load_gallery_s: float
    samples: int
    people: int
    rss_base_mib: float
    rss_ready_mib: float
    peak_rss_mib: float

    @property
    def gallery_mib(self) -> float:
        """What the loaded gallery costs in resident memory."""
        return self.rss_ready_mib - self.rss_base_mib

    def as_json(self) -> dict[str, object]:
        return {
            "total_s": round(self.total_s, 3),
            "imports_s": round(self.imports_s, 3),
            "open_store_s": round(self.open_store_s, 3),
            "load_gallery_s": round(self.load_gallery_s, 3),
            "samples": self.samples,
            "people": self.people,
            "rss_base_mib": round(self.rss_base_mib, 1),
            "rss_ready_mib": round(self.rss_ready_mib, 1),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "gallery_mib": round(self.gallery_mib, 1),
        }


@dataclass(frozen=True, slots=True)
class Queries:
    """Probe queries answered one at a time with FAISS using ``threads`` threads.

    Attributes:
        threads: FAISS's OpenMP threads during the queries.
        ms: each query's time, milliseconds.
        top_sample: the best sample of the best candidate (-1: no candidate).
        top_person: its person (-1: none).
        top_score: its cosine similarity to the probe.
        peak_rss_mib: the process's peak resident memory after the queries.
    """

    threads: int
    ms: FloatArray
    top_sample: IntArray
    top_person: IntArray
    top_score: FloatArray
    peak_rss_mib: float


@dataclass(frozen=True, slots=True)
class FreshProcess:
    """What one child process measured.

    Attributes:
        startup: the cold start.
        queries: the probes answered with Vigil's FAISS thread count, then (when it differs) with FAISS's
            own default, for comparison.
        vigil_threads: FAISS's thread count once Vigil set it up (``open_store``).
        library_threads: FAISS's thread count before that (the machine's cores, or ``OMP_NUM_THREADS``).
    """

    startup: Startup
    queries: tuple[Queries, ...]
    vigil_threads: int
    library_threads: int


def measure_fresh_process(
    url: str,
    data_dir: Path,
    model_id: str,
    dim: int,
    *,
    probes: FloatArray | None = None,
    k: int = 5,
    timeout_s: float = CHILD_TIMEOUT_S,
) -> FreshProcess:
    """Start a fresh process that opens the store, loads the gallery and (given probes) searches it.

    Args:
        url: the database (passed in the environment).
        data_dir: the store's data dir.
        model_id: whose vectors to load; dim: their length.
        probes: unit vectors (N, dim) to search one at a time, or None for start-up only: with the FAISS
            threads Vigil sets, then with FAISS's own default if that differs.
        k: candidates asked of each search.
        timeout_s: give up on the child after this long.

    Raises:
        StoreError: the child failed (with its error output) or timed out.
    """
    with tempfile.TemporaryDirectory(prefix="vigil-bench-probes-") as tmp:
        args = [sys.executable, "-m", __name__, "--data-dir", str(data_dir), "--model-id", model_id,
                "--dim", str(dim), "--k", str(k)]  # fmt: skip
        if probes is not None:
            np.save(Path(tmp) / "probes.npy", np.ascontiguousarray(probes, np.float32))
            args += ["--probes", str(Path(tmp) / "probes.npy")]
        env = {**os.environ, DATABASE_URL_ENV: url}
        spawned = time.time()
        try:
            done = subprocess.run(
                args, capture_output=True, text=True, env=env, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise StoreError(f"the start-up process took longer than {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise StoreError(f"the start-up process exited with {done.returncode}:\n{tail}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return _parse(report, spawned)


def _parse(report: dict[str, object], spawned: float) -> FreshProcess:
    def num(key: str) -> float:
        value = report[key]
        if not isinstance(value, int | float):
            raise StoreError(f"the start-up process reported {key}={value!r}")
        return float(value)

    startup = Startup(
        total_s=num("t_ready") - spawned,
        imports_s=num("t_main") - spawned,
        open_store_s=num("open_store_s"),
        load_gallery_s=num("load_gallery_s"),
        samples=int(num("samples")),
        people=int(num("people")),
        rss_base_mib=num("rss_base_kib") / _KIB,
        rss_ready_mib=num("rss_ready_kib") / _KIB,
        peak_rss_mib=num("hwm_ready_kib") / _KIB,
    )
    runs = report["queries"]
    if not isinstance(runs, list):
        raise StoreError("the start-up process reported no query list")
    queries = tuple(
        Queries(
            threads=int(q["threads"]),
            ms=np.asarray(q["ms"], np.float32),
            top_sample=np.asarray(q["top_sample"], np.int64),
            top_person=np.asarray(q["top_person"], np.int64),
            top_score=np.asarray(q["top_score"], np.float32),
            peak_rss_mib=float(q["hwm_kib"]) / _KIB,
        )
        for q in runs
    )
    return FreshProcess(startup, queries, int(num("vigil_threads")), int(num("library_threads")))


# --- the child ---------------------------------------------------------------------------------------


def _memory_kib() -> tuple[int, int]:
    """(resident, peak resident) KiB of this process, from /proc (zeros where there is none)."""
    found = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in found:
                found[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return found["VmRSS"], found["VmHWM"]


def _queries(gallery: Gallery, probes: FloatArray, k: int) -> dict[str, object]:
    """Each probe searched alone (after a few unmeasured ones), timed, with its best candidate."""
    now = datetime.now(UTC)
    for probe in probes[:WARMUP_QUERIES]:
        gallery.search(probe[None], k, now)
    ms: list[float] = []
    top: list[tuple[int, int, float]] = []
    for probe in probes:
        start = time.perf_counter()
        found = gallery.search(probe[None], k, now)[0]
        ms.append((time.perf_counter() - start) * 1000)
        best = found[0] if found else None
        top.append((best.sample_id, best.person_id, best.score) if best else (-1, -1, 0.0))
    return {
        "threads": faiss.omp_get_max_threads(),
        "ms": ms,
        "top_sample": [t[0] for t in top],
        "top_person": [t[1] for t in top],
        "top_score": [t[2] for t in top],
        "hwm_kib": _memory_kib()[1],
    }


def _child(argv: Sequence[str]) -> int:
    t_main = time.time()
    parser = argparse.ArgumentParser(prog="store_startup", description="Measured by vigil bench store.")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--dim", type=int, required=True)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--probes", type=Path)
    args = parser.parse_args(argv)
    library_threads = faiss.omp_get_max_threads()  # before Vigil configures the libraries
    rss_base, _ = _memory_kib()

    start = time.perf_counter()
    store = open_store(VigilConfig(store=StoreConfig(data_dir=args.data_dir)))
    open_s = time.perf_counter() - start
    start = time.perf_counter()
    gallery = load_gallery(store.db, args.model_id, args.dim)
    load_s = time.perf_counter() - start
    t_ready = time.time()
    vigil_threads = faiss.omp_get_max_threads()
    gc.collect()
    rss_ready, hwm_ready = _memory_kib()

    runs: list[dict[str, object]] = []
    if args.probes is not None:
        probes = np.load(args.probes).astype(np.float32)
        runs.append(_queries(gallery, probes, args.k))  # as Vigil set FAISS up
        if vigil_threads != library_threads:
            faiss.omp_set_num_threads(library_threads)
            runs.append(_queries(gallery, probes, args.k))
    store.db.dispose()
    report = {
        "t_main": t_main, "t_ready": t_ready, "open_store_s": open_s, "load_gallery_s": load_s,
        "samples": len(gallery), "people": len(gallery.people), "rss_base_kib": rss_base,
        "rss_ready_kib": rss_ready, "hwm_ready_kib": hwm_ready, "vigil_threads": vigil_threads,
        "library_threads": library_threads,
        "queries": runs,
    }  # fmt: skip
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
