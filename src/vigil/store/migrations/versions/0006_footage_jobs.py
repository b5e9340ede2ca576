"""Footage jobs: uploaded videos processed into the archive by vigil serve, resumable.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 04:55:49.478240
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "footage_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_path", sa.String(length=255), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                "cancelled",
                name="job_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("frames_done", sa.Integer(), nullable=False),
        sa.Column("frames_total", sa.Integer(), nullable=True),
        sa.Column("done_ms", sa.BigInteger(), nullable=False),
        sa.Column("tracks", sa.Integer(), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_footage_jobs")),
    )
    with op.batch_alter_table("footage_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_footage_jobs_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("footage_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_footage_jobs_status"))

    op.drop_table("footage_jobs")
