"""What a live camera reader reports about itself: its state and counters, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CameraState(StrEnum):
    """Where a live reader is in its life.

    ``connecting``: opening the source, or opened and waiting for its first frame.
    ``streaming``: frames are flowing.
    ``backoff``: the source failed or ended; waiting before the next attempt.
    ``paused``: paused by the operator; the source is closed.
    ``ended``: a file without looping reached its end (final).
    ``stopped``: not started yet, or stopped (final after :meth:`~vigil.ingest.live.LiveReader.stop`).
    """

    CONNECTING = "connecting"
    STREAMING = "streaming"
    BACKOFF = "backoff"
    PAUSED = "paused"
    ENDED = "ended"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """A snapshot of one camera reader.

    Attributes:
        camera_id: the camera's id (stamped on its frames).
        state: see :class:`CameraState`.
        frames_in: frames decoded since the reader started (all attempts).
        frames_skipped: decoded frames passed over to keep to the camera's max fps (never queued).
        frames_dropped: queued frames thrown away unread because the queue was full (the oldest goes).
        fps_in: decoded frames per second over the last ~5 s (0 when none arrive).
        reconnects: how many times the source was opened again after it failed, ended (a stream) or
            went silent (watchdog). A file starting again because it loops is not counted.
        queued: frames waiting in the queue now (at most ``live.queue_frames``).
        last_error: why the source last failed, credentials masked; None if it never failed.
        last_frame_at: wall-clock time (Unix seconds) of the last decoded frame, None before the first.
        since: wall-clock time of the last change of ``state``.
        width: frame width in pixels once known.
        height: frame height in pixels once known.
        retry_in_s: in ``backoff``, the wait chosen before the next attempt (jittered); else None.
    """

    camera_id: str
    state: CameraState
    frames_in: int
    frames_skipped: int
    frames_dropped: int
    fps_in: float
    reconnects: int
    queued: int
    last_error: str | None
    last_frame_at: float | None
    since: float
    width: int | None = None
    height: int | None = None
    retry_in_s: float | None = None
