"""`vigil bench vector-engines` for real at 2,000 faces: a private PostgreSQL from the pgserver wheel with
pgvector, against Vigil's FAISS archive index, on the same vectors and probes.

pgserver is an optional extra (``pip install 'vigil[pgvector]'``): without it the bench test skips and only
the install hint is checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.cli import bench_vector_engines as cli
from vigil.evaluate.bench_vector_engines import pgserver_bin

ARGS = ["bench", "vector-engines", "--sizes", "2000", "--queries", "60", "--exact-queries", "60",
        "--probes", "2,8", "--ef-search", "40"]  # fmt: skip


@pytest.mark.network
def test_pgvector_and_faiss_answer_the_same_probes(tmp_path: Path) -> None:
    if pgserver_bin() is None:
        pytest.skip("pgserver (PostgreSQL with pgvector) is not installed: pip install 'vigil[pgvector]'")
    out, plot = tmp_path / "engines.json", tmp_path / "engines.png"
    result = CliRunner().invoke(app, [*ARGS, "--out", str(out), "--plot", str(plot)])
    assert result.exit_code == 0, f"{result.stdout}\n{result.exception!r}"
    payload = json.loads(out.read_text())
    assert "pgvector 0." in payload["server"]
    (size,) = payload["sizes"]
    assert size["faces"] == 2000 and size["dim"] == 512
    runs = {(r["engine"], r["index"], r["knob"]): r for r in size["runs"]}
    assert set(runs) == {("faiss", "exact", None), ("faiss", "ivf", 128), ("pgvector", "ivfflat", 2),
                         ("pgvector", "ivfflat", 8), ("pgvector", "hnsw", 40)}  # fmt: skip
    assert runs["faiss", "exact", None]["recall_at_1"] == 1.0
    for key, run in runs.items():
        assert 0.0 <= run["recall_at_1"] <= 1.0, key
        assert 0.0 < run["p50_ms"] <= run["p99_ms"], key
        assert run["index_mib"] > 0, key  # the index exists (pgvector: pg_relation_size on disk)
        if key[0] == "pgvector":
            assert run["table_mib"] > 3.0, key  # 2,000 × 512 float32 = 3.9 MiB, stored
    assert plot.stat().st_size > 10_000


def test_without_pgserver_the_bench_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "pgserver_bin", lambda: None)
    result = CliRunner().invoke(app, ARGS, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "pip install 'vigil[pgvector]'" in " ".join(result.stdout.split())
