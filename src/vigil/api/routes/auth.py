"""Signing in and out, who am I, and one's own API tokens.

``public`` holds the open routes (``POST /auth/login``, ``GET /auth/session``); ``router`` is included
behind authentication.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import SESSION_COOKIE, CurrentUser, PresentedToken, RowId, State
from vigil.api.errors import error_responses
from vigil.api.routes.users import user_public
from vigil.api.schemas.auth import LoginPublic, LoginRequest, SessionPublic
from vigil.api.schemas.tokens import TokenCreate, TokenIssued, TokenPublic
from vigil.api.schemas.users import UserPublic

public = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(prefix="/auth", tags=["auth"])

NO_STORE = {"Cache-Control": "no-store"}  # responses carrying a secret
Reason = Annotated[str, Query(max_length=500, description="Why; written to the audit log.")]


def _https(request: Request, state: State) -> bool:
    """Whether the client reached us over HTTPS (directly, or as the configured public URL says)."""
    public_url = state.config.server.public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")


@public.post("/login", responses=error_responses(401))
def login(body: LoginRequest, request: Request, response: Response, state: State) -> LoginPublic:
    """Sign in with a user name and password: a session token, also set as an HttpOnly cookie.

    Five wrong passwords for one user name within 15 minutes lock that name for 15 minutes.
    """
    client = request.client.host if request.client else ""
    token, user = state.users.login(body.username, body.password, client=client)
    response.headers.update(NO_STORE)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(state.users.session.total_seconds()), path="/",
        secure=_https(request, state), httponly=True, samesite="strict",
    )  # fmt: skip
    return LoginPublic(token=token, user=user_public(state, user))


@public.get("/session")
async def session(state: State, token: PresentedToken) -> SessionPublic:
    """Who this browser is signed in as, or ``user: null``: lets a page decide between its sign-in form
    and its content without provoking a 401 (the one open route that reads a token; it reveals nothing
    to a caller without a valid one)."""
    principal = await run_in_threadpool(state.users.resolve, token) if token else None
    if principal is None:
        return SessionPublic(user=None)
    return SessionPublic(
        user=await run_in_threadpool(user_public, state, state.users.get(principal.username))
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, state: State, token: PresentedToken) -> None:
    """End this session (an API token used here stays valid: revoke it instead) and drop the cookie."""
    if token:
        state.users.logout(token)
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=_https(request, state), httponly=True, samesite="strict"
    )


@router.get("/me")
def me(state: State, user: CurrentUser) -> UserPublic:
    return user_public(state, state.users.get(user.username))


@router.get("/tokens")
def my_tokens(state: State, user: CurrentUser) -> list[TokenPublic]:
    """Your tokens: API tokens (also revoked ones) and recent sessions."""
    return [TokenPublic.model_validate(t) for t in state.users.tokens(user.username)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def issue_my_token(body: TokenCreate, response: Response, state: State, user: CurrentUser) -> TokenIssued:
    """A new API token of your own, with your role; the token is shown only in this answer."""
    token_id, token = state.users.issue_token(
        user.username, body.name, user.username, body.expires_at, reason=body.reason
    )
    response.headers.update(NO_STORE)
    return TokenIssued(id=token_id, name=body.name, token=token, expires_at=body.expires_at)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_my_token(token_id: RowId, state: State, user: CurrentUser, reason: Reason = "") -> None:
    """Revoke one of your tokens (404 for anyone else's)."""
    state.users.revoke_token(token_id, user.username, owner=user.username, reason=reason)
