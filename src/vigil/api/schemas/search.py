"""Search by photo: ``SearchPublic`` out (the request is multipart form data: the photo is a file)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class FacePublic(BaseModel):
    index: int
    xyxy: tuple[float, float, float, float] = Field(description="Box in the photo's pixels.")
    score: float = Field(description="Detector confidence.")


class ListHitPublic(BaseModel):
    person_id: int
    name: str
    score: float
    lists: list[str]
    photo_url: str


class ArchiveHitPublic(BaseModel):
    event_id: int
    score: float
    camera_id: int
    camera: str
    start_at: datetime
    end_at: datetime
    person: str | None = Field(description="Whom the sighting was identified as at the time (alerts only).")
    watchlist: str | None
    image_url: str = Field(description="The sighting's best shot (needs the token or cookie).")
    event_url: str


class SearchPublic(BaseModel):
    choose_face: bool = Field(
        False,
        description="The photo shows several faces and none was chosen: nothing was searched; ask "
        "again with `face` (one of `faces`).",
    )
    audit_id: int | None = Field(description="The audit row of this search (null: nothing searched).")
    probe_sha256: str
    faces: list[FacePublic] = Field(description="Every face in the photo, largest first.")
    face: int | None = Field(description="The face searched for.")
    min_score: float
    lists: list[ListHitPublic] = Field(description="Enrolled people the face resembles, best first.")
    archive: list[ArchiveHitPublic] = Field(description="Past sightings it resembles, best first.")
    not_searched: dict[str, int] = Field(
        default_factory=dict,
        description="Archived tracks recorded with another embedder (model id: count): vectors of different "
        "models are never compared, so these were not searched.",
    )
