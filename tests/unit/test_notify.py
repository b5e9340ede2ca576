"""The change listener on a real PostgreSQL (migration 0011's triggers) and its inert form on SQLite.

Changes are made through the store's own engine, i.e. another connection than the listener's, the way
another process would make them.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic

import pytest

from tests.pg import ThrowawayPostgres
from vigil.store import migrate
from vigil.store.db import Database, make_engine
from vigil.store.notify import CAMERAS, GALLERY, OUTBOX, WAIT_S, ChangeListener
from vigil.store.tables import OutboxMessage, Watchlist

LATENCY_S = 2.0
ALL = (GALLERY, CAMERAS, OUTBOX)
network = pytest.mark.network


@pytest.fixture(scope="module")
def pg_db(postgres: ThrowawayPostgres) -> Iterator[Database]:
    """One migrated PostgreSQL store for the module (each listener connects afresh, so tests share it)."""
    name = f"t_{uuid.uuid4().hex}"
    db = Database(make_engine(postgres.new_database(name)))
    migrate.upgrade(db.engine)
    yield db
    db.dispose()
    postgres.drop_database(name)


@pytest.fixture
def listener(pg_db: Database) -> Iterator[ChangeListener]:
    with ChangeListener(pg_db, ALL) as started:
        assert started.active and started.connected
        yield started


def _add_list(db: Database) -> None:
    with db.write() as s:
        s.add(Watchlist(name=f"l-{uuid.uuid4().hex[:12]}", created_by="test", created_at=datetime.now(UTC)))


def _add_outbox(db: Database) -> int:
    now = datetime.now(UTC)
    with db.write() as s:
        row = OutboxMessage(
            sink="mqtt", key=f"alert-{uuid.uuid4().hex[:8]}", topic="alert.created", payload="{}",
            created_at=now, next_attempt_at=now,
        )  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


def _collect(listener: ChangeListener, channel: str) -> queue.Queue[tuple[str, float, str]]:
    """A queue receiving (payload, arrival time, thread name) for each callback on ``channel``."""
    got: queue.Queue[tuple[str, float, str]] = queue.Queue()
    listener.on(channel, lambda payload: got.put((payload, monotonic(), threading.current_thread().name)))
    return got


def _backend_alive(db: Database, pid: int) -> bool:
    with db.engine.connect() as conn:
        row = conn.exec_driver_sql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}").scalar_one()
    return bool(row)


@network
def test_a_list_change_reaches_the_callback_and_the_flag_within_2_s(
    pg_db: Database, listener: ChangeListener
) -> None:
    got = _collect(listener, GALLERY)
    assert not listener.changed(GALLERY)  # nothing before the change
    committed = monotonic()
    _add_list(pg_db)
    payload, arrived, thread = got.get(timeout=LATENCY_S)
    latency = arrived - committed
    print(f"NOTIFY latency: {latency * 1000:.1f} ms")
    assert latency < LATENCY_S
    assert (payload, thread) == ("watchlists", "vigil-notify")
    assert listener.changed(GALLERY)
    assert not listener.changed(GALLERY)  # once per batch of notifications
    assert not listener.changed(CAMERAS) and not listener.changed(OUTBOX)


@network
def test_an_outbox_insert_carries_its_row_id(pg_db: Database, listener: ChangeListener) -> None:
    got = _collect(listener, OUTBOX)
    ids = [_add_outbox(pg_db) for _ in range(2)]
    assert [got.get(timeout=LATENCY_S)[0] for _ in ids] == [str(i) for i in ids]
    assert listener.changed(OUTBOX) and not listener.changed(GALLERY)


@network
def test_a_terminated_backend_is_reconnected_and_every_channel_reported_changed(
    pg_db: Database, listener: ChangeListener, caplog: pytest.LogCaptureFixture
) -> None:
    gallery, cameras = _collect(listener, GALLERY), _collect(listener, CAMERAS)
    old = listener.backend_pid
    assert old is not None
    with caplog.at_level(logging.INFO, logger="vigil.store.notify"):
        with pg_db.engine.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({old})").scalar_one()
        assert gallery.get(timeout=3.0)[0] == ""  # lost notifications: "everything changed"
        assert cameras.get(timeout=1.0)[0] == ""
    assert listener.connected and listener.backend_pid not in (None, old)
    assert all(listener.changed(c) for c in ALL)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "vigil.store.notify"]
    assert len(warnings) == 1 and "reconnecting" in warnings[0].getMessage()
    _add_list(pg_db)  # and the new connection listens
    assert gallery.get(timeout=LATENCY_S)[0] == "watchlists"
    assert listener.changed(GALLERY) and not listener.changed(CAMERAS)


@network
def test_a_callback_that_raises_does_not_stop_later_notifications(
    pg_db: Database, listener: ChangeListener, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(payload: str) -> None:
        raise RuntimeError(f"callback bug on {payload}")

    listener.on(GALLERY, broken)
    got = _collect(listener, GALLERY)  # registered after the broken one: still called
    for _ in range(2):
        _add_list(pg_db)
        assert got.get(timeout=LATENCY_S)[0] == "watchlists"
    failures = [r for r in caplog.records if "callback on vigil_gallery failed" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info is not None for r in failures)
    assert listener.active and listener.connected


@network
def test_stop_is_prompt_and_closes_the_connection(pg_db: Database) -> None:
    with ChangeListener(pg_db, [GALLERY]) as listening:
        pid = listening.backend_pid
        assert pid is not None and _backend_alive(pg_db, pid)
        began = monotonic()
    assert monotonic() - began < 2 * WAIT_S
    assert not listening.active and not listening.connected
    deadline = monotonic() + LATENCY_S
    while _backend_alive(pg_db, pid) and monotonic() < deadline:  # the backend exits just after
        threading.Event().wait(0.05)
    assert not _backend_alive(pg_db, pid)


@network
def test_an_unreachable_server_is_reported_once_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as closed:  # bound, never listening: every connection is refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        db = Database(make_engine(f"postgresql+psycopg://vigil:s3cret-pw@127.0.0.1:{port}/vigil"))
        with caplog.at_level(logging.DEBUG, logger="vigil.store.notify"):
            listener = ChangeListener(db, [GALLERY], ready_timeout_s=0.2)
            with listener:
                assert listener.active and not listener.connected
                threading.Event().wait(1.0)  # a few retries (0.5 s, then 1 s)
                assert not listener.changed(GALLERY)
        db.dispose()
    assert "s3cret-pw" not in caplog.text
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "vigil.store.notify"]
    assert len(warnings) == 1 and "cannot connect" in warnings[0].getMessage()


def test_on_sqlite_it_is_inert(tmp_path: Path) -> None:
    db = Database(make_engine(f"sqlite:///{tmp_path / 'vigil.db'}"))
    migrate.upgrade(db.engine)
    calls: list[str] = []
    with ChangeListener(db, ALL) as listener:
        listener.on(GALLERY, calls.append)
        _add_list(db)
        assert not listener.active and not listener.connected and listener.backend_pid is None
        assert not any(listener.changed(c) for c in ALL)
        assert not any(t.name == "vigil-notify" for t in threading.enumerate())
    assert calls == []
    db.dispose()


@pytest.mark.parametrize("channels", [[], [""], ["x" * 64]], ids=["none", "empty", "too-long"])
def test_bad_channels_are_refused(tmp_path: Path, channels: list[str]) -> None:
    db = Database(make_engine(f"sqlite:///{tmp_path / 'vigil.db'}"))
    with pytest.raises(ValueError, match="channel"):
        ChangeListener(db, channels)


def test_an_unknown_channel_is_an_error_not_a_silent_false(tmp_path: Path) -> None:
    """A misspelt channel would otherwise never report a change, and the caller would never know."""
    listener = ChangeListener(Database(make_engine(f"sqlite:///{tmp_path / 'vigil.db'}")), [GALLERY])
    with pytest.raises(ValueError, match="vigil_galery"):
        listener.changed("vigil_galery")
    with pytest.raises(ValueError, match="vigil_galery"):
        listener.on("vigil_galery", print)
