"""Several writers, one archive: on PostgreSQL, ``NOTIFY vigil_alerted`` (the payload is the event id)
whenever an event becomes an alert, whichever process raised it (``vigil serve``, ``vigil scan --store``),
so every server announces it on its WebSocket at once rather than at its next poll of the store. Only
the row that changes ``alerted_at`` notifies: recording a track (many updates a second) does not.

SQLite has no notifications: its servers poll (``vigil.services.alert_feed``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 13:45:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

CHANNEL = "vigil_alerted"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"CREATE FUNCTION {CHANNEL}_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{CHANNEL}', NEW.id::text); RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER events_{CHANNEL}_insert AFTER INSERT ON events FOR EACH ROW "
        f"WHEN (NEW.alerted_at IS NOT NULL) EXECUTE FUNCTION {CHANNEL}_notify()"
    )
    op.execute(
        f"CREATE TRIGGER events_{CHANNEL}_update AFTER UPDATE OF alerted_at ON events FOR EACH ROW "
        f"WHEN (NEW.alerted_at IS NOT NULL AND OLD.alerted_at IS DISTINCT FROM NEW.alerted_at) "
        f"EXECUTE FUNCTION {CHANNEL}_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER events_{CHANNEL}_update ON events")
    op.execute(f"DROP TRIGGER events_{CHANNEL}_insert ON events")
    op.execute(f"DROP FUNCTION {CHANNEL}_notify()")
