"""The audit log as the API shows it: ``AuditRowPublic`` pages, the filters' choices, the chain verdict."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from vigil.api.schemas.base import PublicModel
from vigil.services.audit_log import ChainStatus


class AuditRowPublic(PublicModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str
    details: dict[str, Any]
    prev_hash: str
    hash: str
    chain: ChainStatus = Field(
        description="ok: the row matches its hash and follows the row before it; altered: its content no "
        "longer matches its hash; unlinked: the row before it is not the one it was chained to."
    )


class AuditPagePublic(PublicModel):
    rows: list[AuditRowPublic]
    next_cursor: int | None = Field(description="Pass as cursor for the next (older) page; null: the last.")


class AuditFacetsPublic(PublicModel):
    actors: list[str]
    actions: list[str]


class ChainPublic(PublicModel):
    rows: int = Field(description="Rows checked (up to the first broken one).")
    ok: bool
    broken_at: int | None = Field(
        description="The id of the first row that does not follow; null when intact."
    )
    reason: str
