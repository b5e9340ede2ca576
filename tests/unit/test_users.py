"""UserService on SQLite and PostgreSQL: first start, passwords, sign-in and lockout, tokens, audit."""

from __future__ import annotations

import base64
import hashlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.auth_kit import ALICE_PASSWORD, BOB_PASSWORD, Clock, audit_actions
from vigil.errors import BadInput, NotFound, Unauthorized
from vigil.services.credentials import (
    LoginThrottle,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from vigil.services.users import LOGIN_FAILED, Bootstrap, UserService
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.tables import ApiToken, AuditEntry, Base, Role, TokenKind, User

ACTOR = "test:root"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(db: Database, clock: Clock) -> UserService:
    return UserService(db, session_hours=1, clock=clock)


@pytest.fixture
def first(users: UserService) -> Bootstrap:
    boot = users.bootstrap_admin()
    assert boot is not None
    return boot


def count(db: Database, model: type[Base]) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


# --- credentials (pure) --------------------------------------------------------------------------------


def test_password_hash_is_self_describing_salted_scrypt() -> None:
    stored = hash_password(ALICE_PASSWORD)
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16
    want = hashlib.scrypt(ALICE_PASSWORD.encode(), salt=base64.b64decode(salt), n=2**14, r=8, p=1, dklen=32)
    assert base64.b64decode(digest) == want
    assert hash_password(ALICE_PASSWORD) != stored, "a new salt every time"
    assert verify_password(ALICE_PASSWORD, stored)
    assert not verify_password(ALICE_PASSWORD + " ", stored)
    assert not verify_password("", stored)


@pytest.mark.parametrize(
    "stored",
    ["", "plain-text-password", "scrypt$16384$8$1$c2FsdA==", "bcrypt$16384$8$1$c2FsdA==$aGFzaA==",
     "scrypt$16384$8$1$not base64!$aGFzaA==", "scrypt$1000$8$1$c2FsdA==$aGFzaA==",
     "scrypt$2097152$8$1$c2FsdA==$aGFzaA==", "scrypt$16384$8$1$c2FsdA==$"],
    ids=["empty", "plain", "missing-hash", "other-scheme", "bad-base64", "n-not-power-of-2", "n-too-costly",
         "empty-hash"],
)  # fmt: skip
def test_malformed_or_hostile_stored_hashes_never_match(stored: str) -> None:
    assert not verify_password("plain-text-password", stored)


def test_tokens_are_prefixed_random_and_looked_up_by_sha256() -> None:
    token = new_token()
    assert token.startswith("vgl_")
    assert len(token) == 4 + 43
    assert new_token() != token
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token_digest("not-a-vigil-token") is None
    assert token_digest("vgl_" + "x" * 500) is None


def test_throttle_counts_failures_within_the_window_only(clock: Clock) -> None:
    throttle = LoginThrottle()
    for _ in range(4):
        assert not throttle.failed("alice", clock())
    clock.advance(minutes=16)  # the first four are out of the window now
    for _ in range(4):
        assert not throttle.failed("alice", clock())
    assert throttle.locked_until("alice", clock()) is None
    assert throttle.failed("alice", clock())
    assert throttle.locked_until("alice", clock()) == clock() + timedelta(minutes=15)
    assert throttle.locked_until("bob", clock()) is None, "per user name"


# --- first start ---------------------------------------------------------------------------------------


def test_bootstrap_creates_one_admin_with_working_password_and_token(
    db: Database, users: UserService, first: Bootstrap
) -> None:
    assert first.username == "admin"
    assert len(first.password) >= 12
    assert first.password not in repr(first) and first.token not in repr(first), "secrets stay out of logs"
    assert [(u.username, u.role, u.disabled) for u in users.all()] == [("admin", Role.ADMIN, False)]

    principal = users.resolve(first.token)
    assert principal is not None
    assert (principal.username, principal.role, principal.token_kind) == ("admin", Role.ADMIN, TokenKind.API)
    assert [(t.name, t.kind, t.expires_at) for t in users.tokens("admin")] == [
        ("first-start", TokenKind.API, None)
    ]
    session, me = users.login("admin", first.password)
    assert me.username == "admin"
    assert users.resolve(session) is not None

    assert users.bootstrap_admin() is None, "users exist: nothing is created, nothing returned"
    assert count(db, User) == 1
    assert audit_actions(db)[:2] == [
        ("vigil", "user.create", "user:admin", "first start"),
        ("vigil", "token.issue", f"token:{first.token_id}", "first start"),
    ]


def test_bootstrap_does_nothing_when_any_user_exists(db: Database, users: UserService) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    assert users.bootstrap_admin() is None
    assert [u.username for u in users.all()] == ["alice"]
    assert count(db, ApiToken) == 0


def test_processes_starting_at_once_create_one_admin(db_url: str, db: Database) -> None:
    """Four "processes" (each with its own engine) bootstrap at the same moment: one admin, one token."""
    n = 4
    barrier = threading.Barrier(n)
    results: list[Bootstrap | None] = []
    errors: list[BaseException] = []

    def start() -> None:
        own = Database.from_url(db_url)  # the schema exists: made by the db fixture
        try:
            service = UserService(own, session_hours=12)
            barrier.wait()
            results.append(service.bootstrap_admin())
        except BaseException as exc:  # reported below, with the thread's exception
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    made = [r for r in results if r is not None]
    assert len(results) == n
    assert len(made) == 1
    assert count(db, User) == 1
    assert count(db, ApiToken) == 1
    assert [a[1] for a in audit_actions(db)] == ["user.create", "token.issue"]
    assert UserService(db, 12).resolve(made[0].token) is not None


# --- users and passwords -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Alice", "al ice", "", "a" * 65, "-alice", "alice:x", "älice", "alice\n", "vigil", "../etc"],
    ids=["uppercase", "space", "empty", "65-chars", "leading-dash", "colon", "non-ascii", "newline",
         "system-actor", "path"],
)  # fmt: skip
def test_invalid_user_names_are_refused(db: Database, users: UserService, name: str) -> None:
    with pytest.raises(BadInput, match="user names are 1-64 lowercase"):
        users.create(name, Role.VIEWER, ACTOR, ALICE_PASSWORD)
    assert count(db, User) == 0


def test_password_rule_names_the_rule(db: Database, users: UserService) -> None:
    with pytest.raises(BadInput, match="at least 12 characters"):
        users.create("alice", Role.VIEWER, ACTOR, "elevenchars")
    users.create("alice", Role.VIEWER, ACTOR, "twelve-chars")
    with pytest.raises(BadInput, match="at least 12 characters"):
        users.set_password("alice", "short", ACTOR)
    assert count(db, User) == 1


def test_create_returns_a_random_password_when_none_is_given(users: UserService) -> None:
    info, password = users.create("alice", Role.OPERATOR, ACTOR)
    assert (info.username, info.role, info.disabled) == ("alice", Role.OPERATOR, False)
    assert len(password) >= 12
    assert users.login("alice", password)[1] == info
    with pytest.raises(BadInput, match="already exists"):
        users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)


def test_set_password_replaces_the_old_one_and_ends_sessions(users: UserService) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    session, _ = users.login("alice", ALICE_PASSWORD)
    users.set_password("alice", BOB_PASSWORD, ACTOR, reason="rotation")
    assert users.resolve(session) is None
    with pytest.raises(Unauthorized, match=LOGIN_FAILED):
        users.login("alice", ALICE_PASSWORD)
    users.login("alice", BOB_PASSWORD)
    with pytest.raises(NotFound, match="no user named 'carol'"):
        users.set_password("carol", BOB_PASSWORD, ACTOR)


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(users: UserService, first: Bootstrap) -> None:
    with pytest.raises(BadInput, match="last enabled administrator"):
        users.set_disabled("admin", True, ACTOR)
    with pytest.raises(BadInput, match="last enabled administrator"):
        users.set_role("admin", Role.OPERATOR, ACTOR)
    users.create("root2", Role.ADMIN, ACTOR, ALICE_PASSWORD)
    assert users.set_role("admin", Role.OPERATOR, ACTOR).role == Role.OPERATOR
    with pytest.raises(BadInput, match="last enabled administrator"):
        users.set_disabled("root2", True, ACTOR)


def test_update_changes_everything_or_nothing(db: Database, users: UserService, first: Bootstrap) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    before = audit_actions(db)
    with pytest.raises(BadInput, match="at least 12 characters"):
        users.update("alice", ACTOR, role=Role.ADMIN, disabled=True, password="short")
    with pytest.raises(BadInput, match="last enabled administrator"):
        users.update("admin", ACTOR, password=BOB_PASSWORD, role=Role.VIEWER)
    assert audit_actions(db) == before, "nothing written"
    assert users.get("alice").role == Role.VIEWER
    users.login("admin", first.password)  # the password did not change

    info = users.update("alice", ACTOR, role=Role.OPERATOR, password=BOB_PASSWORD, reason="promoted")
    assert (info.role, info.disabled) == (Role.OPERATOR, False)
    users.login("alice", BOB_PASSWORD)
    assert [a[1] for a in audit_actions(db)[len(before) :]] == [
        "auth.login", "user.role", "user.password", "auth.login",
    ]  # fmt: skip


# --- sign-in -------------------------------------------------------------------------------------------


def test_every_failed_sign_in_says_the_same_and_is_audited_with_its_cause(
    db: Database, users: UserService
) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    users.create("bob", Role.VIEWER, ACTOR, BOB_PASSWORD)
    users.set_disabled("bob", True, ACTOR, reason="left")
    attempts = [("alice", BOB_PASSWORD), ("mallory", ALICE_PASSWORD), ("bob", BOB_PASSWORD), ("a\x00b", "x")]
    for name, password in attempts:
        with pytest.raises(Unauthorized) as info:
            users.login(name, password)
        assert str(info.value) == LOGIN_FAILED
    failed = [a for a in audit_actions(db) if a[1] == "auth.login_failed"]
    assert failed == [
        ("alice", "auth.login_failed", "user:alice", "wrong password"),
        ("mallory", "auth.login_failed", "user:mallory", "unknown user"),
        ("bob", "auth.login_failed", "user:bob", "user disabled"),
        ("'a\\x00b'", "auth.login_failed", "user:'a\\x00b'", "unknown user"),
    ]


def test_five_failures_lock_the_name_for_15_minutes(db: Database, users: UserService, clock: Clock) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    for _ in range(5):
        with pytest.raises(Unauthorized, match=LOGIN_FAILED):
            users.login("alice", "guess-guess-guess")
    with pytest.raises(Unauthorized, match=r"too many failed sign-ins.*15 min"):
        users.login("alice", ALICE_PASSWORD)
    clock.advance(minutes=14)
    with pytest.raises(Unauthorized, match=r"too many failed sign-ins.*: try again in 1 min"):
        users.login("alice", ALICE_PASSWORD)
    clock.advance(minutes=1)
    users.login("alice", ALICE_PASSWORD)
    failures = [a for a in audit_actions(db) if a[1] == "auth.login_failed"]
    assert len(failures) == 5, "refusals while locked are logged, not audited"


def test_unknown_names_are_locked_the_same_way(users: UserService) -> None:
    for _ in range(5):
        with pytest.raises(Unauthorized, match=LOGIN_FAILED):
            users.login("mallory", "guess-guess-guess")
    with pytest.raises(Unauthorized, match="too many failed sign-ins"):
        users.login("mallory", "guess-guess-guess")


def test_a_success_resets_the_failure_count(users: UserService) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    for _ in range(2):
        for _ in range(4):
            with pytest.raises(Unauthorized, match=LOGIN_FAILED):
                users.login("alice", "guess-guess-guess")
        users.login("alice", ALICE_PASSWORD)


def test_sessions_expire_after_session_hours_and_end_at_logout(users: UserService, clock: Clock) -> None:
    users.create("alice", Role.OPERATOR, ACTOR, ALICE_PASSWORD)
    session, _ = users.login("alice", ALICE_PASSWORD, client="192.0.2.7")
    principal = users.resolve(session)
    assert principal is not None
    assert (principal.username, principal.role, principal.token_kind) == (
        "alice", Role.OPERATOR, TokenKind.SESSION,
    )  # fmt: skip
    clock.advance(minutes=59)
    assert users.resolve(session) is not None
    clock.advance(minutes=2)
    assert users.resolve(session) is None, "expired after session_hours (1 h)"

    session, _ = users.login("alice", ALICE_PASSWORD)
    assert users.logout(session)
    assert users.resolve(session) is None
    assert not users.logout(session), "already ended"
    assert not users.logout("vgl_unknown")


def test_logout_leaves_api_tokens_alone(users: UserService) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    _, token = users.issue_token("alice", "script", ACTOR)
    assert not users.logout(token)
    assert users.resolve(token) is not None


def test_expired_sessions_are_cleared_at_the_next_sign_in(users: UserService, clock: Clock) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    users.login("alice", ALICE_PASSWORD)
    ended, _ = users.login("alice", ALICE_PASSWORD)
    users.logout(ended)
    clock.advance(hours=2)
    users.login("alice", ALICE_PASSWORD)
    assert [t.kind for t in users.tokens("alice")] == [TokenKind.SESSION]


# --- tokens --------------------------------------------------------------------------------------------


def test_api_tokens_expire_and_are_revoked(db: Database, users: UserService, clock: Clock) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    expiring_id, expiring = users.issue_token("alice", "one hour", ACTOR, clock() + timedelta(hours=1))
    lasting_id, lasting = users.issue_token("alice", "home-assistant", ACTOR, reason="integration")
    assert users.resolve(expiring) is not None
    clock.advance(hours=1)
    assert users.resolve(expiring) is None, "expired"
    assert users.resolve(lasting) is not None

    info = users.revoke_token(lasting_id, ACTOR, reason="rotated")
    assert info.revoked_at == clock()
    assert not info.active(clock())
    assert users.resolve(lasting) is None
    users.revoke_token(lasting_id, ACTOR)  # again: no change, no second audit row
    with pytest.raises(NotFound, match="no token with id 999"):
        users.revoke_token(999, ACTOR)
    assert [(t.id, t.name) for t in users.tokens("alice")] == [
        (expiring_id, "one hour"), (lasting_id, "home-assistant"),
    ]  # fmt: skip
    assert [a for a in audit_actions(db) if a[1].startswith("token.")] == [
        (ACTOR, "token.issue", f"token:{expiring_id}", ""),
        (ACTOR, "token.issue", f"token:{lasting_id}", "integration"),
        (ACTOR, "token.revoke", f"token:{lasting_id}", "rotated"),
    ]


def test_users_revoke_only_their_own_tokens(users: UserService) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    users.create("bob", Role.VIEWER, ACTOR, BOB_PASSWORD)
    token_id, token = users.issue_token("alice", "script", "alice")
    with pytest.raises(NotFound):
        users.revoke_token(token_id, "bob", owner="bob")
    assert users.resolve(token) is not None
    users.revoke_token(token_id, "alice", owner="alice")
    assert users.resolve(token) is None


@pytest.mark.parametrize(
    ("name", "expires_in", "aware", "message"),
    [("", 1, True, "1-64 printable"), ("x" * 65, 1, True, "1-64 printable"), ("a\nb", 1, True, "printable"),
     ("   ", 1, True, "printable"), ("ok", -1, True, "in the future"), ("ok", 1, False, "time zone")],
    ids=["empty", "65-chars", "newline", "blank", "past", "naive"],
)  # fmt: skip
def test_bad_token_requests_are_refused(
    users: UserService, clock: Clock, name: str, expires_in: int, aware: bool, message: str
) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    expires_at = clock() + timedelta(hours=expires_in)
    with pytest.raises(BadInput, match=message):
        users.issue_token("alice", name, ACTOR, expires_at if aware else expires_at.replace(tzinfo=None))
    assert users.tokens("alice") == []


def test_disabled_users_tokens_are_refused_and_sessions_ended(users: UserService) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    _, token = users.issue_token("alice", "script", ACTOR)
    session, _ = users.login("alice", ALICE_PASSWORD)
    users.set_disabled("alice", True, ACTOR, reason="left the team")
    assert users.resolve(token) is None
    assert users.resolve(session) is None
    with pytest.raises(Unauthorized, match=LOGIN_FAILED):
        users.login("alice", ALICE_PASSWORD)
    users.set_disabled("alice", False, ACTOR, reason="back")
    assert users.resolve(token) is not None, "API tokens work again"
    assert users.resolve(session) is None, "sessions stay ended"


def test_last_used_at_is_written_at_most_once_a_minute(users: UserService, clock: Clock) -> None:
    users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    _, token = users.issue_token("alice", "script", ACTOR)
    assert users.tokens("alice")[0].last_used_at is None
    start = clock()
    users.resolve(token)
    assert users.tokens("alice")[0].last_used_at == start
    clock.advance(seconds=30)
    users.resolve(token)
    assert users.tokens("alice")[0].last_used_at == start
    clock.advance(seconds=31)
    users.resolve(token)
    assert users.tokens("alice")[0].last_used_at == clock()


def test_unknown_and_malformed_tokens_resolve_to_nobody(users: UserService, first: Bootstrap) -> None:
    for token in ["", "vgl_", "vgl_unknown", first.token + "x", first.token[4:], "Bearer " + first.token]:
        assert users.resolve(token) is None, token


# --- what is stored ------------------------------------------------------------------------------------


def test_passwords_and_tokens_are_never_stored_in_plain_text(
    db_url: str, db: Database, users: UserService, first: Bootstrap
) -> None:
    _, generated = users.create("alice", Role.VIEWER, ACTOR)
    users.create("bob", Role.VIEWER, ACTOR, BOB_PASSWORD)
    users.set_password("alice", ALICE_PASSWORD, ACTOR)
    session, _ = users.login("alice", ALICE_PASSWORD)
    _, token = users.issue_token("bob", "script", ACTOR)
    with pytest.raises(Unauthorized):
        users.login("bob", "a-wrong-password-typed")
    secrets = [first.password, first.token, generated, ALICE_PASSWORD, BOB_PASSWORD, session, token,
               "a-wrong-password-typed"]  # fmt: skip

    with db.read() as s:
        dump = repr([s.execute(select(t)).all() for t in Base.metadata.sorted_tables])
    assert hashlib.sha256(token.encode()).hexdigest() in dump, "the dump holds the tokens' rows"
    assert "scrypt$16384$8$1$" in dump, "and the password hashes"
    for secret in secrets:
        assert secret not in dump

    if db_url.startswith("sqlite"):
        db.dispose()  # the WAL is checkpointed into the file; read both in case it is not
        path = Path(db_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert hashlib.sha256(token.encode()).hexdigest().encode() in raw
        for secret in secrets:
            assert secret.encode() not in raw, "a secret in the database file"


def test_every_change_and_sign_in_is_audited_in_one_chain(
    db: Database, users: UserService, first: Bootstrap
) -> None:
    users.create("alice", Role.VIEWER, "admin", ALICE_PASSWORD, reason="new operator")
    users.set_role("alice", Role.OPERATOR, "admin", reason="promoted")
    token_id, _ = users.issue_token("alice", "script", "admin")
    users.revoke_token(token_id, "admin", reason="not needed")
    session, _ = users.login("alice", ALICE_PASSWORD, client="192.0.2.7")
    users.logout(session)
    users.set_password("alice", BOB_PASSWORD, "admin", reason="reset")
    users.set_disabled("alice", True, "admin", reason="left")
    users.set_disabled("alice", False, "admin", reason="back")
    with pytest.raises(Unauthorized):
        users.login("alice", ALICE_PASSWORD)
    assert audit_actions(db)[2:] == [
        ("admin", "user.create", "user:alice", "new operator"),
        ("admin", "user.role", "user:alice", "promoted"),
        ("admin", "token.issue", f"token:{token_id}", ""),
        ("admin", "token.revoke", f"token:{token_id}", "not needed"),
        ("alice", "auth.login", "user:alice", ""),
        ("alice", "auth.logout", "user:alice", ""),
        ("admin", "user.password", "user:alice", "reset"),
        ("admin", "user.disable", "user:alice", "left"),
        ("admin", "user.enable", "user:alice", "back"),
        ("alice", "auth.login_failed", "user:alice", "wrong password"),
    ]
    with db.read() as s:
        assert audit.verify(s).ok
        details = [a.details for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert '"client":"192.0.2.7"' in details[6]
    assert all(ALICE_PASSWORD not in d and BOB_PASSWORD not in d for d in details)


def test_times_are_aware_utc(users: UserService) -> None:
    info, _ = users.create("alice", Role.VIEWER, ACTOR, ALICE_PASSWORD)
    assert users.get("alice").created_at.utcoffset() == timedelta(0)
    assert abs(info.created_at - datetime.now(UTC)) < timedelta(minutes=1)
