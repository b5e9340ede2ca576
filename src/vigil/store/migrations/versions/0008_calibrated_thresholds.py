"""Calibrated thresholds: a list's accepted false-alert rate; each alert's threshold and the list size it
was calibrated for, and every list it passed. Sightings in a cool-down keep who they were (the alert they
fell under).

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


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("list_ids")
        batch_op.drop_column("cooldown_of")
        batch_op.drop_column("calibrated_for")
        batch_op.drop_column("fpir")
        batch_op.drop_column("threshold")
    with op.batch_alter_table("watchlists", schema=None) as batch_op:
        batch_op.drop_column("fpir")
