"""ListService: watchlists created, read and removed, each change with its audit row; bad input refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.store_kit import ACTOR, audit_rows, counts
from vigil.errors import BadInput, NotFound
from vigil.match.thresholds import UNCALIBRATED
from vigil.services.lists import ListService, ListSettings
from vigil.services.people import PeopleService
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import Person, Review, Severity, WatchlistEntry


@pytest.fixture
def lists(db: Database) -> ListService:
    return ListService(db, UNCALIBRATED)


STRICT = ListSettings(
    threshold=0.95, severity=Severity.CRITICAL, colour="#FF0000", review=Review.TWO_PERSON,
    retention_days=365, description="persons of interest, court order 12/2024",
)  # fmt: skip


def test_create_get_all_remove_each_audited(db: Database, lists: ListService) -> None:
    created = lists.create(ACTOR, "wanted", STRICT, "court order 12/2024")
    lists.create("test:bob", "missing-persons", ListSettings(), "family request")
    assert created.name == "wanted"
    assert created.settings == STRICT
    assert created.people == 0
    assert created.created_by == ACTOR
    got = lists.get("wanted")
    assert (got.id, got.settings, got.people) == (created.id, STRICT, 0)
    assert got.created_at.utcoffset() == timedelta(0), "aware UTC on both engines"
    assert abs(got.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert [i.name for i in lists.all()] == ["missing-persons", "wanted"]
    assert lists.get("missing-persons").settings == ListSettings()

    assert lists.remove(ACTOR, "missing-persons", "family withdrew the request") == 0
    assert [i.name for i in lists.all()] == ["wanted"]
    with pytest.raises(NotFound, match="no list named 'missing-persons'"):
        lists.get("missing-persons")

    rows = audit_rows(db)
    assert [(r.actor, r.action, r.subject, r.reason) for r in rows] == [
        (ACTOR, "list.create", "list:wanted", "court order 12/2024"),
        ("test:bob", "list.create", "list:missing-persons", "family request"),
        (ACTOR, "list.remove", "list:missing-persons", "family withdrew the request"),
    ]
    assert '"severity":"critical"' in rows[0].details
    assert '"threshold":0.95' in rows[0].details
    with db.read() as s:
        assert audit.verify(s).ok


@pytest.mark.parametrize(
    "name",
    ["Wanted", "most wanted", "", "a" * 65, "-wanted", "_x", "wanted!", "wänted", "wanted\n", "../etc"],
    ids=["uppercase", "space", "empty", "65-chars", "leading-dash", "leading-underscore", "punctuation",
         "non-ascii", "newline", "path"],
)  # fmt: skip
def test_invalid_names_are_refused_and_nothing_is_written(
    db: Database, lists: ListService, name: str
) -> None:
    with pytest.raises(BadInput, match="list names are 1-64 lowercase") as info:
        lists.create(ACTOR, name, ListSettings(), "reason")
    assert info.value.what == name
    assert counts(db)["watchlists"] == counts(db)["audit_log"] == 0


@pytest.mark.parametrize("name", ["a", "a" * 64, "0-day_list", "missing-persons"])
def test_valid_names_are_accepted(lists: ListService, name: str) -> None:
    assert lists.create(ACTOR, name, ListSettings(), "reason").name == name


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (ListSettings(colour="red"), "colour"),
        (ListSettings(colour="#12345"), "colour"),
        (ListSettings(colour="#1234567"), "colour"),
        (ListSettings(threshold=1.5), "threshold"),
        (ListSettings(threshold=-1.01), "threshold"),
        (ListSettings(retention_days=-1), "retention_days"),
        (ListSettings(retention_days=36_501), "retention_days"),
    ],
)
def test_bad_settings_name_the_field(
    db: Database, lists: ListService, settings: ListSettings, field: str
) -> None:
    with pytest.raises(BadInput) as info:
        lists.create(ACTOR, "wanted", settings, "reason")
    assert info.value.what == field
    assert counts(db)["watchlists"] == counts(db)["audit_log"] == 0


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_a_reason_is_required(db: Database, lists: ListService, reason: str) -> None:
    with pytest.raises(BadInput) as info:
        lists.create(ACTOR, "wanted", ListSettings(), reason)
    assert info.value.what == "reason"
    lists.create(ACTOR, "wanted", ListSettings(), "ok")
    with pytest.raises(BadInput) as info:
        lists.remove(ACTOR, "wanted", reason)
    assert info.value.what == "reason"
    assert [i.name for i in lists.all()] == ["wanted"]
    assert counts(db)["audit_log"] == 1


def test_a_duplicate_name_is_refused_and_the_first_list_kept(db: Database, lists: ListService) -> None:
    first = lists.create(ACTOR, "wanted", STRICT, "first")
    with pytest.raises(BadInput, match="wanted: a list with this name already exists"):
        lists.create(ACTOR, "wanted", ListSettings(), "second")
    assert lists.get("wanted").settings == STRICT
    assert lists.get("wanted").id == first.id
    assert [r.reason for r in audit_rows(db)] == ["first"]
    lists.create(ACTOR, "wanted-2", ListSettings(), "the session is usable after the error")


def test_removing_an_unknown_list_is_not_found(db: Database, lists: ListService) -> None:
    with pytest.raises(NotFound, match="no list named 'nope'"):
        lists.remove(ACTOR, "nope", "reason")
    assert counts(db)["audit_log"] == 0


def test_removing_a_list_keeps_its_people_and_their_other_lists(
    db: Database, lists: ListService, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wanted = lists.create(ACTOR, "wanted", ListSettings(), "r")
    missing = lists.create(ACTOR, "missing", ListSettings(), "r")
    now = datetime.now(UTC)
    with db.write() as s:
        ada, bob = (Person(name=n, created_by=ACTOR, created_at=now) for n in ("Ada", "Bob"))
        s.add_all([ada, bob])
        s.flush()
        s.add_all(
            WatchlistEntry(watchlist_id=wl, person_id=p.id, reason="r", added_by=ACTOR, added_at=now)
            for wl, p in ((wanted.id, ada), (missing.id, ada), (wanted.id, bob))
        )
        audit.append(s, ACTOR, "test.seed", "people")
    assert lists.get("wanted").people == 2
    assert {i.name: i.people for i in lists.all()} == {"missing": 1, "wanted": 2}

    assert lists.remove(ACTOR, "wanted", "case closed") == 2

    people = PeopleService(db, MediaStore(tmp_path_factory.mktemp("media")))
    assert [(p.name, sorted(p.lists)) for p in people.all()] == [("Ada", ["missing"]), ("Bob", [])]
    with db.read() as s:
        assert s.scalars(select(WatchlistEntry.watchlist_id)).all() == [missing.id]
    last = audit_rows(db)[-1]
    assert (last.action, last.subject, last.reason, last.details) == (
        "list.remove", "list:wanted", "case closed", '{"entries":2}'
    )  # fmt: skip
