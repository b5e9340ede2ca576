"""LFW protocol: parsing, leave-one-fold-out thresholds, ROC, and a real subset end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.app import Engine
from vigil.errors import BadInput
from vigil.evaluate.embed_images import VectorCache, embed_images
from vigil.evaluate.lfw import read_pairs, score_pairs
from vigil.evaluate.plots import plot_roc
from vigil.evaluate.protocol import best_threshold, kfold_accuracy, roc


def test_official_pairs_file_has_ten_balanced_folds(test_data: Path) -> None:
    pairs = read_pairs(test_data / "lfw" / "protocol" / "pairs.txt")
    assert len(pairs) == 6000
    for fold in range(10):
        in_fold = [p for p in pairs if p.fold == fold]
        assert len(in_fold) == 600
        assert sum(p.same for p in in_fold) == 300
    assert pairs[0].a.endswith("_0001.jpg") or pairs[0].a.count("/") == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10 300\nAbel 1 2\n", "expected 6000 pairs"),
        ("ten\n", "first line"),
        ("1 1\nA 1 2\nA 1 B 2 C\n", "line 3"),
    ],
)
def test_malformed_pairs_file_is_rejected(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text(text)
    with pytest.raises(BadInput, match=reason):
        read_pairs(path)


def test_best_threshold_separates_separable_scores() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], np.float32)
    same = np.array([0, 0, 0, 1, 1, 1], bool)
    t = best_threshold(scores, same)
    assert 0.3 < t < 0.7


def test_kfold_chooses_threshold_without_the_held_out_fold() -> None:
    rng = np.random.default_rng(0)
    same = np.tile([True, False], 500)
    scores = np.where(same, rng.normal(0.9, 0.03, 1000), rng.normal(0.8, 0.03, 1000)).astype(np.float32)
    fold = np.repeat(np.arange(10), 100)
    results = kfold_accuracy(scores, same, fold)
    assert len(results) == 10
    assert all(0.83 < r.threshold < 0.87 for r in results)  # the optimum is 0.85
    assert 0.9 < np.mean([r.accuracy for r in results]) < 0.99
    # A fold made to look different gets no say in its own threshold.
    scores2 = scores.copy()
    scores2[fold == 0] += 0.5
    assert kfold_accuracy(scores2, same, fold)[0].threshold == pytest.approx(results[0].threshold, abs=0.01)


def test_roc_tar_at_far() -> None:
    scores = np.array([0.99, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5], np.float32)
    same = np.array([1, 1, 0, 1, 0, 0, 0, 0], bool)
    curve = roc(scores, same)
    tar, threshold = curve.tar_at_far(0.0)
    assert (tar, threshold) == pytest.approx((2 / 3, 0.95))
    assert curve.tar_at_far(0.2)[0] == pytest.approx(1.0)
    assert curve.far[-1] == 1.0 and curve.tar[-1] == 1.0


def test_lfw_subset_end_to_end(engine: Engine, test_data: Path, tmp_path: Path) -> None:
    """The first 60 + 60 pairs of fold 1 through Vigil's own detector, aligner and embedder."""
    lfw = test_data / "lfw"
    pairs = read_pairs(lfw / "protocol" / "pairs.txt")
    subset = pairs[:60] + pairs[300:360]
    for i, p in enumerate(subset):
        subset[i] = type(p)(fold=i % 2, a=p.a, b=p.b, same=p.same)  # two folds to cross-validate
    paths = sorted({p.a for p in subset} | {p.b for p in subset})
    cache = VectorCache(tmp_path / "cache.npz")
    vectors = embed_images(engine.config, lfw / "images", paths, cache, workers=1)
    result = score_pairs(subset, {p: v.vector for p, v in vectors.items()}, [])
    assert result.mean >= 0.95
    tar, _ = result.roc.tar_at_far(0.05)
    assert tar > 0.9
    # The cache holds every vector: a second run embeds nothing (and gives the same vectors).
    again = embed_images(engine.config, lfw / "images", paths, VectorCache(tmp_path / "cache.npz"), workers=1)
    np.testing.assert_array_equal(again[paths[0]].vector, vectors[paths[0]].vector)
    plot_roc(result.roc, tmp_path / "roc.png", "subset")
    assert (tmp_path / "roc.png").stat().st_size > 10_000
