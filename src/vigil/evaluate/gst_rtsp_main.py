"""A loopback RTSP server for tests and benchmarks: H.264 MP4 files served at real-time rate, no re-encoding.

Standalone on purpose: it runs under the system Python (``/usr/bin/python3``), which has GStreamer's
Python bindings (python3-gi), not Vigil's virtual environment, so it imports nothing from Vigil.
:class:`vigil.evaluate.rtsp_server.RtspServer` starts it as a subprocess::

    /usr/bin/python3 gst_rtsp_main.py --port 8554 --mount door=/clips/door.mp4 [--mount ...] [--loop]

It prints ``READY <port>`` on stdout once it listens on 127.0.0.1, and exits cleanly on SIGTERM or
SIGINT, or when its stdin is a pipe and the other end closes (the parent died).

How a file is served. At start-up each file is demuxed once into memory
(``filesrc ! qtdemux ! h264parse ! appsink``): its H.264 access units, untouched. Every client gets its
own media pipeline (``appsrc ! h264parse ! rtph264pay config-interval=1``) fed from that list from the
first frame, so:

* a client always starts on the file's first keyframe (a shared pipeline would make a client that joins
  late wait for the next keyframe, 2 s into the Hamilton clip, and decode garbage until then);
* N cameras reading one mount are N independent streams, staggered like real cameras rather than N
  copies of one packet arriving at the same instant, and a client that reconnects starts over without
  disturbing the others. Without re-encoding a pipeline costs little (no decode, no encode).

Looping (``--loop``) re-feeds the same access units with their timestamps shifted by one file duration
per pass: RTP timestamps stay continuous, there is no seek and no flush, and the media never sees an
end of stream. The sinks of the RTSP server are synchronised to the clock, which paces the stream at
real time. Without ``--loop`` the client gets an end of stream (RTCP BYE) after the last frame.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("gst_rtsp_main")

MISSING_EXIT = 3
"""Exit status when GStreamer, its RTSP server or a needed plug-in is not installed."""

DEBIAN_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-bad gstreamer1.0-libav"
)
NEEDED_ELEMENTS = ("filesrc", "qtdemux", "h264parse", "appsink", "appsrc", "rtph264pay")
_EXTRACT_TIMEOUT_NS = 10 * 1_000_000_000
_POLL_NS = 100_000_000
_LAUNCH = (
    "( appsrc name=src format=time is-live=false ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)

try:  # the system Python's bindings; absent under Vigil's virtual environment (mypy, --check reports it)
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer
except (ImportError, ValueError) as _exc:
    _IMPORT_ERROR: str | None = f"GStreamer's RTSP server cannot be imported ({_exc})"
else:
    _IMPORT_ERROR = None


def _gst_problem() -> str | None:
    """Initialise GStreamer; why it cannot be used, or None when it can."""
    if _IMPORT_ERROR is not None:
        return _IMPORT_ERROR
    Gst.init(None)
    missing = [name for name in NEEDED_ELEMENTS if Gst.ElementFactory.find(name) is None]
    if missing:
        return f"GStreamer elements missing: {', '.join(missing)}"
    return None


@dataclass
class Clip:
    """One file's H.264 access units in memory, on a timeline starting at 0."""

    path: Path
    caps: Any
    buffers: list[Any]
    origin_ns: int
    period_ns: int


@dataclass
class Feed:
    """Where one client's pipeline is in its clip."""

    clip: Clip
    loop: bool
    index: int = 0
    passes: int = 0
    ended: bool = False


def _valid(t: int) -> bool:
    return bool(t != Gst.CLOCK_TIME_NONE)


def load_clip(path: Path) -> Clip:
    """Demux ``path`` once: its H.264 access units and caps, as they are in the file.

    Raises:
        RuntimeError: when the file cannot be read or holds no H.264 video.
    """
    pipeline = Gst.Pipeline.new("extract")
    src = Gst.ElementFactory.make("filesrc")
    demux = Gst.ElementFactory.make("qtdemux")
    parse = Gst.ElementFactory.make("h264parse")
    sink = Gst.ElementFactory.make("appsink")
    src.set_property("location", str(path))
    sink.set_property("sync", False)
    for element in (src, demux, parse, sink):
        pipeline.add(element)
    src.link(demux)
    parse.link(sink)

    found: list[str] = []

    def on_pad(_demux: Any, pad: Any) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        found.append(caps.get_structure(0).get_name())
        if found[-1] == "video/x-h264" and not parse.get_static_pad("sink").is_linked():
            pad.link(parse.get_static_pad("sink"))

    demux.connect("pad-added", on_pad)
    pipeline.set_state(Gst.State.PLAYING)
    buffers: list[Any] = []
    caps: Any = None
    bus = pipeline.get_bus()
    waited_ns = 0
    try:
        while not sink.get_property("eos"):
            error = bus.pop_filtered(Gst.MessageType.ERROR)
            if error is not None:
                if found and "video/x-h264" not in found:
                    raise RuntimeError(f"{path}: no H.264 video in it (streams: {', '.join(found)})")
                err, _debug = error.parse_error()
                raise RuntimeError(f"{path}: {err.message}")
            sample = sink.emit("try-pull-sample", _POLL_NS)
            if sample is None:
                waited_ns += _POLL_NS
                if waited_ns > _EXTRACT_TIMEOUT_NS:
                    raise RuntimeError(f"{path}: demuxing stalled (not an MP4 with H.264 video?)")
                continue
            waited_ns = 0
            caps = caps or sample.get_caps()
            buffers.append(sample.get_buffer())
    finally:
        pipeline.set_state(Gst.State.NULL)
    if not buffers or caps is None:
        raise RuntimeError(f"{path}: no H.264 video stream in it")
    return _timeline(path, caps, buffers)


def _timeline(path: Path, caps: Any, buffers: list[Any]) -> Clip:
    times = [t for b in buffers for t in (b.pts, b.dts) if _valid(t)]
    if not times:
        raise RuntimeError(f"{path}: its frames carry no timestamps")
    origin = min(times)
    ends = [b.pts + b.duration for b in buffers if _valid(b.pts) and _valid(b.duration)]
    last = max(b.pts for b in buffers if _valid(b.pts))
    frame_ns = (last - origin) // max(1, len(buffers) - 1)
    end = max([*ends, last + frame_ns])
    return Clip(path, caps, buffers, origin, max(1, end - origin))


def _need_data(appsrc: Any, _length: int, feed: Feed) -> None:
    """Push the next access unit; at the end of the file, loop (shifted timestamps) or end the stream."""
    clip = feed.clip
    if feed.index == len(clip.buffers):
        if not feed.loop:
            if not feed.ended:
                feed.ended = True
                appsrc.emit("end-of-stream")
            return
        feed.index = 0
        feed.passes += 1
    original = clip.buffers[feed.index]
    feed.index += 1
    flags = Gst.BufferCopyFlags
    copy = flags.FLAGS | flags.TIMESTAMPS | flags.META | flags.MEMORY
    buffer = original.copy_region(copy, 0, original.get_size())  # a new header over the same memory
    shift = feed.passes * clip.period_ns - clip.origin_ns
    if _valid(original.pts):
        buffer.pts = original.pts + shift
    if _valid(original.dts):
        buffer.dts = original.dts + shift
    appsrc.emit("push-buffer", buffer)


def _media_configure(_factory: Any, media: Any, clip: Clip, loop: bool) -> None:
    appsrc = media.get_element().get_by_name("src")
    appsrc.set_property("caps", clip.caps)
    appsrc.connect("need-data", _need_data, Feed(clip, loop))


def build_server(port: int, clips: dict[str, Clip], loop: bool) -> Any:
    """An RTSP server on 127.0.0.1:``port`` with one mount per clip (one pipeline per client)."""
    server = GstRtspServer.RTSPServer.new()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    mounts = server.get_mount_points()
    for name, clip in clips.items():
        factory = GstRtspServer.RTSPMediaFactory.new()
        factory.set_launch(_LAUNCH)
        factory.set_shared(False)
        factory.connect("media-configure", _media_configure, clip, loop)
        mounts.add_factory(f"/{name}", factory)
    return server


def _parse_mount(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path or "/" in name:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (NAME without '/'), got {text!r}")
    return name, Path(path)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8554, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--mount", type=_parse_mount, action="append", default=[], help="NAME=PATH: serve PATH at /NAME"
    )
    parser.add_argument("--loop", action="store_true", help="start a file again at its end")
    parser.add_argument("--check", action="store_true", help="only check that GStreamer is usable")
    args = parser.parse_args(argv)
    if not args.check and not args.mount:
        parser.error("at least one --mount NAME=PATH is needed")
    return args


def _quit_on_stdin_eof(main_loop: Any) -> None:
    """When stdin is a pipe, its end (the parent died or closed it) stops the server."""
    if not stat.S_ISFIFO(os.fstat(0).st_mode):
        return

    def on_stdin(fd: int, _condition: Any) -> bool:
        if os.read(fd, 4096):
            return True
        log.info("stdin closed: stopping")
        main_loop.quit()
        return False

    GLib.io_add_watch(0, GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="gst_rtsp_main %(levelname)s: %(message)s")
    args = _parse_args(argv)
    missing = _gst_problem()
    if missing is not None:
        sys.stderr.write(f"MISSING: {missing}\non Debian: apt-get install {DEBIAN_PACKAGES}\n")
        return MISSING_EXIT
    if args.check:
        sys.stdout.write("OK\n")
        return 0
    try:
        clips = {name: load_clip(path) for name, path in args.mount}
    except RuntimeError as exc:
        log.error("%s", exc)
        return 1
    server = build_server(args.port, clips, args.loop)
    try:
        source = server.create_source(None)
    except GLib.Error as exc:
        log.error("cannot listen on 127.0.0.1:%d: %s", args.port, exc.message)
        return 1
    source.attach(None)
    main_loop = GLib.MainLoop()

    def on_signal() -> bool:
        main_loop.quit()
        return False

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, on_signal)
    _quit_on_stdin_eof(main_loop)
    for name, clip in clips.items():
        log.info("/%s: %s, %d frames, %.2f s", name, clip.path, len(clip.buffers), clip.period_ns / 1e9)
    sys.stdout.write(f"READY {server.get_bound_port()}\n")
    sys.stdout.flush()
    main_loop.run()
    server.client_filter(lambda _server, _client: GstRtspServer.RTSPFilterResult.REMOVE)
    source.destroy()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
