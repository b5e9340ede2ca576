"""Users, passwords, bearer tokens and sign-in sessions: what the API and ``vigil users`` call.

There are no default credentials: on first start :meth:`UserService.bootstrap_admin` creates the user
``admin`` with a random password and one API token, and hands both back once. Every change (and every
sign-in, failed or not) is written with its audit row in one transaction. Passwords and tokens are never
stored: passwords as scrypt hashes, tokens as their SHA-256 (see ``vigil.services.credentials``).

Example:
    >>> users = UserService(db, session_hours=12)  # doctest: +SKIP
    >>> first = users.bootstrap_admin()  # None when there are users already
    >>> token, me = users.login("admin", first.password)
    >>> users.resolve(token).role
    <Role.ADMIN: 'admin'>
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Protocol

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.errors import BadInput, ConfigError, NotFound, StoreError, Unauthorized
from vigil.services.credentials import (
    LoginThrottle,
    check_password_rule,
    hash_password,
    new_token,
    random_password,
    token_digest,
    token_sha256,
    verify_password,
)
from vigil.services.permissions import Permission, role_covers, role_may
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.tables import ApiToken, Role, TokenKind, User

log = logging.getLogger(__name__)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TOKEN_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
SYSTEM_ACTOR = "vigil"  # who acts when Vigil itself does something (the first start)
FIRST_ADMIN = "admin"
FIRST_TOKEN = "first-start"
LOGIN_FAILED = "wrong user name or password"
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
_PG_USERS_LOCK = 0x76676C75  # "vglu": serialises first starts (and admin changes) on PostgreSQL


def _utcnow() -> datetime:
    return datetime.now(UTC)


def check_username(name: str) -> str:
    if name == SYSTEM_ACTOR or not USERNAME.fullmatch(name):
        raise BadInput(
            name or "username",
            "user names are 1-64 lowercase letters, digits, '.', '-' or '_', starting alphanumeric "
            f"(and not {SYSTEM_ACTOR!r})",
        )
    return name


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as its owner and administrators see it (never the token itself)."""

    id: int
    username: str
    name: str
    kind: TokenKind
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the user behind a valid token, with the role they have now."""

    user_id: int
    username: str
    role: Role
    token_id: int
    token_kind: TokenKind

    def allows(self, min_role: Role) -> bool:
        """Whether the user holds every permission of ``min_role`` (see ``vigil.services.permissions``)."""
        return role_covers(self.role, min_role)

    def may(self, permission: Permission) -> bool:
        return role_may(self.role, permission)


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """The first administrator's credentials, in plain text, shown once (kept out of ``repr``)."""

    username: str
    password: str = field(repr=False)
    token_id: int
    token: str = field(repr=False)


def _user_info(user: User) -> UserInfo:
    return UserInfo(user.id, user.username, user.role, user.disabled, as_utc(user.created_at))


def _token_info(tok: ApiToken, username: str) -> TokenInfo:
    return TokenInfo(
        tok.id, username, tok.name, tok.kind, as_utc(tok.created_at), as_utc(tok.expires_at),
        as_utc(tok.last_used_at), as_utc(tok.revoked_at),
    )  # fmt: skip


def _user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def _serialise(s: Session) -> None:
    """Make user-table decisions one at a time (SQLite write transactions already are)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_USERS_LOCK})


def _keep_an_admin(s: Session, user: User) -> None:
    """Refuse to disable or demote the last enabled administrator (nobody could manage users after)."""
    admins = s.scalars(select(User.id).where(User.role == Role.ADMIN, User.disabled.is_(False))).all()
    if set(admins) <= {user.id}:
        raise BadInput(user.username, "the last enabled administrator cannot be disabled or demoted")


def _end_sessions(s: Session, user_id: int, now: datetime) -> int:
    result = s.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.kind == TokenKind.SESSION, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SignInBrake(Protocol):
    """Counts failed sign-ins per name and locks it after too many (in memory, or shared by processes)."""

    def locked_until(self, name: str, now: datetime) -> datetime | None: ...

    def failed(self, name: str, now: datetime) -> bool: ...

    def succeeded(self, name: str) -> None: ...


class UserService:
    """Users and their credentials over one database.

    Args:
        db: the store.
        session_hours: how long a sign-in session lasts (``server.session_hours``).
        clock: the current time (aware UTC); tests pass their own.
        throttle: the brake on password guessing; in memory, per process (see ``LoginThrottle``).
    """

    def __init__(
        self,
        db: Database,
        session_hours: float,
        *,
        clock: Callable[[], datetime] = _utcnow,
        throttle: SignInBrake | None = None,
    ) -> None:
        if not session_hours > 0:
            raise ConfigError(f"server.session_hours must be positive, not {session_hours}")
        self._db = db
        self.session = timedelta(hours=session_hours)
        self._now = clock
        self._throttle: SignInBrake = throttle or LoginThrottle()

    @cached_property
    def _decoy_hash(self) -> str:
        """Checked against when the user does not exist, so that takes as long as a wrong password."""
        return hash_password(random_password())

    # --- first start ---------------------------------------------------------------------------------

    def bootstrap_admin(self) -> Bootstrap | None:
        """On an empty users table: create ``admin`` with a random password and an API token.

        Returns the credentials in plain text (the only time they exist), or None when there are users.
        Safe when several processes start at once: one of them creates the administrator.
        """
        with self._db.read() as s:
            if s.scalar(select(User.id).limit(1)) is not None:
                return None
        password, token = random_password(), new_token()
        password_hash = hash_password(password)  # slow: done before the write lock is taken
        now = self._now()
        try:
            with self._db.write() as s:
                _serialise(s)
                if s.scalar(select(User.id).limit(1)) is not None:
                    return None  # another process got there first
                user = User(username=FIRST_ADMIN, password_hash=password_hash, role=Role.ADMIN,
                            disabled=False, created_at=now)  # fmt: skip
                s.add(user)
                s.flush()
                tok = self._add_token(
                    s, user.id, name=FIRST_TOKEN, kind=TokenKind.API, token=token, now=now, expires_at=None
                )
                audit.append(s, SYSTEM_ACTOR, "user.create", f"user:{FIRST_ADMIN}", reason="first start",
                             details={"role": Role.ADMIN.value})  # fmt: skip
                audit.append(
                    s, SYSTEM_ACTOR, "token.issue", f"token:{tok.id}", reason="first start",
                    details={"user": FIRST_ADMIN, "name": FIRST_TOKEN, "expires_at": None},
                )  # fmt: skip
        except IntegrityError:  # a writer that did not take the lock created "admin" meanwhile
            return None
        log.info("first start: created the administrator %r and an API token", FIRST_ADMIN)
        return Bootstrap(FIRST_ADMIN, password, tok.id, token)

    # --- users ---------------------------------------------------------------------------------------

    def create(
        self, username: str, role: Role, actor: str, password: str | None = None, *, reason: str = ""
    ) -> tuple[UserInfo, str]:
        """A new user; returns them and their password (a random one when ``password`` is None).

        Raises:
            BadInput: the name or the password breaks the rules, or the name is taken.
        """
        check_username(username)
        password = random_password() if password is None else check_password_rule(password)
        password_hash = hash_password(password)
        try:
            with self._db.write() as s:
                _serialise(s)  # not alongside a first start
                user = User(username=username, password_hash=password_hash, role=role, disabled=False,
                            created_at=self._now())  # fmt: skip
                s.add(user)
                s.flush()
                audit.append(s, actor, "user.create", f"user:{username}", reason=reason,
                             details={"role": role.value})  # fmt: skip
        except IntegrityError as exc:
            raise BadInput(username, "a user with this name already exists") from exc
        return _user_info(user), password

    def all(self) -> list[UserInfo]:
        with self._db.read() as s:
            return [_user_info(u) for u in s.scalars(select(User).order_by(User.username))]

    def get(self, username: str) -> UserInfo:
        with self._db.read() as s:
            return _user_info(_user(s, username))

    def update(
        self, username: str, actor: str, *, role: Role | None = None, disabled: bool | None = None,
        password: str | None = None, reason: str = "",
    ) -> UserInfo:  # fmt: skip
        """Change a user's role, disabled flag and/or password: one transaction, all or nothing.

        A new role counts from the user's next request. Disabling ends their sessions (their API tokens
        are refused while they are disabled); a new password ends their sessions. The last enabled
        administrator can be neither demoted nor disabled. Each change has its own audit row.

        Raises:
            NotFound: no such user.
            BadInput: the password breaks the rule, or the change would leave no enabled administrator.
        """
        password_hash = None if password is None else hash_password(check_password_rule(password))
        with self._db.write() as s:
            _serialise(s)
            user, subject, now = _user(s, username), f"user:{username}", self._now()
            if role is not None and role != user.role:
                if user.role == Role.ADMIN and not user.disabled:
                    _keep_an_admin(s, user)
                audit.append(s, actor, "user.role", subject, reason=reason,
                             details={"from": user.role.value, "to": role.value})  # fmt: skip
                user.role = role
            if disabled is not None and disabled != user.disabled:
                if disabled and user.role == Role.ADMIN:
                    _keep_an_admin(s, user)
                user.disabled = disabled
                ended = _end_sessions(s, user.id, now) if disabled else 0
                audit.append(s, actor, "user.disable" if disabled else "user.enable", subject,
                             reason=reason, details={"sessions_ended": ended})  # fmt: skip
            if password_hash is not None:
                user.password_hash = password_hash
                ended = _end_sessions(s, user.id, now)
                audit.append(s, actor, "user.password", subject, reason=reason,
                             details={"sessions_ended": ended})  # fmt: skip
            return _user_info(user)

    def set_disabled(self, username: str, disabled: bool, actor: str, *, reason: str = "") -> UserInfo:
        """Disable (or enable again) a user: see :meth:`update`."""
        return self.update(username, actor, disabled=disabled, reason=reason)

    def set_role(self, username: str, role: Role, actor: str, *, reason: str = "") -> UserInfo:
        """Change a user's role: see :meth:`update`."""
        return self.update(username, actor, role=role, reason=reason)

    def set_password(self, username: str, password: str, actor: str, *, reason: str = "") -> UserInfo:
        """Set a new password (at least 12 characters) and end the user's sessions: see :meth:`update`."""
        return self.update(username, actor, password=password, reason=reason)

    # --- sign-in -------------------------------------------------------------------------------------

    def login(self, username: str, password: str, *, client: str = "") -> tuple[str, UserInfo]:
        """Check a password and open a session; returns the session token (shown once) and the user.

        After 5 failures for one user name within 15 minutes, that name is locked for 15 minutes.
        ``client`` (e.g. the remote address) goes into the audit row.

        Raises:
            Unauthorized: wrong name or password, disabled user (one message for all), or locked.
        """
        now = self._now()
        valid_name = bool(USERNAME.fullmatch(username))
        name = username if valid_name else ascii(username)[:64]  # safe to log and store
        locked_until = self._throttle.locked_until(name, now)
        if locked_until is not None:
            log.warning("sign-in as %r refused: locked after too many failures", name)
            minutes = math.ceil((locked_until - now).total_seconds() / 60)
            raise Unauthorized(f"too many failed sign-ins for this user name: try again in {minutes} min")
        user = None
        if valid_name:
            with self._db.read() as s:
                user = s.scalar(select(User).where(User.username == username))
        matches = verify_password(password, user.password_hash if user else self._decoy_hash)
        if user is None or not matches or user.disabled:
            why = "unknown user" if user is None else "wrong password" if not matches else "user disabled"
            locked = self._throttle.failed(name, now)
            with self._db.write() as s:
                audit.append(s, name, "auth.login_failed", f"user:{name}", reason=why,
                             details={"client": client, "locked": locked})  # fmt: skip
            raise Unauthorized(LOGIN_FAILED)
        self._throttle.succeeded(name)
        token = new_token()
        with self._db.write() as s:
            s.execute(
                delete(ApiToken).where(
                    ApiToken.user_id == user.id, ApiToken.kind == TokenKind.SESSION,
                    or_(ApiToken.expires_at < now, ApiToken.revoked_at.is_not(None)),
                )
            )  # fmt: skip
            expires_at = now + self.session
            tok = self._add_token(
                s,
                user.id,
                name="session",
                kind=TokenKind.SESSION,
                token=token,
                now=now,
                expires_at=expires_at,
            )
            audit.append(s, user.username, "auth.login", f"user:{user.username}",
                         details={"client": client, "token_id": tok.id})  # fmt: skip
        return token, _user_info(user)

    def logout(self, token: str) -> bool:
        """End the session of ``token``; False when it is not a live session (API tokens are left alone)."""
        digest = token_digest(token)
        if digest is None:
            return False
        with self._db.write() as s:
            row = s.execute(
                select(ApiToken, User.username)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_sha256 == digest)
            ).one_or_none()
            if row is None or row[0].kind != TokenKind.SESSION or row[0].revoked_at is not None:
                return False
            tok, username = row
            tok.revoked_at = self._now()
            audit.append(s, username, "auth.logout", f"user:{username}", details={"token_id": tok.id})
        return True

    # --- tokens --------------------------------------------------------------------------------------

    def issue_token(
        self, username: str, name: str, actor: str, expires_at: datetime | None = None, *, reason: str = ""
    ) -> tuple[int, str]:
        """A new API token for ``username``; returns its id and the token (shown once, never stored).

        Raises:
            NotFound: no such user.
            BadInput: the name is empty or too long, or ``expires_at`` is not an aware time in the future.
        """
        if not TOKEN_NAME.fullmatch(name) or not name.strip():
            raise BadInput(name or "name", "a token name is 1-64 printable characters")
        now = self._now()
        if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
            raise BadInput("expires_at", "the expiry must be a time in the future, with its time zone")
        token = new_token()
        with self._db.write() as s:
            user = _user(s, username)
            tok = self._add_token(
                s, user.id, name=name, kind=TokenKind.API, token=token, now=now, expires_at=expires_at
            )
            audit.append(s, actor, "token.issue", f"token:{tok.id}", reason=reason,
                         details={"user": username, "name": name, "expires_at": expires_at})  # fmt: skip
        return tok.id, token

    def revoke_token(
        self, token_id: int, actor: str, *, owner: str | None = None, reason: str = ""
    ) -> TokenInfo:
        """Revoke a token (API or session); revoking it again changes nothing.

        Args:
            owner: when given, only a token of this user is found (users revoking their own tokens).

        Raises:
            NotFound: no such token (of ``owner``).
        """
        with self._db.write() as s:
            row = s.execute(
                select(ApiToken, User.username)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.id == token_id)
            ).one_or_none()
            if row is None or (owner is not None and row[1] != owner):
                raise NotFound(f"no token with id {token_id}")
            tok, username = row
            if tok.revoked_at is None:
                tok.revoked_at = self._now()
                audit.append(
                    s, actor, "token.revoke", f"token:{tok.id}", reason=reason,
                    details={"user": username, "name": tok.name, "kind": tok.kind.value},
                )  # fmt: skip
            return _token_info(tok, username)

    def tokens(self, username: str) -> list[TokenInfo]:
        """Every token of a user (API tokens, also revoked ones, and recent sessions), oldest first."""
        with self._db.read() as s:
            user = _user(s, username)
            rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
            return [_token_info(t, username) for t in rows]

    def resolve(self, token: str) -> Principal | None:
        """Who holds ``token``: None when it is unknown, revoked or expired, or its user is disabled."""
        digest = token_digest(token)
        if digest is None:
            return None
        now = self._now()
        with self._db.read() as s:
            row = s.execute(
                select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_sha256 == digest)
            ).one_or_none()
        if row is None:
            return None
        tok, user = row
        expires_at, last_used_at = as_utc(tok.expires_at), as_utc(tok.last_used_at)
        if tok.revoked_at is not None or user.disabled or (expires_at is not None and expires_at <= now):
            return None
        if last_used_at is None or now - last_used_at >= LAST_USED_EVERY:
            self._touch(tok.id, now)
        return Principal(user.id, user.username, user.role, tok.id, tok.kind)

    def _touch(self, token_id: int, now: datetime) -> None:
        """Note that a token was used (not audited; a busy database only costs the note)."""
        try:
            with self._db.write() as s:
                s.execute(
                    update(ApiToken)
                    .where(
                        ApiToken.id == token_id,
                        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_EVERY),
                    )
                    .values(last_used_at=now)
                )
        except StoreError as exc:
            log.warning("could not note the use of token %d: %s", token_id, exc)

    @staticmethod
    def _add_token(
        s: Session, user_id: int, *, name: str, kind: TokenKind, token: str, now: datetime,
        expires_at: datetime | None,
    ) -> ApiToken:  # fmt: skip
        tok = ApiToken(user_id=user_id, name=name, kind=kind, token_sha256=token_sha256(token),
                       created_at=now, expires_at=expires_at)  # fmt: skip
        s.add(tok)
        s.flush()
        return tok
