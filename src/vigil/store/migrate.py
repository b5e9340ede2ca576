"""Schema changes, only through Alembic migrations: ``vigil db upgrade`` applies them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, inspect

from vigil.errors import StoreError
from vigil.store.db import translate_errors

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for migrations. On SQLite, foreign keys are off while it runs (a
    table is rebuilt by copy, drop and rename, which must not cascade) and checked before it commits."""
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:  # outside any transaction, where SQLite honours it
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                yield conn
                if sqlite and (bad := conn.exec_driver_sql("PRAGMA foreign_key_check").first()) is not None:
                    raise StoreError(f"a migration broke a foreign key ({tuple(bad)}); rolled back")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (default: the newest), in one transaction where possible."""
    cfg = _config(engine)
    try:
        with translate_errors(), _migrating(engine) as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except CommandError as exc:  # e.g. the database is at a revision this Vigil does not know
        raise StoreError(f"cannot upgrade the schema: {exc}") from exc


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` ("base" empties it): for tests and benchmarks."""
    cfg = _config(engine)
    try:
        with translate_errors(), _migrating(engine) as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
    except CommandError as exc:
        raise StoreError(f"cannot downgrade the schema: {exc}") from exc


def ensure_schema(engine: Engine) -> None:
    """Create the schema in an empty database; refuse one that is behind (``vigil db upgrade``)."""
    now, want = current(engine), head()
    if now == want:
        return
    if now is None and not inspect(engine).get_table_names():
        upgrade(engine)
        return
    raise StoreError(
        f"the database schema is at revision {now or 'unknown'}, this Vigil needs {want}: "
        "run `vigil db upgrade`"
    )


def current(engine: Engine) -> str | None:
    with translate_errors(), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def revision(engine: Engine, message: str) -> None:
    """Developer tool: autogenerate a new migration from the models (review it before committing)."""
    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)
