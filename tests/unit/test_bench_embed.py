"""`vigil bench embed`: a real, tiny run (4 LFW faces, 1 thread) and the CLI end to end.

The numbers' sense is checked (positive, finite, as many as asked, mirror averaging costing its second
pass), not their size, which is the benchmark's job.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.config import VigilConfig
from vigil.errors import ConfigError, ModelError
from vigil.evaluate.bench_embed import (
    BASELINE,
    BenchEmbedSettings,
    EmbedBenchResult,
    EmbedderVariant,
    Timing,
    default_variants,
    run_bench_embed,
)

FACEPLUGIN = EmbedderVariant("faceplugin-fr512", flip=False)
DLIB_FLIP = EmbedderVariant("dlib-resnet-v1", flip=True)
DLIB_ONE_PASS = EmbedderVariant("dlib-resnet-v1", flip=False)
SETTINGS = BenchEmbedSettings(
    faces=4,
    variants=(FACEPLUGIN, DLIB_FLIP, DLIB_ONE_PASS),
    batch_sizes=(1, 4),
    threads=(1,),
    min_rounds=2,
    min_seconds=0.0,
    warmup_calls=1,
)


@pytest.fixture(scope="module")
def result(lfw_images: Path, model_dir: Path) -> EmbedBenchResult:
    try:
        return run_bench_embed(VigilConfig(model_dir=model_dir), lfw_images, SETTINGS)
    except ModelError as exc:
        pytest.skip(f"an embedder's model file is missing: {exc}")


def _check(t: Timing, rounds: int) -> None:
    for value in (t.median_ms, t.p90_ms, t.mean_ms, t.cores, t.seconds):
        assert math.isfinite(value) and value > 0
    assert math.isfinite(t.others_cores) and t.others_cores >= 0  # other processes' share, never negative
    assert t.p90_ms >= t.median_ms
    assert t.rounds >= rounds and t.calls >= t.rounds


def test_every_embedder_is_timed_at_each_batch_size_and_thread_count(result: EmbedBenchResult) -> None:
    assert result.detector == "yunet"
    assert len(result.photos) == len(set(result.photos)) == 4
    assert [v.variant for v in result.variants] == [FACEPLUGIN, DLIB_FLIP, DLIB_ONE_PASS]
    for v in result.variants:
        _check(v.align, SETTINGS.min_rounds)
        assert v.align.faces == v.align.rounds * 4  # one face per call, every face once a round
        assert [(r.batch, r.threads) for r in v.runs] == [(1, 1), (4, 1)]
        for r in v.runs:
            _check(r.timing, SETTINGS.min_rounds)
            assert r.timing.faces == r.timing.calls * r.batch  # every call had a full batch
    assert [v.input_size for v in result.variants] == [112, 150, 150]


def test_mirror_averaging_costs_dlib_a_second_pass(result: EmbedBenchResult) -> None:
    flip, one_pass = result.variants[1], result.variants[2]
    for batch in SETTINGS.batch_sizes:
        with_flip, without = flip.at(batch, 1), one_pass.at(batch, 1)
        assert with_flip is not None and without is not None
        assert with_flip.mean_ms > 1.3 * without.mean_ms, (batch, with_flip, without)


def test_speed_ups_are_against_dlib_with_flip_in_the_same_run(result: EmbedBenchResult) -> None:
    assert result.baseline is not None and result.baseline.variant == BASELINE
    assert result.speedup(result.baseline, 1, 1) == pytest.approx(1.0)
    assert result.speedup(result.variants[0], 1, 2) is None  # 2 threads were not asked for
    speedup = result.speedup(result.variants[0], 1, 1)
    assert speedup is not None and speedup > 1.0  # a 112 px net, one pass, against two 150 px ResNet passes


def test_the_json_holds_every_measurement(result: EmbedBenchResult) -> None:
    doc = json.loads(json.dumps(result.as_json()))
    assert (doc["faces"], doc["batch_sizes"], doc["threads"]) == (4, [1, 4], [1])
    assert doc["baseline"] == "dlib-resnet-v1+flip" and len(doc["photos"]) == 4
    assert doc["machine"]["cores"] >= 1 and len(doc["load_before"]) == 3
    assert [e["model_id"] for e in doc["embedders"]] == [
        "faceplugin-fr512",
        "dlib-resnet-v1+flip",
        "dlib-resnet-v1",
    ]
    for e in doc["embedders"]:
        assert set(e["align"]["ms_per_face"]) == {"median", "p90", "mean"}
        assert {"calls", "rounds", "faces", "cores", "others_cores", "seconds"} <= set(e["align"])
        assert [(r["batch"], r["threads"]) for r in e["embed"]] == [(1, 1), (4, 1)]
        assert all(r["speedup"] > 0 and r["ms_per_face"]["median"] > 0 for r in e["embed"])


@pytest.mark.parametrize(
    ("text", "variant"),
    [
        ("faceplugin-fr512", FACEPLUGIN),
        ("dlib-resnet-v1+flip", DLIB_FLIP),
        ("dlib-resnet-v1", DLIB_ONE_PASS),
        ("mobilefacenet-sirius+flip", EmbedderVariant("mobilefacenet-sirius", flip=True)),
    ],
)  # fmt: skip
def test_embedders_are_named_by_their_model_id(text: str, variant: EmbedderVariant) -> None:
    assert EmbedderVariant.parse(text) == variant
    assert variant.model_id == text


@pytest.mark.parametrize("text", ["dlib", "dlib-resnet-v1+mirror", "arcface"])
def test_an_unknown_embedder_is_refused_naming_the_known_ones(text: str) -> None:
    with pytest.raises(ConfigError, match=r"dlib-resnet-v1\+flip"):
        EmbedderVariant.parse(text)


def test_by_default_every_catalogued_embedder_is_measured_and_dlib_with_and_without_flip() -> None:
    ids = [v.model_id for v in default_variants()]
    assert ids == [
        "fused-fr512-mfn192",
        "faceplugin-fr512",
        "mobilefacenet-sirius",
        "dlib-resnet-v1+flip",
        "dlib-resnet-v1",
    ]


def test_cli_runs_end_to_end_and_writes_json_and_png(
    lfw_images: Path, model_dir: Path, tmp_path: Path
) -> None:
    out, plot = tmp_path / "embed.json", tmp_path / "embed.png"
    result = CliRunner().invoke(
        app,
        ["bench", "embed", "--faces", "2", "--models", "faceplugin-fr512", "--models", "dlib-resnet-v1+flip",
         "--threads", "1", "--batch", "1", "--batch", "2", "--rounds", "1", "--seconds", "0",
         "--lfw", str(lfw_images.parent), "--model-dir", str(model_dir),
         "--out", str(out), "--plot", str(plot)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["command"] and doc["faces"] == 2 and doc["batch_sizes"] == [1, 2]
    assert [e["model_id"] for e in doc["embedders"]] == ["faceplugin-fr512", "dlib-resnet-v1+flip"]
    assert doc["embedders"][1]["embed"][0]["speedup"] == pytest.approx(1.0)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    assert "faceplugin-fr512" in result.output and "dlib-resnet-v1+flip" in result.output
    assert "machine:" in result.output and "command: " in result.output


def test_cli_refuses_an_unknown_embedder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "embed", "--models", "arcface", "--lfw", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown embedder 'arcface'" in result.output
