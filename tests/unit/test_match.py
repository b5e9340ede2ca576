"""Stage 6: index, watchlist search, open-set decisions, per-track aggregation, folder enrolment."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from vigil.app import Engine
from vigil.config import IngestConfig, MatchConfig
from vigil.errors import BadInput, ModelError
from vigil.match.decide import decide
from vigil.match.folder import enrol_folder
from vigil.match.index import FlatIndex
from vigil.match.track import TrackIdentifier
from vigil.match.watchlist import Watchlist, weighted_mean
from vigil.types import FloatArray, IdentityScore


def _unit(rng: np.random.Generator, n: int, dim: int = 16) -> FloatArray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    unit: FloatArray = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return unit


def test_flat_index_finds_exact_neighbours_and_forgets_removed() -> None:
    rng = np.random.default_rng(0)
    vectors = _unit(rng, 200)
    index = FlatIndex(16)
    index.add(np.arange(1000, 1200), vectors)
    scores, ids = index.search(vectors[[3, 50]], k=3)
    assert ids[:, 0].tolist() == [1003, 1050]
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 0).all()
    assert index.remove(np.array([1003])) == 1
    assert index.search(vectors[[3]], k=1)[1][0, 0] != 1003
    assert len(index) == 199


def test_empty_index_returns_no_neighbours() -> None:
    scores, ids = FlatIndex(8).search(np.ones((2, 8), np.float32), k=5)
    assert (ids == -1).all() and np.isinf(scores).all()


def test_watchlist_collapses_templates_per_identity() -> None:
    rng = np.random.default_rng(1)
    v = _unit(rng, 4)
    wl = Watchlist(model_id="m", dim=16)
    for i, name in enumerate(["ann", "ann", "ann", "bob"]):
        wl.add(name, v[i], f"p{i}", "m")
    ranked = wl.search(v[[1]], k=5)[0]
    assert [r.identity for r in ranked] == ["ann", "bob"]
    assert ranked[0].score == pytest.approx(1.0, abs=1e-5)


def test_watchlist_refuses_vectors_of_another_model() -> None:
    wl = Watchlist(model_id="dlib-resnet-v1+flip", dim=4)
    with pytest.raises(ModelError, match="dlib-resnet-v1"):
        wl.add("ann", np.full(4, 0.5, np.float32), "x.jpg", "dlib-resnet-v1")


@pytest.mark.parametrize(
    ("scores", "threshold", "min_margin", "identity", "margin"),
    [
        ([("a", 0.95), ("b", 0.80)], 0.9, 0.0, "a", 0.15),  # clear match
        ([("a", 0.85), ("b", 0.80)], 0.9, 0.0, None, 0.05),  # below threshold: unknown
        ([("a", 0.95), ("b", 0.94)], 0.9, 0.02, None, 0.01),  # too close to the runner-up
        ([("a", 0.95)], 0.9, 0.02, "a", 0.95),  # no runner-up
    ],
)
def test_decide_is_open_set(
    scores: list[tuple[str, float]], threshold: float, min_margin: float, identity: str | None, margin: float
) -> None:
    d = decide([IdentityScore(n, s) for n, s in scores], threshold, min_margin, n_shots=1)
    assert d.identity == identity
    assert d.candidate == "a"
    assert d.margin == pytest.approx(margin)
    assert d.label == (identity or "unknown")


def test_decide_without_identities_is_unknown() -> None:
    d = decide([], 0.9, 0.0, n_shots=2)
    assert d.identity is None and d.candidate is None and d.n_shots == 2


def test_track_decision_uses_the_mean_of_its_shots() -> None:
    rng = np.random.default_rng(2)
    ann, bob = _unit(rng, 2)
    wl = Watchlist(model_id="m", dim=16)
    wl.add("ann", ann, "a", "m")
    wl.add("bob", bob, "b", "m")
    noisy = [(ann + 0.9 * n) / np.linalg.norm(ann + 0.9 * n) for n in _unit(rng, 6)]
    ident = TrackIdentifier(wl, MatchConfig(threshold=0.75))
    first = ident.observe(7, np.stack(noisy[:1]), [1.0])
    later = ident.observe(7, np.stack(noisy[1:]), [1.0] * 5)
    assert later.n_shots == 6
    assert later.identity == "ann"
    assert later.score > first.score  # averaging views cancels the noise
    ident.forget(7)
    assert ident.observe(7, np.stack(noisy[:1]), [1.0]).n_shots == 1


def test_weighted_mean_is_unit_and_leans_to_heavier_shots() -> None:
    a, b = np.eye(2, dtype=np.float32)
    m = weighted_mean([a, b], [3.0, 1.0])
    assert np.linalg.norm(m) == pytest.approx(1.0)
    assert m[0] > m[1]


def test_folder_enrolment_reports_bad_photos_and_keeps_the_rest(
    engine: Engine, refs: Path, tmp_path: Path
) -> None:
    root = tmp_path / "wl"
    for person, photo in [
        ("Obama", "ageitgey_obama.jpg"),
        ("Obama", "ageitgey_obama2.jpg"),
        ("Biden", "ageitgey_biden.jpg"),
        ("Pair", "ageitgey_two_people.jpg"),
    ]:
        (root / person).mkdir(parents=True, exist_ok=True)
        shutil.copy(refs / photo, root / person / photo)
    (root / "Biden" / "notes.jpg").write_text("not a photo")
    (root / "Empty").mkdir()
    (root / "stray.jpg").write_bytes((refs / "ageitgey_biden.jpg").read_bytes())
    seen: list[tuple[int, int]] = []
    result = enrol_folder(
        root, engine.new_watchlist(), engine.stills, IngestConfig(), progress=lambda d, t: seen.append((d, t))
    )
    assert result.watchlist.identities == ["Biden", "Obama"]
    assert result.photos_used == 3
    reasons = {Path(p.what).name: p.reason for p in result.problems}
    assert "2 faces found" in reasons["ageitgey_two_people.jpg"]
    assert "not an image" in reasons["notes.jpg"]
    assert "no photos" in reasons["Empty"]
    assert "person folder" in reasons["stray.jpg"]
    assert seen[-1] == (5, 5)


def test_missing_watchlist_folder_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="watchlist folder not found"):
        enrol_folder(tmp_path / "nope", engine.new_watchlist(), engine.stills, IngestConfig())
