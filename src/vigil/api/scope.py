"""The caller's :class:`~vigil.services.visibility.Scope`, resolved once per request next to the principal,
and the two refusals every route uses for what lies outside it.

Example:
    >>> @router.get("/cameras/{camera_id}")  # doctest: +SKIP
    ... def camera(camera_id: RowId, state: State, scope: UserScope) -> CameraPublic:
    ...     if not camera_visible(scope, camera_id):
    ...         raise out_of_scope(f"camera {camera_id}")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import CurrentUser, State
from vigil.api.state import ApiState
from vigil.errors import Forbidden, NotFound
from vigil.services.users import Principal
from vigil.services.visibility import Scope, list_visible


async def current_scope(state: State, principal: CurrentUser) -> Scope:
    """The lists and cameras the caller is limited to (admins: never limited)."""
    return await run_in_threadpool(state.limits.scope_of, principal.user_id, principal.role)


UserScope = Annotated[Scope, Depends(current_scope)]


def unlimited(covers: str, cameras_only: bool = False) -> Callable[..., Awaitable[None]]:
    """A dependency refusing (403) a user limited to some lists or cameras (to some cameras only, with
    ``cameras_only``) the routes whose answers cover every one of them: ``covers`` says what they cover."""

    async def require_unlimited(principal: CurrentUser, scope: UserScope) -> None:
        limited = scope.camera_ids is not None if cameras_only else not scope.unlimited
        if limited:
            some = "cameras" if cameras_only else "lists or cameras"
            raise Forbidden(f"{covers}; {principal.username} is limited to some {some}")

    return require_unlimited


def scope_list_names(state: ApiState, scope: Scope) -> set[str] | None:
    """The names of the lists of ``scope``; None: not limited by list."""
    if scope.list_ids is None:
        return None
    return {wl.name for wl in state.lists.all() if list_visible(scope, wl.id)}


async def check_list(state: ApiState, scope: Scope, name: str, user: Principal, action: str) -> None:
    """NotFound (audited) unless the list ``name`` is in ``scope``."""
    names = await run_in_threadpool(scope_list_names, state, scope)
    if names is not None and name not in names:
        raise await refuse_act(state, user, action, f"list:{name}")


def out_of_scope(what: str) -> NotFound:
    """The answer for an item the caller may not see: as if it did not exist (404)."""
    return NotFound(f"no {what}")


async def refuse_act(state: ApiState, principal: Principal, action: str, subject: str) -> NotFound:
    """Audit an attempt to act on ``subject`` outside the caller's scope; the 404 to raise."""
    await run_in_threadpool(state.limits.refused, principal.username, action, subject)
    return out_of_scope(subject.replace(":", " "))


async def refuse_beyond(
    state: ApiState, principal: Principal, action: str, subject: str, why: str
) -> Forbidden:
    """Audit an action on visible items that would reach beyond the caller's scope; the 403 to raise."""
    await run_in_threadpool(state.limits.refused, principal.username, action, subject)
    return Forbidden(f"outside your scope: {why}")
