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
    lists: list[str] = Field(
        default=[], description="The lists the user is limited to (none: not limited by list; admins never)."
    )
    cameras: list[str] = Field(
        default=[],
        description="The cameras the user is limited to (none: not limited by camera; admins never).",
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
    lists: list[str] | None = Field(
        None, max_length=1000, description="Limit the user to these lists (by name; []: not limited)."
    )
    cameras: list[str] | None = Field(
        None, max_length=1000, description="Limit the user to these cameras (by name; []: not limited)."
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
    lists: list[str] | None = Field(
        None, max_length=1000, description="Limit the user to these lists (by name; []: not limited)."
    )
    cameras: list[str] | None = Field(
        None, max_length=1000, description="Limit the user to these cameras (by name; []: not limited)."
    )
    reason: str = REASON

    @model_validator(mode="after")
    def _something(self) -> UserUpdate:
        fields = (self.disabled, self.role, self.password, self.watchlists, self.lists, self.cameras)
        if all(f is None for f in fields):
            raise ValueError("give at least one of disabled, role, password, watchlists, lists, cameras")
        return self
