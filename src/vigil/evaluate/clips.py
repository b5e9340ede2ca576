"""Benchmark clips: a source video re-encoded as an RTSP camera would send it, cached across runs.

``vigil bench live`` streams N cameras at 640×360 and 1280×720 from one short clip. :func:`prepare_clip`
makes that clip: resized, optionally re-timed, repeated with continuous timestamps, and encoded in
H.264 (yuv420p, one keyframe per second, no B-frames, so a client can start within a second and the
decoder holds no frame back) in an MP4 that :class:`~vigil.evaluate.rtsp_server.RtspServer` serves as
it is.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.container import OutputContainer
from av.video.stream import VideoStream

from vigil.errors import BadInput

log = logging.getLogger(__name__)

_RECIPE = "libx264 veryfast yuv420p gop=1s bframes=0 v1"
"""Part of the cache key: change it when the encoding settings change, so old files are redone."""
_KEY_TAG = "comment"
_KEY_PREFIX = "vigil-clip "
_CHUNK = 1 << 20


def prepare_clip(
    src: Path, dst: Path, width: int, height: int, *, repeat: int = 1, fps: float | None = None
) -> Path:
    """Transcode ``src`` into an H.264 MP4 at ``dst`` (done once: a rerun with the same inputs is instant).

    The frames are resized to exactly ``width`` × ``height`` (no letterbox; keep the aspect ratio in the
    numbers you pass) and the clip is played ``repeat`` times in a row with continuous timestamps. With
    ``fps`` the frames are re-timed by repeating or dropping frames (the source is taken as constant
    rate). A hash of the inputs (the source's bytes, the arguments, the encoding recipe) is written in
    the file's metadata; when ``dst`` already holds that hash it is returned untouched. The file is
    written next to ``dst`` and renamed into place, so a run that is interrupted leaves no half file.

    Args:
        src: the source video (any format FFmpeg reads).
        dst: the MP4 to write (its folder is created).
        width: output width in pixels (even).
        height: output height in pixels (even).
        repeat: how many times the clip is played.
        fps: the output frame rate; None keeps the source's.

    Returns:
        ``dst``.

    Raises:
        BadInput: when an argument is out of range or ``src`` cannot be read as a video.

    Example:
        >>> clip = prepare_clip(Path("hamilton.mp4"), cache / "hamilton_720p.mp4", 1280, 720, repeat=3)
    """
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise BadInput(f"{width}x{height}", "width and height must be even and at least 16")
    if repeat < 1:
        raise BadInput(str(repeat), "repeat must be at least 1")
    if fps is not None and not 0 < fps <= 240:
        raise BadInput(str(fps), "fps must be in (0, 240]")
    key = _cache_key(src, width, height, repeat, fps)
    if _stored_key(dst) == key:
        log.debug("%s is up to date", dst)
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        frames = _transcode(src, tmp, key, (width, height), repeat=repeat, fps=fps)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %s: %d frames, %dx%d, %d× %s", dst, frames, width, height, repeat, src.name)
    return dst


def _cache_key(src: Path, width: int, height: int, repeat: int, fps: float | None) -> str:
    digest = hashlib.sha256()
    try:
        with src.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise BadInput(src, f"cannot read the file ({exc.strerror or exc})") from None
    digest.update(f"|{width}x{height}|{repeat}|{fps!r}|{_RECIPE}".encode())
    return _KEY_PREFIX + digest.hexdigest()


def _stored_key(dst: Path) -> str | None:
    if not dst.is_file():
        return None
    try:
        with av.open(str(dst)) as container:
            return container.metadata.get(_KEY_TAG)
    except (av.error.FFmpegError, OSError):
        return None


def _source_rate(src: Path) -> Fraction:
    try:
        with av.open(str(src)) as container:
            if not container.streams.video:
                raise BadInput(src, "no video stream in it")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    except (av.error.FFmpegError, OSError) as exc:
        raise BadInput(src, f"cannot read the video ({exc})") from None
    if not rate:
        raise BadInput(src, "the frame rate is unknown: pass fps")
    return Fraction(rate)


def _transcode(
    src: Path, tmp: Path, key: str, size_wh: tuple[int, int], *, repeat: int, fps: float | None
) -> int:
    """Encode ``repeat`` passes of ``src`` into ``tmp``; the number of frames written."""
    width, height = size_wh
    in_rate = _source_rate(src)
    out_rate = Fraction(fps).limit_denominator(1001) if fps is not None else in_rate
    step = out_rate / in_rate  # output frames per source frame
    written = 0
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "faststart"}) as out:
        out.metadata[_KEY_TAG] = key
        stream = _h264_stream(out, width, height, out_rate)
        time_base = 1 / out_rate
        for _ in range(repeat):
            with av.open(str(src)) as inp:
                for i, frame in enumerate(inp.decode(video=0)):
                    copies = math.floor((i + 1) * step) - math.floor(i * step)
                    for _copy in range(copies):
                        picture = frame.reformat(width=width, height=height, format="yuv420p")
                        picture.pts = written
                        picture.time_base = time_base
                        out.mux(stream.encode(picture))
                        written += 1
        out.mux(stream.encode(None))
    if written == 0:
        raise BadInput(src, "no frame could be decoded")
    return written


def _h264_stream(out: OutputContainer, width: int, height: int, rate: Fraction) -> VideoStream:
    gop = max(1, round(rate))
    stream = out.add_stream("libx264", rate=rate)
    stream.width = width
    stream.height = height
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = 1 / rate
    stream.codec_context.gop_size = gop
    stream.codec_context.max_b_frames = 0
    stream.options = {
        "preset": "veryfast",
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0",
    }
    return stream
