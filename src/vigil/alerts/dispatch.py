"""The dispatcher: takes due messages from the outbox and hands them to their sinks, retrying with backoff.

One daemon thread per sink, so a sink that hangs or fails (a receiver timing out, a broker gone) never
delays another: the threads share nothing but the outbox. Within a sink, messages go oldest first.

A failed message is retried after its own backoff, which doubles from ``initial_backoff_s`` up to
``max_backoff_s`` with its failed attempts and is jittered to [backoff/2, backoff]. A message the receiver
rejects does not hold up the ones behind it. But two failures in a row (or a Retry-After from the
receiver) mean the receiver itself is in trouble: the sink then pauses, for a backoff growing with the
failures in a row (or for the Retry-After), so a receiver that is down gets one probe per pause, not one
request per waiting message. A message still undelivered ``give_up_after_h`` after its alert is given up
on time, even while its sink is paused (logged at warning, kept in the outbox with its last error).

Delivery is at least once: a crash between a receiver taking a message and the outbox recording it sends
that message again, with the same idempotency key.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vigil.alerts.outbox import Outbox, Pending
from vigil.alerts.sink import DeliveryFailed, Sink
from vigil.config.schema import DeliveryConfig
from vigil.errors import ConfigError

log = logging.getLogger(__name__)

BATCH = 50  # messages read from the outbox per round and sink
POLL_S = 2.0  # longest sleep: also finds messages enqueued by other processes, which cannot wake() us
PAUSE_AFTER = 2  # failures in a row that pause a sink (one is likely the message, two the receiver)
_MAX_DOUBLINGS = 60


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _SinkState:
    """Health of one sink, touched only by that sink's thread (or by run_once, when no thread runs)."""

    ready_at: datetime | None = None  # paused after a failure until then
    streak: int = 0  # failures in a row


class Dispatcher:
    """Delivers the outbox to its sinks in the background (``start``/``stop``) or on demand (``run_once``).

    The dispatcher owns its sinks: ``stop`` closes them.

    Example:
        >>> dispatcher = Dispatcher(outbox, [WebhookSink(hook, 10.0)], DeliveryConfig())  # doctest: +SKIP
        >>> dispatcher.start()  # doctest: +SKIP
        >>> with db.write() as s:  # doctest: +SKIP
        ...     outbox.enqueue(s, "webhook:ops", "alert-1", "alert", {"id": 1}, utc_now())
        >>> dispatcher.wake()  # doctest: +SKIP
    """

    def __init__(
        self,
        outbox: Outbox,
        sinks: Sequence[Sink],
        config: DeliveryConfig,
        clock: Callable[[], datetime] = utc_now,
        *,
        rng: random.Random | None = None,
        poll_s: float = POLL_S,
        batch: int = BATCH,
    ) -> None:
        """A dispatcher, not yet running (see ``start``).

        Args:
            outbox: Where the messages wait.
            sinks: Where they go; each sink's name is the outbox's ``sink`` column. Names must be unique.
            config: Backoff and give-up times.
            clock: The current time, UTC-aware (tests inject one).
            rng: Source of the backoff jitter (tests inject a seeded one).
            poll_s: Longest sleep between looks at the outbox, seconds.
            batch: Messages taken from the outbox per round and sink.

        Raises:
            ConfigError: two sinks share a name.
        """
        names = [s.name for s in sinks]
        if len(set(names)) != len(names):
            raise ConfigError(f"alert sinks need distinct names, got {sorted(names)}")
        self._outbox = outbox
        self._sinks = tuple(sinks)
        self._config = config
        self._clock = clock
        self._rng = rng or random.Random()
        self._poll_s = poll_s
        self._batch = batch
        self._give_up_after = timedelta(hours=config.give_up_after_h)
        self._states = {n: _SinkState() for n in names}
        self._wakes = {n: threading.Event() for n in names}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.delivered: dict[str, int] = dict.fromkeys(names, 0)
        self.failures: dict[str, int] = dict.fromkeys(names, 0)
        self.given_up: dict[str, int] = dict.fromkeys(names, 0)

    @property
    def sinks(self) -> tuple[Sink, ...]:
        return self._sinks

    def start(self) -> None:
        """Start one daemon thread per sink.

        Raises:
            RuntimeError: already started.
        """
        if self._threads:
            raise RuntimeError("the alert dispatcher was started already")
        for sink in self._sinks:
            thread = threading.Thread(
                target=self._loop, args=(sink,), name=f"vigil-alerts-{sink.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        log.info("alerts: delivering to %s", ", ".join(s.name for s in self._sinks) or "no sinks")

    def wake(self) -> None:
        """Look at the outbox now (call after committing an enqueue, for immediate delivery)."""
        for event in self._wakes.values():
            event.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the threads (a delivery in progress finishes first), then close the sinks.

        Args:
            timeout: Longest wait for the threads, seconds, in all.
        """
        self._stopping.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
            if thread.is_alive():
                log.warning("alerts: %s did not stop within %.1f s", thread.name, timeout)
        for sink in self._sinks:
            try:
                sink.close()
            except Exception:
                log.exception("alerts: closing %s failed", sink.name)

    def run_once(self, now: datetime | None = None) -> int:
        """Deliver what is due at ``now`` to every sink, in turn, in this thread (tests; not with start()).

        Returns:
            How many messages were delivered.
        """
        at = self._clock() if now is None else now
        return sum(self._run_sink(sink, at) for sink in self._sinks)

    def _loop(self, sink: Sink) -> None:
        wake = self._wakes[sink.name]
        while not self._stopping.is_set():
            wake.clear()  # before looking: a wake() from now on is not lost
            try:
                self._run_sink(sink, self._clock())
                wait_s = self._wait_s(sink.name, self._clock())
            except Exception:
                log.exception(
                    "alerts: %s: delivery round failed; trying again in %.1f s", sink.name, self._poll_s
                )
                wait_s = self._poll_s
            wake.wait(wait_s)

    def _wait_s(self, name: str, now: datetime) -> float:
        """Seconds until this sink has something to do (at most poll_s)."""
        due = self._outbox.next_due(now, [name])
        if due is None:
            return self._poll_s
        ready = self._states[name].ready_at
        if ready is not None:
            due = max(due, ready)
        return min(max((due - now).total_seconds(), 0.0), self._poll_s)

    def _run_sink(self, sink: Sink, now: datetime) -> int:
        """One round for one sink: give up on expired messages, deliver the others oldest first."""
        state = self._states[sink.name]
        paused = state.ready_at is not None and now < state.ready_at
        count = 0
        for message in self._outbox.due(sink.name, now, self._batch):
            if self._stopping.is_set():
                break
            if now - message.created_at >= self._give_up_after:
                self._give_up(sink.name, message, now)
                continue
            if paused:
                continue
            try:
                sink.deliver(message)
            except DeliveryFailed as exc:
                paused = self._failed(sink.name, message, exc, now)
                continue
            except Exception as exc:  # a bug in the sink: count it and back off like any failure
                log.exception("alerts: %s raised delivering %s", sink.name, message.key)
                paused = self._failed(sink.name, message, DeliveryFailed(f"{type(exc).__name__}: {exc}"), now)
                continue
            self._outbox.delivered(message.id, now)
            state.streak, state.ready_at = 0, None
            self.delivered[sink.name] += 1
            count += 1
        return count

    def backoff_s(self, failures: int) -> float:
        """The wait after ``failures`` failures: initial x 2^(failures-1) up to the max, in [b/2, b]."""
        doublings = min(max(failures - 1, 0), _MAX_DOUBLINGS)
        ceiling = min(self._config.initial_backoff_s * 2.0**doublings, self._config.max_backoff_s)
        return self._rng.uniform(ceiling / 2, ceiling)

    def _failed(self, name: str, message: Pending, exc: DeliveryFailed, now: datetime) -> bool:
        """Reschedule ``message``; pause the sink if the receiver looks down. Returns: whether paused."""
        state = self._states[name]
        state.streak += 1
        attempt = message.attempts + 1
        pause: float | None = None
        if exc.retry_after_s is not None:  # the receiver said when: for this message and the sink
            delay = pause = min(max(exc.retry_after_s, 0.0), self._config.max_backoff_s)
        else:
            delay = self.backoff_s(attempt)
            pause = self.backoff_s(state.streak - 1) if state.streak >= PAUSE_AFTER else None
            delay = delay if pause is None else max(delay, pause)  # this message probes after the pause
        # not retried past its give-up time: it is given up then, on time (even while the sink is paused)
        retry_at = min(now + timedelta(seconds=delay), message.created_at + self._give_up_after)
        self._outbox.retry(message.id, exc.reason, retry_at)
        self.failures[name] += 1
        log.warning(
            "alerts: %s: %s not delivered (attempt %d): %s; next try in %.3g s",
            name, message.key, attempt, exc.reason, delay,
        )  # fmt: skip
        if pause is None:
            return False
        state.ready_at = now + timedelta(seconds=pause)
        log.info("alerts: %s: %d failures in a row; pausing %.3g s", name, state.streak, pause)
        return True

    def _give_up(self, name: str, message: Pending, now: datetime) -> None:
        hours = (now - message.created_at).total_seconds() / 3600
        self._outbox.give_up(
            message.id,
            f"gave up: undelivered {hours:.1f} h after the alert, {message.attempts} attempts",
            now,
        )
        self.given_up[name] += 1
        log.warning(
            "alerts: %s: gave up on %s after %d attempts (%.1f h old)",
            name,
            message.key,
            message.attempts,
            hours,
        )
