"""`vigil bench chaos node-kills`: SIGKILL the nodes of a Ray cluster one after another while RTSP cameras
raise alerts on them; each node's cameras must stream again on the others within the bound, and no alert
may be lost or delivered twice.

The run: a Ray cluster on this machine (Ray's own cluster utilities: a head and two worker nodes of one
CPU each), a real ``vigil serve`` (child process, ``runtime.type: ray``) on a PostgreSQL store, RTSP
cameras whose person is on a watchlist with no cool-down, and the loopback receiver of
:mod:`vigil.evaluate.chaos_delivery` failing a seeded share of the webhook requests. ``kills`` times: one
worker node that holds cameras gets SIGKILL (all its processes, no clean shutdown); the time until every
one of its cameras streams again on another node is measured; a fresh node joins, and the run waits until
a camera was moved to it (so two worker nodes hold cameras again). At the end the cameras are paused, the
outbox drains, and the database is checked: every alert delivered, under its own webhook-id, never
accepted twice (the service itself is never killed here, so nothing was in flight at a crash), and no
row half-written (an event without its camera, an alert without its person or shot, a shot whose file
is missing, an alert without its outbox row).
"""

from __future__ import annotations

import logging
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import func, select

from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.evaluate.chaos_delivery import (
    SECRET,
    Deliveries,
    Receiver,
    ServeProcess,
    add_camera,
    count_deliveries,
    drain,
    enrol,
    pause_cameras,
)
from vigil.evaluate.pg_cluster import free_port
from vigil.evaluate.ray_local import ONE_CPU_NODE, local_cluster
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import Camera, Event, EventShot, OutboxMessage

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]
"""(kills done, kills planned, what just happened)."""

_HOOK = "chaos"
_POLL_S = 0.2


class NodeKillFailed(VigilError):
    """The run could not go on: a camera never came back, a fresh node never took a camera."""


@dataclass(frozen=True, slots=True)
class NodeKillSettings:
    """What the run does."""

    kills: int = 20
    cameras: int = 3
    seed: int = 7
    fail_ratio: float = 0.5
    max_fps: float = 5.0
    lost_after_s: float = 3.0  # runtime.ray.lost_after_s: an actor silent this long is given up
    move_within_s: float = 15.0  # the bound: a killed node's cameras stream again elsewhere within it
    give_up_s: float = 90.0  # a camera not back after this long stops the run
    join_timeout_s: float = 180.0  # a fresh node's actor loads its models, then is given a camera
    wait_s: tuple[float, float] = (0.0, 4.0)  # after a node joined, before the next kill (seeded)
    drain_timeout_s: float = 180.0


@dataclass(frozen=True, slots=True)
class NodeKillResult:
    """The move times, the deliveries against the database's alerts, and the rows' check."""

    kills: int
    move_s: tuple[float, ...]  # per kill: SIGKILL -> every camera of the node streaming on another node
    join_s: tuple[float, ...]  # per kill: fresh node added -> a camera streaming on it
    cameras_moved: int  # cameras the kills moved (a node may hold more than one)
    deliveries: Deliveries
    half_written: tuple[str, ...]  # rows found incomplete (none expected)
    move_within_s: float
    seconds: float

    @property
    def late(self) -> tuple[float, ...]:
        return tuple(t for t in self.move_s if t > self.move_within_s)

    @property
    def ok(self) -> bool:
        d = self.deliveries
        return d.ok and d.duplicates == 0 and not self.half_written and not self.late and self.kills > 0

    def move_summary(self) -> str:
        """``min / median / max`` of the move times, in seconds."""
        if not self.move_s:
            return "-"
        figures = (min(self.move_s), statistics.median(self.move_s), max(self.move_s))
        return " / ".join(f"{t:.1f}" for t in figures)


def run_node_kills(
    workdir: Path,
    *,
    database_url: str,
    camera_url: str,
    photo: Path,
    person: str,
    settings: NodeKillSettings,
    progress: ProgressFn,
    model_dir: Path | None = None,
) -> NodeKillResult:
    """The whole run in ``workdir`` (data dir, config, ``serve.log``), on a new PostgreSQL database
    (``database_url``) and an RTSP stream every camera opens (``camera_url``).

    Raises:
        ConfigError: Ray is not installed.
        NodeKillFailed: a camera did not come back within ``give_up_s``, or a fresh node took no camera.
    """
    started = time.monotonic()
    rng = random.Random(settings.seed)
    receiver = Receiver(SECRET, settings.fail_ratio, settings.seed)
    hook_url = receiver.start()
    moves: list[float] = []
    joins: list[float] = []
    moved = 0
    try:
        with local_cluster(3, "this bench") as cluster:
            port = free_port()
            raw = _settings(
                workdir, database_url=database_url, ray_address=cluster.address, hook_url=hook_url,
                port=port, settings=settings, model_dir=model_dir,
            )  # fmt: skip
            config_path = workdir / "vigil.yaml"
            config_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
            config = VigilConfig.model_validate(raw)
            enrol(config, photo, person, "vigil bench chaos node-kills")
            service = ServeProcess(config_path, port, workdir / "serve.log")
            db = Database.from_url(database_url)
            try:
                service.start()
                with service.client() as api:
                    for i in range(settings.cameras):
                        add_camera(api, f"cam-{i}", camera_url, settings.max_fps, loop=False)
                    _wait_streaming(api, settings.join_timeout_s)
                    progress(0, settings.kills, f"{settings.cameras} cameras streaming on 3 nodes")
                    for k in range(settings.kills):
                        took, count = _kill_one(cluster, api, settings)
                        moves.append(took)
                        moved += count
                        progress(k, settings.kills, f"kill {k + 1}: {count} camera(s) back in {took:.1f} s")
                        joins.append(_join_one(cluster, api, settings))
                        progress(k + 1, settings.kills, f"kill {k + 1}: a fresh node took a camera")
                        time.sleep(rng.uniform(*settings.wait_s))
                    pause_cameras(api)
                alerts = drain(receiver, db, settings.drain_timeout_s)
                media = MediaStore(Path(raw["store"]["data_dir"]) / "media")
                broken = half_written_rows(db, media, f"webhook:{_HOOK}")
            finally:
                service.stop()
                db.dispose()
    finally:
        receiver.stop()
    return NodeKillResult(
        kills=len(moves),
        move_s=tuple(round(t, 2) for t in moves),
        join_s=tuple(round(t, 2) for t in joins),
        cameras_moved=moved,
        deliveries=count_deliveries(receiver.snapshot(), alerts),
        half_written=broken,
        move_within_s=settings.move_within_s,
        seconds=round(time.monotonic() - started, 1),
    )


def _settings(
    workdir: Path,
    *,
    database_url: str,
    ray_address: str,
    hook_url: str,
    port: int,
    settings: NodeKillSettings,
    model_dir: Path | None,
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "store": {"url": database_url, "data_dir": str(workdir / "data")},
        "server": {"host": "127.0.0.1", "port": port},
        "runtime": {"type": "ray", "ray": {"address": ray_address, "lost_after_s": settings.lost_after_s}},
        "live": {"stats_interval_s": 0.5},
        "alerts": {
            "cooldown_s": 0,
            "webhooks": [{"name": _HOOK, "url": hook_url, "secret": SECRET}],
            "delivery": {"initial_backoff_s": 0.2, "max_backoff_s": 2.0},
        },
    }
    if model_dir is not None:
        raw["model_dir"] = str(model_dir)
    return raw


def _cameras(api: httpx.Client) -> list[dict[str, Any]]:
    response = api.get("/cameras")
    response.raise_for_status()
    cameras: list[dict[str, Any]] = response.json()
    return cameras


def _streaming(cam: dict[str, Any]) -> bool:
    status, runs_on = cam.get("status"), cam.get("runs_on")
    return bool(status and runs_on and status["state"] == "streaming" and status["frames_processed"] > 0)


def _wait_streaming(api: httpx.Client, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(_streaming(c) for c in _cameras(api)):
        if time.monotonic() > deadline:
            raise NodeKillFailed(f"the cameras were not all streaming after {timeout_s:.0f} s")
        time.sleep(_POLL_S)


def _kill_one(cluster: Any, api: httpx.Client, settings: NodeKillSettings) -> tuple[float, int]:
    """SIGKILL a worker node that holds cameras; returns the seconds until every one of them streamed
    again on another node, and how many there were."""
    cams = _cameras(api)
    held: dict[str, dict[int, int]] = {}  # node id -> {camera id: frames processed}
    for c in cams:
        if c["runs_on"]:
            held.setdefault(c["runs_on"]["node_id"], {})[c["id"]] = c["status"]["frames_processed"]
    victim = next(
        (n for n in sorted(cluster.worker_nodes, key=lambda n: n.node_id) if n.node_id in held), None
    )
    if victim is None:
        raise NodeKillFailed(f"no worker node holds a camera: {[c['runs_on'] for c in cams]}")
    before = held[victim.node_id]
    killed = time.monotonic()
    cluster.remove_node(victim, allow_graceful=False)  # SIGKILL of every process of the node

    def back(c: dict[str, Any]) -> bool:
        return (
            _streaming(c) and c["runs_on"]["node_id"] != victim.node_id
            and c["status"]["frames_processed"] != before[c["id"]]
        )  # fmt: skip

    while True:
        took = time.monotonic() - killed
        if all(back(c) for c in _cameras(api) if c["id"] in before):
            return took, len(before)
        if took > settings.give_up_s:
            raise NodeKillFailed(f"cameras {sorted(before)} not streaming {took:.0f} s after their node died")
        time.sleep(_POLL_S)


def _join_one(cluster: Any, api: httpx.Client, settings: NodeKillSettings) -> float:
    """A fresh worker node; returns the seconds until a camera streams on it (the balancing moved one)."""
    added = time.monotonic()
    node = cluster.add_node(**ONE_CPU_NODE)
    while True:
        took = time.monotonic() - added
        cams = _cameras(api)
        on_it = any(_streaming(c) and c["runs_on"]["node_id"] == node.node_id for c in cams)
        if on_it and all(_streaming(c) for c in cams):
            return took
        if took > settings.join_timeout_s:
            raise NodeKillFailed(f"no camera streams on the fresh node {took:.0f} s after it joined")
        time.sleep(_POLL_S)


def half_written_rows(db: Database, media: MediaStore, sink: str) -> tuple[str, ...]:
    """What a crash could have left incomplete: events without their camera, events ending before they
    start, alerts without person, list, severity, best shot or outbox message on ``sink``, shots whose
    file is not on disk. Empty when every row is whole."""
    problems: list[str] = []
    with db.read() as s:
        orphans = s.scalars(
            select(Event.id).outerjoin(Camera, Camera.id == Event.camera_id).where(Camera.id.is_(None))
        ).all()
        problems += [f"event {i}: no camera row" for i in orphans]
        backwards = s.execute(
            select(Event.id, Event.start_at, Event.end_at).where(Event.end_at < Event.start_at)
        ).all()
        problems += [
            f"event {i}: ends before it starts ({a:%H:%M:%S.%f} > {b:%H:%M:%S.%f})" for i, a, b in backwards
        ]
        alerts = s.execute(
            select(Event.id, Event.person_id, Event.watchlist_id, Event.severity).where(
                Event.alerted_at.is_not(None)
            )
        ).all()
        counted = s.execute(select(EventShot.event_id, func.count()).group_by(EventShot.event_id)).all()
        shots = {int(event_id): int(n) for event_id, n in counted}
        queued = set(s.scalars(select(OutboxMessage.key).where(OutboxMessage.sink == sink)).all())
        for event_id, person_id, watchlist_id, severity in alerts:
            if None in (person_id, watchlist_id, severity):
                problems.append(f"alert {event_id}: no person, list or severity")
            if not shots.get(event_id):
                problems.append(f"alert {event_id}: no best shot")
            if f"alert-{event_id}" not in queued:
                problems.append(f"alert {event_id}: no outbox message for {sink}")
        for shot_id, rel in s.execute(select(EventShot.id, EventShot.crop_path)).all():
            if not media.path(rel).is_file():
                problems.append(f"shot {shot_id}: file {rel} missing")
    return tuple(problems)
