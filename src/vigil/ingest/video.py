"""Video through PyAV (FFmpeg): files, network streams and capture devices share one decoder loop.

FFmpeg is only ever handed an absolute path, a URL or a device path plus an options dict: nothing here
builds a command line, so a camera URL cannot reach a shell. Credentials in URLs never leave this
module unmasked: ids, errors and logs use :func:`~vigil.ingest.urls.redact_url`.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.error
import numpy as np
from av.container import InputContainer
from av.video.stream import VideoStream

from vigil.config.schema import IngestConfig
from vigil.errors import SourceError
from vigil.ingest.sniff import sniff_file
from vigil.ingest.urls import redact_url, url_scheme
from vigil.types import Frame

logger = logging.getLogger(__name__)

_US_PER_S = 1_000_000
# FFmpeg may only read local files for a file source (no playlist or concat indirection to the network),
# and only HTTP(S) and what it rides on for an HTTP source (an HLS playlist cannot pull in local files;
# FFmpeg's HLS demuxer refuses that too, this is the second lock).
_FILE_PROTOCOLS = "file"
_HTTP_PROTOCOLS = "http,https,tcp,tls,crypto,httpproxy"


@dataclass(frozen=True, slots=True)
class AvInput:
    """Everything handed to ``av.open`` for one source.

    Attributes:
        target: an absolute file path, a URL or a device path, passed to FFmpeg as one argument.
        label: how the source is named in errors and logs (credentials masked).
        default_id: the source id used when the caller gives none (file stem, redacted URL, webcam:N).
        kind: "file", "stream" or "device"; decides the wording of errors.
        format: FFmpeg demuxer to force ("v4l2" for webcams), None to probe the content.
        options: FFmpeg options (transport, socket time-outs in µs, protocol whitelist).
        timeout_s: PyAV's (open, read) time-outs in seconds, None for no time-out.
    """

    target: str
    label: str
    default_id: str
    kind: Literal["file", "stream", "device"]
    format: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    timeout_s: tuple[float, float] | None = None

    @property
    def live(self) -> bool:
        return self.kind != "file"


def file_input(path: Path) -> AvInput:
    """The :class:`AvInput` for a local video file (any container FFmpeg knows: mp4, mkv, avi, gif...)."""
    absolute = path.expanduser().absolute()  # never "proto:..." relative names that FFmpeg would parse
    return AvInput(
        target=str(absolute),
        label=str(path),
        default_id=path.stem,
        kind="file",
        options={"protocol_whitelist": _FILE_PROTOCOLS},
    )


def stream_input(url: str, config: IngestConfig) -> AvInput:
    """The :class:`AvInput` for an RTSP(S) or HTTP(S) stream (MJPEG, HLS, progressive video).

    RTSP goes over TCP (works through NAT and firewalls, no packet loss smearing frames); socket reads
    time out after ``config.read_timeout_s``, and PyAV aborts an open that takes ``open_timeout_s``.
    """
    read_us = str(round(config.read_timeout_s * _US_PER_S))
    scheme = url_scheme(url) or ""
    options: dict[str, str]
    if scheme.startswith("rtsp"):
        options = {"rtsp_transport": "tcp", "timeout": read_us}
    else:
        options = {"rw_timeout": read_us, "protocol_whitelist": _HTTP_PROTOCOLS}
    return AvInput(
        target=url,
        label=redact_url(url),
        default_id=redact_url(url),
        kind="stream",
        options=options,
        timeout_s=(config.open_timeout_s, config.read_timeout_s),
    )


class VideoSource:
    """Frames of one PyAV input. The input is opened on creation, so a bad source fails at once.

    Attributes:
        source_id: the id stamped on every frame.
        length: the frame count the container declares (files only), else None.
        fps: the stream's average (or guessed) frame rate, None if FFmpeg does not know it.
    """

    def __init__(self, av_input: AvInput, source_id: str | None = None) -> None:
        self.source_id = source_id or av_input.default_id
        self.length: int | None = None
        self._input = av_input
        self._label = (
            av_input.label
            if self.source_id == av_input.default_id
            else f"{self.source_id} ({av_input.label})"
        )
        self._closed = False
        self._container: InputContainer | None = self._open()
        stream = self._container.streams.video[0]
        codec: object | None = (
            stream.codec_context
        )  # None (despite the stubs) for a codec FFmpeg does not know
        if codec is None:
            self.close()
            raise SourceError(
                self._label, "the video stream's codec is unknown (corrupt or unsupported file)"
            )
        self.fps = _fps(stream)
        if not av_input.live and stream.frames > 0:
            self.length = stream.frames
        logger.info(
            "opened %s: %s %dx%d at %s fps, %s frames",
            self._label,
            stream.codec_context.name,
            stream.codec_context.width,
            stream.codec_context.height,
            f"{self.fps:.2f}" if self.fps else "unknown",
            self.length if self.length is not None else "unknown",
        )

    def frames(self) -> Iterator[Frame]:
        """Decode the frames in order. A file can be read again by calling this again.

        Yields:
            One :class:`Frame` per decoded picture, ``t_ms`` from the stream's timestamps.

        Raises:
            SourceError: when the input cannot be (re)opened, or decoding fails part-way (after the good
                frames have been yielded).
        """
        if self._closed:
            raise SourceError(self._label, "the source was closed")
        container = self._container if self._container is not None else self._open()
        self._container = None
        try:
            yield from self._decode(container)
        finally:
            container.close()

    def close(self) -> None:
        """Release the input. A :meth:`frames` loop running meanwhile stops after its current frame."""
        self._closed = True
        if self._container is not None:
            self._container.close()
            self._container = None

    def _open(self) -> InputContainer:
        started = time.monotonic()
        failure: Exception | None = None
        try:
            container = av.open(
                self._input.target,
                mode="r",
                format=self._input.format,
                options=dict(self._input.options),
                timeout=self._input.timeout_s,
            )
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            failure = exc
        if failure is not None:  # raised outside the handler: PyAV's error (URL and all) is not chained
            reason = _open_failure(failure, self._input, time.monotonic() - started)
            logger.warning("cannot open %s: %s", self._label, reason)
            raise SourceError(self._label, reason)
        if not container.streams.video:
            found = ", ".join(sorted({s.type for s in container.streams})) or "none"
            container.close()
            raise SourceError(self._label, f"no video stream in it (streams found: {found})")
        return container

    def _decode(self, container: InputContainer) -> Iterator[Frame]:
        stream = container.streams.video[0]
        clock = _MediaClock(stream)
        index = 0
        failure: Exception | None = None
        try:
            for av_frame in container.decode(stream):
                captured_at = time.time()
                image = np.ascontiguousarray(av_frame.to_ndarray(format="bgr24"), dtype=np.uint8)
                t_ms = clock.t_ms(av_frame.pts, av_frame.time_base, index, captured_at)
                yield Frame(self.source_id, index, t_ms, image, captured_at)
                index += 1
                if self._closed:
                    return
        except (av.error.FFmpegError, OSError) as exc:
            failure = exc
        if failure is not None:  # raised outside the handler, as in _open
            reason = f"decoding failed after {index} frames ({_ffmpeg_message(failure)})"
            if not self._input.live:
                reason += "; the file may be truncated or corrupt"
            logger.warning("%s: %s", self._label, reason)
            raise SourceError(self._label, reason)
        if index == 0 and not self._input.live:
            raise SourceError(self._label, "no frame could be decoded (corrupt video data?)")
        if self.length is not None and index < self.length:
            logger.warning("%s: ended after %d of the %d frames it declares", self._label, index, self.length)
        logger.info("%s: end of input after %d frames", self._label, index)


class _MediaClock:
    """``t_ms`` of each frame: its pts relative to the stream start, with fallbacks when pts is missing."""

    def __init__(self, stream: VideoStream) -> None:
        self._origin = stream.start_time
        self._time_base = stream.time_base
        self._fps = _fps(stream)
        self._first_wall: float | None = None

    def t_ms(self, pts: int | None, time_base: Fraction | None, index: int, wall: float) -> int:
        if self._first_wall is None:
            self._first_wall = wall
        time_base = time_base or self._time_base
        if pts is not None and time_base is not None:
            if self._origin is None:
                self._origin = pts
            return round((pts - self._origin) * time_base * 1000)
        if self._fps:
            return round(index * 1000 / self._fps)
        return round((wall - self._first_wall) * 1000)  # no timestamps, no rate: the wall clock


def _fps(stream: VideoStream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else None


def _open_failure(exc: Exception, av_input: AvInput, elapsed_s: float) -> str:
    """A reason a person can act on, from what PyAV raised while opening ``av_input``."""
    timeout = av_input.timeout_s[0] if av_input.timeout_s else None
    timed_out = timeout is not None and elapsed_s >= 0.9 * timeout
    if isinstance(exc, av.error.ExitError | TimeoutError) or (
        timed_out and isinstance(exc, av.error.InvalidDataError)
    ):
        return f"no answer within {elapsed_s:.1f} s (timed out)"
    where = av_input.kind
    if isinstance(exc, FileNotFoundError):
        if where == "device":
            return "device not found (is a camera attached, and is the device visible to this process?)"
        return f"{where} not found"
    if where == "device" and getattr(exc, "errno", None) == errno.EBUSY:
        return "device busy (another program is using the camera)"
    if isinstance(exc, PermissionError):
        return f"{where} cannot be read (permission denied)"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a video file"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the address and port right, and the camera or server up?)"
    if isinstance(exc, av.error.InvalidDataError) and av_input.kind == "file":
        kind = sniff_file(Path(av_input.target))
        if kind is None:
            return "not a video (format not recognised)"
        if kind.endswith(" video"):
            return f"cannot read the video: truncated or corrupt {kind.removesuffix(' video')} file"
        return f"not a video (it looks like {kind})"
    if isinstance(exc, av.error.InvalidDataError):
        return "the answer is not a video stream FFmpeg can read"
    return f"cannot open ({_ffmpeg_message(exc)})"


def _ffmpeg_message(exc: Exception) -> str:
    """The error text without the file name or URL that PyAV appends (it may hold credentials)."""
    message = getattr(exc, "strerror", None) or (exc.args[0] if exc.args else type(exc).__name__)
    return redact_url(str(message))
