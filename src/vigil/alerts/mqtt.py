"""MQTT delivery: alert JSON published to ``<prefix>/<topic>``, with Home Assistant style availability.

The client connects in the background and reconnects by itself (paho's network thread). While connected,
``<prefix>/status`` holds the retained message ``online``; the broker replaces it with a retained
``offline`` (the last will) when Vigil vanishes, and Vigil publishes ``offline`` itself when it closes.
A delivery waits until the broker has the message (the QoS handshake done), else it fails and is retried
from the outbox: at least once, so a subscriber may see a message twice after a reconnect.

With ``discovery`` on, each camera is announced to Home Assistant (:mod:`vigil.alerts.discovery`): on each
connection the configs of every current camera are published (retained), and any config of this Vigil left
on the broker for a camera that is gone is cleared; ``refresh()`` does the same after a camera changes. Each
alert also goes, retained, to the camera's ``last_person`` topic (the sensor's state).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from vigil.alerts.discovery import HomeAssistantDiscovery, object_id
from vigil.alerts.outbox import Pending
from vigil.alerts.sink import DeliveryFailed
from vigil.config.schema import MqttConfig

log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
KEEPALIVE_S = 30
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30  # paho doubles the wait between reconnects up to the max
_CLOSE_WAIT_S = 2.0  # how long close() waits for the "offline" message to go out


class MqttSink:
    """Publishes outbox messages to an MQTT broker (paho-mqtt 2, connected in the background)."""

    name = "mqtt"

    def __init__(self, config: MqttConfig, timeout_s: float) -> None:
        """Starts connecting at once (returns without waiting); see ``connected``.

        Args:
            config: The broker, credentials, TLS, topic prefix and QoS.
            timeout_s: Longest wait for a broker to take one message, seconds.
        """
        self._config = config
        self._timeout_s = timeout_s
        self._where = f"{config.host}:{config.port}"
        self.status_topic = f"{config.topic_prefix}/status"
        self._connected = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=config.client_id, protocol=paho.MQTTv311)
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        if config.tls:
            client.tls_set()  # the system's CA certificates, hostname checked
        client.will_set(self.status_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        self._discovery = HomeAssistantDiscovery(config) if config.discovery else None
        self._cameras: Callable[[], Iterable[str]] = tuple
        self._lock = threading.Lock()  # guards the two maps below (API threads and the network thread)
        self._announced: dict[str, str] = {}  # object id -> camera name: configs published this connection
        self._found: dict[str, str | None] = {}  # object id -> state topic: configs seen on the broker
        client.connect_async(config.host, config.port, keepalive=KEEPALIVE_S)
        client.loop_start()  # a network thread: connects, retries the first connection, reconnects

    @property
    def connected(self) -> bool:
        """Whether the broker has accepted the connection (and not lost it since)."""
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the connection; True once connected."""
        return self._connected.wait(timeout_s)

    def _on_connect(
        self, client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("mqtt: broker %s refused the connection: %s", self._where, reason)
            return
        log.info("mqtt: connected to %s", self._where)
        client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        self._connected.set()
        if self._discovery is not None:
            with self._lock:
                self._announced.clear()
            client.subscribe(self._discovery.subscription, qos=1)  # configs left from before come back
            self.refresh()

    def _on_disconnect(
        self, _client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was:
            log.warning("mqtt: disconnected from %s (%s); reconnecting", self._where, reason)

    def follow_cameras(self, cameras: Callable[[], Iterable[str]]) -> None:
        """Announce the cameras ``cameras()`` names (Home Assistant discovery), now and on each connection.

        Call :meth:`refresh` after a camera is added, renamed or removed.
        """
        self._cameras = cameras
        self.refresh()

    def refresh(self) -> None:
        """Publish the discovery configs of the cameras not yet announced on this connection (retained), and
        clear those of cameras gone (an empty retained payload on each of their topics). No-op while not
        connected (the next connection does it) or with discovery off."""
        disco = self._discovery
        if disco is None or not self._connected.is_set():
            return
        try:
            want = {object_id(name): name for name in self._cameras()}
        except Exception:  # a broken database must not kill the network thread: the next refresh tries again
            log.exception("mqtt: could not list the cameras for Home Assistant discovery")
            return
        with self._lock:
            gone: dict[str, str | None] = {
                i: disco.state_topic(n) for i, n in self._announced.items() if i not in want
            }
            gone |= {i: t for i, t in self._found.items() if i not in want and i not in gone}
            for ident, state_topic in gone.items():
                for topic in (*disco.config_topics(ident), *((state_topic,) if state_topic else ())):
                    self._client.publish(topic, b"", qos=1, retain=True)
                self._announced.pop(ident, None)
                self._found.pop(ident, None)
                log.info("mqtt: removed camera %s from Home Assistant discovery", ident)
            for ident, name in want.items():
                if self._announced.get(ident) == name:
                    continue
                for topic, payload in disco.configs(name).items():
                    self._client.publish(topic, payload, qos=1, retain=True)
                self._announced[ident] = name

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        """A retained discovery config on the broker: noted (``refresh`` clears it if its camera is gone)."""
        disco = self._discovery
        ident = disco.ident_of(message.topic) if disco is not None else None
        if ident is None:
            return
        with self._lock:
            if not message.payload:
                self._found.pop(ident, None)
                return
            try:
                state = json.loads(message.payload).get("state_topic")
            except (ValueError, AttributeError):
                state = None
            ours = isinstance(state, str) and state.startswith(f"{self._config.topic_prefix}/cameras/")
            self._found[ident] = self._found.get(ident) or (state if ours else None)
            if ident in self._announced:
                return
        self.refresh()

    def deliver(self, message: Pending) -> None:
        """Publish ``message.payload`` to ``<prefix>/<message.topic>`` and wait for the broker to have it.

        Raises:
            DeliveryFailed: not connected, the publish was refused, or it did not complete in time.
        """
        if not self._connected.is_set():
            raise DeliveryFailed(f"mqtt: not connected to {self._where}")
        topic = f"{self._config.topic_prefix}/{message.topic}"
        self._keep_last_person(message)
        try:
            info = self._client.publish(topic, message.payload.encode("utf-8"), qos=self._config.qos)
            info.wait_for_publish(self._timeout_s)
        except (ValueError, RuntimeError) as exc:  # a bad topic, a full queue, a lost connection
            raise DeliveryFailed(f"mqtt: publish to {topic} failed: {exc}") from exc
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise DeliveryFailed(f"mqtt: publish to {topic} failed: {paho.error_string(info.rc)}")
        if not info.is_published():
            raise DeliveryFailed(f"mqtt: {self._where} did not confirm {topic} in {self._timeout_s:g} s")
        log.debug("mqtt: published %s to %s", message.key, topic)

    def _keep_last_person(self, message: Pending) -> None:
        """An alert (not a review change, nor a retro alert on an older sighting) also goes, retained, to its
        camera's ``last_person`` topic: Home Assistant's sensor keeps showing it after a restart."""
        topic = message.topic
        if self._discovery is None or topic.count("/") != 1 or not topic.startswith("alerts/"):
            return
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(body, dict) or body.get("type") != "alert" or body.get("retro"):
            return
        state = self._discovery.state_topic(message.topic.removeprefix("alerts/"))  # the camera's slug
        self._client.publish(state, message.payload.encode("utf-8"), qos=self._config.qos, retain=True)

    def close(self) -> None:
        """Publish ``offline`` (retained), disconnect and stop the network thread."""
        if self._connected.is_set():
            info = self._client.publish(self.status_topic, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(_CLOSE_WAIT_S)
            except (ValueError, RuntimeError) as exc:
                log.info("mqtt: could not publish %s before closing: %s", OFFLINE, exc)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
