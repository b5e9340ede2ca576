"""`vigil bench clusters` on a small LFW subset (whole people, 600 photos): Vigil's threshold graph is
precise at its default threshold, the baselines run beside it, and the JSON and the plot are written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.evaluate.bench_clusters import pairwise, synthetic_templates


def test_the_bench_on_600_photos_is_precise_at_0_60_and_writes_json_and_plot(
    lfw_images: Path, model_dir: Path, tmp_path: Path
) -> None:
    out, plot = tmp_path / "clusters.json", tmp_path / "clusters.png"
    args = [
        "bench",
        "clusters",
        "--lfw",
        str(lfw_images.parent),
        "--model-dir",
        str(model_dir),
        "--max-photos",
        "600",
        "--linkage",
        "--synthetic",
        "2000",
    ]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["photos"] == 600 and data["people"] > 20
    runs = {(r["method"], r["threshold"]): r for r in data["runs"]}
    assert {m for m, _ in runs} == {"graph", "whispers", "linkage"}
    assert {t for _, t in runs} == {0.50, 0.55, 0.60, 0.65}
    vigil = runs[("graph", 0.60)]
    assert vigil["precision"] >= 0.95 and vigil["recall"] >= 0.8, vigil
    assert data["people"] <= vigil["clusters"] < 600
    recalls = [runs[("graph", t)]["recall"] for t in (0.50, 0.55, 0.60, 0.65)]
    assert recalls == sorted(recalls, reverse=True), "a higher threshold never joins more"
    assert data["scaling"]["templates"] == 2000 and data["scaling"]["seconds"] > 0
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("clusters", "people", "precision", "recall"),
    [
        ([0, 0, 1, 1], [0, 0, 1, 1], 1.0, 1.0),
        ([0, 0, 0, 0], [0, 0, 1, 1], 2 / 6, 1.0),  # one cluster: 2 of its 6 pairs are the same person
        ([0, 1, 2, 3], [0, 0, 1, 1], 1.0, 0.0),  # all apart: no same-person pair together
        ([0, 0, 0, 1], [0, 0, 1, 1], 1 / 3, 1 / 2),
    ],
)
def test_pairwise_precision_and_recall(
    clusters: list[int], people: list[int], precision: float, recall: float
) -> None:
    s = pairwise(np.array(clusters, np.int64), np.array(people, np.int64))
    assert (s.precision, s.recall) == pytest.approx((precision, recall))


def test_synthetic_templates_of_one_identity_score_about_0_6() -> None:
    v = synthetic_templates(10, dim=512)  # two identities of five: 20 of the 45 pairs are the same one
    assert v.shape == (10, 512) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    scores = np.sort((v @ v.T)[np.triu_indices(10, 1)])
    same, strangers = scores[-20:], scores[:-20]
    assert 0.5 < float(np.median(same)) < 0.7 and abs(float(np.median(strangers))) < 0.15
