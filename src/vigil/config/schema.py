"""Vigil's configuration: pydantic models only, strict, every field documented with its bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class IngestConfig(_Strict):
    """Limits on what Vigil agrees to decode."""

    max_image_pixels: int = Field(
        40_000_000, ge=1, description="Largest still image accepted, in pixels (decompression-bomb guard)."
    )
    max_image_bytes: int = Field(50_000_000, ge=1, description="Largest still image file accepted, in bytes.")
    open_timeout_s: float = Field(10.0, gt=0, le=300, description="Time-out for opening a stream, seconds.")
    read_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Time-out for one read on a stream, seconds."
    )


class YuNetConfig(_Strict):
    """YuNet (OpenCV Zoo), the default detector: boxes plus 5 landmarks."""

    type: Literal["yunet"] = "yunet"
    score_threshold: float = Field(0.7, ge=0.0, le=1.0, description="Minimum detector score to keep a face.")
    nms_threshold: float = Field(0.3, ge=0.0, le=1.0, description="IoU above which overlapping boxes merge.")
    min_face_px: int = Field(
        20, ge=8, le=4096, description="Faces whose shorter side is smaller are dropped."
    )
    max_input_side: int = Field(
        1280, ge=160, le=4096, description="Frames are downscaled so their longer side is at most this."
    )


class HogConfig(_Strict):
    """dlib's HOG detector: slower, frontal faces only, no model file needed (the fallback)."""

    type: Literal["hog"] = "hog"
    upsample: int = Field(1, ge=0, le=3, description="Times the image is upsampled to find small faces.")
    score_threshold: float = Field(0.0, ge=-1.0, le=3.0, description="Minimum HOG SVM score to keep a face.")
    min_face_px: int = Field(
        20, ge=8, le=4096, description="Faces whose shorter side is smaller are dropped."
    )


DetectorConfig = Annotated[YuNetConfig | HogConfig, Field(discriminator="type")]


class TrackerConfig(_Strict):
    """The multi-face tracker (identity over time inside one camera)."""

    iou_threshold: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Least IoU between a predicted track box and a detection to link them.",
    )
    max_missed_ms: int = Field(
        800, ge=0, le=60_000, description="A track unseen for longer than this ends (the person left)."
    )
    min_hits: int = Field(2, ge=1, le=50, description="Detections needed before a track is reported.")
    centre_gate: float = Field(
        0.75,
        ge=0.0,
        le=5.0,
        description="Also link a detection to a track when their IoU is too low but the centres are within "
        "this many face sizes and the sizes agree (fast faces); 0 links by IoU only. Neighbours in a crowd "
        "sit about one face size apart, so 0.75 does not reach them.",
    )


class BestShotConfig(_Strict):
    """Which crops of a track are worth embedding."""

    max_shots: int = Field(3, ge=1, le=50, description="At most this many shots are embedded per track (K).")
    min_quality: float = Field(
        0.35, ge=0.0, le=1.0, description="Shots below this total quality are ignored."
    )
    improve_by: float = Field(
        0.08, ge=0.0, le=1.0, description="A later shot is embedded only if it beats the best so far by this."
    )
    min_face_px: int = Field(32, ge=8, le=4096, description="Shots smaller than this are never embedded.")
    min_sharpness: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Shots blurrier or darker than this are never embedded (see quality).",
    )
    refresh_ms: int = Field(
        1000,
        ge=0,
        le=600_000,
        description="Once this long after the last embedded shot, a shot nearly as good (within improve_by "
        "of the best) is embedded too, so a long track is judged on views spread over time.",
    )


class EmbedConfig(_Strict):
    """The face embedder (dlib ResNet, 128-d, from face_recognition_models)."""

    flip: bool = Field(
        True, description="Average the vector with that of the mirrored crop (test-time augmentation)."
    )


class MatchConfig(_Strict):
    """Open-set identification against a watchlist."""

    threshold: float = Field(
        0.92,
        ge=-1.0,
        le=1.0,
        description="Least cosine similarity for an identification. 0.92 is where LFW View 2 pairs of "
        "different people are accepted 0.1% of the time (TAR 97.5%); see docs/accuracy.md.",
    )
    min_margin: float = Field(
        0.0, ge=0.0, le=2.0, description="Least lead over the runner-up identity for an identification."
    )


class StoreConfig(_Strict):
    """Where Vigil keeps what it must remember."""

    data_dir: Path | None = Field(
        None, description="Database file (SQLite), photos and crops live here [the user data dir]."
    )
    url: str | None = Field(
        None,
        description="Database URL: postgresql+psycopg://user@host/db for a cluster; unset means SQLite in "
        "data_dir. Prefer the VIGIL_DATABASE_URL environment variable for URLs holding a password.",
    )


class EnrolConfig(_Strict):
    """The quality gate for watchlist photos: exactly one face, large, sharp and roughly frontal."""

    min_face_px: int = Field(80, ge=20, le=4096, description="Least shorter side of the face box, pixels.")
    min_sharpness: float = Field(0.3, ge=0.0, le=1.0, description="Least sharpness (see bestshot.quality).")
    min_frontal: float = Field(
        0.5, ge=0.0, le=1.0, description="Least frontal score: 0.5 is about 30 degrees of yaw."
    )


class PipelineConfig(_Strict):
    """How the stages are run over a stream."""

    detect_every: int = Field(
        3, ge=1, le=60, description="Run the detector on every Nth frame; the tracker predicts in between."
    )
    scene_cut_diff: float = Field(
        20.0,
        ge=0.0,
        le=255.0,
        description="Mean grey-level change between consecutive frames (on a 32×18 thumbnail) taken as a "
        "cut in edited video: every track ends there. 0 turns cut detection off.",
    )


class VigilConfig(_Strict):
    """Everything Vigil needs to run, with embedded defaults that work on one machine."""

    model_dir: Path | None = Field(None, description="Where model files are looked for first.")
    ingest: IngestConfig = IngestConfig()
    detector: DetectorConfig = YuNetConfig()
    tracker: TrackerConfig = TrackerConfig()
    bestshot: BestShotConfig = BestShotConfig()
    embed: EmbedConfig = EmbedConfig()
    match: MatchConfig = MatchConfig()
    pipeline: PipelineConfig = PipelineConfig()
    store: StoreConfig = StoreConfig()
    enrol: EnrolConfig = EnrolConfig()
