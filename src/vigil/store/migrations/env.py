"""Alembic environment: always run from Vigil (``vigil db upgrade``), with a connection handed in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from vigil.store.tables import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through vigil.store.migrate, which passes a connection")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
