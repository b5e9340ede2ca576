"""Signing in: ``LoginRequest`` in, ``LoginPublic`` out."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vigil.api.schemas.base import RequestModel
from vigil.api.schemas.users import UserPublic
from vigil.services.credentials import PASSWORD_MAX_CHARS


class LoginRequest(RequestModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_CHARS)


class LoginPublic(BaseModel):
    token: str = Field(description="The session token (also set as the vigil_session cookie).")
    user: UserPublic


class SessionPublic(BaseModel):
    user: UserPublic | None = Field(description="The signed-in user; null when the browser is not signed in.")
