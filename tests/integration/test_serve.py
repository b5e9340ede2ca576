"""`vigil serve` end to end, with real parts: a GStreamer RTSP server serving the Hamilton clip, a real
Mosquitto broker, a real webhook receiver that fails half of its deliveries, and the WebSocket.

Ground truth (tests/integration/test_scan.py): Lin-Manuel Miranda is on stage from the first frame.
"""

from __future__ import annotations

import json
import socket
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.rtsp import MOUNT
from tests.serve_kit import VigilServer, wait_for_alert
from tests.services import WEBHOOK_SECRET, FlakyReceiver, Mosquitto, MqttProbe, free_port, wait_until
from vigil.app import Engine, open_store
from vigil.config import VigilConfig
from vigil.evaluate.rtsp_server import RtspServer
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.lists import ListSettings
from vigil.store.tables import Review, Severity

pytestmark = [pytest.mark.network, pytest.mark.slow]

MIRANDA = "Lin-Manuel Miranda"


def alive(process: psutil.Process) -> bool:
    """Running and not a zombie (an exited orphan stays a zombie where PID 1 does not reap)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _settings(tmp_path: Path, model_dir: Path, store_url: str | None = None, **alerts: Any) -> dict[str, Any]:
    return {
        "model_dir": str(model_dir),
        "store": {"data_dir": str(tmp_path / "data"), "url": store_url},
        "live": {"workers": 1, "stats_interval_s": 0.5},
        "alerts": {"cooldown_s": 0, **alerts},
    }


def _enrol_miranda(settings: dict[str, Any], engine: Engine, refs: Path, review: Review) -> None:
    cfg = VigilConfig.model_validate(settings)
    store = open_store(cfg)
    store.lists.create("test", "vip", ListSettings(severity=Severity.HIGH, review=review), "e2e test")
    photo = refs / "ageitgey_lin-manuel-miranda.png"
    request = EnrolRequest("vip", MIRANDA, "e2e test", (Photo(photo.name, photo.read_bytes()),))
    store.enrolment(engine).enrol("test", request)


def test_miranda_on_an_rtsp_camera_alerts_every_channel_within_a_second(
    tmp_path: Path,
    engine: Engine,
    model_dir: Path,
    refs: Path,
    rtsp_server: RtspServer,
    mosquitto: Mosquitto,
    flaky_receiver: FlakyReceiver,
) -> None:
    settings = _settings(
        tmp_path, model_dir,
        webhooks=[{"name": "ops", "url": flaky_receiver.url, "secret": WEBHOOK_SECRET}],
        mqtt={"host": "127.0.0.1", "port": mosquitto.port, "topic_prefix": "vigil-e2e"},
        delivery={"initial_backoff_s": 0.2, "max_backoff_s": 1.0},
    )  # fmt: skip
    _enrol_miranda(settings, engine, refs, Review.TWO_PERSON)
    with (
        MqttProbe("127.0.0.1", mosquitto.port, "vigil-e2e/#") as mqtt,
        VigilServer(tmp_path / "serve", settings) as vigil,
        ExitStack() as stack,
    ):
        mqtt.wait_subscribed()
        ws = stack.enter_context(vigil.alerts_socket())
        api = vigil.client()
        created = api.post("/cameras", json={"name": "stage", "url": rtsp_server.url(MOUNT), "reason": "e2e"})
        assert created.status_code == 201, created.text
        assert created.json()["url"] == rtsp_server.url(MOUNT)

        alert, received_at = wait_for_alert(ws, MIRANDA, timeout_s=90)
        seen_at = datetime.fromisoformat(alert["seen_at"]).timestamp()
        assert received_at - seen_at <= 1.0, f"alert {received_at - seen_at:.3f} s after its best shot"
        assert (alert["watchlist"], alert["severity"], alert["camera"]) == ("vip", "high", "stage")
        assert alert["score"] >= alert["threshold"]

        # The same alert by webhook (signed, retried past the failures) and by MQTT, once each by key.
        key = f"alert-{alert['alert_id']}"
        wait_until(lambda: any(i == key for i, _ in flaky_receiver.accepted), 30, "the webhook delivery")
        body = json.loads(next(b for i, b in flaky_receiver.accepted if i == key))
        assert body["person"] == MIRANDA and body["type"] == "alert"
        assert mqtt.take(1, 10, where=lambda m: m.topic == "vigil-e2e/status")[0].payload == "online"
        got = mqtt.take(1, 30, where=lambda m: m.topic == "vigil-e2e/alerts/stage")
        assert got[0].json()["alert_id"] == alert["alert_id"] and got[0].json()["person"] == MIRANDA

        # The best-shot link in the alert works without a token (signed), and not when tampered with.
        image = api.get(alert["image_url"].replace(vigil.url, ""), headers={"Authorization": ""})
        assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"
        forged = alert["image_url"].replace("sig=", "sig=0")
        assert vigil.client("vgl_not-a-token").get(forged.replace(vigil.url, "")).status_code == 401

        # Two-person confirmation: one confirmation leaves it waiting; a second user completes it.
        alert_id = alert["alert_id"]
        first = api.post(f"/alerts/{alert_id}/review", json={"action": "confirm", "note": "looks like him"})
        assert first.status_code == 200, first.text
        assert first.json()["status"] != "confirmed" and first.json()["awaiting_second_confirmation"]
        again = api.post(f"/alerts/{alert_id}/review", json={"action": "confirm"})
        assert again.status_code == 422, "the same user cannot confirm twice"
        made = api.post("/users", json={"username": "officer2", "role": "operator"})
        assert made.status_code in (200, 201), made.text
        password = made.json()["password"]
        login = vigil.client("x").post("/auth/login", json={"username": "officer2", "password": password})
        second = vigil.client(login.json()["token"]).post(
            f"/alerts/{alert_id}/review", json={"action": "confirm"}
        )
        assert second.status_code == 200 and second.json()["status"] == "confirmed", second.text
        assert [r["username"] for r in second.json()["reviews"]] == ["admin", "officer2"]

        cams = _camera_reports_its_status(api)
        metrics = api.get("/metrics")
        assert 'vigil_camera_frames_processed_total{camera="stage"}' in metrics.text
        assert "vigil_alert_latency_seconds_count" in metrics.text
        assert 'vigil_worker_ready{node="local",worker="worker-0"} 1.0' in metrics.text

        _home_assistant_follows_the_camera(mosquitto, api, cams[0]["id"])


def _camera_reports_its_status(api: httpx.Client) -> list[dict[str, Any]]:
    """The camera's status: streaming at the clip's rate, frames processed, faces found, where it runs.

    On a loaded machine the reader may have gone silent long enough for its watchdog to reopen the stream
    (state ``connecting``): it must be streaming at full rate again within seconds; a failure shows the
    last status seen.
    """
    deadline = time.monotonic() + 30
    while True:
        cams: list[dict[str, Any]] = api.get("/cameras").json()
        status = cams[0]["status"]
        if status["state"] == "streaming" and status["fps_in"] > 20:
            break
        assert time.monotonic() < deadline, f"the camera is not streaming at full rate: {status}"
        time.sleep(0.5)
    assert status["frames_processed"] > 0 and status["fps_processed"] > 1, status
    assert status["faces_per_s"] > 0, status
    assert cams[0]["runs_on"]["node_id"] == "local" and cams[0]["runs_on"]["worker"].startswith("worker-")
    return cams


def _home_assistant_follows_the_camera(mosquitto: Mosquitto, api: httpx.Client, camera_id: int) -> None:
    """Home Assistant discovery: the camera "stage" has a sensor and an event entity, retained; the sensor's
    state is its last alert (Miranda); removing the camera clears both configs (empty retained payloads)."""
    configs = {
        "homeassistant/sensor/vigil-e2e/stage_last_person/config",
        "homeassistant/event/vigil-e2e/stage_alert/config",
    }
    with MqttProbe("127.0.0.1", mosquitto.port, "homeassistant/#", client_id="vigil-e2e-ha") as ha:
        announced = ha.take(2, 10)
        assert {m.topic for m in announced} == configs and all(m.retain for m in announced)
        state_topic = "vigil-e2e/cameras/stage/last_person"
        with MqttProbe("127.0.0.1", mosquitto.port, state_topic, client_id="vigil-e2e-state") as state:
            (last,) = state.take(1, 10)
        assert last.retain and last.json()["person"] == MIRANDA
        assert api.delete(f"/cameras/{camera_id}?reason=e2e").status_code == 204
        cleared = ha.take(2, 10)
    assert {m.topic for m in cleared} == configs and all(m.payload == "" for m in cleared)


def test_a_camera_recovers_when_its_rtsp_server_restarts_and_alerts_keep_coming(
    tmp_path: Path, engine: Engine, model_dir: Path, refs: Path, rtsp_server: RtspServer
) -> None:
    settings = _settings(tmp_path, model_dir)
    settings["live"] |= {"reconnect_initial_s": 0.2, "reconnect_max_s": 1.0, "watchdog_s": 3.0}
    _enrol_miranda(settings, engine, refs, Review.ACKNOWLEDGE)
    with VigilServer(tmp_path / "serve", settings) as vigil, vigil.alerts_socket() as ws:
        api = vigil.client()
        # A camera that never answers runs beside it and holds nothing up.
        dead = api.post("/cameras", json={"name": "dead", "url": f"rtsp://127.0.0.1:{free_port()}/x"}).json()
        camera = api.post("/cameras", json={"name": "stage", "url": rtsp_server.url(MOUNT)}).json()
        first, _ = wait_for_alert(ws, MIRANDA, timeout_s=90)
        assert first["camera"] == "stage"
        dead_status = api.get(f"/cameras/{dead['id']}").json()["status"]
        assert dead_status["state"] in ("backoff", "connecting") and dead_status["frames_in"] == 0

        rtsp_server.stop()

        def state() -> str:
            return str(api.get(f"/cameras/{camera['id']}").json()["status"]["state"])

        wait_until(lambda: state() in ("backoff", "connecting"), 20, "the camera to notice")
        rtsp_server.start()
        wait_until(
            lambda: api.get(f"/cameras/{camera['id']}").json()["status"]["reconnects"] >= 1, 30, "a reconnect"
        )
        later, _ = wait_for_alert(ws, MIRANDA, timeout_s=60)
        assert later["alert_id"] > first["alert_id"]
        wait_until(lambda: state() == "streaming", 20, "streaming again")
        assert api.get(f"/cameras/{camera['id']}").json()["status"]["last_error"], "the outage is reported"


def _miranda_with_a_webhook(
    tmp_path: Path,
    model_dir: Path,
    engine: Engine,
    refs: Path,
    receiver: FlakyReceiver,
    store_url: str | None = None,
) -> dict[str, Any]:
    """Settings with one webhook retried fast, and Miranda enrolled on a list (on SQLite by default)."""
    settings = _settings(
        tmp_path, model_dir, store_url,
        webhooks=[{"name": "ops", "url": receiver.url, "secret": WEBHOOK_SECRET}],
        delivery={"initial_backoff_s": 0.2, "max_backoff_s": 0.5},
    )  # fmt: skip
    _enrol_miranda(settings, engine, refs, Review.ACKNOWLEDGE)
    return settings


def test_an_alert_pending_when_vigil_is_killed_is_delivered_after_it_restarts(
    tmp_path: Path,
    engine: Engine,
    model_dir: Path,
    refs: Path,
    rtsp_server: RtspServer,
    flaky_receiver: FlakyReceiver,
) -> None:
    flaky_receiver.fail_ratio = 1.0  # the receiver is down while Vigil raises the alert
    settings = _miranda_with_a_webhook(tmp_path, model_dir, engine, refs, flaky_receiver)
    vigil = VigilServer(tmp_path / "serve", settings)
    vigil.start()
    try:
        with vigil.alerts_socket() as ws:
            vigil.client().post("/cameras", json={"name": "stage", "url": rtsp_server.url(MOUNT)})
            alert, _ = wait_for_alert(ws, MIRANDA, timeout_s=90)
        key = f"alert-{alert['alert_id']}"
        wait_until(lambda: any(r.id == key for r in flaky_receiver.seen()), 30, "a failed first attempt")
    finally:
        workers = vigil.kill()  # SIGKILL: no chance to deliver or to tidy up
    assert not any(i == key for i, _ in flaky_receiver.accepted)
    assert workers, "the service ran camera worker processes"
    wait_until(lambda: not any(alive(w) for w in workers), 15, "orphaned camera workers to exit")

    flaky_receiver.fail_ratio = 0.0
    again = VigilServer(tmp_path / "serve", settings, port=vigil.port)
    with again:
        wait_until(lambda: any(i == key for i, _ in flaky_receiver.accepted), 30, "delivery after restart")
    ids = [r.id for r in flaky_receiver.seen()]
    assert ids.count(key) >= 2, "retried under the same idempotency key"
    assert len([i for i, _ in flaky_receiver.accepted if i == key]) == 1
    assert again.token is None, "the second start creates no new administrator"


def test_a_standby_serve_takes_over_cameras_and_deliveries_when_the_leader_is_killed(
    tmp_path: Path,
    engine: Engine,
    model_dir: Path,
    refs: Path,
    rtsp_server: RtspServer,
    flaky_receiver: FlakyReceiver,
    db_url: str,
) -> None:
    """Two `vigil serve` on one store (SQLite: a file lock; PostgreSQL: an advisory lock): one leads
    (cameras, deliveries), the other serves the API and stands by. SIGKILL of the leader: the standby
    delivers its backlog within 10 s and runs the cameras."""
    flaky_receiver.fail_ratio = 1.0
    url = None if db_url.startswith("sqlite") else db_url
    settings = _miranda_with_a_webhook(tmp_path, model_dir, engine, refs, flaky_receiver, url)
    leader = VigilServer(tmp_path / "leader", settings)
    leader.start()
    standby = VigilServer(tmp_path / "standby", settings)
    try:
        standby.start()
        api = standby.client(leader.token)  # one store: the leader's first-start token works on both
        camera = api.post("/cameras", json={"name": "stage", "url": rtsp_server.url(MOUNT)}).json()
        with leader.alerts_socket() as ws:  # added through the standby, run by the leader
            alert, _ = wait_for_alert(ws, MIRANDA, timeout_s=90)
        key = f"alert-{alert['alert_id']}"
        wait_until(lambda: any(r.id == key for r in flaky_receiver.seen()), 30, "a failed first attempt")
        assert api.get(f"/cameras/{camera['id']}").json()["runs_on"] is None, "the standby runs no camera"
        leader.kill()
        flaky_receiver.fail_ratio = 0.0
        killed = time.monotonic()
        wait_until(lambda: any(i == key for i, _ in flaky_receiver.accepted), 10, "the standby's delivery")
        took = time.monotonic() - killed
        wait_until(
            lambda: (api.get(f"/cameras/{camera['id']}").json()["status"] or {}).get("state") == "streaming",
            60, "the camera streaming on the former standby",
        )  # fmt: skip
        print(f"the standby delivered the backlog {took:.1f} s after the leader was killed")
    finally:
        standby.stop()
        leader.stop()


def test_serve_refuses_a_bad_camera_in_its_config_with_a_clear_error(tmp_path: Path, model_dir: Path) -> None:
    settings = _settings(tmp_path, model_dir) | {"cameras": [{"name": "door", "url": "ftp://10.0.0.1/cam"}]}
    server = VigilServer(tmp_path / "serve", settings)
    with pytest.raises(AssertionError, match=r"exited with 2") as failed:
        server.start(timeout_s=60)
    assert "unsupported URL scheme 'ftp'" in str(failed.value)
    assert "Traceback" not in str(failed.value)


def test_serve_on_a_taken_port_says_so_before_starting_anything(tmp_path: Path, model_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = VigilServer(tmp_path / "serve", _settings(tmp_path, model_dir), port=taken.getsockname()[1])
        with pytest.raises(AssertionError, match=r"exited with 2") as failed:
            server.start(timeout_s=60)
    out = str(failed.value)
    assert f"cannot listen on 127.0.0.1:{server.port}: in use (another vigil serve?)" in out
    assert "administrator" not in out and "mqtt" not in out.lower() and "Traceback" not in out
    assert not (tmp_path / "data" / "vigil.db").exists(), "nothing was created: not even the first admin"


def test_an_alert_socket_client_that_leaves_is_let_go_at_once(tmp_path: Path, model_dir: Path) -> None:
    """Regression: a closed socket stayed subscribed (and counted) until the next alert was sent to it."""
    with VigilServer(tmp_path / "serve", _settings(tmp_path, model_dir)) as vigil:
        api = vigil.client()
        with vigil.alerts_socket():
            assert "vigil_websocket_clients 1.0" in api.get("/metrics").text
        wait_until(lambda: "vigil_websocket_clients 0.0" in api.get("/metrics").text, 10, "the client let go")
