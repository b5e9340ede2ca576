"""Ids that leave Vigil are never reused: SQLite tables whose ids reach webhooks, MQTT, signed links and
the audit log get AUTOINCREMENT (without it SQLite hands a deleted highest id to the next row: alerts of
a removed camera had their ids, and so their webhook keys and image links, given to new alerts).

PostgreSQL's sequences never reuse an id: nothing to do there.

Each SQLite table is rebuilt by SQLite's own procedure for schema changes (foreign keys are off while
migrations run: ``vigil.store.migrate``): a copy is created from the table's own SQL with
``INTEGER PRIMARY KEY AUTOINCREMENT``, filled, the table dropped, the copy renamed to it (the other
tables' foreign keys name the table, so they now reach the copy), and its indexes made again; the
foreign keys are checked before the migration commits. ``sqlite_sequence`` starts at the highest id kept.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:30:00.000000
"""

from __future__ import annotations

import re

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = (
    "cameras", "people", "watchlists", "watchlist_entries", "face_samples", "events", "event_shots",
    "event_reviews", "outbox", "negative_templates", "footage_jobs", "users", "api_tokens",
)  # fmt: skip
"""The tables whose ids are seen outside (payloads, links, URLs, audit details)."""

_ID = re.compile(r"\bid INTEGER NOT NULL,")
_PK = re.compile(r",\s*CONSTRAINT \w+ PRIMARY KEY \(id\)")


def _rebuild(table: str, autoincrement: bool) -> None:
    conn = op.get_bind()
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one_or_none()
    if sql is None:
        return
    if autoincrement:
        new = _PK.sub("", _ID.sub("id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,", sql, count=1), count=1)
    else:
        new = sql.replace("id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,", "id INTEGER NOT NULL,", 1)
        new = re.sub(r"\n\)\s*$", f", \n\tCONSTRAINT pk_{table} PRIMARY KEY (id)\n)", new)
    if new == sql:
        raise RuntimeError(f"cannot rewrite the primary key of {table}: {sql[:200]}")
    indexes = [
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,),
        )
    ]
    copy = f"_vigil_new_{table}"
    create, n = re.subn(rf'^CREATE TABLE "?{table}"? \(', f'CREATE TABLE "{copy}" (', new, count=1)
    if n != 1:
        raise RuntimeError(f"cannot read the definition of {table}: {sql[:80]}")
    conn.exec_driver_sql(create)
    conn.exec_driver_sql(f'INSERT INTO "{copy}" SELECT * FROM "{table}"')
    conn.exec_driver_sql(f'DROP TABLE "{table}"')
    conn.exec_driver_sql(f'ALTER TABLE "{copy}" RENAME TO "{table}"')
    for index in indexes:
        conn.exec_driver_sql(index)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        _rebuild(table, autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in reversed(TABLES):
        _rebuild(table, autoincrement=False)
