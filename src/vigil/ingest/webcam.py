"""Local cameras: ``webcam:N`` or ``/dev/videoN``, read through PyAV's Video4Linux2 demuxer (Linux)."""

from __future__ import annotations

import re
import sys

from vigil.config.schema import IngestConfig
from vigil.errors import SourceError
from vigil.ingest.video import AvInput

_WEBCAM_SPEC = re.compile(r"^(?:webcam:(?P<n>\d+)|/dev/video(?P<dev>\d+))$")


def is_webcam_spec(spec: str) -> bool:
    """True for ``webcam:N`` and ``/dev/videoN``.

    Example:
        >>> is_webcam_spec("webcam:0"), is_webcam_spec("/dev/video2"), is_webcam_spec("cam.mp4")
        (True, True, False)
    """
    return _WEBCAM_SPEC.match(spec) is not None


def webcam_input(spec: str, config: IngestConfig) -> AvInput:
    """The :class:`~vigil.ingest.video.AvInput` for a webcam spec (default id ``webcam:N``).

    Raises:
        SourceError: when ``spec`` is not a webcam spec, or the platform has no Video4Linux2.
    """
    number = _device_number(spec)
    device = f"/dev/video{number}"
    label = f"webcam:{number} ({device})"
    if not sys.platform.startswith("linux"):
        raise SourceError(label, f"webcams are read through Video4Linux2, which {sys.platform} does not have")
    return AvInput(
        target=device,
        label=label,
        default_id=f"webcam:{number}",
        kind="device",
        format="v4l2",
        timeout_s=(config.open_timeout_s, config.read_timeout_s),
    )


def _device_number(spec: str) -> int:
    match = _WEBCAM_SPEC.match(spec)
    if match is None:
        raise SourceError(spec, "not a webcam: expected webcam:N or /dev/videoN")
    return int(match.group("n") or match.group("dev"))
