"""The cluster runtime on a real Ray cluster of three nodes on this machine (Ray's own cluster utilities:
a head and two worker nodes of one CPU each), PostgreSQL and RTSP cameras on loopback.

Cameras spread over the nodes; SIGKILL of one node's processes: its cameras stream again on the other
nodes within 15 s, and the node's placement is gone from every camera.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.helpers import skip_unless_required
from tests.pg import ThrowawayPostgres
from tests.rtsp import MOUNT
from tests.serve_kit import VigilServer, wait_for_alert
from vigil.app import Engine, actor_camera_worker, open_store
from vigil.cli import app
from vigil.config import VigilConfig
from vigil.evaluate.pg_cluster import free_port
from vigil.evaluate.rtsp_server import RtspServer
from vigil.runtime.book import Placement
from vigil.runtime.messages import CameraEvents, CameraFailed, CameraSpec
from vigil.runtime.ray_supervisor import RaySupervisor, connect
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.lists import ListSettings
from vigil.store.db import Database
from vigil.store.migrate import ensure_schema
from vigil.store.tables import Severity

pytestmark = pytest.mark.network

MOVE_WITHIN_S = 15.0


def _ray() -> Any:
    try:
        import ray.cluster_utils  # noqa: PLC0415 (the optional extra vigil[cluster])
    except ImportError:
        skip_unless_required("Ray is not installed: pip install 'vigil[cluster]'", "VIGIL_REQUIRE_SERVICES")
    return ray.cluster_utils


@pytest.fixture
def cluster() -> Iterator[Any]:
    utils = _ray()
    node = {"num_cpus": 1, "include_dashboard": False}
    head = utils.Cluster(
        initialize_head=True, connect=False,
        head_node_args={**node, "_system_config": {"health_check_period_ms": 1000}},
    )  # fmt: skip
    try:
        head.add_node(**node)
        head.add_node(**node)
        head.wait_for_nodes()
        yield head
    finally:
        import ray  # noqa: PLC0415

        ray.shutdown()
        head.shutdown()


def _wait(test: Any, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not test():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - start


def _enrolment_reaches_every_actor(
    runtime: RaySupervisor, config: VigilConfig, engine: Engine, refs: Path
) -> None:
    """A person enrolled by another process (this one) reaches every camera actor within 2 s."""
    assert len(runtime.gallery_sizes()) == 3 and set(runtime.gallery_sizes().values()) == {0}
    store = open_store(config)
    store.lists.create("test", "vip", ListSettings(severity=Severity.HIGH), "cluster test")
    photo = refs / "ageitgey_lin-manuel-miranda.png"
    who = "Lin-Manuel Miranda"
    request = EnrolRequest("vip", who, "cluster test", (Photo(photo.name, photo.read_bytes()),))
    store.enrolment(engine).enrol("test", request)
    took = _wait(lambda: set(runtime.gallery_sizes().values()) == {1}, 10.0, "the enrolment in every actor")
    print(f"an enrolment reached all 3 camera actors {took:.2f} s after its commit")
    assert took < 2.0 + config.live.stats_interval_s, "2 s, plus at most one stats report's wait"
    store.db.dispose()


def test_cameras_spread_over_nodes_and_move_when_one_dies(
    cluster: Any, postgres: ThrowawayPostgres, rtsp_server: RtspServer, engine: Engine, refs: Path
) -> None:
    url = postgres.new_database("cluster_runtime")
    db = Database.from_url(url)
    ensure_schema(db.engine)
    config = VigilConfig.model_validate({
        "store": {"url": url},
        "runtime": {"type": "ray", "ray": {"address": cluster.address, "lost_after_s": 3.0}},
        # The poll is slowed to a minute: a list change must reach the actors by NOTIFY.
        "live": {"stats_interval_s": 0.5, "snapshot_s": 0, "gallery_poll_s": 60},
    })  # fmt: skip
    ray = connect(config.runtime.ray)
    runtime = RaySupervisor(config, ray, actor_camera_worker)
    events: list[CameraEvents] = []
    failed: list[CameraFailed] = []
    placed: list[tuple[int, Placement | None]] = []
    runtime.attach(events.append, failed.append)
    runtime.attach_placements(lambda cid, p: placed.append((cid, p)))
    runtime.start()
    try:
        assert runtime.wait_ready(180.0), runtime.workers()
        assert len({w.node_id for w in runtime.workers()}) == 3
        for cid in (1, 2, 3):
            runtime.run(CameraSpec(cid, f"cam{cid}", rtsp_server.url("hamilton")))

        def streaming(cids: tuple[int, ...]) -> bool:
            counters = runtime.counters()
            return all(c in counters and counters[c].frames_processed > 5 for c in cids)

        _wait(lambda: streaming((1, 2, 3)), 120.0, "three cameras streaming")

        _enrolment_reaches_every_actor(runtime, config, engine, refs)
        nodes = {cid: p.node_id for cid, p in runtime.placements().items()}
        assert len(set(nodes.values())) == 3, "one camera per node"
        head_id = ray.get_runtime_context().get_node_id()
        victim_cam, victim_node = next((c, n) for c, n in nodes.items() if n != head_id)
        victim = next(n for n in cluster.worker_nodes if n.node_id == victim_node)
        before = runtime.counters()[victim_cam].frames_processed

        killed = time.monotonic()
        cluster.remove_node(victim, allow_graceful=False)  # SIGKILL of the node's processes

        def moved() -> bool:
            placement = runtime.placements().get(victim_cam)
            counters = runtime.counters().get(victim_cam)
            return (
                placement is not None and placement.node_id != victim_node
                and counters is not None and counters.frames_processed != before
                and counters.status.state == "streaming"
            )  # fmt: skip

        _wait(moved, MOVE_WITHIN_S, f"camera {victim_cam} streaming on another node")
        took = time.monotonic() - killed
        assert took < MOVE_WITHIN_S
        assert all(p.node_id != victim_node for p in runtime.placements().values())
        assert runtime.moves >= 1 and runtime.restarts >= 1
        assert runtime.frames_lost >= 1, "the frame the lost actor was on is counted as dropped"
        assert {w.node_id for w in runtime.workers()} == set(nodes.values()) - {victim_node}
        # The moved camera's counters start again on its new actor: more than 5 frames a moment later.
        _wait(lambda: streaming((1, 2, 3)), 10.0, "the three cameras streaming after the move")
        assert not failed
        print(f"camera {victim_cam} streamed again on another node {took:.1f} s after its node was killed")
    finally:
        runtime.stop()
        db.dispose()


@pytest.mark.parametrize("command", [["serve"], ["cluster", "status"]])
def test_an_unreachable_cluster_is_one_clear_line_and_exit_2(command: list[str], tmp_path: Path) -> None:
    _ray()
    port = free_port()
    config = tmp_path / "vigil.yaml"
    config.write_text(
        f"store:\n  url: sqlite:///{tmp_path / 'v.db'}\n"
        f"runtime:\n  type: ray\n  ray:\n    address: 127.0.0.1:{port}\n    connect_timeout_s: 2\n"
    )
    result = CliRunner().invoke(app, [*command, "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert f"runtime.ray.address 127.0.0.1:{port}: no Ray cluster answers there" in result.output


def test_vigil_serve_on_the_cluster_alerts_and_says_where_each_camera_runs(
    cluster: Any, postgres: ThrowawayPostgres, rtsp_server: RtspServer, engine: Engine, refs: Path,
    model_dir: Path, tmp_path: Path,
) -> None:  # fmt: skip
    settings: dict[str, Any] = {
        "model_dir": str(model_dir),
        "store": {"url": postgres.new_database("cluster_serve"), "data_dir": str(tmp_path / "data")},
        "runtime": {"type": "ray", "ray": {"address": cluster.address, "archive_shards": 2}},
        "live": {"stats_interval_s": 0.5},
        "alerts": {"cooldown_s": 0},
    }
    store = open_store(VigilConfig.model_validate(settings))
    store.lists.create("test", "vip", ListSettings(severity=Severity.HIGH), "cluster test")
    photo = refs / "ageitgey_lin-manuel-miranda.png"
    who = "Lin-Manuel Miranda"
    request = EnrolRequest("vip", who, "e2e", (Photo(photo.name, photo.read_bytes()),))
    store.enrolment(engine).enrol("test", request)
    store.db.dispose()
    with VigilServer(tmp_path / "serve", settings) as vigil, vigil.alerts_socket() as ws:
        api = vigil.client()
        camera = api.post("/cameras", json={"name": "stage", "url": rtsp_server.url(MOUNT)}).json()
        alert, _ = wait_for_alert(ws, who, timeout_s=120)
        assert alert["camera"] == "stage"
        runs_on = api.get(f"/cameras/{camera['id']}").json()["runs_on"]
        assert runs_on["node_id"] != "local" and runs_on["worker"].startswith("cam-"), runs_on
        assert 'vigil_worker_ready{node="' in api.get("/metrics").text
        # A search by his photo fans out over the archive's 2 shard actors and finds his tracks (each
        # track is archived as it ends: at the clip's scene cuts and loops).
        files = {"photo": (photo.name, photo.read_bytes(), "image/png")}

        def sighted() -> bool:
            found = api.post("/search", data={"reason": "cluster test"}, files=files)
            assert found.status_code == 200, found.text
            if any(hit["camera"] == "stage" for hit in found.json()["archive"]):
                return True
            time.sleep(1.0)  # each search is audited: ask about once a second
            return False

        _wait(sighted, 90, "a search finding his archived track in the sharded archive")


@pytest.mark.parametrize("command", [["serve"], ["cluster", "status"]])
def test_a_cluster_on_another_ray_version_is_named_in_one_line_and_exit_2(
    command: list[str], tmp_path: Path
) -> None:
    """A real head whose recorded cluster metadata says Ray 1.13.0 (what a head started by an older Ray
    stores in its GCS): Ray refuses the driver, and Vigil says so naming both versions."""
    utils = _ray()
    import ray  # noqa: PLC0415
    from ray._common.usage import usage_constants  # noqa: PLC0415
    from ray._private import ray_constants  # noqa: PLC0415

    head = utils.Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1})
    try:
        gcs = ray._raylet.GcsClient(address=head.address)  # type: ignore[attr-defined]
        key, namespace = usage_constants.CLUSTER_METADATA_KEY, ray_constants.KV_NAMESPACE_CLUSTER
        metadata = json.loads(gcs.internal_kv_get(key, namespace=namespace))
        assert metadata["ray_version"] == ray.__version__
        metadata["ray_version"] = "1.13.0"
        gcs.internal_kv_put(key, json.dumps(metadata).encode(), overwrite=True, namespace=namespace)
        config = tmp_path / "vigil.yaml"
        config.write_text(
            f"store:\n  url: sqlite:///{tmp_path / 'v.db'}\n"
            f"runtime:\n  type: ray\n  ray:\n    address: {head.address}\n    connect_timeout_s: 5\n"
        )
        result = CliRunner().invoke(app, [*command, "--config", str(config)])
        assert result.exit_code == 2, result.output
        said = (
            f"runtime.ray.address {head.address}: Ray version mismatch: "
            f"this machine has Ray {ray.__version__} on Python {platform.python_version()}, "
            "the cluster Ray 1.13.0 on Python"
        )
        assert said in " ".join(result.output.split()), result.output
    finally:
        ray.shutdown()
        head.shutdown()
