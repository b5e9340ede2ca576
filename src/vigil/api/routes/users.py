"""Users and their tokens, for administrators only (every route here needs the admin role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from vigil.api.deps import AdminUser, RowId, State, require
from vigil.api.errors import error_responses
from vigil.api.schemas.tokens import TokenCreate, TokenIssued, TokenPublic
from vigil.api.schemas.users import UserCreate, UserCreated, UserPublic, UserUpdate
from vigil.api.state import ApiState
from vigil.services.permissions import permissions_of
from vigil.services.scopes import Limits
from vigil.services.users import UserInfo
from vigil.store.tables import Role

router = APIRouter(tags=["users"], dependencies=[Depends(require(Role.ADMIN))])

NO_STORE = {"Cache-Control": "no-store"}  # responses carrying a secret
Reason = Annotated[str, Query(max_length=500, description="Why; written to the audit log.")]


def user_public(
    state: ApiState, info: UserInfo, lists: list[str] | None = None, limits: Limits | None = None
) -> UserPublic:
    """A user as the API shows them, with the lists of their officer view and their scope."""
    watchlists = state.scopes.lists_of(info.id) if lists is None else lists
    scope = state.limits.limits_of(info.id) if limits is None else limits
    permissions = sorted(permissions_of(info.role))
    return UserPublic.model_validate(info).model_copy(
        update={
            "watchlists": watchlists,
            "permissions": permissions,
            "lists": scope.lists,
            "cameras": scope.cameras,
        }
    )


@router.get("/users")
def list_users(state: State, admin: AdminUser) -> list[UserPublic]:
    scopes, limits = state.scopes.all(), state.limits.all()
    none = Limits([], [])
    return [user_public(state, u, scopes.get(u.id, []), limits.get(u.id, none)) for u in state.users.all()]


@router.post("/users", status_code=status.HTTP_201_CREATED, responses=error_responses(404))
def create_user(body: UserCreate, response: Response, state: State, admin: AdminUser) -> UserCreated:
    """A new user; without a password, a random one is made and returned in this answer only. With
    ``lists`` and/or ``cameras``, limited to them (names checked first: an unknown one creates nobody)."""
    state.limits.check(body.lists, body.cameras)
    user, password = state.users.create(
        body.username, body.role, admin.username, body.password, reason=body.reason
    )
    if body.lists or body.cameras:
        state.limits.limit(
            admin.username, user.username, lists=body.lists, cameras=body.cameras, reason=body.reason
        )
    response.headers.update(NO_STORE)
    return UserCreated(user=user_public(state, user, []), password=None if body.password else password)


@router.patch("/users/{username}")
def update_user(username: str, body: UserUpdate, state: State, admin: AdminUser) -> UserPublic:
    """Change a user's role, password, disabled flag, officer-view lists and/or scope (``lists``,
    ``cameras``: what they are limited to; [] lifts a limit). Scope changes are audited (``user.scope``).

    A new password or disabling ends the user's sessions; the last enabled admin stays an enabled admin.
    The list and camera names are checked first: an unknown one changes nothing.
    """
    if body.watchlists is not None:
        state.scopes.check(body.watchlists)
    state.limits.check(body.lists, body.cameras)
    if body.role is not None or body.disabled is not None or body.password is not None:
        state.users.update(
            username, admin.username, role=body.role, disabled=body.disabled, password=body.password,
            reason=body.reason,
        )  # fmt: skip
    if body.watchlists is not None:
        state.scopes.assign(admin.username, username, body.watchlists, reason=body.reason)
    if body.lists is not None or body.cameras is not None:
        state.limits.limit(
            admin.username, username, lists=body.lists, cameras=body.cameras, reason=body.reason
        )
    return user_public(state, state.users.get(username))


@router.get("/users/{username}/tokens")
def list_tokens(username: str, state: State, admin: AdminUser) -> list[TokenPublic]:
    return [TokenPublic.model_validate(t) for t in state.users.tokens(username)]


@router.post("/users/{username}/tokens", status_code=status.HTTP_201_CREATED)
def issue_token(
    username: str, body: TokenCreate, response: Response, state: State, admin: AdminUser
) -> TokenIssued:
    """A new API token for ``username``; the token is shown only in this answer."""
    token_id, token = state.users.issue_token(
        username, body.name, admin.username, body.expires_at, reason=body.reason
    )
    response.headers.update(NO_STORE)
    return TokenIssued(id=token_id, name=body.name, token=token, expires_at=body.expires_at)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: RowId, state: State, admin: AdminUser, reason: Reason = "") -> None:
    """Revoke any user's token (API or session); revoking it again changes nothing."""
    state.users.revoke_token(token_id, admin.username, reason=reason)
