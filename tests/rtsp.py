"""The ``rtsp_server`` fixture: the Hamilton clip served by a real GStreamer RTSP server on loopback.

Re-exported by ``tests/conftest.py``. The server runs under the system Python (it needs python3-gi and
gst-rtsp-server); without them the tests that use it skip, unless ``VIGIL_REQUIRE_SERVICES=1`` (CI),
which makes them fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import unavailable
from vigil.errors import SourceError
from vigil.evaluate.rtsp_server import RtspServer, check_gstreamer

MOUNT = "hamilton"


@pytest.fixture(scope="session")
def gstreamer_rtsp() -> None:
    """Checks once per session that the system Python can run GStreamer's RTSP server."""
    try:
        check_gstreamer()
    except SourceError as exc:
        unavailable(str(exc))


@pytest.fixture
def rtsp_server(gstreamer_rtsp: None, hamilton_clip: Path) -> Iterator[RtspServer]:
    """The Hamilton clip (H.264, 640×360, 29.97 fps, 9.2 s) looping at ``server.url("hamilton")``.

    One server per test, so a test may stop and restart it (same port); stopped afterwards.
    """
    with RtspServer({MOUNT: hamilton_clip}, loop=True) as server:
        yield server
