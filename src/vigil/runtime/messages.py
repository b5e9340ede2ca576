"""What the service and its camera worker processes tell each other (pickled over multiprocessing queues).

Main → worker: :class:`RunCamera`, :class:`StopCamera`, :class:`Shutdown`.
Worker → main: :class:`WorkerReady`, :class:`CameraEvents`, :class:`WorkerStats`, :class:`CameraSnapshot`,
:class:`CameraFailed`.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.bestshot.stats import FaceStats
from vigil.ingest.status import CameraStatus
from vigil.types import FaceEvent


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """One camera as a worker runs it. ``url`` may hold credentials: never logged."""

    camera_id: int
    name: str
    url: str
    loop: bool = False
    max_fps: float | None = None


@dataclass(frozen=True, slots=True)
class RunCamera:
    spec: CameraSpec


@dataclass(frozen=True, slots=True)
class StopCamera:
    camera_id: int


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


Control = RunCamera | StopCamera | Shutdown


@dataclass(frozen=True, slots=True)
class WorkerReady:
    worker_id: int
    pid: int


@dataclass(frozen=True, slots=True)
class CameraEvents:
    """Track events of one camera from one processed frame.

    ``run`` names this run of the camera in its worker (track ids restart with it); ``frame_t_ms`` and
    ``frame_at`` (wall clock) place stream times on the wall clock: ``at = frame_at + (t_ms - frame_t_ms)``.
    """

    camera_id: int
    run: str
    frame_t_ms: int
    frame_at: float
    events: tuple[FaceEvent, ...]


@dataclass(frozen=True, slots=True)
class CameraCounters:
    """A camera's status as its reader sees it, plus what the worker made of its frames."""

    status: CameraStatus
    frames_processed: int
    faces_detected: int
    stage_seconds: dict[str, float]
    frame_errors: int = 0  # frames the engine failed on (logged with the traceback, then skipped)
    faces: FaceStats | None = None  # its recent faces (eyes px, sharpness, pose, share embeddable)


@dataclass(frozen=True, slots=True)
class WorkerStats:
    worker_id: int
    cameras: dict[int, CameraCounters]
    gallery_size: int


@dataclass(frozen=True, slots=True)
class CameraSnapshot:
    """A camera's latest frame, scaled down and JPEG-encoded, for the console."""

    camera_id: int
    captured_at: float  # wall clock, Unix seconds
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class CameraFailed:
    """A camera the worker could not run at all (a bad spec): it stays stopped until changed."""

    camera_id: int
    error: str


Report = WorkerReady | CameraEvents | WorkerStats | CameraSnapshot | CameraFailed
