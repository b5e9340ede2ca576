"""Home Assistant MQTT discovery against a real Mosquitto broker: each camera is announced (retained
configs of a sensor and an event entity), an alert updates the sensor's retained state, and a camera that
is removed (now, or while this Vigil was not connected) has its entities cleared with empty retained
payloads. The cameras come from a real :class:`CameraService` on the test database."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from tests.services import Mosquitto, MqttProbe, Received, wait_until
from vigil.alerts import MqttSink, Pending
from vigil.alerts.discovery import HomeAssistantDiscovery, object_id
from vigil.config.schema import MqttConfig
from vigil.runtime.messages import CameraSpec
from vigil.services.cameras import CameraService
from vigil.store.db import Database

PREFIX = "vigil-ha"
SENSOR = "homeassistant/sensor/vigil-ha/front_door_last_person/config"
EVENT = "homeassistant/event/vigil-ha/front_door_alert/config"
STATE = "vigil-ha/cameras/front_door/last_person"
YARD = {
    "homeassistant/sensor/vigil-ha/yard_last_person/config", "homeassistant/event/vigil-ha/yard_alert/config",
}  # fmt: skip
SETTLE_S = 0.5  # the broker sends the retained messages right after the subscription's acknowledgement


class NoRunner:
    """Cameras that are never run (only their rows matter here)."""

    def run(self, spec: CameraSpec) -> None:
        pass

    def remove(self, camera_id: int) -> None:
        pass


def config(broker: Mosquitto, **change: object) -> MqttConfig:
    return MqttConfig.model_validate(
        {"host": broker.host, "port": broker.port, "topic_prefix": PREFIX, "client_id": "vigil-ha-test"}
        | change
    )


def retained(broker: Mosquitto, topic_filter: str) -> dict[str, Received]:
    """What a new subscriber to ``topic_filter`` is sent at once: the retained messages, by topic."""
    with MqttProbe(broker.host, broker.port, topic_filter, client_id="vigil-ha-retained") as probe:
        probe.wait_subscribed()
        time.sleep(SETTLE_S)
        got = [probe.messages.get() for _ in range(probe.messages.qsize())]
    return {m.topic: m for m in got if m.retain}


def alert(camera: str, person: str, *, retro: bool = False) -> Pending:
    body = {"type": "alert", "alert_id": 7, "camera": camera, "person": person, "score": 0.91, "retro": retro}
    slug = camera.replace(" ", "_")
    now = datetime.now(UTC)
    return Pending(1, "mqtt", "alert-7", f"alerts/{slug}", json.dumps(body), 0, now)


def test_discovery_payloads_follow_home_assistant_format() -> None:
    disco = HomeAssistantDiscovery(MqttConfig(host="x", topic_prefix=PREFIX))
    configs = {t: json.loads(p) for t, p in disco.configs("Front door").items()}
    assert set(configs) == {SENSOR, EVENT}
    sensor, event = configs[SENSOR], configs[EVENT]
    for entity in (sensor, event):
        assert entity["availability_topic"] == f"{PREFIX}/status"
        assert entity["device"]["identifiers"] == ["vigil-ha_front_door"]
        assert entity["device"]["name"] == "Front door"
    assert sensor["state_topic"] == sensor["json_attributes_topic"] == STATE
    assert sensor["value_template"] == "{{ value_json.person }}"
    assert event["state_topic"] == f"{PREFIX}/alerts/front_door"  # the alert router's topic
    assert event["event_types"] == ["alert"]
    assert sensor["unique_id"] != event["unique_id"]
    assert [disco.ident_of(t) for t in (SENSOR, EVENT)] == ["front_door", "front_door"]
    assert disco.ident_of("homeassistant/sensor/other-vigil/front_door_last_person/config") is None
    assert object_id("Café 2") == "caf__2"


def test_cameras_are_announced_updated_and_removed(db: Database, mosquitto: Mosquitto) -> None:
    cameras = CameraService(db, NoRunner())
    door = cameras.add("test", "front door", "rtsp://127.0.0.1:8554/door")
    sink = MqttSink(config(mosquitto), 5.0)
    try:
        sink.follow_cameras(lambda: [c.name for c in cameras.all()])
        cameras.on_change(sink.refresh)
        assert sink.wait_connected(10)

        # On connecting: the configs of every current camera, retained.
        wait_until(lambda: set(retained(mosquitto, "homeassistant/#")) == {SENSOR, EVENT}, 10, "the configs")
        configs = retained(mosquitto, "homeassistant/#")
        assert json.loads(configs[SENSOR].payload)["state_topic"] == STATE
        assert json.loads(configs[EVENT].payload)["event_types"] == ["alert"]

        # A camera added later is announced at once.
        with MqttProbe(mosquitto.host, mosquitto.port, "homeassistant/#") as probe:
            probe.wait_subscribed()
            probe.take(2, 5, where=lambda m: m.retain)  # the front door's, retained
            cameras.add("test", "yard", "rtsp://127.0.0.1:8554/yard")
            got = probe.take(2, 5)
        assert {m.topic for m in got} == YARD

        # An alert: published as ever (not retained), and kept as the sensor's retained state.
        with MqttProbe(mosquitto.host, mosquitto.port, f"{PREFIX}/#", client_id="vigil-ha-alerts") as probe:
            probe.wait_subscribed()
            sink.deliver(alert("front door", "Jane Roe"))
            (event,) = probe.take(1, 5, where=lambda m: m.topic == f"{PREFIX}/alerts/front_door")
        assert not event.retain and event.json()["person"] == "Jane Roe"
        assert retained(mosquitto, STATE)[STATE].json()["person"] == "Jane Roe"
        sink.deliver(alert("front door", "Old Sighting", retro=True))  # a retro alert: not the last seen
        assert retained(mosquitto, STATE)[STATE].json()["person"] == "Jane Roe"

        # Removing the camera clears its entities and its state (empty retained payloads).
        with MqttProbe(mosquitto.host, mosquitto.port, "#", client_id="vigil-ha-removal") as probe:
            probe.wait_subscribed()
            probe.take(5, 5, where=lambda m: m.retain)  # what is retained now: 4 configs, 1 state
            cameras.remove("test", door.id)
            cleared = probe.take(3, 5, where=lambda m: m.topic in (SENSOR, EVENT, STATE))
        assert {m.topic for m in cleared} == {SENSOR, EVENT, STATE}
        assert all(m.payload == "" for m in cleared)
        assert set(retained(mosquitto, "homeassistant/#")) == YARD
        assert retained(mosquitto, f"{PREFIX}/cameras/#") == {}
    finally:
        sink.close()


def test_a_camera_gone_while_disconnected_is_cleared_on_the_next_connection(mosquitto: Mosquitto) -> None:
    """Another process removed a camera, or Vigil restarted with fewer: configs left on the broker by this
    Vigil for cameras it no longer has are cleared when it connects; another Vigil's are left alone."""
    names = ["lobby", "yard"]
    other = MqttSink(config(mosquitto, topic_prefix="other-vigil", client_id="other-vigil"), 5.0)
    first = MqttSink(config(mosquitto), 5.0)
    try:
        other.follow_cameras(lambda: ["lobby"])
        first.follow_cameras(lambda: list(names))
        assert first.wait_connected(10) and other.wait_connected(10)
        first.deliver(alert("lobby", "Jane Roe"))
        wait_until(lambda: len(retained(mosquitto, "homeassistant/#")) == 6, 10, "both Vigils' configs")
    finally:
        first.close()
    names.remove("lobby")
    second = MqttSink(config(mosquitto), 5.0)
    try:
        second.follow_cameras(lambda: list(names))
        assert second.wait_connected(10)
        wait_until(
            lambda: set(retained(mosquitto, "homeassistant/+/vigil-ha/#")) == YARD, 10, "lobby cleared"
        )
        assert set(retained(mosquitto, "homeassistant/+/other-vigil/#")) == {
            "homeassistant/sensor/other-vigil/lobby_last_person/config",
            "homeassistant/event/other-vigil/lobby_alert/config",
        }
        assert retained(mosquitto, f"{PREFIX}/cameras/#") == {}, "lobby's last person cleared too"
    finally:
        second.close()
        other.close()


def test_discovery_off_announces_nothing(mosquitto: Mosquitto) -> None:
    sink = MqttSink(config(mosquitto, discovery=False), 5.0)
    try:
        sink.follow_cameras(lambda: ["yard"])
        assert sink.wait_connected(10)
        sink.deliver(alert("yard", "Jane Roe"))
        assert retained(mosquitto, "homeassistant/#") == {}
        assert retained(mosquitto, f"{PREFIX}/cameras/#") == {}
    finally:
        sink.close()
