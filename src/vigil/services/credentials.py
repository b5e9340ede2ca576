"""Secrets of users: password hashes, bearer tokens, and the in-memory brake on guessing passwords.

Passwords are hashed with scrypt (stdlib ``hashlib.scrypt``) into a self-describing string,
``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``, so the cost can be raised later without losing old hashes.
Tokens are ``vgl_`` + 32 random bytes (URL-safe base64); only their SHA-256 is ever stored.

Example:
    >>> stored = hash_password("correct horse battery")
    >>> verify_password("correct horse battery", stored), verify_password("wrong", stored)
    (True, False)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from datetime import datetime, timedelta

from vigil.errors import BadInput

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
_MAXMEM = 64 * 1024 * 1024  # scrypt needs 128 * n * r bytes: 16 MiB at the defaults
_MAX_N = 2**20  # a stored hash asking for more than this is corrupt (or hostile), not verified

PASSWORD_MIN_CHARS = 12
PASSWORD_MAX_CHARS = 1024
TOKEN_PREFIX = "vgl_"
_TOKEN_MAX_CHARS = 128


def check_password_rule(password: str) -> str:
    """The password, if it follows the rule (12 to 1024 characters).

    Raises:
        BadInput: it does not, naming the rule.
    """
    if len(password) < PASSWORD_MIN_CHARS:
        raise BadInput("password", f"a password needs at least {PASSWORD_MIN_CHARS} characters")
    if len(password) > PASSWORD_MAX_CHARS:
        raise BadInput("password", f"a password has at most {PASSWORD_MAX_CHARS} characters")
    return password


def random_password() -> str:
    """A new random password (20 URL-safe characters, 120 bits)."""
    return secrets.token_urlsafe(15)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=HASH_BYTES
    )


def hash_password(password: str) -> str:
    """``scrypt$16384$8$1$<salt>$<hash>`` for ``password``, with a new random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (constant-time comparison).

    A malformed stored hash never matches.
    """
    try:
        scheme, n_s, r_s, p_s, salt_b64, hash_b64 = stored.split("$")
        n, r, p = int(n_s), int(r_s), int(p_s)
        salt = base64.b64decode(salt_b64, validate=True)
        want = base64.b64decode(hash_b64, validate=True)
    except ValueError:
        return False
    if scheme != "scrypt" or not (1 < n <= _MAX_N and 1 <= r <= 32 and 1 <= p <= 16) or not want:
        return False
    try:
        got = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=len(want)
        )
    except ValueError:  # n not a power of two, or more memory than allowed
        return False
    return hmac.compare_digest(got, want)


def new_token() -> str:
    """A new bearer token: ``vgl_`` and 43 URL-safe characters (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    """The SHA-256 (hex) under which ``token`` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_digest(token: str) -> str | None:
    """What to look ``token`` up by, or None when it cannot be a Vigil token (wrong prefix, too long)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > _TOKEN_MAX_CHARS:
        return None
    return token_sha256(token)


class LoginThrottle:
    """Counts failed sign-ins per user name and locks the name after too many.

    After ``max_failures`` failures within ``window``, sign-ins under that name are refused for
    ``lockout`` (even with the right password). Kept in memory: per process, forgotten on restart,
    which is enough to make guessing slow; several API processes each count on their own.
    Names that do not exist are counted the same way, so a lockout says nothing about who exists.
    """

    _PRUNE_ABOVE = 10_000  # names remembered before forgotten (expired) ones are dropped

    def __init__(
        self,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=15),
        lockout: timedelta = timedelta(minutes=15),
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self._failures: dict[str, list[datetime]] = {}
        self._locked_until: dict[str, datetime] = {}
        self._mutex = threading.Lock()

    def locked_until(self, name: str, now: datetime) -> datetime | None:
        """When the lock on ``name`` ends, or None when it is not locked."""
        with self._mutex:
            until = self._locked_until.get(name)
            if until is not None and until <= now:
                del self._locked_until[name]
                return None
            return until

    def failed(self, name: str, now: datetime) -> bool:
        """Count a failure; True when this one locks the name."""
        with self._mutex:
            if len(self._failures) > self._PRUNE_ABOVE:
                self._prune(now)
            recent = [t for t in self._failures.get(name, []) if now - t < self.window]
            recent.append(now)
            if len(recent) >= self.max_failures:
                self._failures.pop(name, None)
                self._locked_until[name] = now + self.lockout
                return True
            self._failures[name] = recent
            return False

    def succeeded(self, name: str) -> None:
        """Forget the failures of ``name`` (a correct password ends the count)."""
        with self._mutex:
            self._failures.pop(name, None)

    def _prune(self, now: datetime) -> None:
        self._failures = {
            k: v for k, v in self._failures.items() if v and now - v[-1] < self.window
        }  # fmt: skip
        self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}
