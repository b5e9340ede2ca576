"""The video segment of an evidence export: the frames around a sighting, every face but the matched
one blurred.

Each frame is searched for faces with a detector more sensitive than the cameras' (a face the cameras
would not judge is still blurred). The matched person's face is the one face whose vector is closest to
the event's track template, at least the alert's threshold and ahead of the runner-up by the margin;
when no face qualifies (or two come close) every face of that frame is blurred. Blurring covers the box
with a margin, filled with its mean colour, and the boxes blurred in the previous frame are blurred again (a
face the detector misses for one frame does not leave unblurred).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vigil.config import IngestConfig
from vigil.detect.base import Detector
from vigil.embed.stills import StillEncoder
from vigil.errors import BadInput
from vigil.ingest import open_source
from vigil.track.associate import iou_matrix
from vigil.types import BoolArray, FaceDetections, FloatArray, Frame, Image

log = logging.getLogger(__name__)

MAX_SEGMENT_S = 300.0
BLUR_MARGIN = 0.35  # of the box's size, on each side
_SAME_FACE_IOU = 0.3
_INSIDE_SHARE = 0.6  # a box this much inside the kept face is a part of it


@dataclass(frozen=True, slots=True)
class Recording:
    """A video file and the wall-clock time of its first frame (``t_ms`` 0): what a footage camera's
    event times count from."""

    path: Path
    start: datetime


@dataclass(frozen=True, slots=True)
class Target:
    """Whose face stays visible: the track template (None: nobody's, blur every face) and the rule."""

    template: FloatArray | None
    threshold: float
    min_margin: float


@dataclass(frozen=True, slots=True)
class Segment:
    """An encoded segment (H.264 in MP4) and what was done to it."""

    mp4: bytes
    from_ms: int
    to_ms: int
    frames: int
    faces_kept: int  # frames where the matched face was located and left visible
    faces_blurred: int
    frames_all_blurred: int  # frames with faces where the matched one could not be located


def blur_boxes(image: Image, xyxy: FloatArray) -> Image:
    """A copy of ``image`` with each box (grown by ``BLUR_MARGIN``) blurred to its mean colour: nothing of
    the face's structure is left (a pixelated or smoothed face is still found by a detector, and may be
    recognised)."""
    out = image.copy()
    h, w = out.shape[:2]
    for x1, y1, x2, y2 in np.asarray(xyxy, np.float64):
        mx, my = (x2 - x1) * BLUR_MARGIN, (y2 - y1) * BLUR_MARGIN
        a, b = max(0, int(x1 - mx)), max(0, int(y1 - my))
        c, d = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
        if c > a and d > b:
            out[b:d, a:c] = out[b:d, a:c].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    return out


def part_of(boxes: FloatArray, face: FloatArray) -> BoolArray:
    """Which ``boxes`` (N, 4) are the face at ``face`` (1, 4): overlapping it (IoU at least
    ``_SAME_FACE_IOU``) or lying mostly inside it."""
    if len(boxes) == 0:
        return np.zeros(0, np.bool_)
    a, f = boxes.astype(np.float64), face.astype(np.float64)
    iou = iou_matrix(a, f)[:, 0]
    tl, br = np.maximum(a[:, 0:2], f[0, 0:2]), np.minimum(a[:, 2:4], f[0, 2:4])
    inter = np.prod(np.clip(br - tl, 0.0, None), axis=1)
    area = np.maximum(np.prod(a[:, 2:4] - a[:, 0:2], axis=1), 1e-9)
    inside: BoolArray = (iou >= _SAME_FACE_IOU) | (inter / area >= _INSIDE_SHARE)
    return inside


class FaceRedactor:
    """Blurs every face of a frame but the target's (see the module docstring)."""

    def __init__(self, detector: Detector, stills: StillEncoder) -> None:
        """``detector`` finds the faces to blur (sensitive); ``stills`` embeds them (the engine's)."""
        self._detector = detector
        self._stills = stills

    def kept(self, image: Image, faces: FaceDetections, target: Target) -> int | None:
        """The row of ``faces`` that is the target's face, or None when it cannot be told confidently."""
        if target.template is None or len(faces) == 0:
            return None
        vectors = self._stills.embed_boxes(image, faces.xyxy, faces.landmarks).vectors
        scores = vectors @ target.template
        order = np.argsort(-scores)
        best = float(scores[order[0]])
        runner_up = float(scores[order[1]]) if len(order) > 1 else -1.0
        if best < target.threshold or best - runner_up < target.min_margin:
            return None
        return int(order[0])

    def redact(
        self, image: Image, target: Target, carried: FloatArray
    ) -> tuple[Image, FloatArray, int | None]:
        """``image`` with every face but the target's blurred, the boxes blurred (to carry to the next
        frame), and the row kept (None: none)."""
        faces = self._detector.detect(image)
        keep = self.kept(image, faces, target)
        others = faces.xyxy if keep is None else np.delete(faces.xyxy, keep, axis=0)
        if keep is not None:
            # a box mostly inside the kept face is a part of it (a second detection of one face); a box
            # carried from the last frame over it was this face, blurred then
            face = faces.xyxy[keep : keep + 1]
            others, carried = others[~part_of(others, face)], carried[~part_of(carried, face)]
        blurred = np.concatenate([others, carried]).astype(np.float32) if len(carried) else others
        return blur_boxes(image, blurred), others.astype(np.float32), keep


def cut_segment(  # noqa: PLR0917 (one call site; each argument is distinct)
    recording: Recording,
    start: datetime,
    end: datetime,
    redactor: FaceRedactor,
    target: Target,
    ingest: IngestConfig,
) -> Segment | str:
    """The frames of ``recording`` filmed between ``start`` and ``end``, redacted and encoded; or why
    there is no segment."""
    from_ms = int((start - recording.start) / timedelta(milliseconds=1))
    to_ms = int((end - recording.start) / timedelta(milliseconds=1))
    if to_ms <= from_ms:
        raise BadInput("segment", "the segment is empty")
    if (to_ms - from_ms) / 1000 > MAX_SEGMENT_S:
        raise BadInput("segment", f"longer than {MAX_SEGMENT_S:.0f} s: export a shorter one")
    if to_ms < 0:
        return f"the sighting was filmed before the recording starts ({recording.start.isoformat()})"
    source = open_source(recording.path, ingest, "evidence")
    try:
        return _encode(source.frames(), source.fps or 25.0, max(0, from_ms), to_ms, redactor, target)
    finally:
        source.close()


def _encode(  # noqa: PLR0917 (private: the arguments of cut_segment)
    frames: Iterable[Frame], fps: float, from_ms: int, to_ms: int, redactor: FaceRedactor, target: Target
) -> Segment | str:
    buffer = io.BytesIO()
    written = kept = blurred = all_blurred = 0
    carried = np.zeros((0, 4), np.float32)
    first_ms = last_ms = from_ms
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = None
        for frame in frames:
            if frame.t_ms < from_ms:
                continue
            if frame.t_ms > to_ms:
                break
            image, others, keep = redactor.redact(frame.image, target, carried)
            carried = others
            kept += keep is not None
            blurred += len(others)
            all_blurred += keep is None and len(others) > 0
            if stream is None:
                first_ms = frame.t_ms
                w, h = frame.size_wh
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                stream.width, stream.height = w - w % 2, h - h % 2
                stream.pix_fmt = "yuv420p"
            image = np.ascontiguousarray(image[: stream.height, : stream.width])
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
            written, last_ms = written + 1, frame.t_ms
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    if written == 0:
        return "the recording has no frames at the time of the sighting (it ends before)"
    log.info(
        "evidence segment: %d frames, %d faces blurred, %d frames all blurred", written, blurred, all_blurred
    )
    return Segment(buffer.getvalue(), first_ms, last_ms, written, kept, blurred, all_blurred)
