"""WebSocket messages across API processes: what one publishes, the others' clients get (PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pg import ThrowawayPostgres
from vigil.alerts.hub import AlertHub
from vigil.alerts.relay import AlertRelay
from vigil.store.db import Database

pytestmark = pytest.mark.network


class _Clients(AlertHub):
    """A hub that keeps what it is given to send (its clients' view)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def publish(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


@pytest.fixture
def pg(postgres: ThrowawayPostgres) -> Iterator[Database]:
    db = Database.from_url(postgres.new_database(f"relay_{uuid.uuid4().hex[:8]}"))
    yield db
    db.dispose()


def test_a_message_reaches_the_other_processes_clients_once(pg: Database) -> None:
    leader_hub, standby_hub = _Clients(), _Clients()
    leader, standby = AlertRelay(pg, leader_hub), AlertRelay(pg, standby_hub)
    leader.start()
    standby.start()
    try:
        message = {"type": "alert.created", "alert_id": 7, "person": "Lin-Manuel Miranda"}
        leader.publish(message)
        deadline = time.monotonic() + 2.0
        while not standby_hub.sent and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # time for a wrong echo to arrive
        assert standby_hub.sent == [message], "relayed to the other process's clients"
        assert leader_hub.sent == [message], "published once where it was raised, never echoed back"
    finally:
        leader.stop()
        standby.stop()


def test_on_sqlite_it_is_the_local_hub_only(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'v.db'}")
    hub = _Clients()
    relay = AlertRelay(db, hub)
    relay.start()
    relay.publish({"type": "alert.created", "alert_id": 1})
    relay.stop()
    assert hub.sent == [{"type": "alert.created", "alert_id": 1}]
    db.dispose()
