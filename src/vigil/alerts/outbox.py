"""The durable outbox: alert deliveries written with the alert, then sent (at least once) by the dispatcher.

A message is enqueued inside the caller's transaction, so an alert and its deliveries commit together or
not at all: a rolled-back alert is never sent, a committed one survives a crash or restart. Each message
belongs to one sink and carries an idempotency key, unique per sink, that receivers can de-duplicate on.

Example:
    >>> with db.write() as session:  # doctest: +SKIP
    ...     session.add(alert_row)
    ...     outbox.enqueue(session, "mqtt", "alert-12", "alert", {"id": 12}, now)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.errors import BadInput, NotFound
from vigil.store.db import Database, as_utc
from vigil.store.tables import OutboxMessage

log = logging.getLogger(__name__)

MAX_KEY = 80  # the widths of the outbox columns
MAX_SINK = 80
MAX_TOPIC = 255
MAX_ERROR = 1000  # longest error text kept on a row


@dataclass(frozen=True, slots=True)
class Pending:
    """A message due for delivery, as a sink sees it."""

    id: int
    sink: str
    key: str  # the idempotency key: identical on every attempt
    topic: str
    payload: str  # JSON text, sent as it is
    attempts: int  # failed attempts so far
    created_at: datetime


def _utc(at: datetime) -> datetime:
    """``at`` in UTC. SQLite keeps no zone, so every time Vigil writes or compares must be UTC."""
    if at.tzinfo is None:
        raise ValueError(f"outbox times must be timezone-aware, got {at!r}")
    return at.astimezone(UTC)


def _check_len(what: str, value: str, most: int) -> None:
    if not value or len(value) > most:
        raise BadInput(what, f"must be 1-{most} characters, got {len(value)}")


def _clip(error: str) -> str:
    return error if len(error) <= MAX_ERROR else error[: MAX_ERROR - 1] + "…"


def _undone() -> tuple[Any, ...]:
    return (OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None))


class Outbox:
    """The outbox table: enqueue in the caller's transaction; read and settle messages in short ones."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def enqueue(  # noqa: PLR0917 (the signature other modules call)
        self, session: Session, sink: str, key: str, topic: str, payload: Mapping[str, Any], now: datetime
    ) -> None:
        """Add a message to the caller's transaction; another with the same sink and key is a no-op.

        Args:
            session: The caller's transaction: the message commits (or rolls back) with it.
            sink: The sink's name, e.g. "webhook:ops" or "mqtt".
            key: Idempotency key, unique per sink (e.g. "alert-12"); receivers de-duplicate on it.
            topic: The event type / MQTT topic suffix, e.g. "alert".
            payload: JSON-serialisable body; stored (and later sent) as compact JSON with sorted keys.
            now: When the alert happened (UTC-aware); the message is due at once and given up on relative
                to this time.

        Raises:
            BadInput: sink, key or topic is empty or too long for its column.
            TypeError: payload holds something JSON cannot represent.
        """
        _check_len("outbox sink", sink, MAX_SINK)
        _check_len("outbox key", key, MAX_KEY)
        _check_len("outbox topic", topic, MAX_TOPIC)
        body = json.dumps(dict(payload), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        at = _utc(now)
        exists = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.sink == sink, OutboxMessage.key == key)
        )  # autoflush: also sees messages added earlier in this session
        if exists is not None:
            log.debug("outbox: %s %s already enqueued", sink, key)
            return
        session.add(
            OutboxMessage(
                sink=sink, key=key, topic=topic, payload=body, created_at=at, attempts=0,
                next_attempt_at=at, last_error="",
            )
        )  # fmt: skip

    def due(self, sink: str, now: datetime, limit: int) -> list[Pending]:
        """Up to ``limit`` messages of ``sink``, undelivered, not given up, due by ``now``; oldest first."""
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.sink == sink, *_undone(), OutboxMessage.next_attempt_at <= _utc(now))
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        with self._db.read() as s:
            return [
                Pending(
                    id=row.id, sink=row.sink, key=row.key, topic=row.topic, payload=row.payload,
                    attempts=row.attempts, created_at=as_utc(row.created_at),
                )
                for row in s.scalars(query)
            ]  # fmt: skip

    def delivered(self, message_id: int, at: datetime) -> None:
        """Mark a message delivered (it will not be sent again)."""
        with self._db.write() as s:
            row = self._row(s, message_id)
            row.delivered_at = _utc(at)
            row.last_error = ""

    def retry(self, message_id: int, error: str, next_at: datetime) -> None:
        """Record a failed attempt and when to try again."""
        with self._db.write() as s:
            row = self._row(s, message_id)
            row.attempts += 1
            row.last_error = _clip(error)
            row.next_attempt_at = _utc(next_at)

    def give_up(self, message_id: int, error: str, at: datetime) -> None:
        """Stop trying a message; the error (and the last attempt's error) stays on the row."""
        with self._db.write() as s:
            row = self._row(s, message_id)
            row.failed_at = _utc(at)
            row.last_error = _clip(f"{error} (last error: {row.last_error})" if row.last_error else error)

    def pending(self, sink: str | None = None) -> int:
        """How many messages (of ``sink``, or of every sink) are neither delivered nor given up."""
        query = select(func.count()).select_from(OutboxMessage).where(*_undone())
        if sink is not None:
            query = query.where(OutboxMessage.sink == sink)
        with self._db.read() as s:
            return s.scalar(query) or 0

    def next_due(self, now: datetime, sinks: Collection[str] | None = None) -> datetime | None:
        """When the next message (of ``sinks``, or of any sink) is due, but no earlier than ``now``.

        Returns:
            None when nothing is waiting; ``now`` when something is due already.
        """
        query = select(func.min(OutboxMessage.next_attempt_at)).where(*_undone())
        if sinks is not None:
            query = query.where(OutboxMessage.sink.in_(list(sinks)))
        with self._db.read() as s:
            first = as_utc(s.scalar(query))
        return None if first is None else max(first, _utc(now))

    @staticmethod
    def _row(session: Session, message_id: int) -> OutboxMessage:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            raise NotFound(f"no outbox message with id {message_id}")
        return row
