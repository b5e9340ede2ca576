"""Several writers, one archive: a server's archive index and alert fan-out catch up from the store with what
another process wrote (`vigil scan --store`, another server), on both engines.

Each test writes through a second :class:`Database` (its own engine and connections: another process as
far as the store can tell) and reads through the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from sqlalchemy import update

from vigil.alerts.router import Alert
from vigil.search.archive import Archive, LiveArchive, recorded_since
from vigil.services.alert_feed import AlertFeed
from vigil.store.db import Database
from vigil.store.feed import FeedCursor
from vigil.store.notify import ALERTED
from vigil.store.tables import Camera, Event, Person, Watchlist

MODEL = "m1"
DIM = 8
T0 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)


def _at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        pytest.param([[(1, 0.0), (2, 1.0)], [(1, 0.0), (2, 1.0)]], [[1, 2], []], id="read-again-nothing-new"),
        pytest.param([[(2, 5.0)], [(2, 5.0), (1, 3.0)]], [[2], [1]], id="late-commit-older-stamp"),
        pytest.param([[(1, 0.0)], [(1, 4.0)]], [[1], [1]], id="row-stamped-again"),
    ],
)
def test_a_cursor_hands_out_each_change_once(
    reads: list[list[tuple[int, float]]], expected: list[list[int]]
) -> None:
    cursor = FeedCursor(overlap_s=60.0)
    assert [cursor.fresh((i, _at(s)) for i, s in rows) for rows in reads] == expected


def test_a_cursor_reads_an_overlap_behind_its_mark_and_nothing_before_its_floor() -> None:
    cursor = FeedCursor(overlap_s=10.0, floor=_at(0))
    assert cursor.since() == _at(0)
    assert cursor.fresh([(1, _at(-1)), (2, _at(30))]) == [2], "stamped before the floor: history"
    assert cursor.since() == _at(20)
    once = FeedCursor(overlap_s=10.0, once=True)
    assert once.note(7, _at(1)) is True
    assert once.fresh([(7, _at(2))]) == [], "an alert is handed out once, whatever its stamp"
    assert once.note(7, _at(1)) is False


@pytest.fixture
def writer(db: Database) -> Iterator[Database]:
    """Another process's connection to the same store."""
    other = Database.from_url(db.engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()


def _camera(db: Database, name: str = "footage") -> int:
    with db.write() as s:
        cam = Camera(name=name, url=f"footage:{name}", enabled=False, virtual=True, created_at=T0)
        s.add(cam)
        s.flush()
        return cam.id


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _record(db: Database, camera_id: int, seed: int, recorded_at: datetime) -> int:
    with db.write() as s:
        event = Event(
            camera_id=camera_id, track_id=seed, start_at=T0, end_at=T0, model_id=MODEL,
            embedding=_unit(seed).astype("<f4").tobytes(), recorded_at=recorded_at,
        )  # fmt: skip
        s.add(event)
        s.flush()
        return event.id


def test_the_archive_finds_before_each_search_what_another_writer_recorded(
    db: Database, writer: Database
) -> None:
    live = LiveArchive(lambda: Archive.load(db, MODEL, DIM), lambda c: recorded_since(db, MODEL, c))
    assert len(live.get()) == 0, "loaded empty"
    camera = _camera(writer)
    now = datetime.now(UTC)
    first = _record(writer, camera, 1, now)
    assert live.get().search(_unit(1), 1)[0][0] == first, "the other writer's track, found at once"

    # A transaction that stamped its rows earlier but committed later is still read (the overlap).
    late = _record(writer, camera, 2, now - timedelta(seconds=20))
    again = live.get()
    assert len(again) == 2 and again.search(_unit(2), 1)[0][0] == late

    # A track recorded again (its template changed while open) is replaced, not added twice.
    with writer.write() as s:
        s.execute(
            update(Event).where(Event.id == first).values(
                embedding=_unit(3).astype("<f4").tobytes(), recorded_at=now + timedelta(seconds=1)
            )
        )  # fmt: skip
    archive = live.get()
    assert len(archive) == 2
    [(best, score)] = archive.search(_unit(3), 1)
    assert best == first and score == pytest.approx(1.0, abs=1e-5), "its new template"
    assert live.caught_up == 3
    assert len(live.get()) == 2 and live.caught_up == 3, "nothing new: nothing put in again"


def _alert(db: Database, camera_id: int, person: str, alerted_at: datetime) -> int:
    """An event that another writer turned into an alert on list 'vip'."""
    with db.write() as s:
        wl = s.query(Watchlist).filter_by(name="vip").one_or_none()
        if wl is None:
            wl = Watchlist(name="vip", created_by="test", created_at=T0)
            s.add(wl)
        p = Person(name=person, created_by="test", created_at=T0)
        s.add(p)
        s.flush()
        event = Event(
            camera_id=camera_id, track_id=1, start_at=alerted_at, end_at=alerted_at, model_id=MODEL,
            person_id=p.id, watchlist_id=wl.id, list_ids=[wl.id], score=0.9, margin=0.4,
            alerted_at=alerted_at, frame_at=alerted_at, recorded_at=alerted_at,
        )  # fmt: skip
        s.add(event)
        s.flush()
        return event.id


def test_the_alert_feed_announces_each_alert_of_another_writer_once(db: Database, writer: Database) -> None:
    camera = _camera(writer)
    now = datetime.now(UTC)
    _alert(writer, camera, "Before Start", now - timedelta(seconds=5))
    feed = AlertFeed(db, lambda i: f"/media/events/{i}/best.jpg", start=now)
    assert feed.raised_since() == [], "an alert raised before the server started is history"

    theirs = _alert(writer, camera, "Jane Doe", now + timedelta(seconds=1))
    [alert] = feed.raised_since()
    assert (alert.event_id, alert.person, alert.watchlist) == (theirs, "Jane Doe", "vip")
    assert alert.camera == "footage"
    assert feed.raised_since() == [], "announced once"

    ours = _alert(writer, camera, "Announced Here", now + timedelta(seconds=2))
    relayed = _alert(writer, camera, "Relayed", now + timedelta(seconds=3))
    [mine, other] = [a for a in _all_alerts(db) if a.event_id in (ours, relayed)]
    assert feed.first(mine) is True, "this process announces its own alert"
    assert feed.admit(other.payload()) is True, "a relayed alert not seen yet is announced"
    assert feed.admit(other.payload()) is False, "and only once"
    assert feed.admit({"type": "alert.updated", "alert_id": relayed}) is True, "reviews are not in the feed"
    assert feed.raised_since() == [], "both announced already: the store adds nothing"
    assert feed.first(mine) is False


def _all_alerts(db: Database) -> list[Alert]:
    return AlertFeed(db, lambda _i: None, start=T0).raised_since()


def test_an_event_becoming_an_alert_notifies_on_postgresql(db: Database, writer: Database) -> None:
    """Migration 0014: the row that sets alerted_at notifies (the id); recording a track does not."""
    if db.dialect != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's: SQLite's servers poll the store")
    camera = _camera(writer)
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {ALERTED}")
        track = _record(writer, camera, 1, datetime.now(UTC))
        with writer.write() as s:
            s.execute(update(Event).where(Event.id == track).values(recorded_at=datetime.now(UTC)))
        assert list(listener.notifies(timeout=1.0)) == [], "recording a track notifies nobody"
        with writer.write() as s:
            s.execute(update(Event).where(Event.id == track).values(alerted_at=datetime.now(UTC)))
        got = list(listener.notifies(timeout=5.0, stop_after=1))
    assert [(n.channel, n.payload) for n in got] == [(ALERTED, str(track))]
