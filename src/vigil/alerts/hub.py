"""The WebSocket channel's fan-out: alerts published from any thread reach every connected client.

Each subscriber has a bounded queue on the server's event loop; a client too slow to keep up loses its
oldest messages (counted) rather than holding the others back. Clients that reconnect ask the API for
what they missed (``GET /alerts?after=<id>``), so a gap is never silent.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


Accept = Callable[[dict[str, Any]], bool]


class Subscription:
    """One client's queue; ``accept`` (when given) picks the messages it gets, e.g. its lists' alerts."""

    def __init__(self, maxsize: int, accept: Accept | None = None) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.accept = accept
        self.dropped = 0

    def offer(self, message: dict[str, Any]) -> None:
        if self.accept is not None and not self.accept(message):
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(message)


class AlertHub:
    """Publish from any thread; subscribe on the event loop the hub was bound to."""

    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self.published = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, accept: Accept | None = None) -> Subscription:
        sub = Subscription(self._queue_size, accept)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, message: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self.published += 1
        loop.call_soon_threadsafe(self._fan_out, message)

    def _fan_out(self, message: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.offer(message)
