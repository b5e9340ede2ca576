"""The schema comes only from migrations: they agree with the models, and an old schema is refused.

Runs on SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from vigil.errors import StoreError
from vigil.store import migrate
from vigil.store.db import Database, make_engine
from vigil.store.tables import Base, WatchlistEntry

TABLES = {
    "alembic_version", "audit_log", "cameras", "event_reviews", "event_shots", "events", "face_samples",
    "negative_templates", "face_clusters", "cluster_members",
    "people", "users", "watchlist_entries", "watchlists", "api_tokens", "outbox", "user_watchlists",
    "footage_jobs", "camera_placements", "event_templates", "user_scope_lists", "user_cameras",
}  # fmt: skip


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """A Vigil engine (pragmas and all) on the test's empty database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def _stamp(engine: Engine, revision: str) -> None:
    """Record ``revision`` as the schema's version, the way Alembic does, without any table."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})


def test_the_migrations_build_exactly_the_models(db_engine: Engine) -> None:
    migrate.upgrade(db_engine)
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert set(inspect(db_engine).get_table_names()) == TABLES
    assert migrate.current(db_engine) == migrate.head() == "0016"


def test_upgrade_is_idempotent_and_downgrade_undoes_it(db_engine: Engine) -> None:
    migrate.upgrade(db_engine)
    migrate.upgrade(db_engine)
    assert migrate.current(db_engine) == migrate.head()
    migrate.downgrade(db_engine, "base")
    assert set(inspect(db_engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db_engine)
    assert set(inspect(db_engine).get_table_names()) == TABLES


def test_ensure_schema_creates_an_empty_database_then_leaves_it_alone(db_engine: Engine) -> None:
    migrate.ensure_schema(db_engine)
    assert migrate.current(db_engine) == migrate.head()
    assert set(inspect(db_engine).get_table_names()) == TABLES
    migrate.ensure_schema(db_engine)  # a second start changes nothing
    assert migrate.current(db_engine) == migrate.head()


@pytest.mark.parametrize("stamped", ["0000", "f00dcafe"])
def test_ensure_schema_refuses_a_database_at_another_revision(db_engine: Engine, stamped: str) -> None:
    _stamp(db_engine, stamped)
    with pytest.raises(
        StoreError, match=rf"at revision {stamped}, this Vigil needs 0016: run `vigil db upgrade`"
    ):
        migrate.ensure_schema(db_engine)
    assert set(inspect(db_engine).get_table_names()) == {"alembic_version"}, "nothing was created"


def test_ensure_schema_refuses_a_schema_older_than_the_code(db_engine: Engine) -> None:
    """A database at 0001 opened by a Vigil whose newest migration is 0002 is not used as it is."""
    migrate.upgrade(db_engine, "0001")
    with pytest.raises(StoreError, match=r"at revision 0001, this Vigil needs 0016: run `vigil db upgrade`"):
        migrate.ensure_schema(db_engine)


def test_ensure_schema_refuses_tables_it_did_not_make(db_engine: Engine) -> None:
    """Tables without a version (made by hand, or by another program) are not taken over."""
    Base.metadata.tables["people"].create(db_engine)
    with pytest.raises(StoreError, match=r"at revision unknown.*vigil db upgrade"):
        migrate.ensure_schema(db_engine)


def test_sqlite_pragmas_are_on_for_every_connection(tmp_path_factory: pytest.TempPathFactory) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path_factory.mktemp('pragmas') / 'vigil.db'}")
    try:
        for _ in range(2):  # a fresh connection each time, not only the first
            with db.engine.connect() as conn:
                pragmas = {
                    name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
                }
            assert pragmas == {
                "journal_mode": "wal",
                "synchronous": 2,
                "foreign_keys": 1,
                "busy_timeout": 10_000,
            }
            db.engine.dispose()
    finally:
        db.dispose()


def test_foreign_keys_are_enforced(db_url: str) -> None:
    """An entry naming a person and a list that do not exist is refused by the database itself."""
    db = Database.from_url(db_url)
    migrate.ensure_schema(db.engine)
    try:
        with pytest.raises(IntegrityError), db.write() as s:
            s.add(
                WatchlistEntry(
                    watchlist_id=41, person_id=42, reason="x", added_by="t", added_at=datetime.now(UTC)
                )
            )
    finally:
        db.dispose()


def test_0002_upgrades_a_database_that_already_has_cameras_and_events(db_engine: Engine) -> None:
    """The new NOT NULL camera columns need a server default, or the upgrade fails on existing rows."""
    migrate.upgrade(db_engine, "0001")
    with db_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cameras (name, url, enabled, virtual, created_at) "
                "VALUES ('door', 'x', TRUE, FALSE, :t)"
            ),
            {"t": "2026-11-24 00:00:00"},
        )
    migrate.upgrade(db_engine)
    with db_engine.connect() as conn:
        row = conn.execute(text("SELECT loop, from_config, max_fps FROM cameras")).one()
    assert (bool(row.loop), bool(row.from_config), row.max_fps) == (False, False, None)


_ADD_CAMERA = text(
    "INSERT INTO cameras (name, url, enabled, virtual, loop, from_config, created_at) "
    "VALUES (:name, 'x', TRUE, FALSE, FALSE, FALSE, '2026-12-07 00:00:00')"
)


def test_0010_keeps_the_camera_ids_and_frees_a_removed_cameras_name(db_engine: Engine) -> None:
    migrate.upgrade(db_engine, "0009")
    with db_engine.begin() as conn:
        for name in ("door", "hall"):
            conn.execute(_ADD_CAMERA, {"name": name})
        conn.execute(text("DELETE FROM cameras WHERE name = 'hall'"))  # its id, 2, was handed out
    migrate.upgrade(db_engine)
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE cameras SET removed_at = created_at WHERE name = 'door'"))
        conn.execute(_ADD_CAMERA, {"name": "door"})  # the name of a removed camera is free again
        rows = conn.execute(text("SELECT id, name, removed_at IS NULL FROM cameras ORDER BY id")).all()
    assert [(r[0], r[1], bool(r[2])) for r in rows] == [(1, "door", False), (3, "door", True)], (
        "the migration kept the counter: id 2 is not given out again"
    )
    with pytest.raises(IntegrityError), db_engine.begin() as conn:
        conn.execute(_ADD_CAMERA, {"name": "door"})  # but two cameras in use may not share it
    migrate.downgrade(db_engine, "0009")
    with db_engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM cameras ORDER BY id")).scalars().all()
    assert names == ["door (removed 1)", "door"], "unique again, and the removed one says so"


def test_0011_notifies_listeners_of_gallery_changes_on_postgresql(db_engine: Engine) -> None:
    """Every writer's change to a list reaches a LISTEN on PostgreSQL (camera actors reload at once)."""
    if db_engine.dialect.name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's: SQLite's processes follow the gallery by polling")
    migrate.upgrade(db_engine)

    url = db_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute("LISTEN vigil_gallery")
        with db_engine.begin() as conn:
            conn.execute(text("UPDATE watchlists SET name = name WHERE false"))  # a statement, no row
        got = list(listener.notifies(timeout=5.0, stop_after=1))
    assert [(n.channel, n.payload) for n in got] == [("vigil_gallery", "watchlists")]
