"""Request and response models of cameras and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


_LAT = "Where the camera is: WGS 84 latitude in degrees (with longitude), for impossible-travel alerts."
_LON = "WGS 84 longitude in degrees (with latitude)."
_SITE = "The named site it is at (cameras of one site are never judged by distance)."


class CameraCreate(_In):
    name: str = Field(min_length=1, max_length=64, description="Unique name, e.g. 'front door'.")
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="rtsp(s):// or http(s):// stream, webcam:N, or an absolute video file path.",
    )
    loop: bool = Field(False, description="For a file: start again at its end.")
    max_fps: float | None = Field(None, gt=0, le=120, description="Most frames processed per second.")
    enabled: bool = Field(True, description="False adds the camera paused.")
    reason: str = Field("", max_length=1000, description="Why (kept in the audit log).")
    latitude: float | None = Field(None, ge=-90, le=90, description=_LAT)
    longitude: float | None = Field(None, ge=-180, le=180, description=_LON)
    site: str | None = Field(None, max_length=64, description=_SITE)


class CameraUpdate(_In):
    name: str | None = Field(None, min_length=1, max_length=64)
    url: str | None = Field(None, min_length=1, max_length=2048)
    loop: bool | None = None
    max_fps: float | None = Field(None, gt=0, le=120)
    enabled: bool | None = Field(None, description="False pauses the camera, True resumes it.")
    reason: str = Field("", max_length=1000)
    latitude: float | None = Field(None, ge=-90, le=90, description=_LAT + " Null with longitude: clear.")
    longitude: float | None = Field(None, ge=-180, le=180, description=_LON)
    site: str | None = Field(None, max_length=64, description=_SITE + ' "": clear.')


class FaceStatsPublic(BaseModel):
    """The camera's recent faces (the newest 300 its detector found)."""

    faces: int = Field(description="Faces the figures cover.")
    faces_total: int = Field(description="Faces measured since the camera started.")
    eye_px: float | None = Field(
        description="Median distance between the eye centres, px (null: no landmarks)."
    )
    eye_px_p90: float | None = Field(description="Its 90th percentile: the nearest faces.")
    size_px: float = Field(description="Median shorter side of the face box, px.")
    sharpness: float = Field(description="Median sharpness, 0-1.")
    yaw_deg: float | None = Field(description="Median absolute yaw, degrees.")
    frontal_share: float = Field(description="Share of faces within 30 degrees of frontal.")
    usable_share: float = Field(description="Share of faces good enough to embed (the bestshot gate).")


class ReasonPublic(BaseModel):
    code: str = Field(description="few_faces, too_small, small, few_usable, blurred or side_view.")
    level: str = Field(description="unsuitable, marginal or unknown.")
    message: str


class AdvicePublic(BaseModel):
    """Whether the camera's faces are fit for identification, why, and what to change."""

    camera_id: int | None = None
    verdict: Literal["good", "marginal", "unsuitable", "unknown"]
    summary: str
    reasons: list[ReasonPublic]
    stats: FaceStatsPublic | None


class CameraStatusPublic(BaseModel):
    state: str
    fps_in: float
    fps_processed: float
    faces_per_s: float = Field(description="Faces detected per second (on the frames detection ran on).")
    frames_in: int
    frames_processed: int
    frames_dropped: int
    frames_skipped: int
    faces_detected: int
    reconnects: int
    last_error: str | None
    last_frame_at: datetime | None
    snapshot_at: datetime | None = Field(
        None, description="When the snapshot (GET /cameras/{id}/snapshot.jpg) was taken; null: none yet."
    )
    advice: AdvicePublic | None = Field(
        None, description="Whether its faces are fit for identification (GET /cameras/{id}/advice)."
    )


class PlacementPublic(BaseModel):
    node_id: str = Field(description="The Ray node's id; `local` for this machine's worker processes.")
    node_address: str = Field(description="The node's IP address (`local` for the local runtime).")
    worker: str = Field(description="The worker process or camera actor that runs the camera.")


class CameraPublic(BaseModel):
    id: int
    name: str
    url: str = Field(description="Credentials masked.")
    enabled: bool
    loop: bool
    max_fps: float | None
    from_config: bool
    created_at: datetime
    removed_at: datetime | None = Field(
        None, description="When it was removed (listed with include_removed): stopped, its history kept."
    )
    status: CameraStatusPublic | None = Field(description="None while the camera is paused or starting.")
    runs_on: PlacementPublic | None = Field(
        None, description="Where the camera runs (None while it is paused, removed or waiting for a worker)."
    )
    latitude: float | None = None
    longitude: float | None = None
    site: str | None = None


class ReviewPublic(BaseModel):
    username: str
    action: str
    note: str
    at: datetime


class TravelPublic(BaseModel):
    """Why an alert is flagged impossible travel: the person's other sighting and the trip between."""

    other_event_id: int = Field(description="The other sighting (an event; an alert too if it raised one).")
    other_camera_id: int | None = Field(description="Its camera (null: the sighting is gone, retention).")
    other_camera: str | None
    other_seen_at: datetime | None
    distance_m: float | None = Field(description="Between the two cameras (null: an explicit pair rule).")
    needed_s: float = Field(description="The least time the trip takes.")
    elapsed_s: float | None = Field(description="The time between the two sightings.")


class AlertPublic(BaseModel):
    id: int
    event_id: int
    camera_id: int
    camera: str
    person_id: int
    person: str
    watchlist_id: int
    watchlist: str
    lists: list[str] = Field(
        default_factory=list,
        description="Every list whose rule it passed (the person is on them), its own first.",
    )
    severity: str
    colour: str
    review: str
    score: float
    margin: float
    threshold: float | None = Field(description="The list's threshold the alert passed (null: not recorded).")
    fpir: float | None = Field(
        None, description="The false-alert rate per unknown track it was calibrated for (null: set by hand)."
    )
    calibrated_for_size: int | None = Field(None, description="The list size it was calibrated for.")
    seen_at: datetime
    raised_at: datetime
    status: str
    image_url: str | None
    confirmations: int
    confirmations_needed: int
    awaiting_second_confirmation: bool
    reviews: list[ReviewPublic]
    retro: bool = Field(False, description="Raised later on an earlier sighting (a retro-alert).")
    impossible_travel: TravelPublic | None = Field(
        None,
        description="Flagged: the person was also seen on another camera too shortly before or after to "
        "have travelled between them (a look-alike, or two people using one identity).",
    )


class AlertReview(_In):
    action: Literal["acknowledge", "confirm", "reject"]
    note: str = Field("", max_length=2000, description="Why (kept with the review and in the audit log).")
    wrong_person: bool = Field(
        False,
        description="With reject: the face is not this person; its track becomes a negative of theirs, so "
        "faces closer to it than to them are not named as them again (audited, withdrawable).",
    )
