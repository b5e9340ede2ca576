"""Alert deliveries survive a crash: a dispatcher process killed (SIGKILL) loses nothing from the outbox.

The outbox lives in a SQLite file; a child process runs the real Dispatcher and WebhookSink against a
real receiver in this process. The first child is killed while the receiver fails every request; the
second while a request is in flight (the receiver has taken it, the child has not recorded it); a third
child, with the receiver healthy, delivers the rest. Every alert is accepted at least once, and the one
accepted twice (the in-flight one) came with the same webhook-id both times: receivers de-duplicate on it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.services import FlakyReceiver, wait_until
from tests.store_kit import open_db
from vigil.alerts import Outbox
from vigil.store.db import Database

pytestmark = pytest.mark.network

SINK = "webhook:crash"
N = 12

CHILD = r"""
import logging, sys, time
from vigil.alerts import Dispatcher, Outbox, WebhookSink
from vigil.config.schema import DeliveryConfig, WebhookConfig
from vigil.store.db import Database

db_url, url, secret = sys.argv[1:]
logging.basicConfig(level=logging.INFO)
hook = WebhookConfig(name="crash", url=url, secret=secret)
delivery = DeliveryConfig(initial_backoff_s=0.05, max_backoff_s=0.2, timeout_s=5.0)
Dispatcher(Outbox(Database.from_url(db_url)), [WebhookSink(hook, 5.0)], delivery, poll_s=0.1).start()
time.sleep(600)  # until killed
"""


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The child processes started by a test; any still running at the end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        if child.poll() is None:
            child.kill()
        child.wait()


def start_child(
    children: list[subprocess.Popen[bytes]], db_url: str, receiver: FlakyReceiver, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, db_url, receiver.url, receiver.secret], stdout=out, stderr=out
        )
    children.append(child)
    return child


def kill(child: subprocess.Popen[bytes]) -> None:
    child.send_signal(signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL


def test_deliveries_survive_sigkill(
    tmp_path: Path, flaky_receiver: FlakyReceiver, children: list[subprocess.Popen[bytes]]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'vigil.db'}"
    db: Database = open_db(db_url)
    outbox = Outbox(db)
    keys = [f"alert-{i}" for i in range(1, N + 1)]
    with db.write() as s:
        for key in keys:
            outbox.enqueue(s, SINK, key, "alert", {"key": key, "camera": "door"}, datetime.now(UTC))
    log = tmp_path / "children.log"
    receiver = flaky_receiver

    # 1. The receiver fails everything: the child retries, and is killed in the middle of that.
    receiver.fail_ratio = 1
    first = start_child(children, db_url, receiver, log)
    wait_until(lambda: len(receiver.seen()) >= 3, 20, f"failed attempts\n{log.read_text()}")
    kill(first)
    time.sleep(0.2)  # a request the child sent just before dying is answered (failed) by now
    assert receiver.accepted == []
    assert outbox.pending(SINK) == N, "nothing lost, nothing marked delivered"

    # 2. Healthy but slow: the child is killed while the receiver holds a request it will accept.
    receiver.fail_ratio, receiver.hold_s = 0, 2.0
    receiver.arrived.clear()
    second = start_child(children, db_url, receiver, log)
    assert receiver.arrived.wait(20), f"no request arrived\n{log.read_text()}"
    kill(second)
    wait_until(lambda: len(receiver.accepted) == 1, 5, "the in-flight request to be accepted")
    assert outbox.pending(SINK) == N, "the child died before recording the delivery"

    # 3. A new child delivers everything; the in-flight alert is sent again, with the same id.
    receiver.hold_s = 0
    third = start_child(children, db_url, receiver, log)
    wait_until(lambda: outbox.pending(SINK) == 0, 20, f"every alert delivered\n{log.read_text()}")
    kill(third)

    accepted = receiver.accepted
    times = Counter(webhook_id for webhook_id, _ in accepted)
    assert set(times) == set(keys), "every alert delivered at least once"
    assert sorted(times.values()) == [1] * (N - 1) + [2], "exactly the in-flight one twice"
    for webhook_id, body in accepted:
        assert json.loads(body)["key"] == webhook_id, "a duplicate carries the same webhook-id"
    (twice,) = (k for k, n in times.items() if n == 2)
    assert len({body for webhook_id, body in accepted if webhook_id == twice}) == 1, "and the same body"
    db.dispose()
