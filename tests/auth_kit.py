"""Helpers for the user and API tests: a clock that tests move, and a database with Vigil's schema.

Deliberately free of ``vigil.app`` and ``vigil.cli`` (unlike ``store_kit``): these tests need only the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from vigil.store.db import Database
from vigil.store.migrate import ensure_schema
from vigil.store.tables import AuditEntry

# Passwords the tests choose (12+ characters, distinctive enough to grep for in database bytes).
ALICE_PASSWORD = "correct-horse-battery-staple"
BOB_PASSWORD = "tr0ub4dor&3-but-longer"


@dataclass
class Clock:
    """The time a ``UserService`` sees: starts now (aware UTC), moves only when a test says so."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def open_db(url: str) -> Database:
    """A database at ``url`` with Vigil's schema (created when empty)."""
    db = Database.from_url(url)
    ensure_schema(db.engine)
    return db


def audit_actions(db: Database) -> list[tuple[str, str, str, str]]:
    """Every audit row as (actor, action, subject, reason), in order."""
    with db.read() as s:
        return [
            (a.actor, a.action, a.subject, a.reason)
            for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
