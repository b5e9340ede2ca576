"""Home Assistant MQTT discovery: the config messages that make each camera a device in Home Assistant.

Each camera gets two entities under ``<discovery_prefix>/<component>/<node>/<object>/config`` (``<node>`` is
Vigil's topic prefix, so that two Vigils on one broker do not collide):

- a ``sensor``, the last person alerted on at the camera: its state topic
  ``<prefix>/cameras/<camera>/last_person`` holds the last alert's JSON (retained), the state is
  ``value_json.person`` and the alert's fields are the sensor's attributes;
- an ``event`` (event type ``alert``) fed by the alerts themselves on ``<prefix>/alerts/<camera>``.

Both are available while ``<prefix>/status`` says ``online`` (the sink's last will says ``offline``).
An empty retained payload on a config topic removes the entity from Home Assistant.
"""

from __future__ import annotations

import json

import vigil
from vigil.config.schema import MqttConfig

SENSOR_SUFFIX, EVENT_SUFFIX = "_last_person", "_alert"
EVENT_TYPES = ("alert",)
# The alert JSON already says {"type": "alert"}; Home Assistant wants the event's type as "event_type" and
# keeps the other fields as the event's attributes.
EVENT_TEMPLATE = "{{ dict(value_json, event_type=value_json.type) | to_json }}"


def topic_slug(name: str) -> str:
    """A camera name as one MQTT topic level: lower case, letters, digits, ``-`` and ``_``."""
    out = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.lower())
    return out.strip("_") or "camera"


def object_id(name: str) -> str:
    """A camera name as Home Assistant's node and object ids want it: ``[a-z0-9_-]`` only."""
    return "".join(c if c.isascii() else "_" for c in topic_slug(name))


class HomeAssistantDiscovery:
    """Topics and payloads of the discovery messages for one MQTT config (builds strings, sends nothing).

    Cameras are known here by their object id (:func:`object_id` of the name).
    """

    def __init__(self, config: MqttConfig) -> None:
        self._config = config
        self.prefix = config.topic_prefix
        self.node = object_id(config.topic_prefix)
        self.root = config.discovery_prefix
        self.availability_topic = f"{config.topic_prefix}/status"

    @property
    def subscription(self) -> str:
        """The filter that matches every config topic of this Vigil (to find configs left from before)."""
        return f"{self.root}/+/{self.node}/+/config"

    def state_topic(self, camera: str) -> str:
        """Where the last alert on ``camera`` (a name, or its topic slug) is kept, retained: the sensor's
        state."""
        return f"{self.prefix}/cameras/{topic_slug(camera)}/last_person"

    def alert_topic(self, camera: str) -> str:
        """Where the alerts on ``camera`` are published (the topic the alert router gives them)."""
        return f"{self.prefix}/alerts/{topic_slug(camera)}"

    def config_topics(self, ident: str) -> tuple[str, str]:
        """The sensor's and the event's config topics of the camera with object id ``ident``."""
        return (
            f"{self.root}/sensor/{self.node}/{ident}{SENSOR_SUFFIX}/config",
            f"{self.root}/event/{self.node}/{ident}{EVENT_SUFFIX}/config",
        )

    def ident_of(self, config_topic: str) -> str | None:
        """The camera's object id in one of this Vigil's config topics, else None."""
        parts = config_topic.split("/")
        if len(parts) < 5 or parts[-1] != "config" or parts[-3] != self.node:
            return None
        for component, suffix in (("sensor", SENSOR_SUFFIX), ("event", EVENT_SUFFIX)):
            if parts[-4] == component and parts[-2].endswith(suffix) and len(parts[-2]) > len(suffix):
                return parts[-2].removesuffix(suffix)
        return None

    def configs(self, camera: str) -> dict[str, str]:
        """The config messages (topic -> JSON) announcing the camera named ``camera``."""
        ident = object_id(camera)
        uid = f"{self.node}_{ident}"
        common = {
            "availability_topic": self.availability_topic,
            "device": {
                "identifiers": [uid], "name": camera, "manufacturer": "Vigil", "model": "Camera",
                "sw_version": _version(),
            },
            "origin": {"name": "Vigil", "sw_version": _version()},
            "qos": self._config.qos,
        }  # fmt: skip
        sensor = common | {
            "name": "Last person", "unique_id": f"{uid}{SENSOR_SUFFIX}", "icon": "mdi:account-alert",
            "state_topic": self.state_topic(camera), "value_template": "{{ value_json.person }}",
            "json_attributes_topic": self.state_topic(camera),
        }  # fmt: skip
        event = common | {
            "name": "Alert", "unique_id": f"{uid}{EVENT_SUFFIX}", "icon": "mdi:cctv",
            "state_topic": self.alert_topic(camera), "event_types": list(EVENT_TYPES),
            "value_template": EVENT_TEMPLATE,
        }  # fmt: skip
        sensor_topic, event_topic = self.config_topics(ident)
        return {sensor_topic: json.dumps(sensor), event_topic: json.dumps(event)}


def _version() -> str:
    return str(getattr(vigil, "__version__", "0"))
