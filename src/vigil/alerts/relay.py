"""WebSocket alerts across API processes: what one ``vigil serve`` publishes, every other one sharing its
PostgreSQL database publishes to its own clients too.

The leader raises alerts and publishes them to its WebSocket clients; a standby (or any other API
process behind the same proxy) has clients of its own. Each message goes out on the channel
``vigil_alerts`` with the sending process's id; a process ignores its own. On SQLite there is no channel
(and no second host): clients of a standby on the same data dir see alerts once it leads.

A message too large for a notification (PostgreSQL's limit is 8,000 bytes) is not relayed, and logged.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from vigil.alerts.hub import AlertHub
from vigil.store.db import Database
from vigil.store.notify import ChangeListener

log = logging.getLogger(__name__)

CHANNEL = "vigil_alerts"
MAX_PAYLOAD = 7900


class AlertRelay:
    """Publishes to the local hub and to every other process's; ``start`` listens for theirs."""

    def __init__(
        self, db: Database, hub: AlertHub, admit: Callable[[dict[str, Any]], bool] = lambda _m: True
    ) -> None:
        """``admit`` picks the relayed messages published here (the live service's feed drops an alert it
        announced already, having read it from the store)."""
        self._db = db
        self._hub = hub
        self._admit = admit
        self._origin = uuid.uuid4().hex
        self._shared = db.engine.dialect.name == "postgresql"
        self._listener = ChangeListener(db, [CHANNEL]) if self._shared else None
        if self._listener is not None:
            self._listener.on(CHANNEL, self._received)

    def start(self) -> None:
        if self._listener is not None:
            self._listener.start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()

    def publish(self, message: dict[str, Any]) -> None:
        self._hub.publish(message)
        if not self._shared:
            return
        body = json.dumps({"origin": self._origin, "message": message}, default=str)
        if len(body.encode()) > MAX_PAYLOAD:
            log.warning("alert message of %d bytes not relayed to the other API processes", len(body))
            return
        try:
            with self._db.engine.begin() as conn:
                conn.execute(text("SELECT pg_notify(:channel, :body)"), {"channel": CHANNEL, "body": body})
        except Exception:  # the local clients have it; the others miss one live message, not the alert
            log.exception("could not relay an alert message to the other API processes")

    def _received(self, payload: str) -> None:
        if not payload:
            return  # a reconnect: messages sent meanwhile are in the alert list, not replayed
        try:
            data = json.loads(payload)
        except json.JSONDecodeError:
            log.warning("ignored a malformed relayed alert message")
            return
        if (
            isinstance(data, dict)
            and data.get("origin") != self._origin
            and isinstance(data.get("message"), dict)
            and self._admit(data["message"])
        ):
            self._hub.publish(data["message"])
