"""`vigil bench clusters`: Vigil's incremental threshold graph against Chinese Whispers (dlib) and average
linkage (SciPy) on embedded LFW photos, scored by pairwise precision and recall against the identities;
and the time to cluster N synthetic templates added in batches.

Pairwise precision: over all pairs of photos put in one cluster, the share of the same person. Pairwise
recall: over all pairs of photos of one person, the share put in one cluster.

Example:
    >>> pr = pairwise(clusters, people)  # doctest: +SKIP
    >>> pr.precision, pr.recall
    (1.0, 0.981)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from vigil.search.clusters import DEFAULT_K, dense_labels, neighbour_links, threshold_clusters
from vigil.search.index import ArchiveIndex, IvfSettings
from vigil.types import FloatArray, IntArray

Method = Literal["graph", "whispers", "linkage"]
METHOD_LABEL: dict[Method, str] = {
    "graph": "threshold graph (Vigil)",
    "whispers": "Chinese Whispers (dlib)",
    "linkage": "average linkage (SciPy)",
}
SYNTHETIC_PER_PERSON = 5
SYNTHETIC_NOISE = 0.816
"""Length of the noise added to an identity's unit centre: two templates of one score cosine ≈ 0.6."""

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PairScores:
    precision: float
    recall: float
    clusters: int


@dataclass(frozen=True, slots=True)
class ClusterRun:
    method: Method
    threshold: float
    k: int | None  # neighbours examined per photo; None: all pairs (linkage)
    precision: float
    recall: float
    clusters: int
    seconds: float
    links_seconds: float  # the k-NN links Chinese Whispers is given (0 for the others)


@dataclass(frozen=True, slots=True)
class ScalingRun:
    templates: int
    batch: int
    threshold: float
    seconds: float
    clusters: int
    dim: int

    @property
    def ms_per_template(self) -> float:
        return 1000 * self.seconds / self.templates


def _pairs(counts: IntArray) -> int:
    return int((counts * (counts - 1) // 2).sum())


def pairwise(clusters: IntArray, people: IntArray) -> PairScores:
    """Pairwise precision and recall of cluster labels against person labels (1.0 where nothing to judge)."""
    if clusters.shape != people.shape:
        raise ValueError(f"{clusters.shape} cluster labels for {people.shape} people labels")
    _, per_cluster = np.unique(clusters, return_counts=True)
    _, per_person = np.unique(people, return_counts=True)
    _, per_cell = np.unique(np.stack([clusters, people], axis=1), axis=0, return_counts=True)
    together, same, both = _pairs(per_cluster), _pairs(per_person), _pairs(per_cell)
    return PairScores(both / together if together else 1.0, both / same if same else 1.0, len(per_cluster))


def run_graph(vectors: FloatArray, people: IntArray, threshold: float, k: int, batch: int) -> ClusterRun:
    """Vigil's threshold graph, the photos added ``batch`` at a time (in the order given)."""
    start = time.perf_counter()
    labels = threshold_clusters(vectors, threshold, k, batch)
    seconds = time.perf_counter() - start
    s = pairwise(labels, people)
    return ClusterRun("graph", threshold, k, s.precision, s.recall, s.clusters, seconds, 0.0)


def run_whispers(vectors: FloatArray, people: IntArray, threshold: float, k: int) -> ClusterRun:
    """Chinese Whispers (dlib) on the same above-threshold k-NN links the graph uses."""
    import dlib  # noqa: PLC0415

    start = time.perf_counter()
    index = ArchiveIndex(vectors.shape[1], IvfSettings(min_vectors=1 << 62))
    ids = np.arange(len(vectors), dtype=np.int64)
    index.add(ids, np.ascontiguousarray(vectors, np.float32))
    links = neighbour_links(index, ids, vectors, threshold, k)
    links_s = time.perf_counter() - start
    start = time.perf_counter()
    edges = list(zip(links.a.tolist(), links.b.tolist(), links.score.tolist(), strict=True))
    found = np.asarray(dlib.chinese_whispers(edges) if edges else [], np.int64)
    # dlib labels nodes 0 to the largest index in a link: the photos after it are clusters of their own.
    rest = np.arange(len(vectors) - len(found), dtype=np.int64) + (int(found.max()) + 1 if len(found) else 0)
    labels = np.concatenate([found, rest])
    seconds = time.perf_counter() - start
    s = pairwise(dense_labels(labels), people)
    return ClusterRun("whispers", threshold, k, s.precision, s.recall, s.clusters, seconds, links_s)


def run_linkage(vectors: FloatArray, people: IntArray, thresholds: list[float]) -> list[ClusterRun]:
    """Average-linkage agglomerative clustering (SciPy) over all pairs, cut at each threshold (the tree is
    built once; the time reported is the tree's plus the cut's)."""
    from scipy.cluster.hierarchy import fcluster, linkage  # noqa: PLC0415
    from scipy.spatial.distance import pdist  # noqa: PLC0415

    start = time.perf_counter()
    tree = linkage(pdist(vectors.astype(np.float64), "cosine"), "average")
    tree_s = time.perf_counter() - start
    runs = []
    for threshold in thresholds:
        start = time.perf_counter()
        labels = np.asarray(fcluster(tree, t=1.0 - threshold, criterion="distance"), np.int64)
        cut_s = time.perf_counter() - start
        s = pairwise(labels, people)
        runs.append(
            ClusterRun("linkage", threshold, None, s.precision, s.recall, s.clusters, tree_s + cut_s, 0)
        )
    return runs


def synthetic_templates(templates: int, dim: int = 512, seed: int = 0) -> FloatArray:
    """``templates`` unit vectors, :data:`SYNTHETIC_PER_PERSON` noisy copies of each random identity
    (cosine ≈ 0.6 within one), shuffled."""
    rng = np.random.default_rng(seed)
    people = -(-templates // SYNTHETIC_PER_PERSON)
    centres = rng.standard_normal((people, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    owner = rng.permutation(np.repeat(np.arange(people), SYNTHETIC_PER_PERSON)[:templates])
    noise = rng.standard_normal((templates, dim), dtype=np.float32) * (SYNTHETIC_NOISE / np.sqrt(dim))
    out = centres[owner] + noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    unit: FloatArray = out.astype(np.float32)
    return unit


def run_scaling(
    templates: int, threshold: float, batch: int, k: int = DEFAULT_K, dim: int = 512
) -> ScalingRun:
    """The time to add ``templates`` synthetic ``dim``-d templates ``batch`` at a time to an exact-index
    graph."""
    vectors = synthetic_templates(templates, dim)
    start = time.perf_counter()
    labels = threshold_clusters(vectors, threshold, k, batch)
    seconds = time.perf_counter() - start
    clusters = int(labels.max()) + 1 if len(labels) else 0
    return ScalingRun(templates, batch, threshold, seconds, clusters, dim)


def as_json(runs: list[ClusterRun], scaling: ScalingRun | None) -> dict[str, object]:
    return {
        "runs": [asdict(r) for r in runs],
        "scaling": None
        if scaling is None
        else {**asdict(scaling), "ms_per_template": scaling.ms_per_template},
    }
