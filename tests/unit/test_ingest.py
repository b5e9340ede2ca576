"""Sources: real clips in several containers, image folders, streams over loopback, and every way to fail."""

from __future__ import annotations

import functools
import itertools
import logging
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np
import pytest

from vigil.config.schema import IngestConfig
from vigil.errors import SourceError
from vigil.ingest import ImageFolderSource, Source, open_source, redact_url
from vigil.types import Frame

CONFIG = IngestConfig(open_timeout_s=2.0, read_timeout_s=2.0)


def read_all(source: Source) -> list[Frame]:
    try:
        return list(source.frames())
    finally:
        source.close()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- video files -------------------------------------------------------------------------------------


def test_hamilton_clip_frames_and_timestamps(hamilton_clip: Path) -> None:
    """The clip's first pts is 10214 (time base 1/11988), so t_ms must be taken from the stream start."""
    source = open_source(hamilton_clip, CONFIG)
    assert isinstance(source, Source)
    assert source.source_id == "ageitgey_short_hamilton_clip"
    assert source.length == 275
    assert source.fps == pytest.approx(29.97)

    started = time.time()
    frames = read_all(source)

    assert len(frames) == 275
    assert [f.index for f in frames] == list(range(275))
    assert all(f.image.shape == (360, 640, 3) and f.image.dtype == np.uint8 for f in frames)
    assert all(f.source_id == "ageitgey_short_hamilton_clip" for f in frames)
    t_ms = np.array([f.t_ms for f in frames])
    assert t_ms[0] == 0
    steps = np.diff(t_ms)
    assert set(steps.tolist()) <= {33, 34}  # 400 / 11988 s = 33.37 ms, rounded to whole ms
    assert steps.mean() == pytest.approx(1000 / 29.97, abs=0.05)
    assert t_ms[-1] == pytest.approx(9142, abs=2)  # (119814 - 10214) / 11988 s
    captured = [f.captured_at for f in frames]
    assert started <= captured[0] and captured == sorted(captured) and captured[-1] <= time.time()


def test_frames_are_the_decoded_pixels(hamilton_clip: Path) -> None:
    frame = next(iter(open_source(hamilton_clip, CONFIG).frames()))
    with av.open(hamilton_clip) as container:
        expected = next(container.decode(video=0)).to_ndarray(format="bgr24")

    np.testing.assert_array_equal(frame.image, expected)


@pytest.mark.parametrize(
    ("relative", "count", "shape", "last_ms"),
    [
        ("video/intel/asl_gestures/again.mkv", 77, (480, 640, 3), 2534),
        ("video/intel/preview_gif/classroom.gif", 45, (270, 480, 3), 2930),
    ],
)
def test_other_containers(
    test_data: Path, relative: str, count: int, shape: tuple[int, int, int], last_ms: int
) -> None:
    frames = read_all(open_source(test_data / relative, CONFIG))

    assert len(frames) == count
    assert {f.image.shape for f in frames} == {shape}
    t_ms = [f.t_ms for f in frames]
    assert t_ms[0] == 0
    assert all(b > a for a, b in itertools.pairwise(t_ms))
    assert t_ms[-1] == pytest.approx(last_ms, abs=2)


def test_mkv_has_no_declared_length(test_data: Path) -> None:
    source = open_source(test_data / "video/intel/asl_gestures/again.mkv", CONFIG)
    source.close()
    assert source.length is None


def test_avi_made_from_real_frames(mjpeg_avi: Path, hamilton_clip: Path) -> None:
    frames = read_all(open_source(mjpeg_avi, CONFIG, source_id="door"))

    assert [f.t_ms for f in frames] == [i * 100 for i in range(10)]  # 10 fps
    assert {f.source_id for f in frames} == {"door"}
    with av.open(hamilton_clip) as container:
        originals = [f.to_ndarray(format="bgr24") for f in itertools.islice(container.decode(video=0), 10)]
    for frame, original in zip(frames, originals, strict=True):
        assert np.abs(frame.image.astype(int) - original).mean() < 6  # MJPEG is lossy, but close


def test_a_file_can_be_read_twice_and_closed(hamilton_clip: Path) -> None:
    source = open_source(hamilton_clip, CONFIG)
    first = [f.t_ms for f in itertools.islice(source.frames(), 5)]
    again = [f.t_ms for f in itertools.islice(source.frames(), 5)]
    source.close()

    assert first == again == [0, 33, 67, 100, 133]
    with pytest.raises(SourceError, match="closed"):
        next(iter(source.frames()))


# --- video files that fail ---------------------------------------------------------------------------


def _truncated_hamilton(path: Path, clip: Path) -> None:
    path.write_bytes(clip.read_bytes()[:20_000])


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.mp4", None, "file not found"),
        ("notes.mp4", b"this is not a video\n", "not a video (it looks like text)"),
        ("cut.mp4", "truncate", "cannot read the video: truncated or corrupt MP4/MOV file"),
        ("noise.mp4", "random", "not a video (format not recognised)"),
    ],
)
def test_unreadable_video_file(
    hamilton_clip: Path, tmp_path: Path, name: str, content: bytes | str | None, reason: str
) -> None:
    path = tmp_path / name
    if content == "truncate":
        _truncated_hamilton(path, hamilton_clip)
    elif content == "random":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 100_000, dtype=np.uint8).tobytes())
    elif isinstance(content, bytes):
        path.write_bytes(content)

    with pytest.raises(SourceError) as caught:
        open_source(path, CONFIG)

    assert caught.value.reason == reason
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)


def test_file_without_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    with av.open(path, "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        samples = (np.sin(np.arange(8000) / 5) * 10_000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)

    with pytest.raises(SourceError, match=r"tone\.wav: no video stream in it \(streams found: audio\)"):
        open_source(path, CONFIG)


def test_truncated_file_yields_its_good_frames_then_fails(faststart_clip: Path, tmp_path: Path) -> None:
    """With the index first, a cut-off file opens; decoding must stop with an error, not silently."""
    data = faststart_clip.read_bytes()
    path = tmp_path / "half.mp4"
    path.write_bytes(data[: len(data) // 2])
    source = open_source(path, CONFIG)
    assert source.length == 275  # what the index promises

    good: list[Frame] = []
    with pytest.raises(SourceError) as caught:
        good.extend(source.frames())

    assert 100 < len(good) < 275
    assert [f.index for f in good] == list(range(len(good)))
    assert caught.value.source == str(path)
    assert caught.value.reason.startswith(f"decoding failed after {len(good)} frames")
    assert "truncated or corrupt" in caught.value.reason


def test_corrupt_packet_mid_file(mjpeg_avi: Path, tmp_path: Path) -> None:
    with av.open(mjpeg_avi) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    position, size = packets[5]
    assert position is not None
    data = bytearray(mjpeg_avi.read_bytes())
    data[position : position + size] = (
        np.random.default_rng(3).integers(0, 256, size, dtype=np.uint8).tobytes()
    )
    path = tmp_path / "bad.avi"
    path.write_bytes(bytes(data))

    good: list[Frame] = []
    with pytest.raises(SourceError, match=r"bad\.avi: decoding failed after 5 frames"):
        good.extend(open_source(path, CONFIG).frames())
    assert len(good) == 5


# --- streams and webcams -----------------------------------------------------------------------------


def test_rtsp_on_a_closed_port_fails_fast_without_leaking_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    url = f"rtsp://admin:s3cret@127.0.0.1:{port}/stream1"
    caplog.set_level(logging.DEBUG)

    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        open_source(url, CONFIG)
    elapsed = time.monotonic() - started

    assert elapsed < CONFIG.open_timeout_s
    assert caught.value.source == f"rtsp://***:***@127.0.0.1:{port}/stream1"
    assert caught.value.reason.startswith("connection refused")
    chained = [caught.value.__cause__, caught.value.__context__]
    assert all(e is None or "s3cret" not in repr(e) for e in chained), chained  # error trackers walk these
    for text in (str(caught.value), repr(caught.value.args), caplog.text):
        assert "s3cret" not in text and "admin" not in text


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


@pytest.mark.network
def test_stream_that_never_answers_times_out(silent_server: int) -> None:
    config = IngestConfig(open_timeout_s=1.0, read_timeout_s=1.0)

    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        open_source(f"rtsp://user:pw@127.0.0.1:{silent_server}/live", config)
    elapsed = time.monotonic() - started

    assert 0.9 <= elapsed < 3.0
    assert "timed out" in caught.value.reason
    assert "pw@" not in str(caught.value)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # the base class's signature
        pass


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A loopback HTTP server over a temporary folder: (port, folder)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), tmp_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.network
def test_video_over_http(http_server: tuple[int, Path], faststart_clip: Path) -> None:
    port, folder = http_server
    shutil.copy(faststart_clip, folder / "clip.mp4")

    source = open_source(f"http://viewer:hunter2@127.0.0.1:{port}/clip.mp4", CONFIG)
    frames = read_all(source)

    assert source.source_id == f"http://***:***@127.0.0.1:{port}/clip.mp4"
    assert source.length is None  # a stream: no count promised
    assert len(frames) == 275
    assert frames[0].t_ms == 0 and frames[-1].t_ms == pytest.approx(9142, abs=2)


@pytest.mark.network
def test_hls_playlist_over_http(http_server: tuple[int, Path], hamilton_clip: Path) -> None:
    port, folder = http_server
    options = {"hls_time": "2", "hls_list_size": "0", "hls_playlist_type": "vod"}
    with (
        av.open(hamilton_clip) as src,
        av.open(folder / "index.m3u8", "w", format="hls", options=options) as dst,
    ):
        out_stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.dts is not None:
                packet.stream = out_stream
                dst.mux(packet)

    frames = read_all(open_source(f"http://127.0.0.1:{port}/index.m3u8", CONFIG, source_id="hls"))

    assert len(frames) == 275
    assert frames[0].t_ms == 0  # MPEG-TS starts at 1.4 s: t_ms is relative to the stream start
    assert frames[-1].t_ms == pytest.approx(9142, abs=2)


@pytest.mark.parametrize("spec", ["webcam:7", "/dev/video7"])
def test_missing_webcam(spec: str) -> None:
    if Path("/dev/video7").exists():
        pytest.skip("a /dev/video7 exists here")

    with pytest.raises(SourceError) as caught:
        open_source(spec, CONFIG)

    assert caught.value.source == "webcam:7 (/dev/video7)"
    assert caught.value.reason.startswith("device not found")


@pytest.mark.parametrize("spec", ["ftp://bob:pw@example.org/a.mp4", "file:///etc/passwd", "concat://a|b"])
def test_unsupported_url_scheme(spec: str) -> None:
    with pytest.raises(SourceError, match="unsupported URL scheme") as caught:
        open_source(spec, CONFIG)
    assert "pw@" not in str(caught.value)


# --- image folders and single images ---------------------------------------------------------------


@pytest.fixture
def photo_folder(tmp_path: Path, lfw_photos: list[Path], refs: Path) -> Path:
    """Four LFW photos, a larger PNG, a corrupt JPEG and a text file that is not an image."""
    folder = tmp_path / "entrance"
    folder.mkdir()
    for i, photo in enumerate(lfw_photos[:4]):
        shutil.copy(photo, folder / f"{i * 2:02d}_{photo.name}")  # 00_, 02_, 04_, 06_
    shutil.copy(refs / "ageitgey_lin-manuel-miranda.png", folder / "07_miranda.PNG")
    (folder / "03_broken.jpg").write_bytes(lfw_photos[4].read_bytes()[:3000])
    (folder / "notes.txt").write_text("not part of the sequence")
    return folder


def test_image_folder(photo_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    source = open_source(photo_folder, CONFIG, fps=2.0)
    assert isinstance(source, ImageFolderSource)
    assert source.length == 6  # the .txt is not an image
    assert source.fps == 2.0

    frames = read_all(source)

    names = [p.name for p in source.files]
    assert names == sorted(names)
    assert [f.index for f in frames] == [0, 1, 3, 4, 5]  # 03_broken.jpg (index 2) skipped
    assert [f.t_ms for f in frames] == [0, 500, 1500, 2000, 2500]  # index × 1000 / fps
    assert source.skipped == 1
    assert {f.source_id for f in frames} == {"entrance"}
    assert [f.image.shape for f in frames] == [(250, 250, 3)] * 4 + [(612, 704, 3)]
    assert "03_broken.jpg" in caplog.text and "truncated or corrupt JPEG" in caplog.text


def test_image_folder_default_fps_is_one(photo_folder: Path) -> None:
    frames = read_all(open_source(photo_folder, CONFIG))

    assert [f.t_ms for f in frames] == [0, 1000, 3000, 4000, 5000]


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing to see")

    with pytest.raises(
        SourceError, match=r"no images in this folder \(looked for bmp, jpeg, jpg, png, webp\)"
    ):
        open_source(tmp_path, CONFIG)


def test_single_image_is_a_one_frame_source(refs: Path) -> None:
    source = open_source(refs / "ageitgey_obama.jpg", CONFIG)
    frames = read_all(source)

    assert source.source_id == "ageitgey_obama"
    assert source.fps is None
    assert [(f.index, f.t_ms, f.image.shape) for f in frames] == [(0, 0, (1137, 910, 3))]


def test_single_bad_image_raises(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_text("hello")

    with pytest.raises(SourceError, match=r"fake\.png: not an image \(it looks like text\)"):
        read_all(open_source(path, CONFIG))


# --- redact_url --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "rtsp://admin:s3cret@10.0.0.5:554/Streaming/Channels/101",
            "rtsp://***:***@10.0.0.5:554/Streaming/Channels/101",
        ),
        ("rtsps://token@cam.example.org/live", "rtsps://***@cam.example.org/live"),
        ("http://cam/snapshot.cgi?user=admin&pwd=s3cret", "http://cam/snapshot.cgi?user=admin&pwd=***"),
        ("https://h/x.m3u8?token=abc&quality=hi", "https://h/x.m3u8?token=***&quality=hi"),
        ("rtsp://10.0.0.5/stream", "rtsp://10.0.0.5/stream"),
        ("rtsp://a:p@ss@host/s", "rtsp://***:***@host/s"),  # an unescaped @ in the password
        ("/videos/door.mp4", "/videos/door.mp4"),
        ("open failed: 'rtsp://u:pw@h/s' refused", "open failed: 'rtsp://***:***@h/s' refused"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
