"""Footage jobs: ``JobPublic`` out (an upload comes in as multipart form data)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from vigil.api.schemas.base import PublicModel


class JobPublic(PublicModel):
    id: int
    camera: str = Field(description="The virtual camera its events belong to.")
    filename: str
    start_at: datetime = Field(description="When the video was filmed (its events' times count from here).")
    status: str = Field(description="queued, running, done, failed or cancelled.")
    cancel_requested: bool
    frames_done: int
    frames_total: int | None = Field(description="As the container declares it; null when unknown.")
    progress: float | None = Field(description="frames_done / frames_total, 0-1; null when unknown.")
    done_ms: int = Field(description="Video time processed (a restart resumes from here).")
    tracks: int
    alerts: int
    error: str
    created_by: str
    created_at: datetime
    updated_at: datetime
