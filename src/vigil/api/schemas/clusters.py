"""Clusters of unknown faces: ``ClusterPublic`` rows, a ``ClusterDetailPublic`` with best shots, and the
bodies of the changes (name, merge, split, dismiss)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from vigil.api.deps import MAX_ROW_ID
from vigil.api.schemas.base import PublicModel, RequestModel
from vigil.api.schemas.people import VerdictPublic

Id = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
Reason = Field(min_length=1, max_length=2000, description="Why (legal basis, case); audited.")


class ClusterPublic(PublicModel):
    id: int
    status: str = Field(description="open, named (its person enrolled) or dismissed.")
    pinned: bool = Field(description="Shaped by an operator: never merged with another automatically.")
    size: int = Field(description="Tracks in it.")
    first_seen: datetime
    last_seen: datetime
    cameras: list[str]
    person_id: int | None
    person: str | None
    changed_by: str | None
    updated_at: datetime


class ClusterPagePublic(PublicModel):
    total: int = Field(description="Clusters matching the filters, over all pages.")
    offset: int
    limit: int
    items: list[ClusterPublic]


class ClusterShotPublic(PublicModel):
    event_id: int
    camera: str
    seen_at: datetime
    quality: float
    image_url: str = Field(description="The track's best shot (relative; needs the token or cookie).")


class ClusterDetailPublic(ClusterPublic):
    shots: list[ClusterShotPublic] = Field(description="The best shots, one per track, the best first.")
    event_ids: list[int] = Field(description="Every track of the cluster, the newest first.")


class ClusterName(RequestModel):
    """Enrol the cluster's person on a list from its best shots, like any enrolment."""

    watchlist: str = Field(min_length=1, max_length=64, description="The list's name.")
    name: str = Field(min_length=1, max_length=128, description="The person's name.")
    reason: str = Reason
    photo_source: str = Field("", max_length=500, description="Where the photos come from [the cluster].")
    approved_by: str | None = Field(None, max_length=64, description="Who approved the entry.")
    expires_at: datetime | None = Field(None, description="The entry stops matching then (with a zone).")
    notes: str = Field("", max_length=2000)
    force: bool = Field(False, description="Keep shots below the quality gate, marked weak.")


class ClusterNamed(PublicModel):
    cluster: ClusterPublic
    person_id: int
    watchlist: str
    created: bool = Field(description="A new person (else photos added to the one of that name).")
    verdicts: list[VerdictPublic]
    retro_alerts: int


class ClusterMerge(RequestModel):
    clusters: list[Id] = Field(
        min_length=1, max_length=100, description="The clusters merged into this one (they go)."
    )
    reason: str = Reason


class ClusterSplit(RequestModel):
    event_ids: list[Id] = Field(
        min_length=1, max_length=10_000, description="The tracks moved into a new cluster."
    )
    reason: str = Reason


class ClusterDismiss(RequestModel):
    reason: str = Reason
