"""Cameras and webhooks may not reach link-local or cloud-metadata addresses unless a deployment allows it."""

from __future__ import annotations

import pytest

from tests.store_kit import ACTOR
from vigil.alerts.webhook import WebhookSink
from vigil.app import build_sinks
from vigil.config import VigilConfig, WebhookConfig
from vigil.errors import BadInput, ConfigError
from vigil.ingest.netpolicy import NetPolicy
from vigil.runtime.messages import CameraSpec
from vigil.services.cameras import CameraService
from vigil.store.db import Database

DEFAULT = VigilConfig().network
POLICY = NetPolicy(DEFAULT.deny, DEFAULT.allow)
SECRET = "0123456789abcdef0123"


class Runner:
    def run(self, spec: CameraSpec) -> None: ...

    def remove(self, camera_id: int) -> None: ...


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://169.254.169.254/latest/meta-data",  # the cloud metadata service
        "http://[fe80::1]/mjpeg",  # IPv6 link-local
        "http://0.0.0.0:8470/alerts",
        "rtsp://admin:secret@169.254.10.20/stream",
    ],
)
def test_a_camera_on_a_refused_network_is_refused_with_the_address_named(db: Database, url: str) -> None:
    cameras = CameraService(db, Runner(), network=POLICY)
    with pytest.raises(
        BadInput, match=r"refused; a deployment that needs it lists it in network\.allow"
    ) as e:
        cameras.add(ACTOR, "cam", url)
    assert "secret" not in str(e.value), "credentials stay masked"
    assert cameras.all() == []


def test_ordinary_and_allowed_addresses_pass(db: Database) -> None:
    cameras = CameraService(db, Runner(), network=POLICY)
    for i, url in enumerate(["rtsp://10.0.0.5/a", "rtsp://127.0.0.1:8554/x", "http://localhost/mjpeg"]):
        cameras.add(ACTOR, f"cam{i}", url)
    segment = NetPolicy(DEFAULT.deny, ("169.254.10.0/24",))
    assert (
        CameraService(db, Runner(), network=segment).add(ACTOR, "ll", "rtsp://169.254.10.20/s").name == "ll"
    )


def test_a_webhook_to_the_metadata_service_is_a_config_error_and_never_posted() -> None:
    hook = WebhookConfig(name="meta", url="http://169.254.169.254/latest/", secret=SECRET)
    with pytest.raises(ConfigError, match=r"alerts\.webhooks\[meta\]\.url: .*169\.254\.169\.254"):
        build_sinks(VigilConfig(alerts={"webhooks": [hook]}))
    allowed = NetPolicy(DEFAULT.deny, ("169.254.169.254/32",))
    assert WebhookSink(hook, 1.0, network=allowed).name == "webhook:meta", "a deployment may allow it"
    # A host name is judged by what it resolves to.
    local = WebhookConfig(name="local", url="http://localhost:9/h", secret=SECRET)
    with pytest.raises(ConfigError, match=r"localhost is 127\.0\.0\.1, in 127\.0\.0\.0/8"):
        WebhookSink(local, 1.0, network=NetPolicy(("127.0.0.0/8",)))


def test_the_policy_rejects_a_malformed_network() -> None:
    with pytest.raises(ValueError, match="not a network"):
        VigilConfig(network={"allow": ["10.0.0.300/8"]})
