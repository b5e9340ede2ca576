"""``open_source``: one spec string (path, URL, webcam) -> the right :class:`~vigil.ingest.base.Source`."""

from __future__ import annotations

from pathlib import Path

from vigil.config.schema import IngestConfig
from vigil.errors import SourceError
from vigil.ingest.base import Source
from vigil.ingest.images import IMAGE_SUFFIXES
from vigil.ingest.stills import ImageFileSource, ImageFolderSource
from vigil.ingest.urls import STREAM_SCHEMES, redact_url, url_scheme
from vigil.ingest.video import VideoSource, file_input, stream_input
from vigil.ingest.webcam import is_webcam_spec, webcam_input


def open_source(
    spec: str | Path, config: IngestConfig, source_id: str | None = None, *, fps: float = 1.0
) -> Source:
    """Open a source from its spec; the kind is chosen by the spec's form, never by guessing.

    ========================================  ==========================================
    spec                                      source
    ========================================  ==========================================
    ``rtsp://``, ``rtsps://``, ``http(s)://``  network stream (RTSP camera, MJPEG, HLS)
    ``webcam:N`` or ``/dev/videoN``            local camera (Video4Linux2)
    a folder                                  its images in file-name order
    a .jpg/.jpeg/.png/.bmp/.webp file          that image, as one frame
    any other file                            a video file (mp4, mkv, avi, gif, ...)
    ========================================  ==========================================

    Args:
        spec: the path, URL or webcam spec.
        config: time-outs and image limits.
        source_id: the id stamped on frames; default the file stem, the folder name, the redacted URL
            or ``webcam:N``.
        fps: the frame rate given to a folder of images (their ``t_ms`` = index × 1000 / fps); unused by
            the other kinds, whose timestamps come from the media.

    Returns:
        The opened source (files and streams are opened here, so a bad one fails at once).

    Raises:
        SourceError: naming the source (credentials masked) with the reason it cannot be opened.

    Example:
        >>> source = open_source("clips/door.mp4", IngestConfig())
        >>> for frame in source.frames():
        ...     print(frame.index, frame.t_ms)
    """
    if is_webcam_spec(str(spec)):
        return VideoSource(webcam_input(str(spec), config), source_id)
    if isinstance(spec, str):
        scheme = url_scheme(spec)
        if scheme is not None:
            if scheme not in STREAM_SCHEMES:
                allowed = ", ".join(sorted(STREAM_SCHEMES))
                raise SourceError(redact_url(spec), f"unsupported URL scheme {scheme!r} (use {allowed})")
            return VideoSource(stream_input(spec, config), source_id)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, config, fps=fps, source_id=source_id)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFileSource(path, config, source_id=source_id)
    return VideoSource(file_input(path), source_id)
