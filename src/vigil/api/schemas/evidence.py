"""Requests of the evidence exports (the answer is the archive itself, ``application/zip``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from vigil.api.deps import MAX_ROW_ID
from vigil.api.schemas.base import RequestModel
from vigil.services.evidence import MAX_ITEMS

ExportReason = Annotated[
    str,
    Field(min_length=1, max_length=500, description="Why (case reference, legal basis); audited. Required."),
]
ItemId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


class ExportCreate(RequestModel):
    """One alert or event exported as evidence."""

    reason: ExportReason


class CaseExportCreate(RequestModel):
    """A case: several alerts and events in one archive."""

    reason: ExportReason
    alerts: list[ItemId] = Field(default_factory=list, max_length=MAX_ITEMS, description="Alert ids.")
    events: list[ItemId] = Field(default_factory=list, max_length=MAX_ITEMS, description="Event ids.")
