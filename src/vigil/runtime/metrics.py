"""Prometheus metrics of the live service, read from the workers' latest reports at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vigil.alerts.dispatch import Dispatcher
from vigil.alerts.hub import AlertHub
from vigil.alerts.outbox import Outbox
from vigil.runtime.book import CameraRuntime

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


def alert_latency(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "vigil_alert_latency_seconds",
        "From the frame of the deciding best shot to the alert being published on the WebSocket.",
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )


class LiveCollector(Collector):
    def __init__(
        self,
        supervisor: CameraRuntime,
        dispatcher: Dispatcher,
        outbox: Outbox,
        hub: AlertHub,
        camera_names: Callable[[], dict[int, str]],
    ) -> None:
        self._supervisor = supervisor
        self._dispatcher = dispatcher
        self._outbox = outbox
        self._hub = hub
        self._names = camera_names

    def collect(self) -> Iterator[Metric]:
        names = self._names()
        counters = self._supervisor.counters()
        rates = self._supervisor.rates()

        def counter(name: str, doc: str) -> CounterMetricFamily:
            return CounterMetricFamily(f"vigil_camera_{name}", doc, labels=["camera"])

        per_camera = {
            "frames_in": counter("frames_decoded", "Frames decoded."),
            "processed": counter("frames_processed", "Frames run through the engine."),
            "dropped": counter("frames_dropped", "Frames dropped: the queue was full."),
            "skipped": counter("frames_skipped", "Frames skipped by the max_fps limit."),
            "faces": counter("faces_detected", "Faces detected."),
            "reconnects": counter("reconnects", "Reconnects of the source."),
            "errors": counter("frame_errors", "Frames the engine failed on (logged, skipped)."),
        }
        fps_in = GaugeMetricFamily("vigil_camera_fps_in", "Frames decoded per second.", labels=["camera"])
        fps_done = GaugeMetricFamily(
            "vigil_camera_fps_processed", "Frames processed per second.", labels=["camera"]
        )
        up = GaugeMetricFamily("vigil_camera_up", "1 while the camera delivers frames.", labels=["camera"])
        stages = CounterMetricFamily(
            "vigil_stage_seconds", "Seconds spent per engine stage.", labels=["camera", "stage"]
        )
        for cid, c in counters.items():
            cam = names.get(cid, str(cid))
            st = c.status
            per_camera["frames_in"].add_metric([cam], st.frames_in)
            per_camera["processed"].add_metric([cam], c.frames_processed)
            per_camera["dropped"].add_metric([cam], st.frames_dropped)
            per_camera["skipped"].add_metric([cam], st.frames_skipped)
            per_camera["faces"].add_metric([cam], c.faces_detected)
            per_camera["reconnects"].add_metric([cam], st.reconnects)
            per_camera["errors"].add_metric([cam], c.frame_errors)
            fps_in.add_metric([cam], st.fps_in)
            rate = rates.get(cid)
            fps_done.add_metric([cam], rate.processed_fps if rate else 0.0)
            up.add_metric([cam], 1.0 if st.state == "streaming" else 0.0)
            for stage, seconds in c.stage_seconds.items():
                stages.add_metric([cam, stage], seconds)
        yield from per_camera.values()
        yield from (fps_in, fps_done, up, stages)
        yield from self._runtime()
        labels = ["worker", "node"]
        w_cameras = GaugeMetricFamily("vigil_worker_cameras", "Cameras per worker.", labels=labels)
        w_ready = GaugeMetricFamily(
            "vigil_worker_ready", "1 once the worker has loaded its models.", labels=labels
        )
        w_lag = GaugeMetricFamily(
            "vigil_worker_report_age_seconds", "Seconds since the worker's last report.", labels=labels
        )
        for w in self._supervisor.workers():
            key = [w.name, w.node_address or w.node_id]
            w_cameras.add_metric(key, len(w.cameras))
            w_ready.add_metric(key, 1.0 if w.ready else 0.0)
            if w.lag_s is not None:
                w_lag.add_metric(key, w.lag_s)
        yield from (w_cameras, w_ready, w_lag)
        deliveries = CounterMetricFamily(
            "vigil_deliveries", "Alert deliveries by sink and outcome.", labels=["sink", "outcome"]
        )
        for outcome, table in (
            ("delivered", self._dispatcher.delivered),
            ("failed", self._dispatcher.failures),
            ("given_up", self._dispatcher.given_up),
        ):
            for sink, n in table.items():
                deliveries.add_metric([sink, outcome], n)
        yield deliveries
        pending = GaugeMetricFamily("vigil_outbox_pending", "Alert deliveries waiting in the outbox.")
        pending.add_metric([], self._outbox.pending())
        yield pending
        clients = GaugeMetricFamily("vigil_websocket_clients", "Connected alert WebSocket clients.")
        clients.add_metric([], self._hub.clients)
        yield clients

    def _runtime(self) -> Iterator[Metric]:
        """The runtime's own counters: restarts, moves, frames lost with a worker."""
        sup = self._supervisor
        restarts = CounterMetricFamily("vigil_worker_restarts", "Camera worker processes restarted.")
        restarts.add_metric([], sup.restarts)
        yield restarts
        moves = CounterMetricFamily(
            "vigil_camera_moves", "Cameras moved to another worker (theirs was lost, or to even the load)."
        )
        moves.add_metric([], sup.moves)
        yield moves
        lost = CounterMetricFamily(
            "vigil_frames_lost", "Frames dropped because the worker holding them died or its node was lost."
        )
        lost.add_metric([], sup.frames_lost)
        yield lost
