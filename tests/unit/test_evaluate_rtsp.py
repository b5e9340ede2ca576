"""The benchmark's RTSP server wrapper and clip preparation: real GStreamer, real encodes, no mocks."""

from __future__ import annotations

import sys
import time
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import pytest

from vigil.errors import BadInput, SourceError
from vigil.evaluate.clips import prepare_clip
from vigil.evaluate.rtsp_server import RtspServer


def test_prepare_clip_encodes_once(hamilton_clip: Path, tmp_path: Path) -> None:
    dst = tmp_path / "cache" / "hamilton_320.mp4"

    started = time.monotonic()
    assert prepare_clip(hamilton_clip, dst, 320, 180, repeat=2, fps=10.0) == dst
    first_s = time.monotonic() - started
    written = dst.stat().st_mtime_ns
    started = time.monotonic()
    prepare_clip(hamilton_clip, dst, 320, 180, repeat=2, fps=10.0)

    assert time.monotonic() - started < min(0.5, first_s)  # cached: not encoded again
    assert dst.stat().st_mtime_ns == written
    assert [p.name for p in dst.parent.iterdir()] == [dst.name]  # no temporary file left behind
    with av.open(dst) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (320, 180)
        assert stream.average_rate == Fraction(10)
        keyframes = [
            float((p.pts or 0) * (p.time_base or 0)) for p in container.demux(stream) if p.is_keyframe
        ]
    with av.open(dst) as container:
        pts = [f.pts or 0 for f in container.decode(video=0)]
    assert len(pts) == pytest.approx(2 * 9.17 * 10, abs=2)  # two passes of 9.17 s at 10 fps
    assert all(b > a for a, b in pairwise(pts))  # continuous across the repeat, no B-frame reordering
    assert keyframes[:3] == pytest.approx([0.0, 1.0, 2.0])  # a keyframe every second


def test_prepare_clip_redoes_when_inputs_change(hamilton_clip: Path, tmp_path: Path) -> None:
    dst = tmp_path / "clip.mp4"
    prepare_clip(hamilton_clip, dst, 160, 90, fps=5.0)
    prepare_clip(hamilton_clip, dst, 160, 90, fps=4.0)
    with av.open(dst) as container:
        assert container.streams.video[0].average_rate == Fraction(4)


def test_prepare_clip_rejects_odd_sizes(hamilton_clip: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="even"):
        prepare_clip(hamilton_clip, tmp_path / "x.mp4", 641, 360)


def test_server_without_gstreamer_names_the_packages(hamilton_clip: Path) -> None:
    """The virtual environment's Python has no gi: the error must say what to install."""
    server = RtspServer({"h": hamilton_clip}, python=Path(sys.executable))
    with pytest.raises(SourceError) as info:
        server.start()
    message = str(info.value)
    assert "python3-gi" in message and "gir1.2-gst-rtsp-server-1.0" in message
    assert not server.running


@pytest.mark.network
def test_server_rejects_a_file_it_cannot_serve(gstreamer_rtsp: None, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    with pytest.raises(SourceError, match="exited with status 1"):
        RtspServer({"notes": bogus}).start()


@pytest.mark.network
def test_server_restarts_on_the_same_port(rtsp_server: RtspServer) -> None:
    url = rtsp_server.url("hamilton")
    rtsp_server.restart()
    assert rtsp_server.url("hamilton") == url
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=5.0) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (640, 360)
