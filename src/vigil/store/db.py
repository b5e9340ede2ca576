"""Connecting to the database: SQLite by default (one file, WAL, synchronous=FULL), PostgreSQL by URL.

Writes go through ``Database.write()``: one transaction holding every change and its audit row, so both
commit or neither does. On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` (it takes the
write lock up front, so two writers queue instead of failing half-way); reads stay ``BEGIN DEFERRED``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from vigil.errors import ConfigError, StoreError
from vigil.store.space import is_read_only, sqlite_storage_error

log = logging.getLogger(__name__)

_WRITE = "vigil_write"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_setup(engine: Engine) -> None:
    path = Path(engine.url.database or "")
    if engine.url.database not in (None, "", ":memory:"):
        _read_only_fallback(engine, path)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun below, explicitly
        cur = dbapi_conn.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA secure_delete=ON",  # deleted rows are zeroed, not left in free pages (retention)
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _read_only_fallback(engine: Engine, path: Path) -> None:
    """On a read-only file system SQLite cannot open a WAL database (it must create its ``-shm`` file):
    there, connect with ``immutable=1`` so reads keep working (writes fail as read-only). Such a
    connection is dropped at checkout once the file system is writable again, so writes resume."""

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, record: Any, _cargs: Any, cparams: dict[str, Any]) -> Any:
        if not is_read_only(path.parent):
            return None  # the dialect connects as usual
        record.info["immutable"] = True
        log.warning("%s is on a read-only file system: the database is opened read-only", path)
        return sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, **cparams)

    @event.listens_for(engine, "checkout")
    def _checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        if record.info.get("immutable") and not is_read_only(path.parent):
            raise DisconnectionError(f"{path} is writable again")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    Raises:
        ConfigError: the URL is malformed or names an unsupported database.
    """
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
            _sqlite_setup(engine)
        elif url.startswith("postgresql"):
            engine = create_engine(url, pool_pre_ping=True)
        else:
            raise ConfigError(
                f"database URL must start with sqlite:// or postgresql+psycopg://, not {url[:24]!r}"
            )
    except ArgumentError as exc:
        raise ConfigError(f"malformed database URL ({exc})") from exc
    return engine


@overload
def as_utc(at: datetime) -> datetime: ...
@overload
def as_utc(at: None) -> None: ...
def as_utc(at: datetime | None) -> datetime | None:
    """A datetime read back from the database, timezone-aware (SQLite drops the zone; Vigil writes UTC)."""
    if at is not None and at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at


class Database:
    """Sessions over one engine: ``read()`` for queries, ``write()`` for changes (one transaction each)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._where = engine.url.database or engine.url.render_as_string(hide_password=True)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        with translate_errors(self._where), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction for changes: commits on success, rolls back on any exception."""
        with translate_errors(self._where), self._sessions() as session, session.begin():
            session.connection(execution_options={_WRITE: True})
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def translate_errors(where: str = "the database") -> Iterator[None]:
    """Database trouble (locked, gone, disk full) becomes a StoreError with the driver's reason: a full
    disk a StorageFull and a read-only one a StorageReadOnly, naming ``where`` (the database file)."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        typed = sqlite_storage_error(reason, where)
        if typed is not None:
            raise typed from exc
        raise StoreError(f"database unavailable: {reason}") from exc
