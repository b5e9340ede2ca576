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

import base64
import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml
from sqlalchemy import select

from vigil.alerts.webhook import verify
from vigil.app import build_engine, open_store
from vigil.config import VigilConfig
from vigil.evaluate.pg_cluster import free_port
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.lists import ListSettings
from vigil.store.db import Database
from vigil.store.paths import database_url
from vigil.store.tables import Event

SECRET = "whsec_" + base64.b64encode(b"vigil chaos bench webhook secret").decode()
_TOKEN = re.compile(r"API token:\s+(\S+)")
_LIST = "chaos"

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
    """What was raised (the database's alerts) against what the receiver accepted."""

    kills_service: int
    kills_worker: int
    alerts_raised: int
    delivered: int  # distinct webhook-ids accepted
    requests: int  # every signed request the receiver answered
    failed_requests: int  # answered 500 on purpose
    duplicates: int  # accepted more than once (a delivery in flight at a kill): de-duplicated by id
    missing: tuple[int, ...]  # alerts raised, never accepted
    unknown: tuple[str, ...]  # accepted ids that are no alert in the database
    conflicting: tuple[str, ...]  # ids accepted with two different bodies
    wrong_alert: tuple[str, ...]  # ids whose body names another alert than the database's row
    readded_camera: tuple[int, int] | None  # (removed id, new id)
    removed_camera_alerts: int  # alerts of the removed camera still in the database at the end
    seconds: float

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unknown or self.conflicting or self.wrong_alert) and (
            self.alerts_raised > 0
        )


@dataclass
class _Received:
    webhook_id: str
    body: bytes
    status: int


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: checks signatures, fails a seeded ``fail_ratio`` of requests."""

    secret: str
    fail_ratio: float
    seed: int
    received: list[_Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        rng = random.Random(self.seed)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if not verify(outer.secret, headers, body):
                    status = 401
                else:
                    with outer._lock:
                        status = 500 if rng.random() < outer.fail_ratio else 200
                        outer.received.append(_Received(headers.get("webhook-id", ""), body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/vigil"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def snapshot(self) -> list[_Received]:
        with self._lock:
            return list(self.received)


class _Service:
    """``vigil serve -c CONFIG`` as a child process, started again after each kill."""

    def __init__(self, config_path: Path, port: int, log: Path) -> None:
        self.config_path = config_path
        self.url = f"http://127.0.0.1:{port}"
        self.token: str | None = None
        self._log = log
        self._proc: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 120.0) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "vigil", "serve", "-c", str(self.config_path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        threading.Thread(target=self._pump, args=(self._proc,), daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"vigil serve exited with {self._proc.returncode}: see {self._log}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200 and self.token:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"vigil serve did not answer within {timeout_s:.0f} s: see {self._log}")

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        with self._log.open("a", encoding="utf-8") as out:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                found = _TOKEN.search(line)
                if found and self.token is None:
                    self.token = found.group(1)

    def workers(self) -> list[psutil.Process]:
        """The camera worker processes (spawned children, not multiprocessing's resource tracker)."""
        if self._proc is None or self._proc.poll() is not None:
            return []
        try:
            children = psutil.Process(self._proc.pid).children()
            return [c for c in children if "resource_tracker" not in " ".join(c.cmdline())]
        except psutil.Error:
            return []

    def kill(self) -> None:
        """SIGKILL the service; wait for its orphaned workers to notice and exit."""
        if self._proc is None:
            return
        orphans = self.workers()
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(10)
        psutil.wait_procs(orphans, timeout=15)

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)


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


def _enrol(config: VigilConfig, photo: Path, person: str) -> None:
    store = open_store(config)
    store.lists.create("chaos-bench", _LIST, ListSettings(), "vigil bench chaos kills")
    request = EnrolRequest(_LIST, person, "vigil bench chaos kills", (Photo(photo.name, photo.read_bytes()),))
    store.enrolment(build_engine(config)).enrol("chaos-bench", request)
    store.db.dispose()


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
    _enrol(config, photo, person)
    service = _Service(config_path, port, workdir / "serve.log")
    counts: Counter[str] = Counter()
    readded: tuple[int, int] | None = None
    db = Database.from_url(database_url(config.store))
    try:
        service.start()
        with service.client() as api:
            cams = [_add_camera(api, f"cam-{i}", clip, settings.max_fps) for i in range(settings.cameras)]
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
            for cam in api.get("/cameras").json():
                api.patch(f"/cameras/{cam['id']}", json={"enabled": False, "reason": "end of the run"})
        alerts = _alerts(db)
        _drain(receiver, alerts, settings.drain_timeout_s)
        alerts = _alerts(db)
    finally:
        service.stop()
        receiver.stop()
        db.dispose()
    return _tally(receiver.snapshot(), alerts, counts, readded, time.monotonic() - started)


def _add_camera(api: httpx.Client, name: str, clip: Path, max_fps: float) -> int:
    body = {"name": name, "url": str(clip), "loop": True, "max_fps": max_fps, "reason": "chaos bench"}
    response = api.post("/cameras", json=body)
    if response.status_code != 201:
        raise RuntimeError(f"adding camera {name} failed: {response.status_code} {response.text[:300]}")
    return int(response.json()["id"])


def _readd(api: httpx.Client, camera_id: int, clip: Path, max_fps: float) -> int:
    name = api.get(f"/cameras/{camera_id}").json()["name"]
    api.delete(f"/cameras/{camera_id}", params={"reason": "chaos bench: removed mid-run"}).raise_for_status()
    return _add_camera(api, name, clip, max_fps)


def _alerts(db: Database) -> dict[int, int]:
    """Every alert in the database: id -> camera id."""
    with db.read() as s:
        rows = s.execute(select(Event.id, Event.camera_id).where(Event.alerted_at.is_not(None))).all()
    return {int(i): int(c) for i, c in rows}


def _wait_for_alert(db: Database, camera_id: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while camera_id not in _alerts(db).values() and time.monotonic() < deadline:
        time.sleep(0.5)


def _drain(receiver: Receiver, alerts: dict[int, int], timeout_s: float) -> None:
    """Wait until the receiver accepted every alert (or ``timeout_s``)."""
    want = {f"alert-{i}" for i in alerts}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = {r.webhook_id for r in receiver.snapshot() if r.status == 200}
        if want <= got:
            return
        time.sleep(0.5)


def _tally(
    received: list[_Received],
    alerts: dict[int, int],
    counts: Counter[str],
    readded: tuple[int, int] | None,
    seconds: float,
) -> KillResult:
    accepted = [r for r in received if r.status == 200]
    times = Counter(r.webhook_id for r in accepted)
    bodies: dict[str, set[bytes]] = {}
    for r in accepted:
        bodies.setdefault(r.webhook_id, set()).add(r.body)
    keys = {f"alert-{i}": i for i in alerts}
    wrong = []
    for webhook_id, variants in bodies.items():
        alert_id = keys.get(webhook_id)
        if alert_id is None:
            continue
        body = json.loads(next(iter(variants)))
        if (body.get("alert_id"), body.get("camera_id")) != (alert_id, alerts[alert_id]):
            wrong.append(webhook_id)
    return KillResult(
        kills_service=counts["service"],
        kills_worker=counts["worker"],
        alerts_raised=len(alerts),
        delivered=len(times),
        requests=len(received),
        failed_requests=sum(1 for r in received if r.status != 200),
        duplicates=sum(n - 1 for n in times.values()),
        missing=tuple(sorted(i for i in alerts if f"alert-{i}" not in times)),
        unknown=tuple(sorted(k for k in times if k not in keys)),
        conflicting=tuple(sorted(k for k, v in bodies.items() if len(v) > 1)),
        wrong_alert=tuple(sorted(wrong)),
        readded_camera=readded,
        removed_camera_alerts=sum(1 for c in alerts.values() if readded and c == readded[0]),
        seconds=round(seconds, 1),
    )
