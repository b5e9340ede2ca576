"""Exactly one leader per database: a lease that the operating system or the database server frees when
its holder dies, and a keeper thread that takes it over.

Several ``vigil serve`` processes may share one database; only one of them may run the alert dispatcher and
the camera supervisor (two would both send every webhook). The lease is a lock whose life is tied to a
resource the kernel or the server cleans up on its own, so a SIGKILLed leader never leaves it behind and no
expiry time has to be guessed:

- **PostgreSQL**: a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated psycopg
  connection, outside the SQLAlchemy pool (whose recycling or pre-ping would silently drop the session and
  the lock with it). The server frees the lock when that connection closes, which the leader's kernel does
  the moment the process dies. Advisory locks are per database, so two Vigil databases in one cluster do
  not conflict. Connect directly or through a session-mode pooler: a transaction-mode pooler (PgBouncer)
  cannot hold a session lock.
- **SQLite** (any other dialect): an exclusive ``flock`` on ``lock_dir/NAME.lock``, freed by the kernel
  when the file descriptor closes, process death included. It works between processes of one host only
  (``flock`` over NFS is not to be trusted).

Losing the network to PostgreSQL is noticed on both ends within seconds, in the safe order: the leader's
connection has a TCP user timeout (``_TCP_USER_TIMEOUT_MS``), so its ``still_held()`` check fails ~5 s
after the network goes; the server's side of it has keepalives (idle 5 s, then 3 probes 2 s apart), so the
server frees the lock only ~11 s after it last heard from the leader. The leader has stepped down before a
standby can step up. A lease is not a fence, though: between the moment a leader loses its lease and the
moment it notices (up to one ``check_s``) another process may already lead, so what the leader does must
tolerate a short overlap (for the dispatcher: claim outbox rows with ``FOR UPDATE SKIP LOCKED``).

Example:
    >>> keeper = LeaseKeeper(Lease(db, "leader", data_dir), start_duties, stop_duties)  # doctest: +SKIP
    >>> keeper.start()  # doctest: +SKIP
    >>> ...
    >>> stop_duties(); keeper.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
from sqlalchemy import text

from vigil.errors import StoreError
from vigil.store.db import Database, as_utc

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_CONNECT_TIMEOUT_S = 5
_STATEMENT_TIMEOUT_MS = 2_000  # the liveness check's server-side bound
_TCP_USER_TIMEOUT_MS = 5_000  # unacknowledged data for this long (the network is gone): the socket fails
_KEEPALIVE_IDLE_S, _KEEPALIVE_INTERVAL_S, _KEEPALIVE_COUNT = 5, 2, 3  # a silent peer is dead after ~11 s
# The server's side of the same connection: it frees the lock ~11 s after it last heard from the holder.
_SERVER_SETTINGS = (
    ("statement_timeout", str(_STATEMENT_TIMEOUT_MS)),
    ("tcp_keepalives_idle", str(_KEEPALIVE_IDLE_S)),
    ("tcp_keepalives_interval", str(_KEEPALIVE_INTERVAL_S)),
    ("tcp_keepalives_count", str(_KEEPALIVE_COUNT)),
    ("tcp_user_timeout", str(_TCP_USER_TIMEOUT_MS)),
)
_APPLICATION_NAME_MAX = 63  # PostgreSQL's NAMEDATALEN - 1


def lock_key(name: str) -> int:
    """The advisory lock key of lease ``name``: a 63-bit hash of ``"vigil:" + name``, stable across
    processes, hosts and Vigil versions (Python's ``hash()`` is salted per process, so it would not do).

    Example:
        >>> 0 <= lock_key("leader") < 2**63
        True
    """
    digest = hashlib.sha256(f"vigil:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds a lease, for status output.

    Attributes:
        pid: SQLite: the holding Vigil process. PostgreSQL: the server backend holding the lock (the pid
            ``pg_terminate_backend`` takes); ``label`` names the Vigil process.
        host: SQLite: the holder's hostname. PostgreSQL: its client address (``local`` for a Unix socket).
        since: when it took the lease (PostgreSQL: when its connection started), UTC; None if unknown.
        label: PostgreSQL: the holder's ``application_name``, ``vigil-lease NAME PID@HOST``.
    """

    pid: int
    host: str
    since: datetime | None
    label: str = ""

    def describe(self) -> str:
        since = f" since {self.since.isoformat(timespec='seconds')}" if self.since else ""
        label = f" ({self.label})" if self.label else ""
        return f"pid {self.pid} on {self.host}{since}{label}"


class _Hold(Protocol):
    """The resource a lease lives on; called under the Lease's lock."""

    def try_acquire(self) -> bool: ...
    def still_held(self) -> bool: ...
    def release(self) -> None: ...
    def holder(self) -> LeaseHolder | None: ...


class Lease:
    """A named lock, one holder per database, freed by the kernel or the server when its holder dies.

    Thread-safe. On PostgreSQL the lease costs one connection for as long as it is held or sought.

    Example:
        >>> lease = Lease(db, "leader", data_dir)  # doctest: +SKIP
        >>> if lease.try_acquire():  # doctest: +SKIP
        ...     assert lease.still_held()
        ...     lease.release()
    """

    def __init__(self, db: Database, name: str, lock_dir: Path) -> None:
        """A lease, not yet held.

        Args:
            db: The shared database: its dialect picks the mechanism, its URL the server to lock on.
            name: Which lease (``[A-Za-z0-9][A-Za-z0-9_.-]*``, at most 100 characters): different names
                never conflict.
            lock_dir: Where SQLite's lock file goes (the data dir); unused on PostgreSQL.

        Raises:
            ValueError: ``name`` is not a plain name (it becomes a file name).
        """
        if not _NAME.fullmatch(name):
            raise ValueError(f"lease name {name!r}: use [A-Za-z0-9][A-Za-z0-9_.-]*, at most 100 characters")
        self.name = name
        self._hold: _Hold = (
            _AdvisoryLock(db, name) if db.dialect == "postgresql" else _FileLock(lock_dir / f"{name}.lock")
        )
        self._lock = threading.Lock()
        self._held = False

    @property
    def held(self) -> bool:
        """Whether this object holds the lease, as of its last acquire, check or release."""
        return self._held

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits for the holder. True if held (already or now).

        Raises:
            StoreError: the database server or the lock file cannot be reached; the lease is not held.
        """
        with self._lock:
            if not self._held:
                self._held = self._hold.try_acquire()
            return self._held

    def still_held(self) -> bool:
        """Check the resource the lease lives on (cheap: ``SELECT 1``, or a stat of the lock file).

        False, and the resource closed, when it is gone: the connection was cut or terminated, the lock
        file removed or replaced. Never raises.
        """
        with self._lock:
            if self._held and not self._hold.still_held():
                self._held = False
            return self._held

    def release(self) -> None:
        """Give the lease up (a no-op when not held). When this returns, another process can take it."""
        with self._lock:
            self._hold.release()
            self._held = False

    def holder(self) -> LeaseHolder | None:
        """Who holds the lease now (this process or another), or None when nobody does.

        Raises:
            StoreError: the database cannot be read.
        """
        return self._hold.holder()


class _AdvisoryLock:
    """A session-level advisory lock on a dedicated autocommit connection, kept open between attempts."""

    def __init__(self, db: Database, name: str) -> None:
        url = db.engine.url
        self._db = db
        self._name = name
        self._key = lock_key(name)
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._where = url.set(drivername="postgresql").render_as_string(hide_password=True)
        self._conn: psycopg.Connection[Any] | None = None

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        label = f"vigil-lease {self._name} {os.getpid()}@{socket.gethostname()}"
        try:
            conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT_S,
                keepalives=1,
                keepalives_idle=_KEEPALIVE_IDLE_S,
                keepalives_interval=_KEEPALIVE_INTERVAL_S,
                keepalives_count=_KEEPALIVE_COUNT,
                tcp_user_timeout=_TCP_USER_TIMEOUT_MS,
                application_name=label[:_APPLICATION_NAME_MAX],
            )
        except psycopg.Error as exc:
            raise StoreError(f"lease {self._name}: cannot connect to {self._where}: {_reason(exc)}") from exc
        try:
            for setting, value in _SERVER_SETTINGS:
                conn.execute("SELECT set_config(%s, %s, false)", (setting, value))
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"lease {self._name}: cannot set up the connection: {_reason(exc)}") from exc
        self._conn = conn
        return conn

    def try_acquire(self) -> bool:
        conn = self._connect()
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        except psycopg.Error as exc:
            self._close()
            raise StoreError(f"lease {self._name}: {_reason(exc)}") from exc
        return bool(row and row[0])

    def still_held(self) -> bool:
        conn = self._conn
        if conn is None or conn.closed:
            return False
        try:
            conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            log.warning("lease %s: the connection holding it failed: %s", self._name, _reason(exc))
            self._close()
            return False
        return True

    def release(self) -> None:
        """Unlock explicitly before closing: a close alone frees the lock only once the server's backend
        has exited, a few milliseconds later, and a waiting process would fail to take it meanwhile."""
        conn = self._conn
        if conn is None:
            return
        if not conn.closed:
            try:
                conn.execute("SELECT pg_advisory_unlock_all()")
            except psycopg.Error as exc:
                log.debug("lease %s: unlock failed (%s); closing frees it", self._name, _reason(exc))
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def holder(self) -> LeaseHolder | None:
        # A bigint key is stored as classid (high 32 bits), objid (low 32 bits) and objsubid 1.
        query = text(
            "SELECT a.pid, host(a.client_addr), a.backend_start, a.application_name"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND l.classid::bigint = :hi AND l.objid::bigint = :lo"
        )
        with self._db.read() as session:
            row = session.execute(query, {"hi": self._key >> 32, "lo": self._key & 0xFFFFFFFF}).first()
        if row is None:
            return None
        return LeaseHolder(int(row[0]), row[1] or "local", as_utc(row[2]), row[3] or "")


class _FileLock:
    """An exclusive ``flock`` on a lock file, kept open while held. The file is never deleted: a process
    that opened it just before the deletion would lock a file nobody else can see."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"lease: cannot open {self._path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"lease: cannot lock {self._path}: {exc.strerror}") from exc
        self._fd = fd
        if not self._same_file():  # removed or replaced between our open and our lock
            self._close()
            return False
        self._write_holder(fd)
        return True

    def _same_file(self) -> bool:
        if self._fd is None:
            return False
        mine = os.fstat(self._fd)
        try:
            now = self._path.stat()
        except OSError:
            return False
        return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)

    @staticmethod
    def _write_holder(fd: int) -> None:
        """Who holds it, for ``holder()`` and for a person looking at the file; never a condition."""
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(UTC).isoformat()}
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)

    def still_held(self) -> bool:
        """The flock itself cannot be taken away, but the file under it can: once it is removed or replaced,
        another process can lock the new file at that path, so the lease is lost."""
        if self._fd is None:
            return False
        if self._same_file():
            return True
        log.warning("lease: %s was removed or replaced: the lease is lost", self._path)
        self._close()
        return False

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # frees the flock
            self._fd = None

    def holder(self) -> LeaseHolder | None:
        """The pid and host in the file, if it is locked: a brief shared lock tells a stale file (a holder
        that died) from a live one. It may make a concurrent ``try_acquire`` fail once; that one retries."""
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"lease: cannot read {self._path}: {exc.strerror}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _parse_holder(os.pread(fd, 4096, 0))
            return None  # nobody holds it (closing the descriptor drops our shared lock)
        finally:
            os.close(fd)


def _parse_holder(raw: bytes) -> LeaseHolder:
    try:
        record = json.loads(raw)
        since = datetime.fromisoformat(record["since"]) if record.get("since") else None
        return LeaseHolder(int(record["pid"]), str(record["host"]), since)
    except (ValueError, KeyError, TypeError):  # being written right now, or not ours
        return LeaseHolder(0, "unknown", None, raw.decode(errors="replace").strip())


def _reason(exc: BaseException) -> str:
    """The first line of a driver error (psycopg names host and port, never the password)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class LeaseKeeper:
    """Keeps trying to hold a lease in a daemon thread, and says when this process leads and when not.

    Standing by, it tries every ``retry_s``; leading, it checks the lease every ``check_s``. It calls
    ``on_acquired()`` when it takes the lease and ``on_lost()`` when the lease is lost (then stands by
    again), both in its own thread. A callback that raises is logged with its traceback and changes
    nothing: after a failed ``on_acquired`` the lease stays held (a standby could fail the same way, and
    handing the lease round would only make the failures flap).

    ``stop()`` releases the lease *without* calling ``on_lost``: whoever stops the keeper is shutting the
    process down and stops the leader's duties itself, in its own order. Stop those duties first, then the
    keeper, so that no standby takes over while they still run.

    Example:
        >>> keeper = LeaseKeeper(lease, dispatcher.start, dispatcher.stop)  # doctest: +SKIP
        >>> keeper.start()  # doctest: +SKIP
    """

    def __init__(
        self,
        lease: Lease,
        on_acquired: Callable[[], None],
        on_lost: Callable[[], None],
        *,
        retry_s: float = 1.0,
        check_s: float = 1.0,
    ) -> None:
        """A keeper, not yet running (see ``start``).

        Args:
            lease: The lease to hold; the keeper owns it from ``start`` on.
            on_acquired: Called when this process becomes the leader.
            on_lost: Called when it stops being the leader, except through ``stop()``.
            retry_s: Seconds between attempts to take the lease while another process holds it.
            check_s: Seconds between checks of a held lease: the longest a loss goes unnoticed.

        Raises:
            ValueError: a period is not positive.
        """
        if retry_s <= 0 or check_s <= 0:
            raise ValueError(f"lease periods must be positive, got retry_s={retry_s}, check_s={check_s}")
        self._lease = lease
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._retry_s = retry_s
        self._check_s = check_s
        self._leader = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unreachable = False  # the last attempt failed: the next failures log at debug only

    @property
    def lease(self) -> Lease:
        return self._lease

    @property
    def is_leader(self) -> bool:
        """Whether this process holds the lease, as of the keeper's last acquire or check."""
        return self._leader

    def start(self) -> None:
        """Start the thread; its first attempt is immediate.

        Raises:
            RuntimeError: already started.
        """
        if self._thread is not None:
            raise RuntimeError(f"the keeper of lease {self._lease.name} was started already")
        self._thread = threading.Thread(
            target=self._loop, name=f"vigil-lease-{self._lease.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (a callback in progress finishes first) and release the lease; no ``on_lost``.

        Args:
            timeout: Longest wait for the thread, seconds. Past it the lease is released anyway.
        """
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("lease %s: the keeper did not stop within %.1f s", self._lease.name, timeout)
        self._leader = False
        self._lease.release()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if self._leader:
                self._check()
            else:
                self._attempt()
            self._stopping.wait(self._check_s if self._leader else self._retry_s)
        self._lease.release()  # in case an attempt in flight succeeded after stop() released

    def _attempt(self) -> None:
        try:
            acquired = self._lease.try_acquire()
        except StoreError as exc:
            level = logging.DEBUG if self._unreachable else logging.WARNING
            log.log(level, "lease %s: cannot try it (%s); retrying", self._lease.name, exc)
            self._unreachable = True
            return
        except Exception:
            log.exception("lease %s: trying to take it failed", self._lease.name)
            return
        self._unreachable = False
        if acquired and not self._stopping.is_set():
            self._leader = True
            log.info("lease %s: this process is now the leader", self._lease.name)
            self._call(self._on_acquired, "on_acquired")

    def _check(self) -> None:
        try:
            held = self._lease.still_held()
        except Exception:
            log.exception("lease %s: checking it failed; counted as lost", self._lease.name)
            self._lease.release()
            held = False
        if not held:
            self._leader = False
            log.warning("lease %s: lost; this process is no longer the leader", self._lease.name)
            self._call(self._on_lost, "on_lost")

    def _call(self, callback: Callable[[], None], what: str) -> None:
        try:
            callback()
        except Exception:
            log.exception("lease %s: %s failed", self._lease.name, what)
