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


class PersonScorePublic(BaseModel):
    person_id: int
    name: str
    score: float = Field(description="Cosine similarity of the face to this person's closest photo.")
    lists: list[str] = Field(description="The lists the person is actively on.")
    photo_url: str = Field(description="The person's enrolment photo (needs the token or cookie).")


class RecognizedFacePublic(BaseModel):
    index: int = Field(description="The face's rank in the photo, largest first.")
    xyxy: tuple[float, float, float, float] = Field(description="Box in the photo's pixels.")
    det_score: float = Field(description="Detector confidence.")
    judged: bool = Field(
        description="The face was good enough to judge (as large, sharp and clear as a camera's face must be "
        "to be embedded). When false, `identity` is null and `problems` say why; the scores are still given."
    )
    problems: list[str] = Field(description="Why the face was not judged (empty when it was).")
    identity: PersonScorePublic | None = Field(
        description="The person the face is identified as: the closest one, at or above the threshold of "
        "one of their lists and clear of the runner-up by `match.min_margin`. Null: unknown (or not judged)."
    )
    lists: list[str] = Field(description="The identity's lists whose threshold the score passed.")
    score: float | None = Field(description="Similarity to the closest person (null: nobody is enrolled).")
    margin: float | None = Field(description="Score minus the runner-up's (the score when there is none).")
    threshold: float = Field(
        description="The threshold the face was judged at: the lowest threshold (own or calibrated for the "
        "list's size, as its alerts use) of the closest person's lists; `match.threshold` if nobody is near."
    )
    candidate: PersonScorePublic | None = Field(
        description="The closest enrolled person, whatever the decision."
    )
    runner_up: PersonScorePublic | None = Field(description="The second closest enrolled person.")


class RecognizePublic(BaseModel):
    audit_id: int = Field(description="The audit row of this recognition (the reason, the photo's hash).")
    probe_sha256: str = Field(description="SHA-256 of the uploaded photo, as audited.")
    model_id: str = Field(description="The embedder the faces were compared with.")
    faces: list[RecognizedFacePublic] = Field(
        description="Every face in the photo, largest first (may be empty)."
    )
