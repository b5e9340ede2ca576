"""/footage: upload recorded video to be processed into the archive, follow the job, cancel it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import CurrentUser, OperatorUser, RowId, State, permit
from vigil.api.schemas.footage import JobPublic
from vigil.api.scope import UserScope, out_of_scope, refuse_act, refuse_beyond
from vigil.api.state import ApiState
from vigil.services.footage_jobs import JobInfo
from vigil.services.permissions import Permission
from vigil.services.visibility import Scope, camera_visible

router = APIRouter(
    prefix="/footage", tags=["footage"], dependencies=[Depends(permit(Permission.SIGHTINGS_READ))]
)


def job_public(j: JobInfo) -> JobPublic:
    progress = min(1.0, j.frames_done / j.frames_total) if j.frames_total else None
    return JobPublic(
        id=j.id, camera=j.camera, filename=j.filename, start_at=j.start_at, status=j.status.value,
        cancel_requested=j.cancel_requested, frames_done=j.frames_done, frames_total=j.frames_total,
        progress=progress, done_ms=j.done_ms, tracks=j.tracks, alerts=j.alerts, error=j.error,
        created_by=j.created_by, created_at=j.created_at, updated_at=j.updated_at,
    )  # fmt: skip


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def upload_footage(  # noqa: PLR0917 (form fields come by name)
    state: State,
    user: OperatorUser,
    scope: UserScope,
    video: Annotated[UploadFile, File(description="A video file (mp4, mkv, avi, mov, webm...).")],
    camera: Annotated[str, Form(min_length=1, max_length=64, description="Its virtual camera's name.")],
    reason: Annotated[str, Form(min_length=1, max_length=500, description="Case reference; audited.")],
    start: Annotated[
        datetime | None, Form(description="When it was filmed (ISO, with zone) [creation time, else now].")
    ] = None,
) -> JobPublic:
    """Store the video and queue it: ``vigil serve`` processes one job at a time (``GET /footage/jobs/{id}``
    shows its progress). A user limited to cameras may not (403): its virtual camera would lie outside."""
    if scope.camera_ids is not None:
        why = "you are limited to cameras, and footage makes a new one"
        raise await refuse_beyond(state, user, "footage.upload", f"footage:{camera}", why)
    info = await run_in_threadpool(
        lambda: state.footage.submit(
            user.username,
            video.filename or "video.mp4",
            video.file,
            camera=camera,
            start=start,
            reason=reason,
        )
    )
    return job_public(info)


@router.get("/jobs")
async def list_jobs(
    state: State, _user: CurrentUser, scope: UserScope, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[JobPublic]:
    """The jobs of your scope's cameras, newest first."""
    jobs = await run_in_threadpool(state.footage.all, limit)
    if scope.camera_ids is None:
        return [job_public(j) for j in jobs]
    names = await run_in_threadpool(_camera_names, state, scope)
    return [job_public(j) for j in jobs if j.camera in names]


@router.get("/jobs/{job_id}")
async def get_job(job_id: RowId, state: State, _user: CurrentUser, scope: UserScope) -> JobPublic:
    job = await run_in_threadpool(state.footage.get, job_id)
    if scope.camera_ids is not None and job.camera not in await run_in_threadpool(
        _camera_names, state, scope
    ):
        raise out_of_scope(f"job {job_id}")
    return job_public(job)


def _camera_names(state: ApiState, scope: Scope) -> set[str]:
    """The names of the cameras of ``scope`` (a job is visible iff the camera it records into is)."""
    cameras = state.live.cameras.all(include_footage=True, include_removed=False)
    return {c.name for c in cameras if camera_visible(scope, c.id)}


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(
    job_id: RowId,
    state: State,
    user: OperatorUser,
    scope: UserScope,
    reason: Annotated[str, Query(max_length=500)] = "",
) -> JobPublic:
    if scope.camera_ids is not None:
        job = await run_in_threadpool(state.footage.get, job_id)
        if job.camera not in await run_in_threadpool(_camera_names, state, scope):
            raise await refuse_act(state, user, "footage.cancel", f"job:{job_id}")
    return job_public(await run_in_threadpool(state.footage.cancel, user.username, job_id, reason))
