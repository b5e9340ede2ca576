"""Users: ``UserCreate``/``UserUpdate`` in, ``UserPublic`` out (never a password hash)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from vigil.api.schemas.base import REASON, PublicModel, RequestModel
from vigil.services.credentials import PASSWORD_MAX_CHARS
from vigil.services.permissions import Permission
from vigil.store.tables import Role

USERNAME_FIELD = Field(
    min_length=1, max_length=64, description="1-64 lowercase letters, digits, '.', '-' or '_'."
)


class UserPublic(PublicModel):
    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    watchlists: list[str] = Field(
        default=[], description="The lists whose alerts the user gets on the officer view (none: every list)."
    )
    permissions: list[Permission] = Field(
        default=[], description="What the user's role may do (vigil.services.permissions), for the pages."
    )


class UserCreate(RequestModel):
    username: str = USERNAME_FIELD
    role: Role = Field(
        Role.VIEWER, description="viewer < operator < admin; auditor reads only the audit log and reports."
    )
    password: str | None = Field(
        None,
        max_length=PASSWORD_MAX_CHARS,
        description="At least 12 characters; leave out to have a random one made (and returned once).",
    )
    reason: str = REASON


class UserCreated(PublicModel):
    user: UserPublic
    password: str | None = Field(description="The generated password, shown only now; null if you chose one.")


class UserUpdate(RequestModel):
    """What to change; fields left out stay as they are. A new password ends the user's sessions."""

    disabled: bool | None = None
    role: Role | None = None
    password: str | None = Field(None, max_length=PASSWORD_MAX_CHARS, description="At least 12 characters.")
    watchlists: list[str] | None = Field(
        None,
        max_length=1000,
        description="The lists whose alerts the user gets on the officer view ([]: all).",
    )
    reason: str = REASON

    @model_validator(mode="after")
    def _something(self) -> UserUpdate:
        if self.disabled is None and self.role is None and self.password is None and self.watchlists is None:
            raise ValueError("give at least one of disabled, role, password, watchlists")
        return self
