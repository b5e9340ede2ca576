"""Scoped roles: the lists and cameras a user is limited to (``user_scope_lists``, ``user_cameras``).

A user with no row in a table is not limited by it (every user after this upgrade, as before); the API
enforces the limits on every route (``vigil.services.visibility``). Unlike ``user_watchlists`` (what the
officer view shows a user), these restrict what a user may see and do.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 13:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TABLES = (("user_scope_lists", "watchlist_id", "watchlists"), ("user_cameras", "camera_id", "cameras"))


def upgrade() -> None:
    for table, column, target in _TABLES:
        op.create_table(
            table,
            sa.Column("id", _ID, nullable=False),
            sa.Column("user_id", _ID, nullable=False),
            sa.Column(column, _ID, nullable=False),
            sa.ForeignKeyConstraint(
                ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
            ),
            sa.ForeignKeyConstraint(
                [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("user_id", column, name=op.f(f"uq_{table}_user_id")),
        )
        op.create_index(op.f(f"ix_{table}_user_id"), table, ["user_id"], unique=False)


def downgrade() -> None:
    for table, _column, _target in reversed(_TABLES):
        op.drop_index(op.f(f"ix_{table}_user_id"), table)
        op.drop_table(table)
