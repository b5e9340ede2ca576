"""The API over a real database for the route tests: an app with an unstarted live service, and users."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.auth_kit import ALICE_PASSWORD, Clock
from vigil.api.state import ApiState
from vigil.app import Store, build_api_state, build_live, threshold_policy
from vigil.config import StoreConfig, VigilConfig
from vigil.services.lists import ListService
from vigil.services.people import PeopleService
from vigil.services.users import Bootstrap, UserService
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import Role


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    users: UserService
    db: Database
    clock: Clock
    first: Bootstrap

    @property
    def admin(self) -> dict[str, str]:
        """The first administrator's Authorization header."""
        return bearer(self.first.token)

    def user(self, name: str, role: Role) -> str:
        """A new user with ``role`` and an API token of theirs (returned)."""
        self.users.create(name, role, "test", ALICE_PASSWORD)
        return self.users.issue_token(name, "test", "test")[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_state(db: Database, users: UserService, config: VigilConfig | None = None) -> ApiState:
    """The API over ``db`` with an unstarted live service (no camera workers run in these tests)."""
    data = Path(tempfile.mkdtemp(prefix="vigil-api-"))
    cfg = (config or VigilConfig()).model_copy(update={"store": StoreConfig(data_dir=data)})
    media = MediaStore(data / "media")
    policy = threshold_policy(cfg)
    store = Store(cfg, db, media, ListService(db, policy), PeopleService(db, media), policy)
    return build_api_state(cfg, store, users, build_live(cfg, store, workers=1))
