"""MQTT delivery: alert JSON published to ``<prefix>/<topic>``, with Home Assistant style availability.

The client connects in the background and reconnects by itself (paho's network thread). While connected,
``<prefix>/status`` holds the retained message ``online``; the broker replaces it with a retained
``offline`` (the last will) when Vigil vanishes, and Vigil publishes ``offline`` itself when it closes.
A delivery waits until the broker has the message (the QoS handshake done), else it fails and is retried
from the outbox: at least once, so a subscriber may see a message twice after a reconnect.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

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
        self._client = client
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

    def _on_disconnect(
        self, _client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was:
            log.warning("mqtt: disconnected from %s (%s); reconnecting", self._where, reason)

    def deliver(self, message: Pending) -> None:
        """Publish ``message.payload`` to ``<prefix>/<message.topic>`` and wait for the broker to have it.

        Raises:
            DeliveryFailed: not connected, the publish was refused, or it did not complete in time.
        """
        if not self._connected.is_set():
            raise DeliveryFailed(f"mqtt: not connected to {self._where}")
        topic = f"{self._config.topic_prefix}/{message.topic}"
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
