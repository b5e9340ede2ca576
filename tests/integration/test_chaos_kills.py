"""`vigil bench chaos kills`, bounded: a real `vigil serve` and its camera workers SIGKILLed at random
while file cameras raise alerts and a loopback receiver fails half its webhook requests; a camera is
removed (after it raised an alert) and added again under its name. Every alert in the database arrives,
under its own webhook-id, with its own body."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.evaluate.chaos_kill import KillSettings, run_kills
from vigil.samples import SAMPLE_WATCHLIST

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_random_sigkills_lose_no_alert_and_reuse_no_id(
    tmp_path: Path, hamilton_clip: Path, refs: Path
) -> None:
    person, photo = SAMPLE_WATCHLIST[0]
    events: list[str] = []
    settings = KillSettings(kills=6, seed=7, cameras=2)
    result = run_kills(
        tmp_path, clip=hamilton_clip.resolve(), photo=(refs / photo).resolve(), person=person,
        settings=settings, progress=lambda _d, _t, what: events.append(what),
    )  # fmt: skip
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")[-4000:]
    assert result.kills_service >= 1 and result.kills_worker >= 1, result
    d = result.deliveries
    assert d.failed_requests >= 1, "the receiver failed some requests: deliveries were retried"
    assert d.alerts_raised >= 2, f"{result}\n{log}"
    assert d.missing == (), f"alerts raised and never delivered: {result}\n{log}"
    assert (d.unknown, d.conflicting, d.wrong_alert) == ((), (), ()), result
    assert result.readded_camera is not None and result.readded_camera[1] > result.readded_camera[0]
    assert result.removed_camera_alerts >= 1, "the removed camera's alerts are kept, and were delivered"
    assert result.ok
    assert sum("removed, added again" in e for e in events) == 1
