"""The event history: ``EventPublic`` rows in an ``EventPagePublic``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class EventPublic(BaseModel):
    id: int
    camera_id: int
    camera: str
    track_id: int
    start_at: datetime
    end_at: datetime
    decision: str = Field(description="alert (matched a list) or unknown.")
    person_id: int | None
    person: str | None
    watchlist_id: int | None
    watchlist: str | None
    score: float | None = Field(description="Similarity to the closest enrolled person.")
    margin: float | None
    status: str | None = Field(description="The alert's review status (alerts only).")
    image_url: str | None = Field(description="The best shot (relative; needs the token or cookie).")


class EventPagePublic(BaseModel):
    total: int = Field(description="Events matching the filters, over all pages.")
    offset: int
    limit: int
    items: list[EventPublic]
