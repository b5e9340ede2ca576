"""Several writers, one archive: footage recorded by `vigil scan --store` (another process) while
`vigil serve` runs is seen by the server within seconds: in its search, its retro-search, its WebSocket and
its outbox.

The regression (issue 13, item 8): the server's archive index was loaded once and then fed only by its own
recorder, and only its own alerts reached its WebSocket; footage the CLI recorded was not found by the
server's search, enrolment's retro-search found 0 of it, and its alerts never reached the WebSocket.

Ground truth (tests/integration/test_scan.py): Lin-Manuel Miranda is on stage in the Hamilton clip from the
first frame until 7.0 s.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection

from tests.serve_kit import VigilServer, wait_for_alert
from tests.services import WEBHOOK_SECRET, FlakyReceiver, wait_until

pytestmark = [pytest.mark.network, pytest.mark.slow]

MIRANDA = "Lin-Manuel Miranda"
BOUND_S = 5.0  # what the server may lag behind a commit of the CLI
SCAN_TIMEOUT_S = 300.0


@pytest.fixture
def receiver() -> Iterator[FlakyReceiver]:
    with FlakyReceiver(WEBHOOK_SECRET, fail_ratio=0.0) as r:
        yield r


def _settings(tmp_path: Path, model_dir: Path, url: str | None, receiver: FlakyReceiver) -> dict[str, Any]:
    return {
        "model_dir": str(model_dir),
        "store": {"data_dir": str(tmp_path / "data"), "url": url},
        "live": {"workers": 1},
        "alerts": {
            "cooldown_s": 0,
            "webhooks": [{"name": "ops", "url": receiver.url, "secret": WEBHOOK_SECRET}],
            "delivery": {"initial_backoff_s": 0.2, "max_backoff_s": 0.5},
        },
    }


def _scan(server: VigilServer, clip: Path, camera: str) -> subprocess.Popen[str]:
    """`vigil scan --store <camera>` on the server's own config file, as a separate process; filmed a minute
    ago (inside the retro-search's days)."""
    start = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return subprocess.Popen(
        [sys.executable, "-m", "vigil", "scan", "--store", camera, str(clip), "--start", start,
         "-c", str(server.config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> tuple[str, float]:
    """The CLI's output and the time it exited (after its last commit)."""
    out, _ = proc.communicate(timeout=SCAN_TIMEOUT_S)
    done = time.monotonic()
    assert proc.returncode == 0, out
    return out, done


def _search(api: httpx.Client, photo: Path) -> dict[str, Any]:
    r = api.post(
        "/search", files={"photo": (photo.name, photo.read_bytes())}, data={"reason": "e2e: writers"}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _alert_on(ws: ClientConnection, camera: str, timeout_s: float) -> tuple[dict[str, Any], float]:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        alert, received = wait_for_alert(ws, MIRANDA, left)
        if alert["camera"] == camera:
            return alert, received
    raise AssertionError(f"no alert on {camera} within {timeout_s} s")


def test_the_server_sees_what_a_scan_records_while_it_runs(
    tmp_path: Path, model_dir: Path, refs: Path, hamilton_clip: Path, receiver: FlakyReceiver, db_url: str
) -> None:
    url = None if db_url.startswith("sqlite") else db_url  # SQLite: the default database in the data dir
    photo = refs / "ageitgey_lin-manuel-miranda.png"
    with VigilServer(tmp_path / "serve", _settings(tmp_path, model_dir, url, receiver)) as server:
        api = server.client()
        made = api.post("/watchlists", json={"name": "vip", "reason": "e2e: writers"})
        assert made.status_code == 201, made.text
        assert _search(api, photo)["archive"] == [], "an empty archive (its index is loaded now)"

        # (c) The CLI records the clip while nobody is enrolled; enrolling through the server finds it.
        _, done = _finish(_scan(server, hamilton_clip, "before"))
        enrolled = api.post(
            "/people",
            data={"watchlist": "vip", "name": MIRANDA, "reason": "e2e: writers"},
            files={"photos": (photo.name, photo.read_bytes())},
        )
        took_retro = time.monotonic() - done
        assert enrolled.status_code == 201, enrolled.text
        assert enrolled.json()["retro_alerts"] >= 1, "the retro-search found the CLI's footage"
        assert took_retro <= BOUND_S + 5.0, f"enrolment answered {took_retro:.1f} s after the CLI"

        # (b) The CLI's alerts reach the server's WebSocket and its webhook, once each.
        with server.alerts_socket() as ws:
            proc = _scan(server, hamilton_clip, "stage")
            try:
                alert, received = _alert_on(ws, "stage", SCAN_TIMEOUT_S)
                key = f"alert-{alert['alert_id']}"
                wait_until(lambda: any(i == key for i, _ in receiver.accepted), BOUND_S, f"the webhook {key}")
                by_webhook = time.time() - datetime.fromisoformat(alert["raised_at"]).timestamp()
            finally:
                out, done = _finish(proc)
        lag = received - datetime.fromisoformat(alert["raised_at"]).timestamp()
        assert lag <= BOUND_S, f"the CLI's alert reached the WebSocket {lag:.2f} s after it was raised"
        assert "alerts" in out and alert["retro"] is False

        # (a) The server's search finds the CLI's sightings on "stage" at once.
        found = _search(api, photo)
        took_search = time.monotonic() - done
        stage = [h for h in found["archive"] if h["camera"] == "stage"]
        assert stage, f"no sighting on 'stage' among {[h['camera'] for h in found['archive']]}"
        assert stage[0]["person"] == MIRANDA
        assert took_search <= BOUND_S

        time.sleep(3.0)  # longer than the dispatcher's poll: a second sender would have sent by now
        keys = [i for i, _ in receiver.accepted]
        assert keys.count(key) == 1, keys
        assert len(keys) == len(set(keys)), f"every alert delivered once: {keys}"
        engine = db_url.split(":", maxsplit=1)[0]
        print(
            f"\n{engine}: retro-search answered {took_retro:.2f} s after the CLI exited; "
            f"the CLI's alert on the WebSocket {lag:.2f} s after it was raised, by webhook "
            f"{by_webhook:.2f} s after; search {took_search:.2f} s after the CLI exited"
        )
