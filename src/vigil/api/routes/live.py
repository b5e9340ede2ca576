"""The live channels: the alert WebSocket, Prometheus metrics, and best-shot images."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from vigil.alerts.hub import Accept
from vigil.api.deps import CurrentUser, PresentedToken, RowId, State, permit, websocket_principal
from vigil.api.scope import unlimited
from vigil.api.state import ApiState
from vigil.errors import NotFound, Unauthorized
from vigil.services.permissions import Permission
from vigil.services.users import Principal
from vigil.services.visibility import alert_visible
from vigil.store.tables import EventShot

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"], dependencies=[Depends(permit(Permission.SIGHTINGS_READ))])
media = APIRouter(tags=["media"])  # public: a signed link or a token is checked in the route


@router.websocket("/ws/alerts")
async def alerts_socket(
    websocket: WebSocket,
    mine: Annotated[bool, Query(description="Only the alerts of the lists assigned to you.")] = False,
) -> None:
    """New alerts and review changes as JSON messages (``type`` "alert" or "alert.updated").

    After a reconnect, fetch what was missed with ``GET /alerts?after=<last id seen>`` (and ``mine``).
    """
    principal = await websocket_principal(websocket)
    state: ApiState = websocket.app.state.vigil
    hub = state.live.hub
    hub.bind(asyncio.get_running_loop())
    mine_ids = await run_in_threadpool(state.scopes.list_ids_of, principal.user_id) if mine else None
    accept = await run_in_threadpool(_accept, state, principal, mine_ids)
    await websocket.accept()
    sub = hub.subscribe(accept)
    log.info("alert socket opened by %s", principal.username)
    # Reading at the same time notices a client that went away at once, not at the next alert.
    gone = asyncio.ensure_future(_until_closed(websocket))
    try:
        await websocket.send_json({"type": "hello", "user": principal.username})
        while not gone.done():
            next_message = asyncio.ensure_future(sub.queue.get())
            await asyncio.wait({next_message, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not next_message.done():
                next_message.cancel()
                break
            await websocket.send_json(next_message.result())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        gone.cancel()
        hub.unsubscribe(sub)


def _accept(state: ApiState, principal: Principal, mine: frozenset[int] | None) -> Accept | None:
    """Which alert messages a socket passes: those of the user's scope, and of their officer view's lists
    when ``mine``; None: every one."""
    scope = state.limits.scope_of(principal.user_id, principal.role)
    if scope.unlimited and mine is None:
        return None
    ids = {wl.name: wl.id for wl in state.lists.all()}

    def accept(message: dict[str, Any]) -> bool:
        lists = [ids[n] for n in message.get("lists") or () if n in ids]
        own = message.get("watchlist_id")
        if isinstance(own, int) and own not in lists:
            lists.insert(0, own)
        camera = message.get("camera_id")
        in_scope = scope.unlimited or (isinstance(camera, int) and alert_visible(scope, camera, lists))
        return in_scope and (mine is None or (isinstance(own, int) and own in mine))

    return accept


async def _until_closed(websocket: WebSocket) -> None:
    """Returns when the client closes (what it sends otherwise is ignored: the channel is one-way)."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


@router.get(
    "/metrics", tags=["ops"], response_class=Response,
    dependencies=[Depends(unlimited("the metrics cover every camera and list"))],
)  # fmt: skip
async def metrics(state: State, _user: CurrentUser) -> Response:
    """Prometheus text format (scrape with a bearer token). Every camera's figures: not for a user limited
    to lists or cameras (403)."""
    body = await run_in_threadpool(generate_latest, state.live.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@media.get("/media/events/{event_id}/best.jpg", response_class=FileResponse)
async def event_image(
    event_id: RowId,
    state: State,
    token: PresentedToken,
    exp: Annotated[int | None, Query(description="Expiry of a signed link (Unix seconds).")] = None,
    sig: Annotated[str | None, Query(description="Signature of a signed link.")] = None,
) -> FileResponse:
    """The best shot of an event: with a signed link from an alert, or with a token (of a user whose scope
    holds the event: 404 otherwise)."""
    signed = exp is not None and sig is not None and state.live.links.verify(event_id, exp, sig)
    if not signed:
        principal = await run_in_threadpool(state.users.resolve, token) if token else None
        if principal is None:
            raise Unauthorized("this image needs a valid signed link or a token")
        scope = await run_in_threadpool(state.limits.scope_of, principal.user_id, principal.role)
        await run_in_threadpool(state.history.get, event_id, scope)  # NotFound outside the scope

    def best_path() -> str:
        with state.db.read() as s:
            rel = s.scalar(
                select(EventShot.crop_path)
                .where(EventShot.event_id == event_id)
                .order_by(EventShot.quality.desc())
                .limit(1)
            )
        if rel is None:
            raise NotFound(f"event {event_id} has no image")
        return str(state.media.path(rel))

    path = await run_in_threadpool(best_path)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
