"""Real services for the alert tests, on loopback: an MQTT broker, an MQTT subscriber and a webhook receiver.

``Mosquitto`` runs the system's broker with a throwaway config on a free 127.0.0.1 port (stoppable and
startable again on the same port, to test reconnects). ``FlakyReceiver`` is a real HTTP server that
verifies every request's Standard Webhooks signature and fails a set fraction of them, deterministically.
``MqttProbe`` subscribes to a topic filter and keeps what arrives. Nothing listens beyond 127.0.0.1 and
every process or thread started here is stopped by the context managers.
"""

from __future__ import annotations

import base64
import json
import math
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, Self

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.helpers import skip_unless_required
from vigil.alerts.webhook import verify

HOST = "127.0.0.1"
MOSQUITTO = Path("/usr/sbin/mosquitto")
REQUIRE_ENV = "VIGIL_REQUIRE_SERVICES"
MOSQUITTO_MISSING = (
    f"{MOSQUITTO} not found: apt-get install mosquitto (scripts/install-services; CI does this)"
)
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"vigil webhook test secret, 32 B!").decode()
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0


def unavailable(reason: str) -> NoReturn:
    """Skips the test, or fails it when ``VIGIL_REQUIRE_SERVICES=1``."""
    skip_unless_required(reason, REQUIRE_ENV)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(done: Callable[[], bool], timeout_s: float, what: str, step_s: float = 0.02) -> None:
    """Poll ``done`` until it is true; fail the test after ``timeout_s`` saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(step_s)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class Mosquitto:
    """The Mosquitto broker on a free loopback port, anonymous, nothing persisted; stop() then start() again.

    Example:
        >>> with Mosquitto(tmp_path) as broker:  # doctest: +SKIP
        ...     client.connect(broker.host, broker.port)
    """

    def __init__(self, workdir: Path, binary: Path = MOSQUITTO) -> None:
        self.host = HOST
        self.port = free_port()
        self._binary = binary
        self._dir = workdir
        self._dir.mkdir(parents=True, exist_ok=True)
        self._conf = self._dir / "mosquitto.conf"
        self._log = self._dir / "mosquitto.log"
        self._conf.write_text(
            f"listener {self.port} {HOST}\nallow_anonymous true\npersistence false\nlog_dest stdout\n"
        )
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the broker and wait until its port accepts connections."""
        if self._proc is not None:
            raise RuntimeError("mosquitto is running already")
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(self._binary), "-c", str(self._conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _accepts(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start on port {self.port}:\n{self.log()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and wait for it to exit."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class Request:
    """One POST the receiver saw, and what it answered."""

    id: str  # the webhook-id header
    timestamp: str
    body: bytes
    status: int
    signed: bool  # the signature verified


class FlakyReceiver:
    """A real webhook receiver on 127.0.0.1 that fails a fraction of deliveries, deterministically.

    Of the correctly signed requests, request n (from 1) fails when floor(n x ratio) > floor((n-1) x ratio):
    0.5 fails every second request, 1 every request, 0 none. Badly signed requests get 401 and are
    never accepted. What it accepted (2xx) is in ``accepted``; every request in ``requests``.

    Attributes (change them between requests): ``fail_ratio``; ``fail_status`` (500); ``reject`` (ids
    always answered 422, outside the count: a message this receiver will never take);
    ``retry_after`` (a Retry-After header on failures, or None); ``hold_s`` (time a request is held
    before being accepted, to kill a sender while its request is in flight).
    """

    def __init__(
        self, secret: str = WEBHOOK_SECRET, fail_ratio: float = 0.5, port: int | None = None
    ) -> None:
        self.secret = secret
        self.port = free_port() if port is None else port
        self.fail_ratio = fail_ratio
        self.fail_status = 500
        self.retry_after: str | None = None
        self.hold_s = 0.0
        self.reject: set[str] = set()
        self.requests: list[Request] = []
        self.arrived = threading.Event()  # set when a signed request arrives (before any hold)
        self._lock = threading.Lock()
        self._signed = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hooks/vigil"

    @property
    def accepted(self) -> list[tuple[str, bytes]]:
        """(webhook-id, body) of every accepted request, in order."""
        with self._lock:
            return [(r.id, r.body) for r in self.requests if 200 <= r.status < 300]

    def seen(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def _decide(self, headers: dict[str, str], body: bytes) -> tuple[int, bool]:
        if not verify(self.secret, headers, body):
            return 401, False
        if headers.get("webhook-id") in self.reject:
            return 422, True
        with self._lock:
            self._signed += 1
            n, ratio = self._signed, Fraction(self.fail_ratio).limit_denominator(1000)
            fail = math.floor(n * ratio) > math.floor((n - 1) * ratio)
        return (self.fail_status if fail else 200), True

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        status, signed = self._decide(headers, body)
        if signed:
            self.arrived.set()
            if status == 200 and self.hold_s:
                time.sleep(self.hold_s)
        with self._lock:
            self.requests.append(
                Request(
                    headers.get("webhook-id", ""), headers.get("webhook-timestamp", ""), body, status, signed
                )
            )
        try:
            handler.send_response(status)
            if status != 200 and self.retry_after is not None:
                handler.send_header("retry-after", self.retry_after)
            if 300 <= status < 400:
                handler.send_header("location", f"http://{HOST}:{self.port}/elsewhere")
            handler.send_header("content-length", "0")
            handler.end_headers()
        except OSError:  # the sender is gone (killed mid-request): the delivery was still accepted here
            pass

    def start(self) -> None:
        """Listen on ``port`` and answer in a thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="flaky-receiver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT_S)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: str
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class MqttProbe:
    """An MQTT subscriber to ``topic_filter`` (resubscribing after reconnects), keeping what arrives."""

    def __init__(self, host: str, port: int, topic_filter: str, client_id: str = "vigil-test-probe") -> None:
        self._filter = topic_filter
        self.messages: queue.Queue[Received] = queue.Queue()
        self.subscribed = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 2)
        self._client = client
        client.connect_async(host, port, keepalive=30)
        client.loop_start()

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self._filter, qos=1)

    def _on_subscribe(self, _c: paho.Client, _u: Any, _mid: int, _codes: Any, _p: Any) -> None:
        self.subscribed.set()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, _r: ReasonCode, _p: Any) -> None:
        self.subscribed.clear()

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        self.messages.put(Received(message.topic, message.payload.decode(), bool(message.retain)))

    def wait_subscribed(self, timeout_s: float = 10.0) -> None:
        if not self.subscribed.wait(timeout_s):
            pytest.fail(f"the MQTT probe did not subscribe to {self._filter} within {timeout_s:g} s")

    def take(
        self, n: int, timeout_s: float = 10.0, where: Callable[[Received], bool] = lambda _: True
    ) -> list[Received]:
        """The next ``n`` messages that satisfy ``where`` (others are dropped); fails the test on time-out."""
        got: list[Received] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < n:
            try:
                message = self.messages.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                pytest.fail(
                    f"got {len(got)} of {n} MQTT messages on {self._filter} in {timeout_s:g} s: {got}"
                )
            if where(message):
                got.append(message)
        return got

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()
