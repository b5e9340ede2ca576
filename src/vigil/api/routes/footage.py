"""/footage: upload recorded video to be processed into the archive, follow the job, cancel it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import CurrentUser, OperatorUser, RowId, State, permit
from vigil.api.schemas.footage import JobPublic
from vigil.services.footage_jobs import JobInfo
from vigil.services.permissions import Permission

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
    video: Annotated[UploadFile, File(description="A video file (mp4, mkv, avi, mov, webm...).")],
    camera: Annotated[str, Form(min_length=1, max_length=64, description="Its virtual camera's name.")],
    reason: Annotated[str, Form(min_length=1, max_length=500, description="Case reference; audited.")],
    start: Annotated[
        datetime | None, Form(description="When it was filmed (ISO, with zone) [creation time, else now].")
    ] = None,
) -> JobPublic:
    """Store the video and queue it: ``vigil serve`` processes one job at a time (``GET /footage/jobs/{id}``
    shows its progress)."""
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
    state: State, _user: CurrentUser, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[JobPublic]:
    return [job_public(j) for j in await run_in_threadpool(state.footage.all, limit)]


@router.get("/jobs/{job_id}")
async def get_job(job_id: RowId, state: State, _user: CurrentUser) -> JobPublic:
    return job_public(await run_in_threadpool(state.footage.get, job_id))


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(
    job_id: RowId, state: State, user: OperatorUser, reason: Annotated[str, Query(max_length=500)] = ""
) -> JobPublic:
    return job_public(await run_in_threadpool(state.footage.cancel, user.username, job_id, reason))
