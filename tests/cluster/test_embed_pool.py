"""`vigil bench embed-pool` for real, briefly: real LFW chips embedded in each client actor and through a
pool of embedding actors on a private local Ray instance; the pool's vectors are the in-process ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import skip_unless_required
from vigil.app import Engine
from vigil.evaluate.bench_embed import collect_faces, cut_chips
from vigil.evaluate.bench_embed_pool import EmbedPoolSettings, run_bench_embed_pool

pytestmark = pytest.mark.slow  # about 45 s: a Ray instance, 5 actors loading a model, 3 timed windows

FACES = 8


def _need_ray() -> None:
    try:
        import ray  # noqa: F401, PLC0415 (the optional extra vigil[cluster])
    except ImportError:
        skip_unless_required("Ray is not installed: pip install 'vigil[cluster]'", "VIGIL_REQUIRE_SERVICES")


def test_both_modes_embed_faces_and_the_pool_returns_the_in_process_vectors(
    lfw_images: Path, engine: Engine
) -> None:
    _need_ray()
    settings = EmbedPoolSettings(faces=FACES, clients=2, pools=(1,), gather=True, seconds=1.0, warmup_s=0.3)
    result = run_bench_embed_pool(engine.config, lfw_images, settings)

    assert [m.mode.label for m in result.modes] == ["in each actor", "pool of 1", "gathering pool of 1"]
    for m in result.modes:
        assert m.faces > 0, m.mode.label
        assert m.requests == m.faces  # one chip per request
        assert len(m.latency_ms) == m.requests
        assert 0 < m.latency(50) <= m.latency(99)
        assert m.actor_cpu_s > 0
    gathering = result.modes[2]
    assert gathering.batches > 0 and gathering.batched_chips >= gathering.batches

    faces = collect_faces(engine.detector, lfw_images, FACES, engine.config.ingest)
    chips = cut_chips(engine.face_model, faces)
    here = engine.embedder.embed(chips).vectors
    for m in result.modes:
        assert m.probe.shape == here.shape
        np.testing.assert_allclose(m.probe, here, atol=1e-5, err_msg=m.mode.label)
        assert m.probe_diff < 1e-5
