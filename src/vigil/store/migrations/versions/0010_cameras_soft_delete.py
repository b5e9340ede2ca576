"""A removed camera keeps its history: ``cameras.removed_at`` marks it removed instead of deleting it
(its events, alerts and their webhook and audit references stay, under retention as before). A name is
unique among the cameras not removed, so a camera may be added again under the name of a removed one.

SQLite cannot drop a table constraint in place: the table is rebuilt from its own SQL without
``uq_cameras_name`` (foreign keys are off while migrations run, ``vigil.store.migrate``) and its
AUTOINCREMENT counter is carried over, so ids of cameras deleted before are not handed out again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:00:00.000000
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_UNIQUE = re.compile(r",\s*CONSTRAINT uq_cameras_name UNIQUE \(name\)")
_LIVE = sa.text("removed_at IS NULL")


def _sqlite_rebuild(edit: re.Pattern[str] | None, add: str = "") -> None:
    """Rebuild ``cameras`` from its SQL with ``edit`` removed (or ``add`` appended before its end)."""
    conn = op.get_bind()
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'cameras'"
    ).scalar_one()
    new = edit.sub("", sql, count=1) if edit is not None else re.sub(r"\n\)\s*$", f", \n\t{add}\n)", sql)
    if new == sql:
        raise RuntimeError(f"cannot rewrite the definition of cameras: {sql[:200]}")
    seq = conn.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = 'cameras'").scalar()
    indexes = [
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cameras' AND sql IS NOT NULL"
        )
    ]
    conn.exec_driver_sql(
        re.sub(r'^CREATE TABLE "?cameras"? \(', 'CREATE TABLE "_vigil_new_cameras" (', new, count=1)
    )
    conn.exec_driver_sql('INSERT INTO "_vigil_new_cameras" SELECT * FROM cameras')
    conn.exec_driver_sql("DROP TABLE cameras")
    conn.exec_driver_sql('ALTER TABLE "_vigil_new_cameras" RENAME TO cameras')
    for index in indexes:
        conn.exec_driver_sql(index)
    if seq is not None:
        conn.exec_driver_sql("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'cameras'", (seq,))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(_UNIQUE)
    else:
        op.drop_constraint("uq_cameras_name", "cameras", type_="unique")
    op.add_column("cameras", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "uq_cameras_live_name", "cameras", ["name"], unique=True, sqlite_where=_LIVE, postgresql_where=_LIVE
    )


def downgrade() -> None:
    # Names must be unique again: a removed camera's name says it was removed, and which one it was.
    op.execute(
        "UPDATE cameras SET name = SUBSTR(name, 1, 40) || ' (removed ' || CAST(id AS TEXT) || ')' "
        "WHERE removed_at IS NOT NULL"
    )
    op.drop_index("uq_cameras_live_name", table_name="cameras")
    op.drop_column("cameras", "removed_at")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(None, add="CONSTRAINT uq_cameras_name UNIQUE (name)")
    else:
        op.create_unique_constraint("uq_cameras_name", "cameras", ["name"])
