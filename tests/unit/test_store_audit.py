"""The audit log: a hash chain the database itself keeps append-only, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from tests.pg import ThrowawayPostgres
from tests.store_kit import audit_rows, drop_audit_guard, open_db
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.tables import AuditEntry, Watchlist


def _append(db: Database, n: int, actor: str = "test:alice") -> None:
    for i in range(n):
        with db.write() as s:
            audit.append(s, actor, "test.step", f"step:{i}", reason=f"reason {i}", details={"i": i, "ü": "é"})


def test_rows_chain_from_genesis_and_verify(db: Database) -> None:
    _append(db, 4)
    with db.write() as s:  # two rows in one transaction chain as well
        audit.append(s, "test:bob", "test.pair", "a")
        audit.append(s, "test:bob", "test.pair", "b")
    rows = audit_rows(db)
    assert [r.prev_hash for r in rows] == [audit.GENESIS] + [r.hash for r in rows[:-1]]
    assert len({r.hash for r in rows}) == 6
    assert rows[0].details == '{"i":0,"ü":"é"}'
    with db.read() as s:
        check = audit.verify(s)
    assert check == audit.ChainCheck(6, None)
    assert check.ok


def test_an_empty_log_verifies(db: Database) -> None:
    with db.read() as s:
        assert audit.verify(s) == audit.ChainCheck(0, None)


def test_a_failed_change_leaves_no_audit_row(db: Database) -> None:
    """The change and its audit row share one transaction: an error after both rolls back both."""
    with pytest.raises(RuntimeError, match="boom"), db.write() as s:
        s.add(Watchlist(name="x", created_by="t", created_at=datetime.now(UTC)))
        audit.append(s, "t", "list.create", "list:x")
        raise RuntimeError("boom")
    assert audit_rows(db) == []
    with db.read() as s:
        assert s.scalars(select(Watchlist)).all() == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'mallory' WHERE id = 2",
        "UPDATE audit_log SET reason = 'nothing to see'",
        "DELETE FROM audit_log WHERE id = 3",
        "DELETE FROM audit_log",
    ],
)
def test_the_database_refuses_to_change_or_delete_audit_rows(db: Database, statement: str) -> None:
    _append(db, 3)
    before = [(r.id, r.actor, r.reason, r.hash) for r in audit_rows(db)]
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text(statement))
    assert [(r.id, r.actor, r.reason, r.hash) for r in audit_rows(db)] == before


@pytest.mark.network
def test_postgresql_refuses_to_truncate_the_audit_log(postgres: ThrowawayPostgres) -> None:
    """Regression: TRUNCATE skips row triggers, so it emptied the log (SQLite has no TRUNCATE)."""
    name = f"t_{uuid.uuid4().hex}"
    db = open_db(postgres.new_database(name))
    try:
        _append(db, 2)
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
        assert len(audit_rows(db)) == 2
    finally:
        db.dispose()
        postgres.drop_database(name)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "test:mallory"),
        ("reason", "routine check"),
        ("details", '{"i":2,"ü":"x"}'),
        ("at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("subject", "step:99"),
    ],
)
def test_verify_names_the_first_altered_row(db: Database, column: str, value: object) -> None:
    _append(db, 5)
    drop_audit_guard(db)
    with db.engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == 3).values({column: value}))
    with db.read() as s:
        check = audit.verify(s)
    assert (check.broken_at, check.rows) == (3, 3)
    assert "altered" in check.reason


def test_verify_names_the_row_after_a_deleted_one(db: Database) -> None:
    _append(db, 5)
    drop_audit_guard(db)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 2"))
    with db.read() as s:
        check = audit.verify(s)
    assert check.broken_at == 3
    assert "removed" in check.reason


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(db: Database) -> None:
    """A tamperer who also recomputes the altered row's hash is caught at the following row."""
    _append(db, 4)
    drop_audit_guard(db)
    row = audit_rows(db)[1]
    forged = audit.entry_hash(
        row.prev_hash, at=row.at, actor="test:mallory", action=row.action, subject=row.subject,
        reason=row.reason, details=row.details,
    )  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(
            update(AuditEntry).where(AuditEntry.id == row.id).values(actor="test:mallory", hash=forged)
        )
    with db.read() as s:
        check = audit.verify(s)
    assert check.broken_at == row.id + 1
    assert "previous hash" in check.reason


def _append_in_child(url: str, actor: str, n: int, start: multiprocessing.synchronize.Event) -> None:
    db = Database.from_url(url)
    start.wait(30)
    _append(db, n, actor)
    db.dispose()


def _assert_one_chain(db: Database, n: int) -> None:
    rows = audit_rows(db)
    assert len(rows) == n
    assert len({r.actor for r in rows}) == 2
    assert len({r.prev_hash for r in rows}) == n, "two rows chained to the same predecessor"
    with db.read() as s:
        assert audit.verify(s) == audit.ChainCheck(n, None)


def test_appends_from_two_threads_keep_one_unbroken_chain(db: Database) -> None:
    """Two writers at once: SQLite's BEGIN IMMEDIATE or PostgreSQL's advisory lock keeps them in line."""
    n = 25
    go = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(actor: str) -> None:
        go.wait(30)
        try:
            _append(db, n, actor)
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=run, args=(f"test:t{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    _assert_one_chain(db, 2 * n)


def test_appends_from_two_processes_keep_one_unbroken_sqlite_chain(tmp_path: Path) -> None:
    """SQLite's lock is the file's: two processes, each with its own engine, still append in line."""
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    db = open_db(url)
    n = 25
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_append_in_child, args=(url, f"test:p{i}", n, start)) for i in range(2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    _assert_one_chain(db, 2 * n)
    db.dispose()
