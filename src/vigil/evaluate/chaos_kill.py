"""`vigil bench chaos kills`: SIGKILL the service and its camera workers at random while cameras raise
alerts and a webhook receiver fails half its requests; then count what was raised and what arrived.

The run: a real ``vigil serve`` (child process) with file cameras looping the sample clip, whose person
is on a watchlist (every track of theirs is an alert: no cool-down), and a loopback receiver in this
process that verifies each request's signature and answers 500 to a seeded half of them. ``kills``
times, after a random wait, either the service (then started again on the same data dir and port) or
one of its camera workers (the supervisor starts it again) gets SIGKILL. Halfway, a camera is removed
and added again under its name (the case where reused ids lost webhooks). At the end the cameras are
paused, the outbox drains, and the database's alerts are compared with what the receiver accepted:
every alert delivered, none unknown, no webhook-id carrying two different alerts, no id reused.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from vigil.config import VigilConfig
from vigil.evaluate.chaos_delivery import (
    SECRET,
    Deliveries,
    Received,
    Receiver,
    ServeProcess,
    add_camera,
    count_deliveries,
    drain,
    enrol,
    pause_cameras,
    raised_alerts,
)
from vigil.evaluate.pg_cluster import free_port
from vigil.store.db import Database
from vigil.store.paths import database_url

ProgressFn = Callable[[int, int, str], None]
"""(kills done, kills planned, what just happened)."""


@dataclass(frozen=True, slots=True)
class KillSettings:
    """What the run does. ``worker_share`` of the kills hit a camera worker, the rest the service."""

    kills: int = 100
    seed: int = 7
    cameras: int = 2
    fail_ratio: float = 0.5
    wait_s: tuple[float, float] = (2.0, 6.0)  # long enough for restarted workers to raise alerts
    worker_share: float = 0.5
    max_fps: float = 5.0
    drain_timeout_s: float = 180.0


@dataclass(frozen=True, slots=True)
class KillResult:
    """The kills, and what was raised (the database's alerts) against what the receiver accepted."""

    kills_service: int
    kills_worker: int
    deliveries: Deliveries
    readded_camera: tuple[int, int] | None  # (removed id, new id)
    removed_camera_alerts: int  # alerts of the removed camera still in the database at the end
    seconds: float

    @property
    def ok(self) -> bool:
        return self.deliveries.ok


def _settings(workdir: Path, clip: Path, hook_url: str, port: int, cameras: int) -> dict[str, Any]:
    return {
        "store": {"data_dir": str(workdir / "data")},
        "server": {"host": "127.0.0.1", "port": port},
        "live": {"workers": min(2, cameras), "stats_interval_s": 1.0, "file_roots": [str(clip.parent)]},
        "alerts": {
            "cooldown_s": 0,
            "webhooks": [{"name": "chaos", "url": hook_url, "secret": SECRET}],
            "delivery": {"initial_backoff_s": 0.2, "max_backoff_s": 2.0},
        },
    }


def run_kills(
    workdir: Path, *, clip: Path, photo: Path, person: str, settings: KillSettings, progress: ProgressFn
) -> KillResult:
    """The whole run in ``workdir`` (data dir, config, the service's log ``serve.log``)."""
    started = time.monotonic()
    rng = random.Random(settings.seed)
    receiver = Receiver(SECRET, settings.fail_ratio, settings.seed)
    hook_url = receiver.start()
    port = free_port()
    raw = _settings(workdir, clip, hook_url, port, settings.cameras)
    config_path = workdir / "vigil.yaml"
    config_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    config = VigilConfig.model_validate(raw)
    enrol(config, photo, person, "vigil bench chaos kills")
    service = ServeProcess(config_path, port, workdir / "serve.log")
    counts: Counter[str] = Counter()
    readded: tuple[int, int] | None = None
    db = Database.from_url(database_url(config.store))
    try:
        service.start()
        with service.client() as api:
            cams = [
                _add_file_camera(api, f"cam-{i}", clip, settings.max_fps) for i in range(settings.cameras)
            ]
        for k in range(settings.kills):
            time.sleep(rng.uniform(*settings.wait_s))
            if k == settings.kills // 2:
                _wait_for_alert(db, cams[0], timeout_s=90)  # so that the removed camera has a history
                with service.client() as api:
                    readded = (cams[0], _readd(api, cams[0], clip, settings.max_fps))
                progress(k, settings.kills, f"camera {readded[0]} removed, added again as {readded[1]}")
            workers = service.workers()
            if workers and rng.random() < settings.worker_share:
                rng.choice(workers).send_signal(signal.SIGKILL)
                counts["worker"] += 1
                progress(k + 1, settings.kills, "a camera worker killed")
            else:
                service.kill()
                counts["service"] += 1
                service.start()
                progress(k + 1, settings.kills, "the service killed and started again")
        with service.client() as api:
            pause_cameras(api)
        alerts = drain(receiver, db, settings.drain_timeout_s)
    finally:
        service.stop()
        receiver.stop()
        db.dispose()
    return _tally(receiver.snapshot(), alerts, counts, readded, time.monotonic() - started)


def _readd(api: httpx.Client, camera_id: int, clip: Path, max_fps: float) -> int:
    name = api.get(f"/cameras/{camera_id}").json()["name"]
    api.delete(f"/cameras/{camera_id}", params={"reason": "chaos bench: removed mid-run"}).raise_for_status()
    return _add_file_camera(api, name, clip, max_fps)


def _add_file_camera(api: httpx.Client, name: str, clip: Path, max_fps: float) -> int:
    return add_camera(api, name, str(clip), max_fps, loop=True)


def _wait_for_alert(db: Database, camera_id: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while camera_id not in raised_alerts(db).values() and time.monotonic() < deadline:
        time.sleep(0.5)


def _tally(
    received: list[Received],
    alerts: dict[int, int],
    counts: Counter[str],
    readded: tuple[int, int] | None,
    seconds: float,
) -> KillResult:
    return KillResult(
        kills_service=counts["service"],
        kills_worker=counts["worker"],
        deliveries=count_deliveries(received, alerts),
        readded_camera=readded,
        removed_camera_alerts=sum(1 for c in alerts.values() if readded and c == readded[0]),
        seconds=round(seconds, 1),
    )
