"""Watchlists: ``WatchlistCreate`` in, ``WatchlistPublic`` out."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from vigil.api.schemas.base import PublicModel, RequestModel
from vigil.store.tables import Review, Severity


class WatchlistCreate(RequestModel):
    name: str = Field(
        min_length=1, max_length=64, description="1-64 lowercase letters, digits, '-' or '_', e.g. 'wanted'."
    )
    description: str = Field("", max_length=2000)
    threshold: float | None = Field(
        None, ge=-1, le=1, description="Cosine similarity an alert needs; null: the configured default."
    )
    severity: Severity = Severity.MEDIUM
    colour: str = Field("#d97706", pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb, shown on alerts.")
    review: Review = Field(
        Review.ACKNOWLEDGE, description="none, acknowledge, or two_person (two users must confirm)."
    )
    retention_days: int = Field(30, ge=0, le=36_500, description="How long this list's events are kept.")
    reason: str = Field(min_length=1, max_length=500, description="Why the list exists; audited.")


class WatchlistPublic(PublicModel):
    id: int
    name: str
    description: str
    threshold: float | None = Field(description="The list's own threshold; null: the default.")
    effective_threshold: float = Field(description="The threshold in force (its own, or the default).")
    severity: Severity
    colour: str
    review: Review
    retention_days: int
    people: int
    created_by: str
    created_at: datetime
