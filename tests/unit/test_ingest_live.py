"""LiveReader on real media: a file paced as a camera, looping, rate limits, a slow consumer, failures.

The RTSP half (a real server stopped and restarted under the reader) is in
tests/integration/test_rtsp_reconnect.py.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import av
import pytest

from tests.live_kit import assert_increasing, drain, wait_for_status
from tests.services import free_port
from vigil.config.schema import IngestConfig, LiveConfig
from vigil.errors import SourceError
from vigil.ingest.live import LiveReader
from vigil.ingest.netpolicy import NetPolicy
from vigil.ingest.status import CameraState, CameraStatus
from vigil.types import Frame

INGEST = IngestConfig(open_timeout_s=2.0, read_timeout_s=2.0)
SHORT_FRAMES = 24  # the short clip: 24 frames at 29.97 fps = 0.8 s
FRAME_MS = 1000 / 29.97
SECRET = "hunter2"


def live_config(**changes: float) -> LiveConfig:
    base: dict[str, float] = {"queue_frames": 100, "max_fps": 60.0, "watchdog_s": 5.0}
    return LiveConfig.model_validate(base | changes)


def accounted(status: CameraStatus, delivered: int) -> bool:
    """Every decoded frame was delivered, skipped, dropped or is still queued."""
    return status.frames_in == delivered + status.frames_skipped + status.frames_dropped + status.queued


@pytest.fixture(scope="module")
def short_clip(hamilton_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 24 frames of the Hamilton clip, re-muxed (not re-encoded): a 0.8 s H.264 MP4."""
    path = tmp_path_factory.mktemp("live") / "hamilton24.mp4"
    with av.open(hamilton_clip) as src, av.open(path, "w") as dst:
        in_stream = src.streams.video[0]
        out_stream = dst.add_stream_from_template(in_stream)
        for n, packet in enumerate(src.demux(in_stream)):
            if n == SHORT_FRAMES or packet.dts is None:
                break
            packet.stream = out_stream
            dst.mux(packet)
    return path


@pytest.fixture
def readers() -> Iterator[list[LiveReader]]:
    """Readers made by a test; all stopped afterwards, whatever happened."""
    made: list[LiveReader] = []
    yield made
    for reader in made:
        reader.stop(timeout=2.0)


# --- files as cameras ----------------------------------------------------------------------------------


def test_file_is_paced_at_real_time(hamilton_clip: Path, readers: list[LiveReader]) -> None:
    reader = LiveReader("door", str(hamilton_clip), INGEST, live_config())
    readers.append(reader)
    reader.start()

    frames = drain(reader, 2.0)

    assert 2.0 * 29.97 - 8 <= len(frames) <= 2.0 * 29.97 + 3
    assert_increasing(frames)
    assert frames[0].t_ms == 0 and frames[0].index == 0
    assert all(f.source_id == "door" and f.image.shape == (360, 640, 3) for f in frames)
    media_s = (frames[-1].t_ms - frames[0].t_ms) / 1000
    wall_s = frames[-1].captured_at - frames[0].captured_at
    assert wall_s == pytest.approx(media_s, abs=0.1)  # released at the file's own pace
    status = reader.status()
    assert status.state is CameraState.STREAMING
    assert status.fps_in == pytest.approx(29.97, abs=4)
    assert (status.width, status.height) == (640, 360)
    assert status.last_error is None and status.reconnects == 0


def test_file_loop_reopens_with_continuous_timestamps(short_clip: Path, readers: list[LiveReader]) -> None:
    reader = LiveReader("loop", str(short_clip), INGEST, live_config(), loop=True)
    readers.append(reader)
    reader.start()
    states: set[CameraState] = set()

    frames: list[Frame] = []
    deadline = time.monotonic() + 2.6  # a bit over 3 passes of 0.8 s
    while time.monotonic() < deadline:
        frames += drain(reader, 0.1)
        states.add(reader.status().state)

    assert len(frames) >= 3 * SHORT_FRAMES
    assert_increasing(frames)
    steps = [b.t_ms - a.t_ms for a, b in pairwise(frames)]
    assert max(steps) <= FRAME_MS + 2  # no jump at the loop point: one frame interval
    assert CameraState.ENDED not in states
    status = reader.status()
    assert status.frames_in >= 3 * SHORT_FRAMES
    assert status.reconnects == 0  # looping is not a failure
    assert status.last_error is None


def test_file_without_loop_ends(short_clip: Path, readers: list[LiveReader]) -> None:
    wake = threading.Event()
    reader = LiveReader("once", str(short_clip), INGEST, live_config(), notify=wake)
    readers.append(reader)
    reader.start()

    status = wait_for_status(reader, lambda s: s.state is CameraState.ENDED, timeout=5.0)

    assert wake.is_set()
    frames = drain(reader, 0.1)
    assert len(frames) == SHORT_FRAMES
    assert [f.index for f in frames] == list(range(SHORT_FRAMES))
    assert status.frames_in == SHORT_FRAMES and status.last_error is None
    started = time.monotonic()
    assert reader.get(timeout=1.0) is None
    assert time.monotonic() - started < 0.5  # ended: get() does not wait out its time-out
    reader.stop()
    assert reader.status().state is CameraState.STOPPED


def test_max_fps_skips_frames_before_the_queue(short_clip: Path, readers: list[LiveReader]) -> None:
    reader = LiveReader("slow", str(short_clip), INGEST, live_config(max_fps=60.0), loop=True, max_fps=10.0)
    readers.append(reader)
    reader.start()

    frames = drain(reader, 2.0)

    status = reader.status()
    assert 2.0 * 10 - 3 <= len(frames) <= 2.0 * 10 + 2
    assert_increasing(frames)
    assert all(b.t_ms - a.t_ms >= 100 - 1 for a, b in pairwise(frames))
    assert status.frames_skipped >= 1.5 * len(frames)  # ~2 of every 3 frames at 29.97 fps
    assert status.frames_dropped == 0
    assert accounted(status, len(frames))


def test_slow_consumer_drops_the_oldest(short_clip: Path, readers: list[LiveReader]) -> None:
    reader = LiveReader("busy", str(short_clip), INGEST, live_config(queue_frames=3), loop=True)
    readers.append(reader)
    reader.start()
    delivered: list[Frame] = []

    for _ in range(5):
        time.sleep(0.4)  # a consumer far slower than 30 fps
        status = reader.status()
        assert status.queued <= 3
        frame = reader.get(timeout=1.0)
        assert frame is not None
        assert frame.index >= status.frames_in - 3 - 2  # one of the newest, not a stale one
        delivered.append(frame)

    status = reader.status()
    assert status.frames_dropped >= 5 * 8
    assert status.frames_skipped == 0
    assert status.queued <= 3
    assert_increasing(delivered)
    assert accounted(status, len(delivered))


def test_pause_closes_and_resume_continues_the_timeline(short_clip: Path, readers: list[LiveReader]) -> None:
    reader = LiveReader("pp", str(short_clip), INGEST, live_config(), loop=True)
    readers.append(reader)
    reader.start()
    before = drain(reader, 0.5)

    reader.pause()
    wait_for_status(reader, lambda s: s.state is CameraState.PAUSED, timeout=2.0)
    drain(reader, 0.05)
    frames_in = reader.status().frames_in
    time.sleep(0.5)
    assert reader.status().frames_in == frames_in  # nothing is read while paused
    reader.resume()
    after = drain(reader, 0.5)

    assert before and after
    assert after[0].t_ms - before[-1].t_ms >= 500  # the pause shows as a gap
    assert_increasing(before + after)
    assert reader.status().state is CameraState.STREAMING


# --- failures ------------------------------------------------------------------------------------------


def test_closed_port_backs_off_with_growing_waits(readers: list[LiveReader]) -> None:
    live = live_config(reconnect_initial_s=0.05, reconnect_max_s=0.4)
    url = f"rtsp://127.0.0.1:{free_port()}/cam"
    reader = LiveReader("gone", url, INGEST, live, rng=random.Random(7))
    readers.append(reader)
    reader.start()

    status = wait_for_status(reader, lambda s: s.reconnects >= 6, timeout=10.0)

    waits = reader.waits
    nominal = [min(0.05 * 2**i, 0.4) for i in range(len(waits))]
    assert all(0.5 * b <= w <= b for w, b in zip(waits, nominal, strict=True)), waits
    assert nominal[:4] == [0.05, 0.1, 0.2, 0.4]  # doubling, then held at the cap
    assert status.state in {CameraState.BACKOFF, CameraState.CONNECTING}
    assert status.last_error is not None and "connection refused" in status.last_error
    assert status.frames_in == 0 and status.last_frame_at is None


def test_stop_returns_promptly_while_backing_off(readers: list[LiveReader]) -> None:
    live = live_config(reconnect_initial_s=30.0, reconnect_max_s=60.0)
    reader = LiveReader("gone", f"rtsp://127.0.0.1:{free_port()}/cam", INGEST, live)
    readers.append(reader)
    reader.start()
    status = wait_for_status(reader, lambda s: s.state is CameraState.BACKOFF, timeout=5.0)
    assert status.retry_in_s is not None and 15.0 <= status.retry_in_s <= 30.0

    started = time.monotonic()
    reader.stop(timeout=2.0)

    assert time.monotonic() - started < 1.0
    assert reader.status().state is CameraState.STOPPED


@pytest.mark.network
def test_watchdog_abandons_a_silent_source(readers: list[LiveReader]) -> None:
    """A server that accepts the connection and never answers: FFmpeg's open would block until its time-out;
    the watchdog gives up on it sooner and opens again; stop() does not wait for the blocked thread."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        live = live_config(watchdog_s=0.4, reconnect_initial_s=0.05, reconnect_max_s=0.1)
        ingest = IngestConfig(open_timeout_s=1.5, read_timeout_s=1.5)
        reader = LiveReader("mute", f"rtsp://127.0.0.1:{port}/cam", ingest, live)
        readers.append(reader)
        reader.start()

        status = wait_for_status(reader, lambda s: s.reconnects >= 1, timeout=5.0)
        assert status.last_error == "no frame for 0.4 s (watchdog)"

        started = time.monotonic()
        reader.stop(timeout=2.0)
        assert time.monotonic() - started < 1.0
        deadline = time.monotonic() + 1.5 + 1.0  # abandoned reads end at FFmpeg's open time-out
        while any(t.name.startswith("vigil-read-mute") for t in threading.enumerate()):
            assert time.monotonic() < deadline, "an abandoned reading thread outlived FFmpeg's time-out"
            time.sleep(0.05)


def test_credentials_never_appear(readers: list[LiveReader], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    live = live_config(reconnect_initial_s=0.05, reconnect_max_s=0.1)
    url = f"rtsp://admin:{SECRET}@127.0.0.1:{free_port()}/cam?token={SECRET}"
    reader = LiveReader("private", url, INGEST, live)
    readers.append(reader)
    reader.start()

    status = wait_for_status(reader, lambda s: s.reconnects >= 2, timeout=5.0)
    reader.stop()

    assert status.last_error
    for text in (repr(status), repr(reader.status()), caplog.text):
        assert SECRET not in text and "admin" not in text
    assert "rtsp://***:***@127.0.0.1" in caplog.text  # the redacted URL is what is logged


@pytest.mark.network
def test_a_stream_whose_address_the_policy_refuses_is_never_connected_to(readers: list[LiveReader]) -> None:
    """The network policy is checked at each opening, not only when the camera was added: a listening
    loopback server, refused by the policy, sees no connection, and the status says why."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.0)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/stream.mjpg"
        live = live_config(reconnect_initial_s=0.05, reconnect_max_s=0.1)
        reader = LiveReader("lab", url, INGEST, live, network=NetPolicy(deny=["127.0.0.0/8"]))
        readers.append(reader)
        reader.start()
        status = wait_for_status(reader, lambda s: s.reconnects >= 2, timeout=5.0)
        reader.stop()
        with pytest.raises(BlockingIOError):
            server.accept()
    assert status.last_error is not None and "in 127.0.0.0/8" in status.last_error
    assert "network.allow" in status.last_error and status.frames_in == 0


def test_unsupported_scheme_fails_at_once() -> None:
    with pytest.raises(SourceError) as info:
        LiveReader("ftp", f"ftp://admin:{SECRET}@cam.local/stream", INGEST, live_config())
    assert "unsupported URL scheme" in str(info.value)
    assert SECRET not in str(info.value)


def test_start_twice_is_an_error(short_clip: Path, readers: list[LiveReader]) -> None:
    reader = LiveReader("twice", str(short_clip), INGEST, live_config())
    readers.append(reader)
    reader.start()
    with pytest.raises(RuntimeError, match="already started"):
        reader.start()
