"""The sign-in brake across API processes: failures through one process lock the name in every other."""

from __future__ import annotations

import pytest

from tests.auth_kit import ALICE_PASSWORD
from vigil.errors import Unauthorized
from vigil.services.login_throttle import SharedLoginThrottle
from vigil.services.users import LOGIN_FAILED, UserService
from vigil.store.db import Database
from vigil.store.tables import Role


def test_failures_split_over_two_processes_lock_the_name_in_both(db: Database) -> None:
    first = UserService(db, session_hours=1, throttle=SharedLoginThrottle(db, max_failures=4))
    second = UserService(db, session_hours=1, throttle=SharedLoginThrottle(db, max_failures=4))
    first.bootstrap_admin()
    first.create("alice", Role.OPERATOR, "admin", ALICE_PASSWORD)
    for i in range(3):
        with pytest.raises(Unauthorized, match=LOGIN_FAILED):
            (first if i % 2 else second).login("alice", "wrong password")
    with pytest.raises(Unauthorized, match=LOGIN_FAILED):
        first.login("alice", "wrong again")  # the fourth, through the other process: locks
    for users in (first, second):
        with pytest.raises(Unauthorized, match="too many failed sign-ins"):
            users.login("alice", "wrong password")


def test_a_successful_sign_in_ends_the_count_everywhere(db: Database) -> None:
    first = UserService(db, session_hours=1, throttle=SharedLoginThrottle(db, max_failures=3))
    second = UserService(db, session_hours=1, throttle=SharedLoginThrottle(db, max_failures=3))
    first.bootstrap_admin()
    _info, password = first.create("bob", Role.VIEWER, "admin")
    for _ in range(2):
        with pytest.raises(Unauthorized, match=LOGIN_FAILED):
            second.login("bob", "wrong password")
    first.login("bob", password)
    for _ in range(2):
        with pytest.raises(Unauthorized, match=LOGIN_FAILED):
            second.login("bob", "wrong password")
    token, _user = second.login("bob", password)  # two failures since the success: not locked
    assert token
