"""LiveReader against a real RTSP server (GStreamer on loopback): real-time flow, server loss and return.

The server serves the Hamilton clip (H.264, 29.97 fps) in a loop, without re-encoding; each test has its
own server, which it may stop and start again on the same port.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from tests.live_kit import assert_increasing, drain, wait_for_status
from vigil.config.schema import IngestConfig, LiveConfig
from vigil.evaluate.rtsp_server import RtspServer
from vigil.ingest.live import LiveReader
from vigil.ingest.status import CameraState

pytestmark = pytest.mark.network

INGEST = IngestConfig(open_timeout_s=5.0, read_timeout_s=2.0)
LIVE = LiveConfig(
    queue_frames=100, max_fps=60.0, watchdog_s=5.0, reconnect_initial_s=0.1, reconnect_max_s=0.5
)
CLIP_FPS = 29.97
SECRET = "hunter2"


def with_credentials(url: str) -> str:
    return url.replace("rtsp://", f"rtsp://admin:{SECRET}@", 1)


@pytest.fixture
def readers() -> Iterator[list[LiveReader]]:
    made: list[LiveReader] = []
    yield made
    for reader in made:
        reader.stop(timeout=2.0)


def test_rtsp_frames_flow_at_real_time(rtsp_server: RtspServer, readers: list[LiveReader]) -> None:
    reader = LiveReader("stage", rtsp_server.url("hamilton"), INGEST, LIVE)
    readers.append(reader)
    reader.start()
    wait_for_status(reader, lambda s: s.state is CameraState.STREAMING, timeout=10.0)
    drain(reader, 1.5)  # FFmpeg hands over the ~1 s it buffered while probing the stream in one burst

    started = time.monotonic()
    frames = drain(reader, 3.0)
    elapsed = time.monotonic() - started

    assert len(frames) / elapsed == pytest.approx(CLIP_FPS, abs=3.0)
    assert_increasing(frames)
    assert (frames[-1].t_ms - frames[0].t_ms) / 1000 == pytest.approx(elapsed, abs=0.3)
    assert all(f.source_id == "stage" and f.size_wh == (640, 360) for f in frames)
    status = reader.status()
    assert status.state is CameraState.STREAMING
    assert CLIP_FPS - 3 <= status.fps_in <= CLIP_FPS + 10  # its 5 s window may still hold the burst
    assert status.frames_dropped == 0 and status.reconnects == 0 and status.last_error is None


def test_rtsp_server_loss_and_return(
    rtsp_server: RtspServer, readers: list[LiveReader], caplog: pytest.LogCaptureFixture
) -> None:
    """The server goes away mid-stream and comes back on the same port: the reader backs off, reconnects
    and continues the same timeline; the camera's credentials appear nowhere."""
    caplog.set_level(logging.DEBUG)
    reader = LiveReader("stage", with_credentials(rtsp_server.url("hamilton")), INGEST, LIVE)
    readers.append(reader)
    reader.start()
    wait_for_status(reader, lambda s: s.state is CameraState.STREAMING, timeout=10.0)
    before = drain(reader, 1.0)

    rtsp_server.stop()
    down = wait_for_status(reader, lambda s: s.last_error is not None, timeout=5.0)
    assert down.state in {CameraState.BACKOFF, CameraState.CONNECTING}
    time.sleep(0.5)  # a few refused reconnects
    gap = drain(reader, 0.1)
    rtsp_server.start()
    up = wait_for_status(reader, lambda s: s.frames_in > down.frames_in + 10, timeout=10.0)
    after = drain(reader, 1.0)

    assert before and after
    assert up.reconnects >= 1 and up.state is CameraState.STREAMING
    assert_increasing(before + gap + after)
    assert after[0].t_ms - before[-1].t_ms >= 500  # the outage shows as a gap in media time
    for text in (repr(down), repr(up), repr(reader.status()), caplog.text):
        assert SECRET not in text and "admin" not in text


def test_rtsp_unknown_mount(rtsp_server: RtspServer, readers: list[LiveReader]) -> None:
    url = with_credentials(rtsp_server.url("hamilton")).replace("/hamilton", "/nothing-here")
    reader = LiveReader("typo", url, INGEST, LIVE)
    readers.append(reader)
    reader.start()

    status = wait_for_status(reader, lambda s: s.last_error is not None, timeout=10.0)

    assert status.state in {CameraState.BACKOFF, CameraState.CONNECTING}
    assert "404" in (status.last_error or "")
    assert SECRET not in repr(status)
