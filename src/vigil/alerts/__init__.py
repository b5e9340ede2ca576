"""Alert delivery: a durable outbox, sinks (webhook, MQTT) behind one protocol, and the dispatcher."""

from vigil.alerts.dispatch import Dispatcher
from vigil.alerts.mqtt import MqttSink
from vigil.alerts.outbox import Outbox, Pending
from vigil.alerts.sink import DeliveryFailed, Sink
from vigil.alerts.webhook import WebhookSink, sign, verify

__all__ = [
    "DeliveryFailed",
    "Dispatcher",
    "MqttSink",
    "Outbox",
    "Pending",
    "Sink",
    "WebhookSink",
    "sign",
    "verify",
]
