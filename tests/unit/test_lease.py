"""One leader per database: the lease on real databases (SQLite lock files, PostgreSQL advisory locks),
held by another process that is SIGKILLed, by a connection the server terminates, and kept by a keeper
whose callbacks raise.

Runs on SQLite and PostgreSQL (``db_url``); the terminated-connection tests on PostgreSQL only.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.pg import ThrowawayPostgres
from vigil.errors import StoreError
from vigil.store.db import Database
from vigil.store.lease import Lease, LeaseKeeper, lock_key

TAKEOVER_S = 3.0  # the longest a standby may take to lead once the leader is SIGKILLed
WAIT_S = 5.0  # the longest any other awaited change may take

HOLDER = """
import sys, time
from pathlib import Path
from vigil.errors import StoreError
from vigil.store.db import Database
from vigil.store.lease import Lease
lease = Lease(Database.from_url(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
if not lease.try_acquire():
    sys.exit("not acquired")
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """A database (no schema needed: a lease uses none) on SQLite and PostgreSQL."""
    db = Database.from_url(db_url)
    yield db
    db.dispose()


@pytest.fixture
def pg_database(postgres: ThrowawayPostgres) -> Iterator[Database]:
    """A database on the session's PostgreSQL cluster, dropped after (with any connection left open)."""
    url = postgres.new_database()
    db = Database.from_url(url)
    yield db
    db.dispose()
    postgres.drop_database(make_url(url).database or "")


def _admin(db: Database) -> psycopg.Connection[tuple[object, ...]]:
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True)


def _terminate(db: Database, lease: Lease) -> None:
    """Terminate the server backend holding ``lease`` and wait until it has exited."""
    holder = lease.holder()
    assert holder is not None
    with _admin(db) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (holder.pid,)).fetchone() == (True,)
        deadline = time.monotonic() + WAIT_S
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (holder.pid,)).fetchone():
            assert time.monotonic() < deadline, "the terminated backend did not exit"
            time.sleep(0.02)


def _break(db: Database, lease: Lease, lock_dir: Path) -> None:
    """Take the ground from under a held lease: its connection terminated, or its lock file removed."""
    if db.dialect == "postgresql":
        _terminate(db, lease)
    else:
        (lock_dir / f"{lease.name}.lock").unlink()


class Recorder:
    """The keeper's callbacks, counted, each one optionally raising."""

    def __init__(self, raising: bool = False) -> None:
        self.raising = raising
        self.acquired = 0
        self.lost = 0
        self._changed = threading.Condition()

    def on_acquired(self) -> None:
        self._count("acquired")

    def on_lost(self) -> None:
        self._count("lost")

    def _count(self, what: str) -> None:
        with self._changed:
            setattr(self, what, getattr(self, what) + 1)
            self._changed.notify_all()
        if self.raising:
            raise RuntimeError(f"{what} callback broke")

    def wait(self, until: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
        with self._changed:
            return self._changed.wait_for(until, timeout_s)


def test_the_lock_key_is_stable_and_fits_a_bigint() -> None:
    """Processes of different Vigil versions (a rolling upgrade) must agree on the key."""
    assert lock_key("leader") == 7200345672950837087
    assert all(0 <= lock_key(n) < 2**63 for n in ("leader", "x", "a" * 100))
    assert lock_key("leader") != lock_key("leader2")


@pytest.mark.parametrize("name", ["", "../leader", "a/b", ".hidden", "a" * 101])
def test_a_lease_name_must_be_a_plain_file_name(tmp_path: Path, name: str) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'vigil.db'}")
    with pytest.raises(ValueError, match="lease name"):
        Lease(db, name, tmp_path)


def test_one_holder_per_name_until_released(database: Database, tmp_path: Path) -> None:
    first, second = Lease(database, "leader", tmp_path), Lease(database, "leader", tmp_path)
    other = Lease(database, "other", tmp_path)
    assert first.try_acquire()
    assert not second.try_acquire()
    assert (first.held, first.still_held(), second.held, second.still_held()) == (True, True, False, False)
    assert other.try_acquire(), "a lease of another name does not conflict"
    assert first.try_acquire(), "trying again while holding it keeps it"
    first.release()
    assert second.try_acquire(), "released: the next one takes it at once"
    assert (first.held, second.held) == (False, True)
    assert not first.try_acquire()
    for lease in (first, second, other):
        lease.release()
        lease.release()  # twice is harmless
    assert first.try_acquire()
    first.release()


def test_holder_names_who_holds_the_lease(database: Database, tmp_path: Path) -> None:
    lease, other = Lease(database, "leader", tmp_path), Lease(database, "leader", tmp_path)
    assert lease.holder() is None
    assert lease.try_acquire()
    holder = other.holder()
    assert holder is not None and holder.since is not None
    if database.dialect == "postgresql":
        assert holder.host == "127.0.0.1"
        assert holder.label.startswith(f"vigil-lease leader {os.getpid()}@")
    else:
        assert holder.pid == os.getpid()
        path = tmp_path / "leader.lock"
        assert path.stat().st_mode & 0o777 == 0o600
        assert f'"pid": {os.getpid()}' in path.read_text()
    assert str(os.getpid()) in holder.describe() or database.dialect == "postgresql"
    lease.release()
    assert other.holder() is None, "a released lease (its file left behind on SQLite) has no holder"


def test_a_standby_leads_within_seconds_of_the_leader_being_sigkilled(
    database: Database, tmp_path: Path
) -> None:
    url = database.engine.url.render_as_string(hide_password=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, "leader", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    recorder = Recorder()
    keeper = LeaseKeeper(Lease(database, "leader", tmp_path), recorder.on_acquired, recorder.on_lost)
    try:
        assert holder.stdout is not None and holder.stderr is not None
        ready, _, _ = select.select([holder.stdout], [], [], 20.0)
        line = holder.stdout.readline() if ready else ""
        assert line == "held\n", f"the holder did not start: {line!r} {holder.stderr.read()}"
        keeper.start()
        assert not recorder.wait(lambda: recorder.acquired > 0, 0.5), "led while another process held it"
        assert (keeper.is_leader, recorder.lost) == (False, 0)

        holder.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        assert recorder.wait(lambda: recorder.acquired > 0, TAKEOVER_S + 2.0)
        takeover_s = time.monotonic() - killed_at
        assert takeover_s < TAKEOVER_S, f"took over after {takeover_s:.2f} s"
        assert (keeper.is_leader, recorder.lost) == (True, 0)
        logging.getLogger(__name__).info("%s: took over %.2f s after SIGKILL", database.dialect, takeover_s)
    finally:
        holder.kill()
        holder.wait()
        keeper.stop()


def test_a_terminated_connection_loses_the_lease(pg_database: Database, tmp_path: Path) -> None:
    lease = Lease(pg_database, "leader", tmp_path)
    assert lease.try_acquire()
    _terminate(pg_database, lease)
    assert not lease.still_held()
    assert not lease.held
    assert lease.try_acquire(), "a new connection takes it again"
    assert lease.still_held()
    lease.release()


def test_the_keeper_steps_down_when_its_connection_is_terminated_then_leads_again(
    pg_database: Database, tmp_path: Path
) -> None:
    recorder = Recorder()
    lease = Lease(pg_database, "leader", tmp_path)
    keeper = LeaseKeeper(lease, recorder.on_acquired, recorder.on_lost, retry_s=0.2, check_s=0.2)
    keeper.start()
    try:
        assert recorder.wait(lambda: recorder.acquired == 1)
        _terminate(pg_database, lease)
        assert recorder.wait(lambda: recorder.lost == 1)
        assert recorder.wait(lambda: recorder.acquired == 2), "it did not take the lease again"
        assert keeper.is_leader and lease.still_held()
    finally:
        keeper.stop()


def test_raising_callbacks_do_not_stop_the_keeper(
    database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(raising=True)
    lease = Lease(database, "leader", tmp_path)
    keeper = LeaseKeeper(lease, recorder.on_acquired, recorder.on_lost, retry_s=0.1, check_s=0.1)
    with caplog.at_level(logging.ERROR, logger="vigil.store.lease"):
        keeper.start()
        try:
            assert recorder.wait(lambda: recorder.acquired == 1)
            assert keeper.is_leader, "a failed on_acquired keeps the lease"
            _break(database, lease, tmp_path)
            assert recorder.wait(lambda: recorder.lost == 1)
            assert recorder.wait(lambda: recorder.acquired == 2), "the keeper died with a callback"
            assert keeper.is_leader
        finally:
            keeper.stop()
    failures = [r for r in caplog.records if r.exc_info is not None]
    assert {str(r.exc_info[1]) for r in failures if r.exc_info} == {
        "acquired callback broke",
        "lost callback broke",
    }


def test_stop_releases_the_lease_without_calling_on_lost(database: Database, tmp_path: Path) -> None:
    recorder = Recorder()
    keeper = LeaseKeeper(Lease(database, "leader", tmp_path), recorder.on_acquired, recorder.on_lost)
    keeper.start()
    assert recorder.wait(lambda: recorder.acquired == 1)
    keeper.stop()
    assert not keeper.is_leader and recorder.lost == 0
    successor = Lease(database, "leader", tmp_path)
    assert successor.try_acquire(), "stop() released it"
    successor.release()
    with pytest.raises(RuntimeError, match="started already"):
        keeper.start()


def test_the_lease_connection_notices_a_lost_network_on_both_ends(
    pg_database: Database, tmp_path: Path
) -> None:
    """The settings that bound failover when the leader's host vanishes (no FIN ever reaches the server):
    the leader's checks fail after the TCP user timeout, the server frees the lock after its keepalives."""
    lease = Lease(pg_database, "leader", tmp_path)
    assert lease.try_acquire()
    conn = lease._hold._conn  # type: ignore[attr-defined]  # the dedicated connection is private
    client = conn.info.get_parameters()
    wanted = {"keepalives": "1", "keepalives_idle": "5", "keepalives_interval": "2", "keepalives_count": "3"}
    assert {key: client.get(key) for key in wanted} == wanted
    assert client.get("tcp_user_timeout") == "5000"
    names = ("statement_timeout", "tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")
    assert [conn.execute(f"SHOW {name}").fetchone()[0] for name in names] == ["2s", "5", "2", "3"]
    assert conn.execute("SHOW tcp_user_timeout").fetchone()[0] == "5000"
    lease.release()


def test_an_unreachable_server_is_a_store_error_without_the_password(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = Database.from_url(f"postgresql+psycopg://vigil:s3cret-pw@127.0.0.1:{port}/vigil")
    lease = Lease(db, "leader", tmp_path)
    with pytest.raises(StoreError, match=f"cannot connect to .*127.0.0.1:{port}") as caught:
        lease.try_acquire()
    assert "s3cret-pw" not in str(caught.value)
    assert not lease.held
    db.dispose()
