"""Malformed media through the real API (`vigil bench chaos inputs`, small): enrolment, search by photo and
footage upload answer every broken, lying or hostile file with a clear 4xx, or a 2xx where the file was
still usable; nothing crashes or hangs, every footage job ends, and every kind of input was sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.evaluate.chaos_inputs import all_kinds
from vigil.evaluate.chaos_inputs_run import run_inputs

COUNT = 200


@pytest.mark.usefixtures("model_dir")
def test_malformed_media_get_clear_answers_no_crash_no_hang(test_data: Path) -> None:
    result = run_inputs(test_data, COUNT, seed=5, request_timeout_s=30, job_timeout_s=60)
    assert result.ok, "\n".join(result.problems)
    assert result.crashes == result.hangs == result.unclear == 0
    assert sum(t.count for t in result.tallies) == COUNT
    assert not result.kinds_missing and {t.kind for t in result.tallies} == all_kinds()
    for t in result.tallies:
        assert all(s.startswith(("2", "4", "job done", "job failed")) for s in t.statuses), t
    assert {"footage", "enrol", "search"} == {t.route for t in result.tallies}
    assert result.rss_peak_mb < 2000, "memory stays bounded (the 400 MP PNG is refused from its header)"
