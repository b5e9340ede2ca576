"""What the kill benches share: a loopback webhook receiver, `vigil serve` as a child process, and the
verdict that compares the database's alerts with what the receiver accepted.

``vigil bench chaos kills`` kills the service and its workers, ``vigil bench chaos node-kills`` the nodes
of a Ray cluster; both ask the same question of the same receiver: was every alert delivered, each under
its own webhook-id, with its own body, and was any accepted twice?
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
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import select

from vigil.alerts.webhook import verify
from vigil.app import build_engine, open_store
from vigil.config import VigilConfig
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.lists import ListSettings
from vigil.store.db import Database
from vigil.store.tables import Event

SECRET = "whsec_" + base64.b64encode(b"vigil chaos bench webhook secret").decode()
_TOKEN = re.compile(r"API token:\s+(\S+)")
_LIST = "chaos"


@dataclass
class Received:
    webhook_id: str
    body: bytes
    status: int


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: checks signatures, fails a seeded ``fail_ratio`` of requests."""

    secret: str
    fail_ratio: float
    seed: int
    received: list[Received] = field(default_factory=list)
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
                        outer.received.append(Received(headers.get("webhook-id", ""), body, status))
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

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)


class ServeProcess:
    """``vigil serve -c CONFIG`` as a child process (started again after a kill); output to ``log``."""

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


def enrol(config: VigilConfig, photo: Path, person: str, source: str) -> None:
    """``person`` (one photo) on a new watchlist, written by this process before the service starts."""
    store = open_store(config)
    store.lists.create("chaos-bench", _LIST, ListSettings(), source)
    request = EnrolRequest(_LIST, person, source, (Photo(photo.name, photo.read_bytes()),))
    store.enrolment(build_engine(config)).enrol("chaos-bench", request)
    store.db.dispose()


def add_camera(api: httpx.Client, name: str, url: str, max_fps: float, *, loop: bool) -> int:
    body = {"name": name, "url": url, "loop": loop, "max_fps": max_fps, "reason": "chaos bench"}
    response = api.post("/cameras", json=body)
    if response.status_code != 201:
        raise RuntimeError(f"adding camera {name} failed: {response.status_code} {response.text[:300]}")
    return int(response.json()["id"])


def pause_cameras(api: httpx.Client) -> None:
    """Pause every camera (the end of a run: their tracks end and are recorded)."""
    for cam in api.get("/cameras").json():
        api.patch(f"/cameras/{cam['id']}", json={"enabled": False, "reason": "end of the run"})


def raised_alerts(db: Database) -> dict[int, int]:
    """Every alert in the database: id -> camera id."""
    with db.read() as s:
        rows = s.execute(select(Event.id, Event.camera_id).where(Event.alerted_at.is_not(None))).all()
    return {int(i): int(c) for i, c in rows}


def drain(receiver: Receiver, db: Database, timeout_s: float) -> dict[int, int]:
    """Wait until the receiver accepted every alert in the database (read again on each look, so an alert
    recorded meanwhile is waited for too), or ``timeout_s``; returns the database's alerts."""
    deadline = time.monotonic() + timeout_s
    while True:
        alerts = raised_alerts(db)
        got = {r.webhook_id for r in receiver.snapshot() if r.status == 200}
        if {f"alert-{i}" for i in alerts} <= got or time.monotonic() > deadline:
            return alerts
        time.sleep(0.5)


@dataclass(frozen=True, slots=True)
class Deliveries:
    """The database's alerts against what the receiver accepted."""

    alerts_raised: int
    delivered: int  # distinct webhook-ids accepted
    requests: int  # every signed request the receiver answered
    failed_requests: int  # answered 500 on purpose
    duplicates: int  # accepted more than once (a delivery in flight at a kill): de-duplicated by id
    missing: tuple[int, ...]  # alerts raised, never accepted
    unknown: tuple[str, ...]  # accepted ids that are no alert in the database
    conflicting: tuple[str, ...]  # ids accepted with two different bodies
    wrong_alert: tuple[str, ...]  # ids whose body names another alert than the database's row

    @property
    def ok(self) -> bool:
        """Every alert delivered, none unknown, no id carrying two alerts (duplicates are the receiver's
        to drop: at-least-once)."""
        lost = self.missing or self.unknown or self.conflicting or self.wrong_alert
        return not lost and self.alerts_raised > 0


def count_deliveries(received: list[Received], alerts: dict[int, int]) -> Deliveries:
    """Compares what the receiver accepted with the database's alerts (id -> camera id)."""
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
    return Deliveries(
        alerts_raised=len(alerts),
        delivered=len(times),
        requests=len(received),
        failed_requests=sum(1 for r in received if r.status != 200),
        duplicates=sum(n - 1 for n in times.values()),
        missing=tuple(sorted(i for i in alerts if f"alert-{i}" not in times)),
        unknown=tuple(sorted(k for k in times if k not in keys)),
        conflicting=tuple(sorted(k for k, v in bodies.items() if len(v) > 1)),
        wrong_alert=tuple(sorted(wrong)),
    )
