"""Console: the lists whose alerts each user gets (officer view); events searchable by start time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 03:40:15.072752
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_watchlists",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("watchlist_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_watchlists_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["watchlist_id"],
            ["watchlists.id"],
            name=op.f("fk_user_watchlists_watchlist_id_watchlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_watchlists")),
        sa.UniqueConstraint("user_id", "watchlist_id", name=op.f("uq_user_watchlists_user_id")),
    )
    with op.batch_alter_table("user_watchlists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_watchlists_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_start_at"), ["start_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_start_at"))

    with op.batch_alter_table("user_watchlists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_watchlists_user_id"))

    op.drop_table("user_watchlists")
