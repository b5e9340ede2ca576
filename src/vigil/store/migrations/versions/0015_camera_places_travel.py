"""Impossible travel: where cameras are (latitude, longitude, site), and on an alert the other sighting of
its person that it could not be travelled from in time (``travel_of``), with the distance and the least
time the trip needed then.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 13:20:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


# Plain ADD / DROP COLUMN (SQLite 3.35+ has both): a batch rebuild would lose these tables' AUTOINCREMENT.
_COLUMNS: dict[str, tuple[sa.Column[Any], ...]] = {
    "cameras": (
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("site", sa.String(length=64), nullable=True),
    ),
    "events": (
        sa.Column("travel_of", sa.BigInteger(), nullable=True),
        sa.Column("travel_distance_m", sa.Float(), nullable=True),
        sa.Column("travel_needed_s", sa.Float(), nullable=True),
    ),
}


def upgrade() -> None:
    for table, columns in _COLUMNS.items():
        for column in columns:
            op.add_column(table, column)


def downgrade() -> None:
    for table, columns in _COLUMNS.items():
        for column in reversed(columns):
            op.drop_column(table, column.name)
