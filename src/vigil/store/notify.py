"""Change notifications from PostgreSQL: ``LISTEN`` on a few channels, callbacks and flags for the caller.

Migration 0011 makes PostgreSQL ``NOTIFY`` whenever the gallery, a camera or the outbox changes, whichever
process made the change. :class:`ChangeListener` turns those notifications into callbacks (run on its own
thread) and into flags a loop can test without blocking, so a camera actor reloads its gallery, or the
dispatcher wakes, at once instead of at its next poll.

The poll stays: notifications are a shortcut, never the only path.

* **SQLite has none.** There the listener is inert (``active`` is False, ``changed`` always False) and
  the caller relies on its poll (e.g. :func:`~vigil.services.gallery.gallery_fingerprint`).
* **Notifications sent while disconnected are lost.** PostgreSQL queues nothing for a listener that is
  not connected, so after every reconnection the listener reports every channel as changed (callbacks
  get the payload ``""``): the caller reloads once rather than missing an edit.
* **Start before loading.** :meth:`ChangeListener.start` returns once ``LISTEN`` is in place (or after
  ``ready_timeout_s``), so state loaded after it cannot miss a change; if the first connection comes
  later, it counts as a reconnection.

Example:
    >>> listener = ChangeListener(db, [GALLERY])  # doctest: +SKIP
    >>> with listener:
    ...     gallery = load_gallery(db, model_id, dim)  # after start(): no change can slip between
    ...     while running:
    ...         if listener.changed(GALLERY) or poll_due():
    ...             gallery = load_gallery(db, model_id, dim)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from time import monotonic
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow

from vigil.store.db import Database

log = logging.getLogger(__name__)

GALLERY = "vigil_gallery"  # payload: the changed table's name (face_samples, people, ...)
CAMERAS = "vigil_cameras"  # payload: "cameras"
OUTBOX = "vigil_outbox"  # payload: the new outbox row's id
ALERTED = "vigil_alerted"  # payload: the id of the event that became an alert (migration 0014)
"""The channels migrations 0011 and 0014's triggers notify."""

WAIT_S = 0.5  # longest wait for a notification before checking whether stop() was called
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0
CONNECT_TIMEOUT_S = 5  # libpq's connect_timeout: whole seconds
READY_TIMEOUT_S = 5.0
_MAX_CHANNEL = 63  # PostgreSQL identifiers: longer names are truncated, and would never match
_APP_NAME = "vigil-listener"

Callback = Callable[[str], None]


class ChangeListener:
    """A thread holding one autocommit connection that ``LISTEN``s on ``channels``.

    Args:
        db: the store; only a PostgreSQL one notifies, any other leaves the listener inert.
        channels: the channels to listen on (e.g. :data:`GALLERY`, :data:`OUTBOX`).
        ready_timeout_s: how long :meth:`start` waits for the first ``LISTEN``.

    Raises:
        ValueError: no channel, or a channel name that is empty or longer than 63 bytes.
    """

    def __init__(
        self, db: Database, channels: Sequence[str], *, ready_timeout_s: float = READY_TIMEOUT_S
    ) -> None:
        self._channels = tuple(dict.fromkeys(channels))
        if not self._channels:
            raise ValueError("a change listener needs at least one channel")
        for channel in self._channels:
            if not channel or len(channel.encode()) > _MAX_CHANNEL:
                raise ValueError(f"channel {channel!r}: must be 1-{_MAX_CHANNEL} bytes")
        self._postgres = db.dialect == "postgresql"
        url = db.engine.url
        self._where = url.render_as_string(hide_password=True)  # the only form that reaches logs
        extra: dict[str, str | int] = {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "keepalives": 1,  # a peer gone without a word (network cut) is noticed in about a minute
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
        if "application_name" not in url.query:  # the operator's own name wins
            extra["application_name"] = _APP_NAME
        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conninfo = make_conninfo(libpq, **extra)
        self._ready_timeout_s = ready_timeout_s
        self._lock = threading.Lock()
        self._callbacks: dict[str, list[Callback]] = {c: [] for c in self._channels}
        self._pending: set[str] = set()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = False  # start() is waiting for the first LISTEN
        self._listened = False  # a LISTEN has been in place since start()
        self._pid: int | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        return self._channels

    @property
    def active(self) -> bool:
        """True while the listener thread runs (never on SQLite): the caller may then poll less often."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def connected(self) -> bool:
        """True while ``LISTEN`` is in place on a live connection."""
        return self._pid is not None

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend process of the listening connection (None when not connected)."""
        return self._pid

    def on(self, channel: str, callback: Callback) -> None:
        """Calls ``callback(payload)`` on the listener thread for each notification on ``channel``, and
        with ``""`` after a reconnection. It should be quick (set an event, queue a job); an exception
        it raises is logged and the listener goes on.

        Raises:
            ValueError: ``channel`` is not one this listener listens on.
        """
        self._check(channel)
        with self._lock:
            self._callbacks[channel].append(callback)

    def changed(self, channel: str) -> bool:
        """True, once, if a notification arrived on ``channel`` since the last call (or a reconnection
        happened); never blocks. Always False on an inert listener.

        Raises:
            ValueError: ``channel`` is not one this listener listens on.
        """
        self._check(channel)
        with self._lock:
            if channel in self._pending:
                self._pending.discard(channel)
                return True
            return False

    def start(self) -> None:
        """Starts the listener thread and waits (up to ``ready_timeout_s``) until it listens.

        Does nothing on SQLite, or when already running.
        """
        if not self._postgres or self.active:
            return
        self._stop = threading.Event()  # a fresh one: a thread that outlived stop() keeps the old, set one
        self._ready.clear()
        with self._lock:
            self._starting, self._listened = True, False
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name="vigil-notify", daemon=True
        )
        self._thread.start()
        self._ready.wait(self._ready_timeout_s)
        with self._lock:
            self._starting = False

    def stop(self) -> None:
        """Stops the thread (within ``WAIT_S``, or a pending connection attempt's time-out) and waits for
        it to close its connection."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(CONNECT_TIMEOUT_S + 2 * WAIT_S)
        if thread.is_alive():
            log.warning("change listener on %s did not stop in time; left to exit by itself", self._where)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def _check(self, channel: str) -> None:
        if channel not in self._callbacks:
            raise ValueError(f"not listening on {channel!r} (channels: {', '.join(self._channels)})")

    def _run(self, stop: threading.Event) -> None:
        """Connect, listen, receive; on a broken connection, warn once and reconnect with backoff."""
        delay = BACKOFF_FIRST_S
        down = False  # an outage was reported and is not over
        while not stop.is_set():
            try:
                conn = self._connect()
            except psycopg.Error as exc:
                if not down:
                    log.warning("change listener cannot connect to %s (%s); retrying", self._where, _why(exc))
                    down = True
                else:
                    log.debug("change listener: %s still unreachable (%s)", self._where, _why(exc))
                stop.wait(delay)
                delay = min(2 * delay, BACKOFF_MAX_S)
                continue
            if stop.is_set():  # stopped while connecting: leave without announcing anything
                conn.close()
                break
            if down:
                log.info("change listener: listening again on %s", self._where)
                down = False
            up_at = monotonic()
            try:
                self._listening(conn.info.backend_pid)
                self._receive(conn, stop)
            except psycopg.Error as exc:
                log.warning("change listener lost %s (%s); reconnecting", self._where, _why(exc))
                down = True
            except Exception:
                log.exception("change listener on %s failed; reconnecting", self._where)
                down = True
            finally:
                self._pid = None
                conn.close()
            if monotonic() - up_at >= BACKOFF_MAX_S:
                delay = BACKOFF_FIRST_S  # it was healthy a while: a new outage starts from the shortest wait
            if down:
                stop.wait(delay)
                delay = min(2 * delay, BACKOFF_MAX_S)

    def _connect(self) -> psycopg.Connection[TupleRow]:
        conn = psycopg.connect(self._conninfo, autocommit=True)
        try:
            for channel in self._channels:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    def _listening(self, pid: int) -> None:
        """LISTEN is in place: quiet if start() is still waiting for it (the caller loads after), else
        every channel changed (notifications sent before it were lost)."""
        with self._lock:
            quiet = self._starting and not self._listened
            self._listened = True
        self._pid = pid
        self._ready.set()
        if not quiet:
            for channel in self._channels:
                self._deliver(channel, "")

    def _receive(self, conn: psycopg.Connection[TupleRow], stop: threading.Event) -> None:
        while not stop.is_set():
            notes = conn.notifies(timeout=WAIT_S)
            try:
                for note in notes:
                    if note.channel in self._callbacks:
                        self._deliver(note.channel, note.payload)
                    if stop.is_set():
                        break
            finally:
                notes.close()

    def _deliver(self, channel: str, payload: str) -> None:
        with self._lock:
            self._pending.add(channel)
            callbacks = tuple(self._callbacks[channel])
        for callback in callbacks:
            try:
                callback(payload)
            except Exception:
                log.exception("change listener: a callback on %s failed (payload %r)", channel, payload)


def _why(exc: psycopg.Error) -> str:
    """The first line of libpq's reason (it names host and port, never the password)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
