"""What ``vigil serve`` runs besides HTTP: camera workers, event recording, alerts and their deliveries.

Start order: deliveries first (so alerts left in the outbox by the last run go out), then the workers,
then the cameras. Stop order is the reverse. Everything is built by :func:`vigil.app.build_live`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from vigil.alerts.dispatch import Dispatcher
from vigil.alerts.hub import AlertHub
from vigil.alerts.relay import AlertRelay
from vigil.alerts.router import Alert
from vigil.config import VigilConfig
from vigil.runtime.book import CameraRuntime
from vigil.runtime.messages import CameraEvents, CameraFailed, CameraSpec
from vigil.runtime.metrics import alert_latency
from vigil.search.archive import LiveArchive
from vigil.search.retro import RetroSearch
from vigil.services.alert_feed import POLL_NOTIFIED_S, POLL_S, AlertFeed
from vigil.services.alerts import AlertService, AlertView
from vigil.services.cameras import CameraService
from vigil.services.events import EventRecorder
from vigil.services.gallery import FreshGallery
from vigil.services.links import MediaLinks
from vigil.services.retention import RetentionPurge
from vigil.store.lease import LeaseKeeper
from vigil.store.notify import ALERTED, OUTBOX, ChangeListener

log = logging.getLogger(__name__)

CAMERA_FOLLOW_S = 2.0  # how often the leader reads the cameras that should run


class LeaderRunner:
    """The camera runner the API uses: the runtime itself while this process leads; nothing on a standby,
    whose camera changes reach the leader through the database (it follows them every few seconds)."""

    def __init__(self, runtime: CameraRuntime) -> None:
        self._runtime = runtime
        self.leading: Callable[[], bool] = lambda: True

    def run(self, spec: CameraSpec) -> None:
        if self.leading():
            self._runtime.run(spec)

    def remove(self, camera_id: int) -> None:
        if self.leading():
            self._runtime.remove(camera_id)


class LiveService:
    def __init__(
        self,
        *,
        config: VigilConfig,
        supervisor: CameraRuntime,
        recorder: EventRecorder,
        dispatcher: Dispatcher,
        hub: AlertHub,
        cameras: CameraService,
        alerts: AlertService,
        registry: CollectorRegistry,
        links: MediaLinks,
        archive: LiveArchive,
        gallery: FreshGallery,
        retro: RetroSearch,
        retention: RetentionPurge,
        leader: LeaseKeeper | None = None,
        relay: AlertRelay | None = None,
        feed: AlertFeed | None = None,
        changes: ChangeListener | None = None,
    ) -> None:
        self.leader = leader
        self._leading = False
        self._lead_lock = threading.Lock()
        self._ready_timeout_s = 120.0
        self._follower: threading.Thread | None = None
        self.config = config
        self.supervisor = supervisor
        self.recorder = recorder
        self.dispatcher = dispatcher
        self.hub = hub
        self.relay = relay  # WebSocket messages to the other API processes too (PostgreSQL)
        self.cameras = cameras
        self.alerts = alerts
        self.camera_errors: dict[int, str] = {}  # cameras a worker could not start, and why
        self.registry = registry
        self.links = links
        self.archive = archive
        self.gallery = gallery
        self.retro = retro
        self.retention = retention
        self._stop_purging = threading.Event()
        self._purger: threading.Thread | None = None
        self.feed = feed  # alerts raised by other writers (vigil scan --store, another server)
        self._changes = changes  # PostgreSQL: wakes the feed and the dispatcher at once
        self._feed_wake = threading.Event()
        self._stop_feed = threading.Event()
        self._feeder: threading.Thread | None = None
        if changes is not None:
            changes.on(ALERTED, lambda _payload: self._feed_wake.set())
            changes.on(OUTBOX, lambda _payload: self.dispatcher.wake())
        supervisor.attach(self.on_events, self.on_failed)
        alerts.on_change(self.on_alert_change)
        self._latency = alert_latency(registry)
        self._record_errors = Counter(
            "vigil_event_record_errors",
            "Camera reports that could not be recorded (logged).",
            registry=registry,
        )
        self.started_at = 0.0

    def start(self, ready_timeout_s: float = 120.0) -> None:
        """Check the config's cameras, then lead (run cameras, deliveries, retention) if no other
        ``vigil serve`` on this database does; else stand by, serving the API, and lead once it is gone.

        Raises:
            VigilError: a camera of the config file is wrong, or leading failed to start.
        """
        self.started_at = time.time()
        self.cameras.sync_config(self.config.cameras)
        if self.relay is not None:
            self.relay.start()
        self._follow_feed()
        self._ready_timeout_s = ready_timeout_s
        if self.leader is None:
            self.lead()
            return
        if self.leader.lease.try_acquire():
            self.lead()
        else:
            log.info("another vigil serve runs the cameras and deliveries (%s): standing by", self._holder())
        self.leader.start()

    @property
    def leading(self) -> bool:
        return self._leading

    def _publish(self, message: dict[str, object]) -> None:
        if self.relay is not None:
            self.relay.publish(message)
        else:
            self.hub.publish(message)

    def _follow_feed(self) -> None:
        """Announce the alerts other writers raise (every process, leading or not)."""
        if self.feed is None:
            return
        if self._changes is not None:
            self._changes.start()  # before the first read: no alert slips between
        self._stop_feed.clear()
        self._feeder = threading.Thread(
            target=self._feed_loop, args=(self.feed,), name="vigil-feed", daemon=True
        )
        self._feeder.start()

    def _feed_loop(self, feed: AlertFeed) -> None:
        while not self._stop_feed.is_set():
            self._feed_wake.clear()  # before reading: a notification from now on is not lost
            try:
                raised = feed.raised_since()
            except Exception:  # e.g. the database briefly unavailable: next time
                log.exception("could not read the alerts other processes raised")
                raised = []
            for alert in raised:
                self.hub.publish(alert.payload())  # each process reads the feed: not relayed
            if raised:
                log.info("%d alerts read from the store announced (raised by another process)", len(raised))
                self.dispatcher.wake()  # their deliveries wait in the outbox (leader only delivers)
            notified = self._changes is not None and self._changes.active
            self._feed_wake.wait(POLL_NOTIFIED_S if notified else POLL_S)

    def _holder(self) -> str:
        holder = self.leader.lease.holder() if self.leader is not None else None
        return holder.describe() if holder is not None else "unknown holder"

    def lead(self) -> None:
        with self._lead_lock:
            if self._leading:
                return
            self._leading = True
        self.dispatcher.start()
        self.supervisor.reset_placements()  # a standby must not wipe the leader's: only now
        self.supervisor.start()
        if not self.supervisor.wait_ready(self._ready_timeout_s):
            log.warning(
                "camera workers not ready after %.0f s; cameras start when they are", self._ready_timeout_s
            )
        n = self.cameras.start_all()
        self._stop_purging.clear()
        self._purger = threading.Thread(target=self._purge_now_and_then, name="vigil-retention", daemon=True)
        self._purger.start()
        self._follower = threading.Thread(target=self._follow_cameras, name="vigil-cameras", daemon=True)
        self._follower.start()
        log.info("live service leading: %d cameras", n)

    def lost_lead(self) -> None:
        """The lease is gone (the database connection broke): another process may lead now. Stop at once,
        rather than run cameras and deliveries twice; the process manager starts this one again."""
        log.critical("lost the leader lease: stopping this vigil serve so that cameras never run twice")
        os.kill(os.getpid(), signal.SIGTERM)

    def _follow_cameras(self) -> None:
        """Cameras changed by another process (a standby's API, another host) start, change and stop here."""
        while not self._stop_purging.wait(CAMERA_FOLLOW_S):
            try:
                want = self.cameras.enabled_specs()
            except Exception:
                log.exception("could not read the cameras")
                continue
            for cid in self.supervisor.running() - set(want):
                self.supervisor.remove(cid)
            for cid, spec in want.items():
                if self.supervisor.spec(cid) != spec:
                    self.supervisor.run(spec)

    def stop(self) -> None:
        self._stop_purging.set()
        if self._leading:
            self.supervisor.stop()
            self.dispatcher.stop()
        if self.leader is not None:
            self.leader.stop()
        if self.relay is not None:
            self.relay.stop()
        self._stop_feed.set()
        self._feed_wake.set()
        if self._changes is not None:
            self._changes.stop()
        for thread in (self._purger, self._follower, self._feeder):
            if thread is not None:
                thread.join(10.0)

    def _purge_now_and_then(self) -> None:
        """The retention purge at start, then every ``retention.purge_every_s``."""
        while True:
            try:
                self.retention.purge()
            except Exception:  # e.g. the database briefly unavailable: next time
                log.exception("the retention purge failed")
            if self._stop_purging.wait(self.config.retention.purge_every_s):
                return

    # --- hooks called by the supervisor's report thread -------------------------------------------

    def on_events(self, batch: CameraEvents) -> None:
        try:
            raised = self.recorder.record(batch)
        except Exception:
            self._record_errors.inc()
            log.exception("recording events of camera %d failed", batch.camera_id)
            return
        for alert in raised:
            self._announce(alert)
        if raised:
            self.dispatcher.wake()

    def retro_alerts(self, person_id: int) -> int:
        """Search the archive for a person just put on a list; announce the retro-alerts raised."""
        raised = self.retro.run(person_id)
        for alert in raised:
            if self.feed is None or self.feed.first(alert):
                self._publish(alert.payload())  # not an alert latency: the sighting is old by design
        if raised:
            self.dispatcher.wake()
        return len(raised)

    def on_failed(self, failure: CameraFailed) -> None:
        self.camera_errors[failure.camera_id] = failure.error

    def on_alert_change(self, view: AlertView) -> None:
        self._publish(alert_message(view, "alert.updated"))
        self.dispatcher.wake()

    def _announce(self, alert: Alert) -> None:
        if self.feed is not None and not self.feed.first(alert):
            return  # the feed read it from the store first, and announced it
        self._publish(alert.payload())
        latency = time.time() - alert.seen_at.timestamp()
        self._latency.observe(latency)
        log.info(
            "ALERT %s on %s at %s (%.3f, list %s), %.0f ms after the frame", alert.person,
            alert.camera, alert.seen_at.isoformat(), alert.score, alert.watchlist, latency * 1000,
        )  # fmt: skip


def alert_message(view: AlertView, kind: str) -> dict[str, object]:
    """The WebSocket message for an alert and its review state."""
    return {
        **view.alert.payload(),
        "type": kind,
        "confirmations": view.confirmations,
        "confirmations_needed": view.confirmations_needed,
        "awaiting_second_confirmation": view.awaiting_second_confirmation,
    }
