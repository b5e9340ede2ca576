"""/clusters: unknown faces grouped by who they look like. Viewers look; operators name (enrol the person
from the best shots, with a reason and legal basis), merge, split and dismiss, each audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import MAX_ROW_ID, CurrentUser, OperatorUser, RowId, State, permit
from vigil.api.errors import error_body, error_responses
from vigil.api.routes.people import verdict_public
from vigil.api.schemas.clusters import (
    ClusterDetailPublic,
    ClusterDismiss,
    ClusterMerge,
    ClusterName,
    ClusterNamed,
    ClusterPagePublic,
    ClusterPublic,
    ClusterShotPublic,
    ClusterSplit,
)
from vigil.api.scope import UserScope, check_list, unlimited
from vigil.services.clusters import MAX_PAGE, ClusterInfo, NameRequest
from vigil.services.enrol import EnrolmentRejected
from vigil.services.permissions import Permission
from vigil.store.tables import ClusterStatus

router = APIRouter(
    prefix="/clusters",
    tags=["clusters"],
    dependencies=[
        Depends(permit(Permission.SIGHTINGS_READ)),
        Depends(unlimited("the clusters group unknown faces of every camera", cameras_only=True)),
    ],
)


def cluster_public(info: ClusterInfo) -> ClusterPublic:
    return ClusterPublic(
        id=info.id, status=info.status.value, pinned=info.pinned, size=info.size, first_seen=info.first_seen,
        last_seen=info.last_seen, cameras=list(info.cameras), person_id=info.person_id, person=info.person,
        changed_by=info.changed_by, updated_at=info.updated_at,
    )  # fmt: skip


@router.get("")
async def list_clusters(
    state: State,
    _user: CurrentUser,
    cluster_status: Annotated[
        ClusterStatus | None, Query(alias="status", description="open, named or dismissed [all].")
    ] = None,
    min_size: Annotated[int, Query(ge=1, le=1_000_000, description="Only clusters this large.")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> ClusterPagePublic:
    """The clusters, the most recently seen first: size, first and last seen, cameras."""
    total, items = await run_in_threadpool(
        lambda: state.clusters.all(cluster_status, min_size=min_size, limit=limit, offset=offset)
    )
    return ClusterPagePublic(
        total=total, offset=offset, limit=limit, items=[cluster_public(i) for i in items]
    )


@router.get("/{cluster_id}")
async def get_cluster(cluster_id: RowId, state: State, _user: CurrentUser) -> ClusterDetailPublic:
    """A cluster with its best shots (one per track) and every track's event id."""
    d = await run_in_threadpool(state.clusters.get, cluster_id)
    shots = [
        ClusterShotPublic(
            event_id=s.event_id, camera=s.camera, seen_at=s.seen_at, quality=round(s.quality, 4),
            image_url=f"/media/events/{s.event_id}/best.jpg",
        )
        for s in d.shots
    ]  # fmt: skip
    return ClusterDetailPublic(**cluster_public(d.info).model_dump(), shots=shots, event_ids=d.event_ids)


@router.post("/{cluster_id}/name", response_model=ClusterNamed, responses=error_responses(404))
async def name_cluster(
    cluster_id: RowId, body: ClusterName, state: State, user: OperatorUser, scope: UserScope
) -> ClusterNamed | JSONResponse:
    """Enrol the cluster's person on a list from its best shots (the quality gate judges each, as for any
    enrolment; ``force`` keeps weak ones); the cluster is marked named in the same transaction. Into a
    list of your scope only (404)."""
    await check_list(state, scope, body.watchlist, user, "cluster.name")
    req = NameRequest(
        watchlist=body.watchlist, name=body.name, reason=body.reason, photo_source=body.photo_source,
        approved_by=body.approved_by, expires_at=body.expires_at, notes=body.notes, force=body.force,
    )  # fmt: skip
    try:
        result, info = await run_in_threadpool(
            state.clusters.name, user.username, cluster_id, req, state.enrolment.enrol
        )
    except EnrolmentRejected as exc:
        verdicts = [verdict_public(v).model_dump() for v in exc.verdicts]
        return JSONResponse(error_body(str(exc), verdicts=verdicts), status.HTTP_422_UNPROCESSABLE_CONTENT)
    retro = await run_in_threadpool(state.live.retro_alerts, result.person_id)
    return ClusterNamed(
        cluster=cluster_public(info), person_id=result.person_id, watchlist=result.list_name,
        created=result.created, verdicts=[verdict_public(v) for v in result.verdicts], retro_alerts=retro,
    )  # fmt: skip


@router.post("/{cluster_id}/merge")
async def merge_clusters(
    cluster_id: RowId, body: ClusterMerge, state: State, user: OperatorUser
) -> ClusterPublic:
    """Move every track of the clusters named into this one; they go."""
    info = await run_in_threadpool(
        state.clusters.merge, user.username, cluster_id, list(body.clusters), body.reason
    )
    return cluster_public(info)


@router.post("/{cluster_id}/split", status_code=status.HTTP_201_CREATED)
async def split_cluster(
    cluster_id: RowId, body: ClusterSplit, state: State, user: OperatorUser
) -> ClusterPublic:
    """Move the tracks named into a new cluster (returned)."""
    info = await run_in_threadpool(
        state.clusters.split, user.username, cluster_id, list(body.event_ids), body.reason
    )
    return cluster_public(info)


@router.post("/{cluster_id}/dismiss")
async def dismiss_cluster(
    cluster_id: RowId, body: ClusterDismiss, state: State, user: OperatorUser
) -> ClusterPublic:
    """Set a cluster aside (it still expires with its tracks)."""
    return cluster_public(
        await run_in_threadpool(state.clusters.dismiss, user.username, cluster_id, body.reason)
    )
