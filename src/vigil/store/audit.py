"""The audit log: append-only rows, each carrying the hash of the one before it.

A row's hash covers the previous hash and every field of the row, so a deleted, altered or reordered
row breaks the chain from that point on, and ``verify`` says where. Rows are appended inside the same
transaction as the change they record. Appends are serialised: SQLite write transactions take the
write lock up front; on PostgreSQL an advisory transaction lock is taken before the last hash is read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from vigil.store.db import as_utc
from vigil.store.tables import AuditEntry

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x76696769  # "vigi"


def _canonical_time(at: datetime) -> str:
    return as_utc(at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str, *, at: datetime, actor: str, action: str, subject: str, reason: str, details: str
) -> str:
    payload = json.dumps(
        [prev_hash, _canonical_time(at), actor, action, subject, reason, details],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(
    session: Session,
    actor: str,
    action: str,
    subject: str,
    *,
    reason: str = "",
    details: dict[str, object] | None = None,
) -> AuditEntry:
    """Add an audit row to the session's (write) transaction, chained to the last one."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    session.flush()
    prev = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    at = datetime.now(UTC)
    body = json.dumps(details or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    row = AuditEntry(
        at=at, actor=actor, action=action, subject=subject, reason=reason, details=body, prev_hash=prev,
        hash=entry_hash(
            prev, at=at, actor=actor, action=action, subject=subject, reason=reason, details=body
        ),
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True, slots=True)
class ChainCheck:
    rows: int
    broken_at: int | None  # id of the first row whose hash does not follow
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(session: Session) -> ChainCheck:
    """Walk the whole chain in id order and report the first row that does not follow."""
    prev = GENESIS
    n = 0
    for row in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        n += 1
        if row.prev_hash != prev:
            return ChainCheck(n, row.id, "previous hash does not match (a row was removed or reordered)")
        want = entry_hash(
            prev, at=row.at, actor=row.actor, action=row.action, subject=row.subject, reason=row.reason,
            details=row.details,
        )  # fmt: skip
        if row.hash != want:
            return ChainCheck(n, row.id, "row content does not match its hash (it was altered)")
        prev = row.hash
    return ChainCheck(n, None)
