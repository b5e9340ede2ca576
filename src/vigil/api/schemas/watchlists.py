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
        None,
        ge=-1,
        le=1,
        description="A fixed cosine similarity an alert needs; null: calibrated for its size and fpir.",
    )
    fpir: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="False alerts accepted per unknown track (0.001: 1 in 1,000); null: "
        "the configured match.fpir.",
    )
    force: bool = Field(False, description="Accept a threshold below the calibrated one (audited).")
    severity: Severity = Severity.MEDIUM
    colour: str = Field("#d97706", pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb, shown on alerts.")
    review: Review = Field(
        Review.ACKNOWLEDGE, description="none, acknowledge, or two_person (two users must confirm)."
    )
    retention_days: int = Field(30, ge=0, le=36_500, description="How long this list's events are kept.")
    reason: str = Field(min_length=1, max_length=500, description="Why the list exists; audited.")


class WatchlistRule(RequestModel):
    threshold: float | None = Field(
        None, ge=-1, le=1, description="A fixed threshold; null: calibrated for the list's size and fpir."
    )
    fpir: float | None = Field(None, gt=0, lt=1, description="The list's false-alert rate; null: match.fpir.")
    force: bool = Field(False, description="Accept a threshold below the calibrated one (audited).")
    reason: str = Field(min_length=1, max_length=500, description="Why; audited.")


class WatchlistPublic(PublicModel):
    id: int
    name: str
    description: str
    threshold: float | None = Field(description="The list's own threshold; null: calibrated.")
    fpir: float | None = Field(description="The list's own false-alert rate; null: match.fpir.")
    effective_threshold: float = Field(description="The threshold in force now.")
    calibrated_threshold: float | None = Field(
        description="The threshold calibrated for the list's size and false-alert rate (null: none)."
    )
    calibrated_for_size: int = Field(description="People on the list now (what it is calibrated for).")
    effective_fpir: float | None = Field(description="The false-alert rate the threshold was derived from.")
    below_calibrated: bool = Field(description="Its own threshold is under the calibrated one.")
    extrapolated: bool = Field(description="The list is longer than any the calibration measured.")
    severity: Severity
    colour: str
    review: Review
    retention_days: int
    people: int
    created_by: str
    created_at: datetime
