"""Rendering tracks onto video: boxes, track ids and names, for people to check what Vigil saw."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vigil.errors import BadInput
from vigil.types import Decision, FaceDetections, Frame, Image

KNOWN_BGR = (60, 200, 60)
UNKNOWN_BGR = (170, 170, 170)


@dataclass(frozen=True, slots=True)
class FrameBoxes:
    """The tracked boxes of one frame, kept during a scan to draw them once decisions are final."""

    frame_index: int
    faces: FaceDetections


def draw(image: Image, faces: FaceDetections, decisions: Mapping[int, Decision | None]) -> Image:
    """A copy of ``image`` with each tracked face boxed and labelled "#id name score"."""
    out = image.copy()
    for box, track_id in zip(faces.xyxy, faces.track_id.tolist(), strict=True):
        decision = decisions.get(track_id)
        known = decision is not None and decision.identity is not None
        colour = KNOWN_BGR if known else UNKNOWN_BGR
        x1, y1, x2, y2 = (int(v) for v in np.rint(box))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        label = f"#{track_id}"
        if decision is not None:
            label += f" {decision.label} {decision.score:.2f}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        ty = max(th + 4, y1)
        cv2.rectangle(out, (x1, ty - th - 4), (x1 + tw + 4, ty), colour, -1)
        cv2.putText(out, label, (x1 + 2, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def write_annotated(
    frames: Iterable[Frame],
    boxes: Iterable[FrameBoxes],
    decisions: Mapping[int, Decision | None],
    out_path: Path,
    fps: float,
) -> int:
    """Encode ``frames`` with their boxes drawn to an H.264 file; returns the number of frames written.

    ``boxes`` must be in frame order; frames without an entry are written unannotated.
    """
    if out_path.suffix.lower() not in {".mp4", ".mkv", ".mov"}:
        raise BadInput(out_path, "annotated video must end in .mp4, .mkv or .mov")
    by_index = {b.frame_index: b.faces for b in boxes}
    written = 0
    with av.open(str(out_path), mode="w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                w, h = frame.size_wh
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                stream.width, stream.height = w - w % 2, h - h % 2
                stream.pix_fmt = "yuv420p"
            image = frame.image
            faces = by_index.get(frame.index)
            if faces is not None and len(faces):
                image = draw(image, faces, decisions)
            image = np.ascontiguousarray(image[: stream.height, : stream.width])
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
            written += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return written
