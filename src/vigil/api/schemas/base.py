"""Bases of the API models: requests refuse unknown keys; public models are read from service objects."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

REASON = Field("", max_length=500, description="Why (legal basis, case reference); written to the audit log.")


class RequestModel(BaseModel):
    """A request body: unknown keys are refused, so a typo is an error and not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PublicModel(BaseModel):
    """A response body, built from a service's dataclass with ``model_validate``."""

    model_config = ConfigDict(from_attributes=True, frozen=True)
