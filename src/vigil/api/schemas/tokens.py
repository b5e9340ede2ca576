"""API tokens: ``TokenCreate`` in, ``TokenIssued`` (with the token, once) and ``TokenPublic`` out."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from vigil.api.schemas.base import REASON, PublicModel, RequestModel
from vigil.store.tables import TokenKind


class TokenCreate(RequestModel):
    name: str = Field(min_length=1, max_length=64, description="What it is for, e.g. 'home-assistant'.")
    expires_at: AwareDatetime | None = Field(None, description="When it stops working [never].")
    reason: str = REASON


class TokenIssued(BaseModel):
    id: int
    name: str
    token: str = Field(description="The bearer token: shown only now, Vigil keeps only its hash.")
    expires_at: datetime | None


class TokenPublic(PublicModel):
    id: int
    username: str
    name: str
    kind: TokenKind
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
