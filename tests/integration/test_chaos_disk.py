"""A full and a read-only data dir (`vigil bench chaos disk`) on a real 8 MB tmpfs: writes answer 507 "the
disk is full" / 503 "the data dir is read-only" naming where, reads keep working, no person without
photos and no orphan media file, and the same requests succeed once space or write access returns.

Regression: a full disk answered enrolment with a 500 (ENOSPC escaped the media store), and a read-only
data dir made every read fail too (SQLite cannot open a WAL database on a read-only file system).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vigil.evaluate.chaos_disk import MountUnavailable, run_disk


@pytest.mark.usefixtures("model_dir")
def test_full_then_read_only_data_dir_is_said_clearly_and_resumes(refs: Path, hamilton_clip: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        result = run_disk(refs / "ageitgey_obama.jpg", hamilton_clip, progress=lambda _phase: None)
    except MountUnavailable as exc:
        pytest.skip(f"mount not permitted here: {exc}")
    failed = [c for c in result.checks if not c.ok]
    assert not failed, "\n".join(
        f"{c.phase} {c.what}: {c.status}, expected {c.expected}: {c.detail}" for c in failed
    )
    phases = {c.phase for c in result.checks}
    assert {"full", "space back", "read-only", "rw again"} <= phases
    full = {c.what: c.status for c in result.checks if c.phase == "full"}
    assert full["enrol"] == 507 and full["upload footage"] == 507
