"""Calibrated thresholds: a list's accepted false-alert rate; each alert's threshold and the list size it
was calibrated for, and every list it passed. Sightings in a cool-down keep who they were (the alert they
fell under). Negative templates: tracks rejected as "not this person".

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("watchlists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fpir", sa.Float(), nullable=True))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("threshold", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("fpir", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("calibrated_for", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cooldown_of", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("list_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("vetoed_by", sa.BigInteger(), nullable=True))
    op.create_table(
        "negative_templates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("watchlist_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_negative_templates_event_id_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_negative_templates_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["watchlist_id"],
            ["watchlists.id"],
            name=op.f("fk_negative_templates_watchlist_id_watchlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_negative_templates")),
    )
    with op.batch_alter_table("negative_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_negative_templates_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("negative_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_negative_templates_person_id"))
    op.drop_table("negative_templates")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("vetoed_by")
        batch_op.drop_column("list_ids")
        batch_op.drop_column("cooldown_of")
        batch_op.drop_column("calibrated_for")
        batch_op.drop_column("fpir")
        batch_op.drop_column("threshold")
    with op.batch_alter_table("watchlists", schema=None) as batch_op:
        batch_op.drop_column("fpir")
