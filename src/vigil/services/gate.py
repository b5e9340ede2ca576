"""The enrolment quality gate: which photos may put a person on a list, with the reasons for each."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vigil.bestshot.quality import face_quality
from vigil.config import EnrolConfig
from vigil.embed.stills import StillEncoder
from vigil.errors import BadInput
from vigil.types import FloatArray, Image, QualityScores


@dataclass(frozen=True, slots=True)
class GatedFace:
    """The one face of an enrolment photo, its vector, and what the gate found wrong with it (if anything)."""

    vector: FloatArray
    model_id: str
    quality: QualityScores
    chip_jpeg: bytes
    problems: tuple[str, ...]

    @property
    def passes(self) -> bool:
        return not self.problems


def quality_json(q: QualityScores) -> dict[str, float]:
    """A face's quality scores as stored with its sample."""
    return {"size_px": q.size_px, "sharpness": q.sharpness, "frontal": q.frontal,
            "det_score": q.det_score, "edge": q.edge, "total": q.total}  # fmt: skip


def gate_reasons(q: QualityScores, cfg: EnrolConfig) -> tuple[str, ...]:
    """Why a face is too weak to enrol (empty when it is good enough)."""
    reasons = []
    if q.size_px < cfg.min_face_px:
        reasons.append(f"face is {q.size_px:.0f} px, below the minimum of {cfg.min_face_px} px")
    if q.sharpness < cfg.min_sharpness:
        reasons.append(f"face is blurred or dark (sharpness {q.sharpness:.2f} < {cfg.min_sharpness:.2f})")
    if q.frontal < cfg.min_frontal:
        reasons.append(f"face is turned away (frontal {q.frontal:.2f} < {cfg.min_frontal:.2f})")
    return tuple(reasons)


def examine(stills: StillEncoder, image: Image, name: str, cfg: EnrolConfig) -> GatedFace:
    """Find exactly one face in an enrolment photo, embed it and judge its quality.

    Raises:
        BadInput: no face, or several faces (naming ``name``).
    """
    faces = stills.encode_single(image, name)
    det = faces.detections
    quality = face_quality(image, det.xyxy[0], float(det.score[0]), det.landmarks[0])
    ok, jpeg = cv2.imencode(
        ".jpg", np.ascontiguousarray(faces.chips[0][:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 92]
    )
    if not ok:
        raise BadInput(name, "could not encode the aligned face")
    return GatedFace(
        faces.embeddings.vectors[0],
        faces.embeddings.model_id,
        quality,
        jpeg.tobytes(),
        gate_reasons(quality, cfg),
    )
