"""Clusters of unknown faces: ``face_clusters`` (a group of unknown tracks that look like one person, its
status and who shaped it) and ``cluster_members`` (each unknown track in at most one cluster). A member
goes with its event (retention), and the purge deletes a cluster left without members.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 13:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_ID = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "face_clusters",
        sa.Column("id", _ID, nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("person_id", _ID, nullable=True),
        sa.Column("changed_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_face_clusters_person_id_people"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_clusters")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_face_clusters_status"), "face_clusters", ["status"])
    op.create_table(
        "cluster_members",
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("cluster_id", _ID, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_cluster_members_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["face_clusters.id"],
            name=op.f("fk_cluster_members_cluster_id_face_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_cluster_members")),
    )
    op.create_index(op.f("ix_cluster_members_cluster_id"), "cluster_members", ["cluster_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cluster_members_cluster_id"), "cluster_members")
    op.drop_table("cluster_members")
    op.drop_index(op.f("ix_face_clusters_status"), "face_clusters")
    op.drop_table("face_clusters")
