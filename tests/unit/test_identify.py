"""Open-set identification: the protocol's split, the measures on hand-made vectors, and real LFW faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vigil.app import Engine
from vigil.cli import app
from vigil.errors import BadInput
from vigil.evaluate.embed_images import ImageVector, VectorCache
from vigil.evaluate.identify import (
    IdentifySplit,
    Ranked,
    accepted,
    build_gallery,
    evaluate,
    lfw_split,
    make_split,
    margin_sweep,
    operating_point,
    run_identify,
    search_top2,
    threshold_for_fpir,
    tradeoff,
)
from vigil.evaluate.machine import machine_info
from vigil.evaluate.plots import plot_identify
from vigil.types import FloatArray

MODEL = "test-model"


def unit(*components: float) -> FloatArray:
    v = np.array(components, np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)


def image_vectors(named: dict[str, FloatArray], no_face: frozenset[str]) -> dict[str, ImageVector]:
    """ImageVectors as ``embed_images`` returns them; ``no_face`` had the fallback box embedded."""
    return {p: ImageVector(p, v, p not in no_face) for p, v in named.items()}


# Three enrolled people, A, B and C, on three orthogonal axes; the fourth axis is "someone else".
GALLERY = {"A/1": unit(1, 0, 0, 0), "B/1": unit(0, 1, 0, 0), "C/1": unit(0, 0, 1, 0)}
MATED = {
    "A/2": unit(1, 0, 0, 0.2),  # A again: 0.981 to A -> named, rightly
    "B/2": unit(0, 0.1, 1, 0),  # B, but nearer C (0.995): named, wrongly
    "C/2": unit(0, 0, 1, 0.6),  # C, nearest C but only 0.857: rank-1 right, not named
}
NON_MATED = {
    "X/1": unit(1, 0, 0, 0.1),  # a stranger 0.995 from A: a false positive
    "Y/1": unit(0, 0, 0, 1),  # a stranger far from everyone
}
SPLIT = IdentifySplit(tuple(GALLERY), tuple(MATED), tuple(NON_MATED))
VECTORS = image_vectors({**GALLERY, **MATED, **NON_MATED}, no_face=frozenset({"C/2", "Y/1"}))


def test_split_takes_photo_1_and_2_of_people_with_two_and_every_photo_of_the_others() -> None:
    split = make_split(
        {
            "Bea": ["Bea/Bea_0003.jpg", "Bea/Bea_0001.jpg", "Bea/Bea_0002.jpg"],
            "Al": ["Al/Al_0002.jpg", "Al/Al_0001.jpg"],
            "Cy": ["Cy/Cy_0001.jpg"],
            "Ann": ["Ann/Ann_0001.jpg"],
        }
    )
    assert split.gallery == ("Al/Al_0001.jpg", "Bea/Bea_0001.jpg")
    assert split.mated == ("Al/Al_0002.jpg", "Bea/Bea_0002.jpg")
    assert split.non_mated == ("Ann/Ann_0001.jpg", "Cy/Cy_0001.jpg")
    assert len(split.paths) == 6


def test_lfw_split_reads_a_folder(tmp_path: Path) -> None:
    for name, n in (("Al", 12), ("Bo", 1)):
        (tmp_path / name).mkdir()
        for i in range(1, n + 1):
            (tmp_path / name / f"{name}_{i:04d}.jpg").write_bytes(b"")
    split = lfw_split(tmp_path)
    assert split == IdentifySplit(("Al/Al_0001.jpg",), ("Al/Al_0002.jpg",), ("Bo/Bo_0001.jpg",))
    with pytest.raises(BadInput, match="LFW images folder not found"):
        lfw_split(tmp_path / "missing")


def test_measures_on_a_three_person_gallery() -> None:
    result = evaluate(SPLIT, VECTORS, MODEL, threshold=0.92, min_margin=0.0)
    p = result.at_threshold
    assert (result.gallery_size, p.mated, p.non_mated) == (3, 3, 2)
    assert p.rank1 == 2 and p.rank1_rate == pytest.approx(2 / 3)  # A and C nearest to themselves
    assert p.true_positive == 1 and p.tpir == pytest.approx(1 / 3)  # only A is named rightly
    assert p.wrong_person == 1  # B named as C
    assert p.fnir == pytest.approx(2 / 3)  # B (wrong person) and C (below the threshold)
    assert p.false_positive == 1 and p.fpir == pytest.approx(1 / 2)  # X named as A
    assert (result.fallbacks.gallery, result.fallbacks.mated, result.fallbacks.non_mated) == (0, 1, 1)
    # With no margin required, Vigil's rule decides exactly as the threshold alone.
    d = result.decided
    assert (d.min_margin, p.min_margin) == (0.0, None)
    assert (d.rank1, d.true_positive, d.wrong_person, d.false_positive) == (2, 1, 1, 1)
    json.dumps(result.as_json(), allow_nan=False)


def _ranked() -> Ranked:
    gallery = build_gallery(np.stack(list(GALLERY.values())), MODEL)
    probes = np.stack([*MATED.values(), *NON_MATED.values()])
    return search_top2(gallery, probes, np.array([0, 1, 2, -1, -1], np.int64))


def test_search_keeps_the_two_nearest_people_best_first() -> None:
    ranked = _ranked()
    assert ranked.person[0, 0] == 0 and ranked.person[2, 0] == 2
    assert ranked.person[1].tolist() == [2, 1]  # B's photo 2: C first, B runner-up
    assert ranked.score[1, 0] == pytest.approx(0.995, abs=1e-3)
    assert ranked.score[1, 1] == pytest.approx(0.0995, abs=1e-3)
    assert np.all(ranked.score[:, 0] >= ranked.score[:, 1])


def test_one_person_gallery_has_no_runner_up() -> None:
    gallery = build_gallery(unit(1, 0, 0, 0)[None], MODEL)
    ranked = search_top2(gallery, unit(1, 0, 0, 0.1)[None], np.array([0], np.int64))
    assert ranked.person.tolist() == [[0, -1]]
    assert ranked.score[0, 1] == -np.inf
    assert accepted(ranked, 0.92, 0.05).tolist() == [True]  # the margin is the whole score


def test_vigils_rule_rejects_a_close_call_the_threshold_alone_accepts() -> None:
    """Two enrolled look-alikes 0.97 apart; a probe between them is above the threshold for both."""
    gallery = build_gallery(np.stack([unit(1, 0, 0), unit(1, 0.25, 0)]), MODEL)
    ranked = search_top2(gallery, unit(1, 0.12, 0.01)[None], np.array([0], np.int64))
    assert ranked.score[0, 0] >= 0.92 and ranked.score[0, 0] - ranked.score[0, 1] < 0.01
    assert accepted(ranked, 0.92).tolist() == [True]
    assert accepted(ranked, 0.92, 0.0).tolist() == [True]
    assert accepted(ranked, 0.92, 0.05).tolist() == [False]
    assert operating_point(ranked, 0.92, 0.05).true_positive == 0


@pytest.mark.parametrize(
    ("target", "fpir"),
    [(0.0, 0.0), (0.25, 0.25), (0.3, 0.25), (0.5, 0.5), (1.0, 1.0)],
)
def test_threshold_for_fpir_accepts_at_most_the_target(target: float, fpir: float) -> None:
    scores = np.array([[0.95, 0.1], [0.93, 0.1], [0.90, 0.1], [0.80, 0.1]], np.float32)
    ranked = Ranked(np.full(4, -1, np.int64), np.zeros((4, 2), np.int64), scores)
    t = threshold_for_fpir(ranked, target)
    assert operating_point(ranked, t).fpir == pytest.approx(fpir)


def test_tradeoff_moves_one_error_against_the_other() -> None:
    rng = np.random.default_rng(0)
    n = 400
    truth = np.concatenate([np.arange(n // 2), np.full(n // 2, -1)]).astype(np.int64)
    person = np.stack([np.where(truth >= 0, truth, 7), np.full(n, 999)], axis=1).astype(np.int64)
    top = np.where(truth >= 0, rng.normal(0.94, 0.02, n), rng.normal(0.88, 0.03, n)).astype(np.float32)
    ranked = Ranked(truth, person, np.stack([top, top - 0.05], axis=1).astype(np.float32))
    curve = tradeoff(ranked)
    # The range follows the scores (embedders differ): from ~all strangers named to ~all mated missed.
    assert np.allclose(np.diff(curve.threshold), 0.0025, atol=1e-4)
    assert 0.78 < curve.threshold[0] < 0.84 and 0.97 < curve.threshold[-1] < 1.0
    assert np.all(np.diff(curve.fpir) <= 0) and np.all(np.diff(curve.fnir) >= 0)
    assert curve.fpir[0] >= 0.97 and curve.fnir[-1] >= 0.97


def test_a_margin_is_worth_deriving_only_where_it_lowers_fnir_at_the_same_fpir() -> None:
    """Strangers who score high but close to a second person: a margin keeps them out, so at the same
    FPIR the threshold can drop and more mated probes are named. Where strangers lead clearly, it can't."""
    rng = np.random.default_rng(1)
    n = 1000
    truth = np.concatenate([np.arange(n // 2), np.full(n // 2, -1)]).astype(np.int64)
    person = np.stack([np.where(truth >= 0, truth, 7), np.full(n, 999)], axis=1).astype(np.int64)
    top = np.where(truth >= 0, rng.normal(0.60, 0.08, n), rng.normal(0.45, 0.08, n)).astype(np.float32)
    ambiguous = np.where(truth >= 0, top - 0.2, top - 0.01).astype(np.float32)  # strangers: two near
    clear = (top - 0.2).astype(np.float32)  # everyone leads by 0.2
    helped = margin_sweep(Ranked(truth, person, np.stack([top, ambiguous], axis=1)))
    unhelped = margin_sweep(Ranked(truth, person, np.stack([top, clear], axis=1)))
    for t, m, p in helped:
        assert p.fpir <= t + 1e-9, (t, m, p.fpir)
    fnir = {(t, m): p.fnir for t, m, p in helped}
    assert fnir[(0.01, 0.05)] < fnir[(0.01, 0.0)] / 3, fnir
    assert {p.fnir for t, _, p in unhelped if t == 0.01} == {fnir[(0.01, 0.0)]}, (
        "a margin all pass changes nothing"
    )


# Four enrolled people (photos 1 and 2 of each) and three strangers with one LFW photo each.
REAL_PEOPLE = {
    "Colin_Powell": 2,
    "Serena_Williams": 2,
    "Junichiro_Koizumi": 2,
    "Tony_Blair": 2,
    "AJ_Cook": 1,
    "Aaron_Tippin": 1,
    "Abba_Eban": 1,
}


def test_real_lfw_faces_are_found_in_the_gallery(engine: Engine, lfw_images: Path, tmp_path: Path) -> None:
    """Real photos through the runner: Vigil's detector, aligner, embedder (cached) and gallery search."""
    images = tmp_path / "images"
    for name, n in REAL_PEOPLE.items():
        (images / name).mkdir(parents=True)
        for i in range(1, n + 1):
            photo = f"{name}_{i:04d}.jpg"
            (images / name / photo).symlink_to(lfw_images / name / photo)
    cache = VectorCache(tmp_path / "vectors.npz")
    result = run_identify(engine.config, images, cache, engine.model_id, workers=1)
    p = result.at_threshold
    assert (result.gallery_size, p.mated, p.non_mated) == (4, 4, 3)
    assert result.fallbacks.total == 0
    # Photo 2 of each person is nearest their photo 1 and above the threshold (0.94-0.97); the three
    # strangers are at most 0.89 from anyone.
    assert (p.rank1, p.true_positive, p.wrong_person, p.false_positive) == (4, 4, 0, 0)
    assert len(VectorCache(tmp_path / "vectors.npz").items) == 11
    plot_identify(result, tmp_path / "identify.png", machine_info())
    assert (tmp_path / "identify.png").stat().st_size > 10_000


def test_cli_is_registered() -> None:
    out = CliRunner().invoke(app, ["bench", "identify", "--help"])
    assert out.exit_code == 0
    assert "--plot" in out.stdout
