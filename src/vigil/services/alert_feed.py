"""Alerts raised by any writer of the store, announced once each to this process's WebSocket clients.

``vigil scan --store`` raises alerts in its own process, and another ``vigil serve`` on the same PostgreSQL
database in its own: a server learns of them from the store. :meth:`AlertFeed.raised_since` reads the
alerts raised since its last look (``events.alerted_at``, through a :class:`~vigil.store.feed.FeedCursor`)
and returns those this process has not announced yet. The server notes its own alerts as it announces them
(:meth:`AlertFeed.first`), and the messages another server relays (:class:`~vigil.alerts.relay.AlertRelay`)
pass :meth:`AlertFeed.admit`: whichever path brings an alert first announces it, the others stay silent.

The live service reads the feed every ``POLL_S`` on SQLite, and on PostgreSQL when ``vigil_alerted``
notifies (migration 0014), with a slower poll as the fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from vigil.alerts.router import Alert
from vigil.errors import NotFound
from vigil.services.alerts import load_alert
from vigil.store.db import Database
from vigil.store.feed import OVERLAP_S, FeedCursor
from vigil.store.tables import Event

log = logging.getLogger(__name__)

POLL_S = 0.5  # SQLite: how often a server looks for alerts other processes raised
POLL_NOTIFIED_S = 5.0  # PostgreSQL: the fallback poll (notifications bring them at once)


class AlertFeed:
    """The alerts of every writer, each handed out once (from the time the feed was made on)."""

    def __init__(
        self,
        db: Database,
        image_url: Callable[[int], str | None],
        *,
        overlap_s: float = OVERLAP_S,
        start: datetime | None = None,
    ) -> None:
        """Alerts raised before ``start`` (default: now) are history, not announced."""
        self._db = db
        self._image_url = image_url
        self._cursor = FeedCursor(overlap_s, floor=start or datetime.now(UTC), once=True)

    def first(self, alert: Alert) -> bool:
        """Note an alert this process announces; False if it was announced already (then stay silent)."""
        return self._cursor.note(alert.event_id, alert.raised_at)

    def admit(self, message: dict[str, Any]) -> bool:
        """Whether a relayed WebSocket message is announced here: an alert's first message only."""
        if message.get("type") != "alert":
            return True  # review changes and the like are not in the feed
        try:
            alert_id, raised_at = int(message["alert_id"]), datetime.fromisoformat(message["raised_at"])
        except (KeyError, TypeError, ValueError):
            return True
        return self._cursor.note(alert_id, raised_at)

    def raised_since(self) -> list[Alert]:
        """The alerts raised since the last call that were not announced here, oldest first."""
        query = select(Event.id, Event.alerted_at).where(Event.alerted_at.is_not(None))
        since = self._cursor.since()
        if since is not None:
            query = query.where(Event.alerted_at > since)
        alerts: list[Alert] = []
        with self._db.read() as s:
            rows = [(int(i), at) for i, at in s.execute(query.order_by(Event.alerted_at)) if at]
            for event_id in self._cursor.fresh(rows):
                event = s.get(Event, event_id)
                if event is None:
                    continue
                try:
                    alerts.append(load_alert(s, event, self._image_url))
                except NotFound:  # its person or list removed since: history, not an alert
                    continue
        return alerts
