"""Alert delivery from the durable outbox to real receivers: a flaky webhook server and Mosquitto.

Everything here is real: the outbox on SQLite and PostgreSQL, HTTP over loopback to a receiver that
checks Standard Webhooks signatures and fails on purpose, and a Mosquitto broker that is stopped and
started under a connected sink. Time is injected where a test needs hours to pass (give-up, backoff).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.services import (
    HOST,
    WEBHOOK_SECRET,
    FlakyReceiver,
    Mosquitto,
    MqttProbe,
    Received,
    free_port,
    wait_until,
)
from vigil.alerts import DeliveryFailed, Dispatcher, MqttSink, Outbox, Pending, WebhookSink, sign, verify
from vigil.config.schema import DeliveryConfig, MqttConfig, WebhookConfig
from vigil.errors import BadInput, ConfigError
from vigil.store.db import Database, as_utc
from vigil.store.migrate import ensure_schema
from vigil.store.tables import OutboxMessage

pytestmark = pytest.mark.network  # every test here starts a loopback server or uses one

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOOK = "webhook:ops"
FAST = DeliveryConfig(initial_backoff_s=0.01, max_backoff_s=0.05, give_up_after_h=1.0, timeout_s=5.0)

# The Standard Webhooks specification's test vector.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


class Clock:
    """A settable UTC clock for the dispatcher."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def outbox(db: Database) -> Outbox:
    return Outbox(db)


def hook_config(receiver: FlakyReceiver, url: str | None = None) -> WebhookConfig:
    return WebhookConfig(name="ops", url=url or receiver.url, secret=receiver.secret)


def enqueue(
    db: Database, outbox: Outbox, n: int, sink: str = HOOK, at: datetime = T0, first: int = 1
) -> list[str]:
    """n alerts (keys alert-<i>), committed in one transaction; the payload names its own key."""
    keys = [f"alert-{i}" for i in range(first, first + n)]
    with db.write() as s:
        for key in keys:
            outbox.enqueue(s, sink, key, "alert", {"key": key, "person": "Jane Roe", "score": 0.97}, at)
    return keys


def row(db: Database, key: str, sink: str = HOOK) -> OutboxMessage:
    with db.read() as s:
        found = s.scalar(select(OutboxMessage).where(OutboxMessage.sink == sink, OutboxMessage.key == key))
        assert found is not None
        return found


# --- signatures -------------------------------------------------------------------------------------


def test_signature_known_answer_from_the_spec() -> None:
    """HMAC-SHA256 over "id.timestamp.body" with the base64-decoded whsec_ key, computed here by hand."""
    key = base64.b64decode(SPEC_SECRET.removeprefix("whsec_"))
    by_hand = base64.b64encode(
        hmac.new(key, f"{SPEC_ID}.{SPEC_TS}.".encode() + SPEC_BODY, hashlib.sha256).digest()
    )
    assert "v1," + by_hand.decode() == SPEC_SIGNATURE
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE
    # a secret without the prefix is used as its UTF-8 bytes
    plain = "a plain shared secret, 32 chars"
    raw = hmac.new(plain.encode(), f"{SPEC_ID}.{SPEC_TS}.".encode() + SPEC_BODY, hashlib.sha256).digest()
    assert sign(plain, SPEC_ID, SPEC_TS, SPEC_BODY) == "v1," + base64.b64encode(raw).decode()


def _headers(**change: str) -> dict[str, str]:
    headers = {"Webhook-Id": SPEC_ID, "Webhook-Timestamp": str(SPEC_TS), "Webhook-Signature": SPEC_SIGNATURE}
    return headers | {k.replace("_", "-").title(): v for k, v in change.items()}


@pytest.mark.parametrize(
    ("secret", "headers", "body", "now", "ok"),
    [
        (SPEC_SECRET, _headers(), SPEC_BODY, SPEC_TS + 10, True),
        (SPEC_SECRET, _headers(webhook_signature=f"v1,AAAA {SPEC_SIGNATURE}"), SPEC_BODY, SPEC_TS, True),
        (SPEC_SECRET, _headers(), b'{"test": 2432232315}', SPEC_TS, False),
        (SPEC_SECRET, _headers(), SPEC_BODY, SPEC_TS + 301, False),
        (SPEC_SECRET, _headers(), SPEC_BODY, SPEC_TS - 301, False),
        (SPEC_SECRET, _headers(webhook_id="msg_other"), SPEC_BODY, SPEC_TS, False),
        (SPEC_SECRET, _headers(webhook_timestamp=str(SPEC_TS + 1)), SPEC_BODY, SPEC_TS, False),
        (SPEC_SECRET, _headers(webhook_timestamp="soon"), SPEC_BODY, SPEC_TS, False),
        (SPEC_SECRET, _headers(webhook_signature="v2," + SPEC_SIGNATURE[3:]), SPEC_BODY, SPEC_TS, False),
        (WEBHOOK_SECRET, _headers(), SPEC_BODY, SPEC_TS, False),
    ],
    ids=["valid", "one-of-two", "tampered-body", "old", "future", "other-id", "other-timestamp",
         "bad-timestamp", "other-version", "other-secret"],
)  # fmt: skip
def test_verify(secret: str, headers: dict[str, str], body: bytes, now: int, ok: bool) -> None:
    assert verify(secret, headers, body, now=now) is ok


def test_malformed_whsec_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="base64"):
        WebhookSink(
            WebhookConfig(name="x", url="http://127.0.0.1:9/", secret="whsec_not base64 at all!"), 1.0
        )


# --- the outbox ---------------------------------------------------------------------------------------


def test_outbox_enqueue_is_idempotent_per_sink_and_due_oldest_first(db: Database, outbox: Outbox) -> None:
    enqueue(db, outbox, 3)
    with db.write() as s:  # again, in another transaction, and twice in this one: no-ops
        outbox.enqueue(s, HOOK, "alert-2", "alert", {"key": "changed"}, T0)
        outbox.enqueue(s, "mqtt", "alert-2", "alert", {"key": "alert-2"}, T0)
        outbox.enqueue(s, "mqtt", "alert-2", "alert", {"key": "changed"}, T0)
    assert (outbox.pending(), outbox.pending(HOOK), outbox.pending("mqtt")) == (4, 3, 1)
    due = outbox.due(HOOK, T0, limit=10)
    assert [m.key for m in due] == ["alert-1", "alert-2", "alert-3"]
    assert json.loads(due[1].payload)["key"] == "alert-2"
    assert due[0] == Pending(due[0].id, HOOK, "alert-1", "alert", due[0].payload, 0, T0)
    assert [m.key for m in outbox.due(HOOK, T0, limit=2)] == ["alert-1", "alert-2"]
    assert outbox.due(HOOK, T0 - timedelta(seconds=1), limit=10) == []
    assert outbox.next_due(T0 - timedelta(hours=1)) == T0
    assert outbox.next_due(T0 + timedelta(hours=1)) == T0 + timedelta(hours=1), "never earlier than now"
    assert outbox.next_due(T0, ["webhook:other"]) is None


def test_outbox_settles_messages(db: Database, outbox: Outbox) -> None:
    enqueue(db, outbox, 3)
    a, b, c = (m.id for m in outbox.due(HOOK, T0, 10))
    outbox.delivered(a, T0 + timedelta(seconds=1))
    outbox.retry(b, "HTTP 500", T0 + timedelta(minutes=5))
    outbox.retry(b, "HTTP 502", T0 + timedelta(minutes=10))
    outbox.give_up(c, "gave up", T0 + timedelta(hours=2))
    assert outbox.pending() == 1
    assert outbox.due(HOOK, T0 + timedelta(minutes=9), 10) == []
    (late,) = outbox.due(HOOK, T0 + timedelta(minutes=10), 10)
    assert (late.id, late.attempts) == (b, 2)
    assert outbox.next_due(T0) == T0 + timedelta(minutes=10)
    assert as_utc(row(db, "alert-1").delivered_at) == T0 + timedelta(seconds=1)
    assert row(db, "alert-2").last_error == "HTTP 502"
    gone = row(db, "alert-3")
    assert (as_utc(gone.failed_at), gone.last_error) == (T0 + timedelta(hours=2), "gave up")


def test_outbox_refuses_naive_times_and_oversized_keys(db: Database, outbox: Outbox) -> None:
    with db.write() as s:
        with pytest.raises(ValueError, match="timezone-aware"):
            outbox.enqueue(s, HOOK, "k", "alert", {}, datetime(2025, 1, 1))
        with pytest.raises(BadInput, match="1-80 characters"):
            outbox.enqueue(s, HOOK, "k" * 81, "alert", {}, T0)
    assert outbox.pending() == 0


def test_enqueued_in_a_rolled_back_transaction_is_never_sent(
    db: Database, outbox: Outbox, flaky_receiver: FlakyReceiver
) -> None:
    flaky_receiver.fail_ratio = 0
    with pytest.raises(RuntimeError, match="the alert could not be saved"), db.write() as s:
        outbox.enqueue(s, HOOK, "alert-rolled-back", "alert", {"key": "alert-rolled-back"}, T0)
        raise RuntimeError("the alert could not be saved")
    enqueue(db, outbox, 1)
    dispatcher = Dispatcher(outbox, [WebhookSink(hook_config(flaky_receiver), 5.0)], FAST, Clock())
    assert dispatcher.run_once() == 1
    assert dispatcher.run_once() == 0
    assert [i for i, _ in flaky_receiver.accepted] == ["alert-1"]
    assert outbox.pending() == 0
    dispatcher.stop()


# --- webhooks -----------------------------------------------------------------------------------------


def test_flaky_receiver_gets_every_alert_exactly_once(
    db: Database, outbox: Outbox, flaky_receiver: FlakyReceiver
) -> None:
    """Half the requests fail; the background dispatcher retries until each of 20 alerts is accepted once."""
    dispatcher = Dispatcher(outbox, [WebhookSink(hook_config(flaky_receiver), 5.0)], FAST, poll_s=0.2)
    dispatcher.start()
    try:
        keys = enqueue(db, outbox, 20, at=datetime.now(UTC))
        dispatcher.wake()
        wait_until(lambda: outbox.pending() == 0, 20, "every alert to be delivered")
    finally:
        dispatcher.stop()
    accepted = flaky_receiver.accepted
    assert sorted(i for i, _ in accepted) == sorted(keys), "each id accepted exactly once"
    seen = flaky_receiver.seen()
    assert all(r.signed for r in seen)
    assert [r.status for r in seen] == [200, 500] * 19 + [200], "every second request failed"
    assert all(json.loads(r.body)["key"] == r.id for r in seen), "retries carry the same webhook-id"
    assert (dispatcher.delivered, dispatcher.failures) == ({HOOK: 20}, {HOOK: 19})


def test_receiver_down_then_up(db: Database, outbox: Outbox, caplog: pytest.LogCaptureFixture) -> None:
    """A closed port fails; two failures in a row pause the sink; once the receiver is up, all go."""
    receiver = FlakyReceiver(fail_ratio=0)  # not started: nothing listens on its port yet
    url = receiver.url + "?token=query-secret"
    clock = Clock()
    config = DeliveryConfig(initial_backoff_s=2.0, max_backoff_s=60.0)
    sink = WebhookSink(hook_config(receiver, url), 2.0)
    dispatcher = Dispatcher(outbox, [sink], config, clock, rng=random.Random(1))
    enqueue(db, outbox, 3)
    caplog.set_level(logging.DEBUG)  # everything, httpx's request log too
    assert dispatcher.run_once() == 0
    for key in ("alert-1", "alert-2"):
        failed = row(db, key)
        assert failed.attempts == 1
        assert "ConnectError" in failed.last_error
        assert T0 + timedelta(seconds=1) <= as_utc(failed.next_attempt_at) <= T0 + timedelta(seconds=2)
        assert "query-secret" not in failed.last_error
    assert row(db, "alert-3").attempts == 0, "the sink paused after two failures in a row"
    assert "query-secret" not in caplog.text
    assert WEBHOOK_SECRET not in caplog.text
    with receiver:
        assert dispatcher.run_once() == 0, "paused for the backoff"
        assert dispatcher.run_once(clock.advance(2.0)) == 3
    assert f"POST {receiver.url} " in caplog.text, "httpx logged the requests, without the query"
    assert "query-secret" not in caplog.text
    assert [i for i, _ in receiver.accepted] == ["alert-1", "alert-2", "alert-3"]
    assert (dispatcher.delivered, dispatcher.failures) == ({HOOK: 3}, {HOOK: 2})
    dispatcher.stop()


@pytest.mark.parametrize(
    ("status", "retry_after", "wait_s"),
    [(429, "7", 7.0), (503, "120", 60.0), (503, "Wed, 21 Oct 2015 07:28:00 GMT", None), (500, "7", None),
     (302, None, None), (404, None, None)],
    ids=["429", "503-capped", "503-date", "500-ignored", "redirect", "404"],
)  # fmt: skip
def test_failures_back_off_and_honour_retry_after(
    db: Database, outbox: Outbox, flaky_receiver: FlakyReceiver, status: int, retry_after: str | None,
    wait_s: float | None,
) -> None:  # fmt: skip
    flaky_receiver.fail_ratio, flaky_receiver.fail_status, flaky_receiver.retry_after = 1, status, retry_after
    config = DeliveryConfig(initial_backoff_s=10.0, max_backoff_s=60.0)
    sink = WebhookSink(hook_config(flaky_receiver), 5.0)
    dispatcher = Dispatcher(outbox, [sink], config, Clock())
    enqueue(db, outbox, 2)
    assert dispatcher.run_once() == 0
    failed = row(db, "alert-1")
    assert failed.last_error.endswith(
        f"HTTP {status}" + (" (redirects are not followed)" if status == 302 else "")
    )
    delay = (as_utc(failed.next_attempt_at) - T0).total_seconds()
    if wait_s is None:
        assert 5.0 <= delay <= 10.0, "jittered initial backoff"
    else:
        assert delay == wait_s
    # Retry-After pauses the whole sink at once; other failures after two in a row
    assert len(flaky_receiver.seen()) == (1 if wait_s is not None else 2)
    dispatcher.stop()


def test_a_message_the_receiver_rejects_does_not_hold_up_the_others(
    db: Database, outbox: Outbox, flaky_receiver: FlakyReceiver
) -> None:
    flaky_receiver.fail_ratio, flaky_receiver.reject = 0, {"alert-1"}
    clock = Clock()
    config = DeliveryConfig(initial_backoff_s=10.0)
    dispatcher = Dispatcher(outbox, [WebhookSink(hook_config(flaky_receiver), 5.0)], config, clock)
    enqueue(db, outbox, 5)
    assert dispatcher.run_once() == 4
    assert row(db, "alert-1").last_error.endswith("HTTP 422")
    enqueue(db, outbox, 2, at=clock.advance(1.0), first=6)
    assert dispatcher.run_once() == 2, "one failure in a row does not pause the sink"
    assert dispatcher.run_once(clock.advance(10.0)) == 0
    assert row(db, "alert-1").attempts == 2, "retried on its own schedule"
    assert [i for i, _ in flaky_receiver.accepted] == [f"alert-{i}" for i in range(2, 8)]
    dispatcher.stop()


def test_the_background_loop_survives_a_broken_database(
    tmp_path: Path, flaky_receiver: FlakyReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """No outbox table yet: each round fails, is logged with its traceback, and the loop keeps going."""
    db = Database.from_url(f"sqlite:///{tmp_path / 'late.db'}")
    outbox = Outbox(db)
    flaky_receiver.fail_ratio = 0
    dispatcher = Dispatcher(outbox, [WebhookSink(hook_config(flaky_receiver), 5.0)], FAST, poll_s=0.05)
    with caplog.at_level(logging.ERROR, logger="vigil.alerts"):
        dispatcher.start()
        try:
            wait_until(lambda: caplog.text.count("delivery round failed") >= 2, 5, "failed rounds")
            ensure_schema(db.engine)
            enqueue(db, outbox, 1, at=datetime.now(UTC))
            dispatcher.wake()
            wait_until(lambda: outbox.pending() == 0, 5, "the alert to be delivered")
        finally:
            dispatcher.stop()
    assert "Traceback" in caplog.text
    assert "no such table: outbox" in caplog.text
    assert [i for i, _ in flaky_receiver.accepted] == ["alert-1"]
    db.dispose()


def test_backoff_doubles_with_jitter_up_to_the_max() -> None:
    outbox = Outbox(Database.from_url("sqlite://"))  # not used: backoff is arithmetic
    config = DeliveryConfig(initial_backoff_s=1.0, max_backoff_s=30.0)
    dispatcher = Dispatcher(outbox, [], config, rng=random.Random(7))
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (10_000, 30.0)]:
        waits = [dispatcher.backoff_s(failures) for _ in range(200)]
        assert ceiling / 2 <= min(waits) and max(waits) <= ceiling
        assert max(waits) - min(waits) > ceiling / 4, "jittered"


def test_give_up_after_the_configured_hours(
    db: Database, outbox: Outbox, flaky_receiver: FlakyReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    flaky_receiver.fail_ratio = 1
    clock = Clock()
    config = DeliveryConfig(initial_backoff_s=60.0, max_backoff_s=900.0, give_up_after_h=2.0)
    dispatcher = Dispatcher(outbox, [WebhookSink(hook_config(flaky_receiver), 5.0)], config, clock)
    enqueue(db, outbox, 1)
    with caplog.at_level(logging.WARNING, logger="vigil.alerts"):
        for _ in range(100):  # jump from one attempt to the next
            if not outbox.pending():
                break
            dispatcher.run_once()
            clock.now = outbox.next_due(clock.now) or clock.now
    gone = row(db, "alert-1")
    assert as_utc(gone.failed_at) == T0 + timedelta(hours=2), "given up on time, not at the next backoff"
    assert gone.delivered_at is None
    assert gone.last_error.startswith(f"gave up: undelivered 2.0 h after the alert, {gone.attempts} attempts")
    assert gone.last_error.endswith("HTTP 500)")
    assert 5 <= gone.attempts == len(flaky_receiver.seen()) <= 25
    assert dispatcher.given_up == {HOOK: 1}
    assert "gave up on alert-1" in caplog.text
    assert dispatcher.run_once(clock.advance(3600)) == 0
    assert len(flaky_receiver.seen()) == gone.attempts, "never tried again"
    dispatcher.stop()


HANG_S = 2.0  # time-out of the hanging receiver's sink


class Blackhole:
    """A port that accepts connections (the kernel's backlog) and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.url = f"http://{HOST}:{self.sock.getsockname()[1]}/hook"


def test_a_hanging_receiver_does_not_delay_the_others(
    db: Database, outbox: Outbox, flaky_receiver: FlakyReceiver
) -> None:
    flaky_receiver.fail_ratio = 0
    hole = Blackhole()
    hung = WebhookSink(WebhookConfig(name="hung", url=hole.url, secret=WEBHOOK_SECRET), HANG_S)
    healthy = WebhookSink(hook_config(flaky_receiver), HANG_S)
    dispatcher = Dispatcher(outbox, [hung, healthy], FAST, poll_s=0.2)
    try:
        dispatcher.start()
        now = datetime.now(UTC)
        enqueue(db, outbox, 3, sink="webhook:hung", at=now)
        time.sleep(0.2)  # the hung sink is now waiting for an answer
        started = time.monotonic()
        enqueue(db, outbox, 3, at=now)
        dispatcher.wake()
        wait_until(lambda: outbox.pending(HOOK) == 0, 5, "the healthy receiver's alerts")
        assert time.monotonic() - started < HANG_S, "delivered while the other sink hangs"
        wait_until(lambda: dispatcher.failures["webhook:hung"] >= 1, 2 * HANG_S, "the time-out")
    finally:
        hole.sock.close()  # resets the connection waiting in its backlog: the next attempt fails at once
        dispatcher.stop()
    assert len(flaky_receiver.accepted) == 3
    assert outbox.pending("webhook:hung") == 3
    assert "timed out" in row(db, "alert-1", "webhook:hung").last_error


def test_a_sink_that_raises_is_backed_off_and_the_loop_keeps_going(
    db: Database, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in a sink (not a DeliveryFailed) is logged with its traceback and retried like a failure."""

    class Broken:
        name = "broken"
        calls = 0

        def deliver(self, message: Pending) -> None:
            Broken.calls += 1
            raise KeyError(message.key)

        def close(self) -> None:
            pass

    enqueue(db, outbox, 2, sink="broken", at=datetime.now(UTC))
    dispatcher = Dispatcher(
        outbox, [Broken()], DeliveryConfig(initial_backoff_s=0.05, max_backoff_s=0.1), poll_s=0.05
    )
    with caplog.at_level(logging.ERROR, logger="vigil.alerts"):
        dispatcher.start()
        wait_until(lambda: Broken.calls >= 3, 5, "three attempts")
        dispatcher.stop()
    assert "Traceback" in caplog.text and "KeyError: 'alert-1'" in caplog.text
    assert row(db, "alert-1", "broken").last_error == "KeyError: 'alert-1'"
    assert outbox.pending("broken") == 2


def test_duplicate_sink_names_are_refused() -> None:
    outbox = Outbox(Database.from_url("sqlite://"))
    receiver = FlakyReceiver()
    sinks = [WebhookSink(hook_config(receiver), 1.0), WebhookSink(hook_config(receiver), 1.0)]
    with pytest.raises(ConfigError, match="distinct names"):
        Dispatcher(outbox, sinks, FAST)


def test_delivery_failed_is_a_vigil_error() -> None:
    exc = DeliveryFailed("HTTP 503", retry_after_s=7.0)
    assert (str(exc), exc.reason, exc.retry_after_s) == ("HTTP 503", "HTTP 503", 7.0)


# --- MQTT ---------------------------------------------------------------------------------------------


def mqtt_config(broker: Mosquitto) -> MqttConfig:
    return MqttConfig(
        host=broker.host, port=broker.port, topic_prefix="vigil-test", client_id="vigil-under-test"
    )


def status(broker: Mosquitto) -> Received:
    """The retained availability message, as a new subscriber sees it."""
    with MqttProbe(broker.host, broker.port, "vigil-test/status", client_id="vigil-status-probe") as probe:
        (got,) = probe.take(1, 5)
    return got


def test_mqtt_publishes_every_alert_and_availability(
    db: Database, outbox: Outbox, mosquitto: Mosquitto
) -> None:
    sink = MqttSink(mqtt_config(mosquitto), 5.0)
    assert sink.wait_connected(10)
    assert status(mosquitto) == Received("vigil-test/status", "online", retain=True)
    with MqttProbe(mosquitto.host, mosquitto.port, "vigil-test/#") as probe:
        probe.wait_subscribed()
        dispatcher = Dispatcher(outbox, [sink], FAST, poll_s=0.2)
        dispatcher.start()
        try:
            keys = enqueue(db, outbox, 5, sink="mqtt", at=datetime.now(UTC))
            dispatcher.wake()
            alerts = probe.take(5, where=lambda m: m.topic == "vigil-test/alert")
        finally:
            dispatcher.stop()  # closes the sink: "offline"
    assert [m.json() for m in alerts] == [{"key": k, "person": "Jane Roe", "score": 0.97} for k in keys]
    assert not any(m.retain for m in alerts)
    assert outbox.pending() == 0
    assert dispatcher.delivered == {"mqtt": 5}
    assert status(mosquitto) == Received("vigil-test/status", "offline", retain=True)


def test_mqtt_reconnects_after_the_broker_restarts(
    db: Database, outbox: Outbox, mosquitto: Mosquitto
) -> None:
    clock = Clock(datetime.now(UTC))
    sink = MqttSink(mqtt_config(mosquitto), 5.0)
    dispatcher = Dispatcher(outbox, [sink], DeliveryConfig(initial_backoff_s=1.0), clock)
    try:
        assert sink.wait_connected(10)
        mosquitto.stop()
        wait_until(lambda: not sink.connected, 5, "the sink to notice the broker is gone")
        enqueue(db, outbox, 1, sink="mqtt", at=clock.now)
        assert dispatcher.run_once() == 0
        assert "not connected" in row(db, "alert-1", "mqtt").last_error
        mosquitto.start()
        assert sink.wait_connected(15), "reconnected by itself"
        with MqttProbe(mosquitto.host, mosquitto.port, "vigil-test/#") as probe:
            probe.wait_subscribed()
            assert dispatcher.run_once(clock.advance(1.0)) == 1
            (alert,) = probe.take(1, where=lambda m: m.topic == "vigil-test/alert")
        assert alert.json()["key"] == "alert-1"
        assert status(mosquitto).payload == "online", "announced again to the new broker"
    finally:
        dispatcher.stop()
    assert (dispatcher.delivered, dispatcher.failures) == ({"mqtt": 1}, {"mqtt": 1})


LWT_CHILD = r"""
import sys, time
from vigil.alerts import MqttSink
from vigil.config.schema import MqttConfig

MqttSink(MqttConfig(host=sys.argv[1], port=int(sys.argv[2]), topic_prefix="vigil-test"), 5.0)
time.sleep(600)  # until killed
"""


def test_mqtt_last_will_says_offline_when_vigil_dies(mosquitto: Mosquitto) -> None:
    with MqttProbe(mosquitto.host, mosquitto.port, "vigil-test/status") as probe:
        probe.wait_subscribed()
        child = subprocess.Popen([sys.executable, "-c", LWT_CHILD, mosquitto.host, str(mosquitto.port)])
        try:
            probe.take(1, 20, where=lambda m: m.payload == "online")
        finally:
            child.kill()
            child.wait()
        probe.take(1, 10, where=lambda m: m.payload == "offline")
    assert status(mosquitto) == Received("vigil-test/status", "offline", retain=True)


def test_mqtt_delivery_fails_fast_without_a_broker() -> None:
    sink = MqttSink(MqttConfig(host=HOST, port=free_port(), topic_prefix="vigil-test"), 1.0)
    try:
        started = time.monotonic()
        with pytest.raises(DeliveryFailed, match="not connected"):
            sink.deliver(Pending(1, "mqtt", "alert-1", "alert", "{}", 0, T0))
        assert time.monotonic() - started < 0.5
    finally:
        sink.close()
    assert not any(t.name.startswith("paho") and t.is_alive() for t in threading.enumerate())
