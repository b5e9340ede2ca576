"""Users and their tokens, for administrators only (every route here needs the admin role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from vigil.api.deps import AdminUser, State, require
from vigil.api.schemas.tokens import TokenCreate, TokenIssued, TokenPublic
from vigil.api.schemas.users import UserCreate, UserCreated, UserPublic, UserUpdate
from vigil.store.tables import Role

router = APIRouter(tags=["users"], dependencies=[Depends(require(Role.ADMIN))])

NO_STORE = {"Cache-Control": "no-store"}  # responses carrying a secret
Reason = Annotated[str, Query(max_length=500, description="Why; written to the audit log.")]


@router.get("/users")
def list_users(state: State, admin: AdminUser) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in state.users.all()]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, response: Response, state: State, admin: AdminUser) -> UserCreated:
    """A new user; without a password, a random one is made and returned in this answer only."""
    user, password = state.users.create(
        body.username, body.role, admin.username, body.password, reason=body.reason
    )
    response.headers.update(NO_STORE)
    return UserCreated(user=UserPublic.model_validate(user), password=None if body.password else password)


@router.patch("/users/{username}")
def update_user(username: str, body: UserUpdate, state: State, admin: AdminUser) -> UserPublic:
    """Change a user's role, password and/or disabled flag, all or nothing.

    A new password or disabling ends the user's sessions; the last enabled admin stays an enabled admin.
    """
    info = state.users.update(
        username, admin.username, role=body.role, disabled=body.disabled, password=body.password,
        reason=body.reason,
    )  # fmt: skip
    return UserPublic.model_validate(info)


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
def revoke_token(token_id: int, state: State, admin: AdminUser, reason: Reason = "") -> None:
    """Revoke any user's token (API or session); revoking it again changes nothing."""
    state.users.revoke_token(token_id, admin.username, reason=reason)
