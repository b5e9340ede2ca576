"""Probes ``vigil bench live`` measures the service with, from inside its own process.

CPU time and resident memory of this process's tree (:class:`ProcessTree`: the service, its worker
processes, the RTSP server told apart), a real WebSocket client recording every alert and when it
arrived (:func:`alert_socket`), the HTTP app under uvicorn in a background thread (:func:`serving`)
and the workers' stderr sent to a file (:func:`children_stderr`).

Example:
    >>> tree = ProcessTree()
    >>> before = tree.cpu_seconds()
    >>> usage = tree.cpu_seconds().usage_since(before, tree.memory())
    >>> usage.processes >= 1
    True
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import uvicorn
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from vigil.evaluate.bench_live_results import Usage

_MIB = 1024.0**2


@dataclass(frozen=True, slots=True)
class Memory:
    """Resident memory of the service's process tree at one moment, bytes.

    Attributes:
        total: the service and its workers together.
        service: this process.
        workers: its worker processes (and multiprocessing's helper).
        processes: processes counted.
    """

    total: float
    service: float
    workers: float
    processes: int


@dataclass(frozen=True, slots=True)
class Cpu:
    """CPU seconds used so far: per process (pid -> role, user + system), and by the whole machine."""

    at: float
    processes: dict[int, tuple[str, float]]
    machine_busy: float
    machine_total: float

    def usage_since(self, before: Cpu, peak: Memory) -> Usage:
        """CPU between ``before`` and this snapshot as % of the machine, with ``peak`` memory.

        A process started in between counts all its time.

        Args:
            before: the earlier snapshot.
            peak: the largest memory sample seen meanwhile (:meth:`ProcessTree.memory`).

        Returns:
            The usage per role (service, workers, RTSP server) and of the whole machine.
        """
        per_role: dict[str, float] = {}
        for pid, (role, cpu) in self.processes.items():
            per_role[role] = per_role.get(role, 0.0) + cpu - before.processes.get(pid, (role, 0.0))[1]
        scale = 100.0 / (max(self.at - before.at, 1e-9) * (os.cpu_count() or 1))
        machine = (self.machine_busy - before.machine_busy) / max(
            self.machine_total - before.machine_total, 1e-9
        )
        return Usage(
            service_cpu_pct=per_role.get("service", 0.0) * scale,
            workers_cpu_pct=per_role.get("workers", 0.0) * scale,
            rtsp_cpu_pct=per_role.get("rtsp", 0.0) * scale,
            ray_cpu_pct=per_role.get("ray", 0.0) * scale,
            system_cpu_pct=100.0 * machine,
            peak_rss_mib=peak.total / _MIB,
            service_rss_mib=peak.service / _MIB,
            workers_rss_mib=peak.workers / _MIB,
            processes=peak.processes,
        )


_RAY_WORKER = "ray::CameraActor"  # a camera actor's process title (a Ray worker hosting one)


def _role(cmdline: list[str]) -> str:
    """A child's role from its command line: the RTSP server, Ray's own processes (GCS, raylets, agents,
    idle Ray workers, when a Ray cluster runs on this machine under this process), or a camera worker."""
    if any(arg.endswith("gst_rtsp_main.py") for arg in cmdline):
        return "rtsp"
    head = cmdline[0] if cmdline else ""
    if head.startswith("ray::"):
        return "workers" if head.startswith(_RAY_WORKER) else "ray"
    if Path(head).name in ("gcs_server", "raylet") or any("/site-packages/ray/" in a for a in cmdline):
        return "ray"
    return "workers"


class ProcessTree:
    """This process and its children: the service ("service"), its workers ("workers": worker processes
    or camera actors), the RTSP server ("rtsp", told apart by its script's name on its command line) and
    Ray's own processes ("ray", for a Ray cluster started by this process)."""

    def __init__(self) -> None:
        self._me = psutil.Process()

    def _members(self) -> list[tuple[str, psutil.Process]]:
        out: list[tuple[str, psutil.Process]] = [("service", self._me)]
        for child in self._me.children(recursive=True):
            try:
                role = _role(child.cmdline())
            except psutil.Error:
                continue
            out.append((role, child))
        return out

    def cpu_seconds(self) -> Cpu:
        """CPU seconds used so far by each process of the tree and by the whole machine."""
        processes: dict[int, tuple[str, float]] = {}
        for role, proc in self._members():
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            processes[proc.pid] = (role, times.user + times.system)
        machine = psutil.cpu_times()._asdict()
        total = sum(v for k, v in machine.items() if k not in ("guest", "guest_nice"))  # in user, nice
        busy = total - machine.get("idle", 0.0) - machine.get("iowait", 0.0)
        return Cpu(time.monotonic(), processes, busy, total)

    def memory(self) -> Memory:
        """Resident memory of the service and its workers (Ray's processes counted with them; the RTSP
        server left out), bytes."""
        service = workers = 0.0
        count = 0
        for role, proc in self._members():
            if role == "rtsp":
                continue
            try:
                rss = float(proc.memory_info().rss)
            except psutil.Error:
                continue
            count += 1
            if role == "service":
                service += rss
            else:
                workers += rss
        return Memory(service + workers, service, workers, count)


class Alerts:
    """Alerts received on the WebSocket, each with the wall-clock time it arrived (thread-safe)."""

    def __init__(self) -> None:
        self._items: list[tuple[float, dict[str, object]]] = []
        self._lock = threading.Lock()

    def add(self, received: float, message: dict[str, object]) -> None:
        """Record ``message``, received at wall-clock time ``received``."""
        with self._lock:
            self._items.append((received, message))

    def between(self, start: float, end: float) -> list[tuple[float, dict[str, object]]]:
        """The alerts received from ``start`` to ``end`` (wall clock), with their receipt times."""
        with self._lock:
            return [(at, m) for at, m in self._items if start <= at <= end]


@contextmanager
def alert_socket(port: int, token: str) -> Iterator[Alerts]:
    """A client of ``/ws/alerts`` recording, in a thread, every alert and when it arrived.

    Args:
        port: the service's HTTP port on loopback.
        token: a bearer token allowed to read alerts.

    Yields:
        The alerts received so far, growing while the context is open.

    Raises:
        RuntimeError: the socket's first message was not ``hello``.
    """
    alerts = Alerts()

    def receive(ws: ClientConnection) -> None:
        while True:
            try:
                raw = ws.recv()
            except ConnectionClosed:
                return
            received = time.time()
            message = json.loads(raw)
            if message.get("type") == "alert":
                alerts.add(received, message)

    with connect(f"ws://127.0.0.1:{port}/ws/alerts?token={token}", open_timeout=10) as ws:
        hello = json.loads(ws.recv(timeout=10))
        if hello.get("type") != "hello":
            raise RuntimeError(f"the alert socket said {hello!r} first, not hello")
        thread = threading.Thread(target=receive, args=(ws,), name="vigil-bench-alerts", daemon=True)
        thread.start()
        try:
            yield alerts
        finally:
            ws.close()
            thread.join(5.0)


@contextmanager
def serving(app: FastAPI) -> Iterator[int]:
    """``app`` under uvicorn on a free loopback port, in a background thread.

    Args:
        app: the HTTP app to serve.

    Yields:
        The port it listens on; the server is stopped on exit.

    Raises:
        RuntimeError: uvicorn did not start within 30 s.
    """
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False, log_config=None)
    )
    thread = threading.Thread(target=server.run, name="vigil-bench-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10.0)


@contextmanager
def children_stderr(path: Path) -> Iterator[None]:
    """Processes started inside (the workers) inherit ``path`` as their stderr, for their log lines.

    File descriptor 2 points at ``path`` while inside (this process's stderr too), and is restored on
    exit; the children keep it.

    Args:
        path: the log file, appended to.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
