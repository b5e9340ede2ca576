"""The one interface every alert destination implements: deliver one outbox message, or say why not."""

from __future__ import annotations

from typing import Protocol

from vigil.alerts.outbox import Pending
from vigil.errors import VigilError


class DeliveryFailed(VigilError):
    """One delivery attempt failed; the message stays in the outbox and is tried again later.

    Args:
        reason: What went wrong, for the log and the outbox row (never a secret or a full URL).
        retry_after_s: How long the receiver asked us to wait (HTTP Retry-After), if it said.
    """

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class Sink(Protocol):
    """A destination of alerts (a webhook receiver, an MQTT broker).

    ``deliver`` is called from one thread at a time (the dispatcher's thread for this sink) and must
    return within about the sink's time-out.
    """

    name: str  # the outbox's ``sink`` column: "webhook:<name>" or "mqtt"

    def deliver(self, message: Pending) -> None:
        """Send ``message``; return only once the receiver has it.

        Raises:
            DeliveryFailed: it was not (or may not have been) received; it will be retried.
        """
        ...

    def close(self) -> None:
        """Release connections; the sink is not used afterwards."""
        ...
