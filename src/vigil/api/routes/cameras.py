"""/cameras: add, change, pause, resume and remove cameras; their live status."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import CurrentUser, OperatorUser, RowId, SightingsReader, State
from vigil.api.schemas.live import (
    AdvicePublic,
    CameraCreate,
    CameraPublic,
    CameraStatusPublic,
    CameraUpdate,
    FaceStatsPublic,
    PlacementPublic,
    ReasonPublic,
)
from vigil.api.scope import UserScope, out_of_scope, refuse_act, refuse_beyond
from vigil.bestshot.advice import Advice, Reason, Verdict, advise
from vigil.errors import NotFound
from vigil.runtime.service import LiveService
from vigil.services.cameras import CameraChange, CameraInfo
from vigil.services.visibility import Scope, camera_visible

router = APIRouter(prefix="/cameras", tags=["cameras"])


def advice_public(advice: Advice, camera_id: int | None = None) -> AdvicePublic:
    st = advice.stats
    stats = None if st is None else FaceStatsPublic(
        faces=st.faces, faces_total=st.faces_total,
        eye_px=None if st.eye_px is None else round(st.eye_px, 1),
        eye_px_p90=None if st.eye_px_p90 is None else round(st.eye_px_p90, 1),
        size_px=round(st.size_px, 1), sharpness=round(st.sharpness, 3),
        yaw_deg=None if st.yaw_deg is None else round(st.yaw_deg, 1),
        frontal_share=round(st.frontal_share, 3), usable_share=round(st.usable_share, 3),
    )  # fmt: skip
    return AdvicePublic(
        camera_id=camera_id, verdict=advice.verdict.value, summary=advice.summary,
        reasons=[ReasonPublic(code=r.code, level=r.level.value, message=r.message) for r in advice.reasons],
        stats=stats,
    )  # fmt: skip


def _camera_advice(live: LiveService, camera_id: int) -> Advice:
    counters = live.supervisor.counters().get(camera_id)
    if counters is None:
        why = "the camera is not running (paused, starting or failed): no faces to judge"
        return Advice(Verdict.UNKNOWN, why, (Reason("not_running", Verdict.UNKNOWN, why),), None)
    return advise(counters.faces, live.config.bestshot)


def _status(live: LiveService, camera_id: int) -> CameraStatusPublic | None:
    counters = live.supervisor.counters().get(camera_id)
    if counters is None:
        failed = live.camera_errors.get(camera_id)
        if failed is None:
            return None
        return CameraStatusPublic(
            state="failed", fps_in=0, fps_processed=0, faces_per_s=0, frames_in=0, frames_processed=0,
            frames_dropped=0, frames_skipped=0, faces_detected=0, reconnects=0, last_error=failed,
            last_frame_at=None,
        )  # fmt: skip
    st = counters.status
    rates = live.supervisor.rates().get(camera_id)
    snap = live.supervisor.snapshot(camera_id)
    return CameraStatusPublic(
        state=st.state,
        fps_in=round(st.fps_in, 2),
        fps_processed=round(rates.processed_fps, 2) if rates else 0.0,
        faces_per_s=round(rates.faces_per_s, 2) if rates else 0.0,
        frames_in=st.frames_in,
        frames_processed=counters.frames_processed,
        frames_dropped=st.frames_dropped,
        frames_skipped=st.frames_skipped,
        faces_detected=counters.faces_detected,
        reconnects=st.reconnects,
        last_error=st.last_error,
        last_frame_at=datetime.fromtimestamp(st.last_frame_at, UTC) if st.last_frame_at else None,
        snapshot_at=datetime.fromtimestamp(snap.captured_at, UTC) if snap else None,
        advice=advice_public(advise(counters.faces, live.config.bestshot), camera_id),
    )


def _in_scope(scope: Scope, camera_id: int) -> None:
    if not camera_visible(scope, camera_id):
        raise out_of_scope(f"camera {camera_id}")


def _public(live: LiveService, info: CameraInfo) -> CameraPublic:
    placed = live.supervisor.placements().get(info.id) if info.enabled else None
    runs_on = None if placed is None else PlacementPublic(
        node_id=placed.node_id, node_address=placed.node_address, worker=placed.actor
    )  # fmt: skip
    return CameraPublic(
        id=info.id, name=info.name, url=info.url, enabled=info.enabled, loop=info.loop,
        max_fps=info.max_fps, from_config=info.from_config, created_at=info.created_at,
        removed_at=info.removed_at,
        status=_status(live, info.id) if info.enabled else None, runs_on=runs_on,
        latitude=info.latitude, longitude=info.longitude, site=info.site,
    )  # fmt: skip


@router.get("")
async def list_cameras(
    state: State,
    _user: CurrentUser,
    scope: UserScope,
    include_footage: Annotated[
        bool, Query(description="Also the virtual cameras of recorded footage.")
    ] = False,
    include_removed: Annotated[
        bool, Query(description="Also the removed cameras, whose events and alerts are kept.")
    ] = False,
) -> list[CameraPublic]:
    """The cameras of your scope."""
    cameras = await run_in_threadpool(
        lambda: state.live.cameras.all(include_footage=include_footage, include_removed=include_removed)
    )
    return [_public(state.live, c) for c in cameras if camera_visible(scope, c.id)]


@router.get("/{camera_id}")
async def get_camera(camera_id: RowId, state: State, _user: CurrentUser, scope: UserScope) -> CameraPublic:
    _in_scope(scope, camera_id)
    return _public(state.live, await run_in_threadpool(state.live.cameras.get, camera_id))


@router.get("/{camera_id}/advice")
async def camera_advice(camera_id: RowId, state: State, _user: CurrentUser, scope: UserScope) -> AdvicePublic:
    """Whether the camera's recent faces are fit for identification: a verdict (good, marginal, unsuitable,
    unknown), the reasons and what to change, and the figures they come from."""
    _in_scope(scope, camera_id)
    info = await run_in_threadpool(state.live.cameras.get, camera_id)
    advice = _camera_advice(state.live, info.id) if info.enabled else Advice(
        Verdict.UNKNOWN, "the camera is paused: no faces to judge",
        (Reason("not_running", Verdict.UNKNOWN, "the camera is paused: no faces to judge"),), None,
    )  # fmt: skip
    return advice_public(advice, info.id)


@router.get("/{camera_id}/snapshot.jpg", response_class=Response)
async def camera_snapshot(
    camera_id: RowId, state: State, _user: SightingsReader, scope: UserScope
) -> Response:
    """The camera's latest frame (refreshed every ``live.snapshot_s``); 404 before its first."""
    _in_scope(scope, camera_id)
    snap = state.live.supervisor.snapshot(camera_id)
    if snap is None:
        raise NotFound(f"camera {camera_id} has no snapshot yet (is it running?)")
    taken = datetime.fromtimestamp(snap.captured_at, UTC)
    headers = {"Cache-Control": "no-store", "Last-Modified": format_datetime(taken, usegmt=True)}
    return Response(snap.jpeg, media_type="image/jpeg", headers=headers)


@router.post("", status_code=status.HTTP_201_CREATED)
async def add_camera(body: CameraCreate, state: State, user: OperatorUser, scope: UserScope) -> CameraPublic:
    """A new camera (403 for a user limited to cameras: it would lie outside their scope)."""
    if scope.camera_ids is not None:
        raise await refuse_beyond(
            state, user, "camera.add", f"camera:{body.name}", "you are limited to cameras"
        )
    info = await run_in_threadpool(
        lambda: state.live.cameras.add(
            user.username,
            body.name,
            body.url,
            loop=body.loop,
            max_fps=body.max_fps,
            enabled=body.enabled,
            reason=body.reason,
            latitude=body.latitude,
            longitude=body.longitude,
            site=body.site,
        )
    )
    return _public(state.live, info)


@router.patch("/{camera_id}")
async def change_camera(
    camera_id: RowId, body: CameraUpdate, state: State, user: OperatorUser, scope: UserScope
) -> CameraPublic:
    if not camera_visible(scope, camera_id):
        raise await refuse_act(state, user, "camera.change", f"camera:{camera_id}")
    located = {"latitude", "longitude"} & body.model_fields_set
    location = (body.latitude, body.longitude) if located else None
    change = CameraChange(body.name, body.url, body.loop, body.max_fps, body.enabled, location, body.site)
    info = await run_in_threadpool(state.live.cameras.change, user.username, camera_id, change, body.reason)
    return _public(state.live, info)


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_camera(
    camera_id: RowId, state: State, user: OperatorUser, scope: UserScope, reason: str = ""
) -> None:
    if not camera_visible(scope, camera_id):
        raise await refuse_act(state, user, "camera.remove", f"camera:{camera_id}")
    await run_in_threadpool(state.live.cameras.remove, user.username, camera_id, reason)
