"""Archived tracks re-embedded with another embedder: ``event_templates`` holds a track's template under a
model other than the one that recorded it (``vigil db reembed`` embeds the kept best shots again), so a
change of embedder keeps the archive searchable without losing the vectors that serve until the switch.
Deleted with its event (retention).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "event_templates",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("event_id", _ID, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("shots", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", "model_id"),
    )
    op.create_index("ix_event_templates_event_id", "event_templates", ["event_id"])
    op.create_index("ix_event_templates_model_id", "event_templates", ["model_id"])


def downgrade() -> None:
    op.drop_index("ix_event_templates_model_id", "event_templates")
    op.drop_index("ix_event_templates_event_id", "event_templates")
    op.drop_table("event_templates")
