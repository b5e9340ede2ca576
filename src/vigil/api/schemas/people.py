"""People on watchlists and their enrolment: ``PersonPublic``, ``PersonDetailPublic``, ``EnrolPublic``.

Enrolment comes in as multipart form data (photos are files), so it has no JSON request model.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from vigil.api.schemas.base import PublicModel, RequestModel


class ListMembershipPublic(BaseModel):
    name: str
    expires_at: datetime | None


class PersonPublic(PublicModel):
    id: int
    name: str
    lists: list[ListMembershipPublic]
    samples: int = Field(description="Enrolled face samples (photos).")
    created_at: datetime
    photo_url: str | None = Field(description="The aligned face of the best sample (needs the token).")


class EntryPublic(BaseModel):
    list: str
    reason: str
    photo_source: str
    added_by: str
    approved_by: str | None
    added_at: datetime
    expires_at: datetime | None


class SamplePublic(BaseModel):
    id: int
    weak: bool = Field(description="Kept below the quality gate on purpose (force).")
    model: str
    quality: dict[str, float]
    photo_url: str


class PersonDetailPublic(PersonPublic):
    notes: str
    entries: list[EntryPublic]
    face_samples: list[SamplePublic]


class QualityPublic(BaseModel):
    size_px: float
    sharpness: float
    frontal: float
    det_score: float
    edge: float
    total: float


class LooksLikePublic(BaseModel):
    person_id: int
    name: str
    score: float


class VerdictPublic(BaseModel):
    """What the quality gate made of one photo."""

    photo: str = Field(description="The uploaded file's name.")
    accepted: bool
    weak: bool
    reasons: list[str] = Field(description="Why it was refused (or why it is weak).")
    quality: QualityPublic | None
    looks_like: LooksLikePublic | None = Field(description="Another enrolled person this face matches.")


class EnrolPublic(BaseModel):
    person_id: int
    name: str
    watchlist: str
    created: bool = Field(description="True when the person is new.")
    verdicts: list[VerdictPublic]
    retro_alerts: int = Field(
        0, description="Earlier sightings (last search.retro_days) that raised retro-alerts just now."
    )


class ListEntryCreate(RequestModel):
    """Put an enrolled person on another list too."""

    watchlist: str = Field(min_length=1, max_length=64, description="The list's name.")
    reason: str = Field(min_length=1, max_length=2000, description="Legal basis or case; audited.")
    expires_at: datetime | None = Field(None, description="The entry stops matching then (with a zone).")
    approved_by: str | None = Field(None, max_length=64, description="Who approved the entry.")


class ListEntryPublic(PersonPublic):
    retro_alerts: int = Field(
        0, description="Earlier sightings (last search.retro_days) that raised retro-alerts just now."
    )


class NegativePublic(BaseModel):
    """A track rejected as "not this person"."""

    id: int
    person_id: int
    event_id: int | None = Field(description="The rejected alert (null once purged).")
    watchlist: str | None
    model_id: str
    reason: str
    created_by: str
    created_at: datetime
