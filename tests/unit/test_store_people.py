"""PeopleService: who is on which list, one person in detail, and removal (rows, files, gallery, audit).

Real photos, real engine, on SQLite and PostgreSQL. Ground truth: obama/obama2 are Barack Obama, biden
is Joe Biden, lin-manuel-miranda is Lin-Manuel Miranda.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.store_kit import (
    ACTOR,
    BIDEN,
    MIRANDA,
    OBAMA,
    OBAMA2,
    Kit,
    audit_rows,
    counts,
    make_kit,
    samples,
    shrunk_jpeg,
    snapshot,
    vector,
)
from vigil.app import Engine
from vigil.errors import BadInput, NotFound
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.lists import ListSettings
from vigil.store import audit
from vigil.store.tables import FaceSample, Person, WatchlistEntry

EXPIRES = datetime(2031, 6, 30, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Cast:
    """Who was enrolled: Obama (2 photos, one weak) on wanted; Biden on wanted and vip; Miranda on vip."""

    obama: int
    biden: int
    miranda: int


@pytest.fixture
def kit(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(db_url, tmp_path, engine)
    yield k
    k.db.dispose()


@pytest.fixture
def cast(kit: Kit, refs: Path) -> Cast:
    kit.lists.create(ACTOR, "vip", ListSettings(), "protection detail")
    obama = kit.enrol.enrol(
        ACTOR,
        EnrolRequest(
            "wanted", "Barack Obama", "court order 12/2024",
            [kit.photo(refs, OBAMA), Photo("small.jpg", shrunk_jpeg(refs / OBAMA2, 0.25))],
            photo_source="press photos", approved_by="test:carol", expires_at=EXPIRES, notes="test notes",
            force=True,
        ),
    )  # fmt: skip
    biden = kit.enrol.enrol(ACTOR, EnrolRequest("wanted", "Joe Biden", "case 7", [kit.photo(refs, BIDEN)]))
    kit.enrol.enrol(
        "test:bob",
        EnrolRequest("vip", "Joe Biden", "visit", [kit.photo(refs, BIDEN)], person_id=biden.person_id),
    )
    miranda = kit.enrol.enrol(
        ACTOR, EnrolRequest("vip", "Lin-Manuel Miranda", "visit", [kit.photo(refs, MIRANDA)])
    )
    return Cast(obama.person_id, biden.person_id, miranda.person_id)


def test_all_lists_people_by_name_with_their_lists_and_photo_counts(kit: Kit, cast: Cast) -> None:
    everyone = kit.people.all()
    assert [(p.id, p.name, p.lists, p.samples) for p in everyone] == [
        (cast.obama, "Barack Obama", {"wanted": EXPIRES}, 2),
        (cast.biden, "Joe Biden", {"vip": None, "wanted": None}, 1),
        (cast.miranda, "Lin-Manuel Miranda", {"vip": None}, 1),
    ]
    assert all(abs(p.created_at - datetime.now(UTC)) < timedelta(minutes=5) for p in everyone)


@pytest.mark.parametrize(
    ("list_name", "names"),
    [("wanted", ["Barack Obama", "Joe Biden"]), ("vip", ["Joe Biden", "Lin-Manuel Miranda"]), ("nope", [])],
)
def test_all_filters_by_list(kit: Kit, cast: Cast, list_name: str, names: list[str]) -> None:
    assert [p.name for p in kit.people.all(list_name)] == names


def test_show_gives_entries_and_samples(kit: Kit, cast: Cast) -> None:
    d = kit.people.show(cast.obama)
    assert (d.info.name, d.notes, d.info.samples) == ("Barack Obama", "test notes", 2)
    [entry] = d.entries
    assert {k: v for k, v in entry.items() if k not in {"added_at", "expires_at"}} == {
        "list": "wanted", "reason": "court order 12/2024", "photo_source": "press photos",
        "added_by": ACTOR, "approved_by": "test:carol",
    }  # fmt: skip
    assert entry["expires_at"] == EXPIRES
    rows = samples(kit.db)
    assert [(x["id"], x["photo"], x["crop"], x["weak"]) for x in d.samples] == [
        (r.id, r.photo_path, r.crop_path, r.weak) for r in rows if r.person_id == cast.obama
    ]
    assert [x["weak"] for x in d.samples] == [False, True]
    assert all(isinstance(x["quality"], dict) and 0 < x["quality"]["total"] <= 1 for x in d.samples)
    biden = kit.people.show(cast.biden)
    assert sorted((e["list"], e["added_by"]) for e in biden.entries) == [
        ("vip", "test:bob"),
        ("wanted", ACTOR),
    ]


def test_show_an_unknown_person_is_not_found(kit: Kit) -> None:
    with pytest.raises(NotFound, match="no person with id 12345"):
        kit.people.show(12345)


def test_remove_deletes_rows_files_and_gallery_entries_with_an_audit_row(kit: Kit, cast: Cast) -> None:
    mine = [x for x in samples(kit.db) if x.person_id == cast.biden]
    theirs = [x for x in samples(kit.db) if x.person_id != cast.biden]
    probe = vector(mine[0])[None]
    now = datetime.now(UTC)
    assert kit.gallery.search(probe, 1, now)[0][0].person_id == cast.biden

    kit.people.remove(ACTOR, cast.biden, "entry withdrawn")

    with kit.db.read() as s:
        assert s.get(Person, cast.biden) is None
        assert s.scalars(select(WatchlistEntry).where(WatchlistEntry.person_id == cast.biden)).all() == []
        assert s.scalars(select(FaceSample).where(FaceSample.person_id == cast.biden)).all() == []
        assert audit.verify(s).ok
    for x in mine:
        assert not kit.media.path(x.photo_path).exists()
        assert not kit.media.path(x.crop_path).exists()
    assert kit.media.all_files() == {p for x in theirs for p in (x.photo_path, x.crop_path)}
    assert cast.biden not in kit.gallery.people
    assert len(kit.gallery) == len(theirs)
    assert all(c.person_id != cast.biden for c in kit.gallery.search(probe, 5, now)[0])
    assert [p.name for p in kit.people.all()] == ["Barack Obama", "Lin-Manuel Miranda"]
    last = audit_rows(kit.db)[-1]
    assert (last.actor, last.action, last.subject, last.reason) == (
        ACTOR, "person.remove", f"person:{cast.biden}", "entry withdrawn"
    )  # fmt: skip
    assert json.loads(last.details) == {"name": "Joe Biden", "lists": ["vip", "wanted"], "samples": 1}


def test_files_shared_with_another_person_are_kept(kit: Kit, refs: Path, cast: Cast) -> None:
    """The same photo enrolled for two people is one file: removing one person keeps it for the other."""
    twin = kit.enrol.enrol(ACTOR, EnrolRequest("vip", "Someone Else", "r", [kit.photo(refs, OBAMA)]))
    assert twin.verdicts[0].looks_like is not None
    shared = next(x for x in samples(kit.db) if x.person_id == twin.person_id)
    assert sum(x.photo_path == shared.photo_path for x in samples(kit.db)) == 2
    kit.people.remove(ACTOR, twin.person_id, "enrolled by mistake")
    assert kit.media.path(shared.photo_path).is_file()
    assert kit.media.path(shared.crop_path).is_file()
    kit.people.remove(ACTOR, cast.obama, "case closed")
    assert not kit.media.path(shared.photo_path).exists()
    assert not kit.media.path(shared.crop_path).exists()


def test_remove_an_unknown_person_or_without_reason_changes_nothing(kit: Kit, cast: Cast) -> None:
    before = snapshot(kit.db, kit.media)
    size = len(kit.gallery)
    with pytest.raises(NotFound, match="no person with id 999"):
        kit.people.remove(ACTOR, 999, "reason")
    with pytest.raises(BadInput) as info:
        kit.people.remove(ACTOR, cast.obama, "  ")
    assert info.value.what == "reason"
    assert snapshot(kit.db, kit.media) == before
    assert len(kit.gallery) == size
    assert counts(kit.db)["people"] == 3
