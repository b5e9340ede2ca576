"""Calibrated thresholds: measured FPIRs hold on fresh strangers, lists are judged at their size, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vigil.config import MatchConfig
from vigil.errors import BadInput
from vigil.match.calibration import Calibration, calibrate, load_calibration, shipped_calibration
from vigil.match.thresholds import ThresholdPolicy
from vigil.model_catalogue import EMBEDDERS, model_id
from vigil.types import FloatArray

DIM = 32


def _unit(rng: np.random.Generator, n: int) -> FloatArray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    out: FloatArray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


@pytest.fixture(scope="module")
def cal() -> Calibration:
    rng = np.random.default_rng(1)
    return calibrate(
        _unit(rng, 1500), _unit(rng, 4000), model_id="synthetic", source="random vectors", command="test"
    )


def _fpir(gallery: FloatArray, strangers: FloatArray, threshold: float) -> float:
    return float(((strangers @ gallery.T).max(axis=1) >= threshold).mean())


@pytest.mark.parametrize(("size", "fpir"), [(10, 0.01), (100, 0.01), (300, 0.003), (1000, 0.01)])
def test_the_calibrated_threshold_holds_its_fpir_on_fresh_strangers_and_lists(
    cal: Calibration, size: int, fpir: float
) -> None:
    rng = np.random.default_rng(size)
    t = cal.threshold(size, fpir)
    assert t.resolved and not t.extrapolated
    measured = np.mean([_fpir(_unit(rng, size), _unit(rng, 4000), t.threshold) for _ in range(5)])
    assert fpir / 2.5 < measured < fpir * 2.5, (size, fpir, t.threshold, measured)


def test_thresholds_rise_with_the_list_and_fall_with_the_rate(cal: Calibration) -> None:
    by_size = [cal.threshold(n, 0.01).threshold for n in (1, 10, 100, 1000)]
    assert by_size == sorted(by_size) and by_size[0] < by_size[-1] - 0.1
    by_rate = [cal.threshold(300, f).threshold for f in (0.1, 0.01, 0.001)]
    assert by_rate == sorted(by_rate) and by_rate[0] < by_rate[-1]


def test_longer_lists_are_extrapolated_and_too_fine_a_rate_is_flagged(cal: Calibration) -> None:
    big = cal.threshold(50_000, 0.01)
    assert big.extrapolated and big.threshold > cal.threshold(1500, 0.01).threshold
    fine = cal.threshold(1500, 1e-6)  # one stranger in a million: 4,000 cannot show it
    assert not fine.resolved
    with pytest.raises(BadInput, match=r"fpir: 0\.0 is not a rate"):
        cal.threshold(10, 0.0)


def test_a_calibration_file_round_trips_and_bad_files_are_named(cal: Calibration, tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    cal.save(path)
    assert load_calibration(path) == cal
    path.write_text("{not json")
    with pytest.raises(BadInput, match="not a readable JSON calibration"):
        load_calibration(path)
    path.write_text(json.dumps({"format": 1, "model_id": "x"}))
    with pytest.raises(BadInput, match="not a Vigil calibration file"):
        load_calibration(path)
    with pytest.raises(BadInput, match="calibration file not found"):
        load_calibration(tmp_path / "none.json")


@pytest.mark.parametrize("name", sorted(EMBEDDERS))
def test_every_catalogued_embedder_ships_a_calibration_of_its_own_model(name: str) -> None:
    spec = EMBEDDERS[name]
    shipped = shipped_calibration(model_id(spec, spec.flip))
    assert shipped is not None, f"{name}: run `vigil calibrate build --ship` with it configured"
    assert shipped.model_id == model_id(spec, spec.flip)
    assert shipped.gallery > 2000 and shipped.strangers > 5000
    # A 1:1 decision at FPIR 0.1% is the embedder's verification threshold: near the catalogued one.
    assert abs(shipped.threshold(1, 0.001).threshold - spec.threshold) < 0.05


def test_a_list_uses_the_calibrated_threshold_for_its_size_never_below_the_floor(cal: Calibration) -> None:
    policy = ThresholdPolicy(MatchConfig(threshold=0.2, fpir=0.01), cal)
    small, large = policy.rule(3), policy.rule(1000)
    assert small.fpir == large.fpir == 0.01
    assert small.threshold < large.threshold
    assert (large.threshold, large.calibrated_for) == (cal.threshold(1000, 0.01).threshold, 1000)
    assert policy.rule(1000, fpir=0.001).threshold > large.threshold
    floor = ThresholdPolicy(MatchConfig(threshold=0.99, fpir=0.01), cal)
    assert floor.rule(1000).threshold == 0.99

    fixed = policy.rule(1000, threshold=0.3)
    assert fixed.fixed and fixed.below_calibrated and fixed.calibrated_for is None and fixed.fpir is None
    assert not policy.rule(1000, threshold=0.99).below_calibrated
    off = ThresholdPolicy(MatchConfig(threshold=0.5, fpir=None), cal).rule(1000)
    assert (off.threshold, off.calibrated, off.fpir) == (0.5, None, None)
