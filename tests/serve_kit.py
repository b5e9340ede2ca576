"""`vigil serve` as a real child process for end-to-end tests: config file, first-start token, HTTP client."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import psutil
import yaml
from websockets.sync.client import ClientConnection, connect

from tests.services import free_port, wait_until

TOKEN_LINE = re.compile(r"API token:\s+(\S+)")


class VigilServer:
    """Runs ``vigil serve -c <config>``; the first start's admin token is read from its output."""

    def __init__(self, workdir: Path, settings: dict[str, Any], port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.settings = settings
        self.config_path = workdir / "vigil.yaml"
        self.token: str | None = None
        self.output: list[str] = []
        self._proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = {**self.settings, "server": {"host": "127.0.0.1", "port": self.port}}
        self.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL__")}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "vigil", "serve", "-c", str(self.config_path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        threading.Thread(target=self._pump, daemon=True).start()
        wait_until(self._healthy, timeout_s, f"vigil serve on port {self.port}:\n{self.log}")

    def _pump(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self.output.append(line)
            found = TOKEN_LINE.search(line)
            if found and self.token is None:
                self.token = found.group(1)

    def _healthy(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise AssertionError(f"vigil serve exited with {self._proc.returncode}:\n{self.log}")
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def log(self) -> str:
        return "".join(self.output[-200:])

    def client(self, token: str | None = None) -> httpx.Client:
        auth = token or self.token
        assert auth is not None, "no token: not the first start?"
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {auth}"}, timeout=30.0)

    @contextmanager
    def alerts_socket(self, token: str | None = None) -> Iterator[ClientConnection]:
        url = f"ws://127.0.0.1:{self.port}/ws/alerts?token={token or self.token}"
        with connect(url, open_timeout=10) as ws:
            hello = json.loads(ws.recv(timeout=10))
            assert hello["type"] == "hello", hello
            yield ws

    def kill(self) -> list[psutil.Process]:
        """SIGKILL: no clean shutdown (the crash case). Returns the children it had (camera workers)."""
        if self._proc is None or self._proc.poll() is not None:
            return []
        children = psutil.Process(self._proc.pid).children(recursive=True)
        self._proc.kill()
        self._proc.wait(10)
        return children

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


def wait_for_alert(ws: ClientConnection, person: str, timeout_s: float) -> tuple[dict[str, Any], float]:
    """The next "alert" message naming ``person``, and the wall-clock time it was received."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            raw = ws.recv(timeout=left)
        except TimeoutError:
            break
        received = time.time()
        message = json.loads(raw)
        if message.get("type") == "alert" and message.get("person") == person:
            return message, received
    raise AssertionError(f"no alert for {person} within {timeout_s} s")
