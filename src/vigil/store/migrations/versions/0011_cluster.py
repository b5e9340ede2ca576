"""The cluster runtime's shared state: where each camera runs, and change notifications.

- ``camera_placements``: the node and camera actor each camera was placed on by the runtime (``runtime.type:
  ray``), so that a restarted ``vigil serve`` puts cameras back where they ran and ``GET /cameras`` says
  where each one runs. The local runtime writes its worker processes here too (node "local").
- On PostgreSQL, triggers ``NOTIFY`` every listener when the gallery (samples, people, list entries, lists)
  changes (channel ``vigil_gallery``), when a camera changes (``vigil_cameras``) and when a delivery is
  enqueued (``vigil_outbox``, the payload is the outbox row id), whichever process made the change: camera
  actors reload their gallery without waiting for their poll, the dispatcher wakes for alerts recorded by
  another process. The poll stays as the fallback (and is all SQLite has: its writers share one machine).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 07:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

CHANNELS = {
    "vigil_gallery": ("face_samples", "people", "watchlist_entries", "watchlists"),
    "vigil_cameras": ("cameras",),
}
"""Channel → tables whose every change notifies it (with the table's name as the payload)."""

OUTBOX_CHANNEL = "vigil_outbox"


def upgrade() -> None:
    op.create_table(
        "camera_placements",
        sa.Column(
            "camera_id",
            sa.Integer().with_variant(sa.BigInteger(), "postgresql"),
            sa.ForeignKey("cameras.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("node_address", sa.String(255), nullable=False, server_default=""),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    for channel, tables in CHANNELS.items():
        op.execute(
            f"CREATE FUNCTION {channel}_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN PERFORM pg_notify('{channel}', TG_TABLE_NAME); RETURN NULL; END $$"
        )
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_{channel} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {channel}_notify()"
            )
    op.execute(
        f"CREATE FUNCTION {OUTBOX_CHANNEL}_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{OUTBOX_CHANNEL}', NEW.id::text); RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER outbox_{OUTBOX_CHANNEL} AFTER INSERT ON outbox "
        f"FOR EACH ROW EXECUTE FUNCTION {OUTBOX_CHANNEL}_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER outbox_{OUTBOX_CHANNEL} ON outbox")
        op.execute(f"DROP FUNCTION {OUTBOX_CHANNEL}_notify()")
        for channel, tables in CHANNELS.items():
            for table in tables:
                op.execute(f"DROP TRIGGER {table}_{channel} ON {table}")
            op.execute(f"DROP FUNCTION {channel}_notify()")
    op.drop_table("camera_placements")
