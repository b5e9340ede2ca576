"""GET /health: open (for load balancers and container probes), reveals nothing but that it answers."""

from __future__ import annotations

from fastapi import APIRouter

from vigil.api.schemas.health import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> HealthPublic:
    return HealthPublic()
