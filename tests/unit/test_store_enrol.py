"""EnrolmentService with the real face engine, on SQLite and PostgreSQL.

Ground truth: the ageitgey reference photos (``refs``): obama and obama2 are Barack Obama, biden is Joe
Biden, lin-manuel-miranda is Lin-Manuel Miranda, two_people shows two faces. Each enrolment writes the
person, the entry, the samples and an audit row in one transaction, the files by content hash, and then
updates the gallery; a refused enrolment writes nothing anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from tests.helpers import read_bgr
from tests.store_kit import (
    ACTOR,
    BIDEN,
    MIRANDA,
    OBAMA,
    OBAMA2,
    TWO_PEOPLE,
    Kit,
    audit_rows,
    make_kit,
    samples,
    shrunk_jpeg,
    snapshot,
    vector,
)
from vigil.app import Engine
from vigil.errors import BadInput, NotFound
from vigil.services.enrol import EnrolmentRejected, EnrolRequest, Photo
from vigil.services.gallery import load_gallery
from vigil.services.lists import ListSettings
from vigil.store import audit
from vigil.store.db import as_utc
from vigil.store.media import sha256_hex
from vigil.store.tables import FaceSample, Person, WatchlistEntry

REASON = "court order 12/2024"


@pytest.fixture
def kit(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(db_url, tmp_path, engine)
    yield k
    k.db.dispose()


def _req(name: str, photos: list[Photo], **kw: object) -> EnrolRequest:
    return EnrolRequest("wanted", name, REASON, photos, **kw)  # type: ignore[arg-type]


def _obama(kit: Kit, refs: Path) -> int:
    return kit.enrol.enrol(ACTOR, _req("Barack Obama", [kit.photo(refs, OBAMA)])).person_id


def test_enrolment_writes_person_entry_samples_files_and_gallery(
    kit: Kit, refs: Path, engine: Engine
) -> None:
    expires = datetime.now(UTC) + timedelta(days=30)
    progress: list[tuple[int, int]] = []
    result = kit.enrol.enrol(
        ACTOR,
        _req("Barack Obama", [kit.photo(refs, OBAMA), kit.photo(refs, OBAMA2)], photo_source="press photos",
             approved_by="test:carol", expires_at=expires, notes="44th president"),
        lambda done, total: progress.append((done, total)),
    )  # fmt: skip
    assert progress == [(1, 2), (2, 2)]
    assert (result.name, result.list_name, result.created) == ("Barack Obama", "wanted", True)
    assert [(v.name, v.accepted, v.weak, v.reasons, v.looks_like) for v in result.verdicts] == [
        (OBAMA, True, False, (), None),
        (OBAMA2, True, False, (), None),
    ]
    pid = result.person_id
    with kit.db.read() as s:
        person = s.get(Person, pid)
        assert person is not None
        assert (person.name, person.notes, person.created_by) == ("Barack Obama", "44th president", ACTOR)
        entry = s.scalars(select(WatchlistEntry)).one()
        assert (entry.watchlist_id, entry.person_id, entry.reason, entry.photo_source) == (
            kit.list_id, pid, REASON, "press photos"
        )  # fmt: skip
        assert (entry.added_by, entry.approved_by, as_utc(entry.expires_at)) == (ACTOR, "test:carol", expires)

    rows = samples(kit.db)
    assert [x.id for x in rows] == [v.sample_id for v in result.verdicts]
    for row, name, verdict in zip(rows, (OBAMA, OBAMA2), result.verdicts, strict=True):
        data = (refs / name).read_bytes()
        digest = sha256_hex(data)
        assert (row.person_id, row.photo_sha256) == (pid, digest)
        assert row.photo_path == f"photos/{digest[:2]}/{digest}.jpg"
        assert kit.media.path(row.photo_path).read_bytes() == data
        crop = kit.media.path(row.crop_path).read_bytes()
        assert row.crop_path == f"crops/{sha256_hex(crop)[:2]}/{sha256_hex(crop)}.jpg"
        chip = cv2.imdecode(np.frombuffer(crop, np.uint8), cv2.IMREAD_COLOR)
        assert chip is not None
        assert chip.shape[0] == chip.shape[1] >= 80
        assert (row.model_id, row.dim, row.weak) == (engine.embedder.model_id, engine.embedder.dim, False)
        assert verdict.quality is not None
        assert row.quality["total"] == pytest.approx(verdict.quality.total)
        assert set(row.quality) == {"size_px", "sharpness", "frontal", "det_score", "edge", "total"}
    assert kit.media.all_files() == {p for x in rows for p in (x.photo_path, x.crop_path)}

    assert (len(kit.gallery), kit.gallery.people) == (2, {pid})
    now = datetime.now(UTC)
    for row in rows:
        [best] = kit.gallery.search(vector(row)[None], 3, now)[0]
        assert (best.person_id, best.sample_id, best.list_ids) == (pid, row.id, (kit.list_id,))
        assert best.score > 0.999
    # A fresh embedding of the photo (the real engine, not the stored vector) finds him too.
    probe = engine.stills.encode_single(read_bgr(refs / OBAMA2), OBAMA2).embeddings.vectors
    [found] = kit.gallery.search(probe, 1, now)[0]
    assert found.person_id == pid
    assert found.score >= kit.config.match.threshold


def test_each_photo_gets_a_verdict_and_only_the_good_ones_are_kept(
    kit: Kit, refs: Path, png_bomb: Path, jpeg_bomb: Path
) -> None:
    obama = (refs / OBAMA).read_bytes()
    photos = [
        Photo("two.jpg", (refs / TWO_PEOPLE).read_bytes()),
        Photo("truncated.jpg", obama[:5000]),
        Photo("notes.jpg", b"meeting notes, not a photo\n" * 40),
        Photo("empty.jpg", b""),
        Photo("bomb.png", png_bomb.read_bytes()),
        Photo("bomb.jpg", jpeg_bomb.read_bytes()),
        Photo("good.jpg", obama),
    ]
    result = kit.enrol.enrol(ACTOR, _req("Barack Obama", photos))
    reasons = {v.name: "; ".join(v.reasons) for v in result.verdicts}
    assert [v.name for v in result.verdicts] == [p.name for p in photos]
    assert "2 faces found" in reasons["two.jpg"]
    assert "corrupt JPEG" in reasons["truncated.jpg"]
    assert "not an image" in reasons["notes.jpg"]
    assert "empty file" in reasons["empty.jpg"]
    assert "20000×20000" in reasons["bomb.png"]
    assert "above the limit" in reasons["bomb.png"]
    assert "20000×20000" in reasons["bomb.jpg"]
    assert [v.name for v in result.verdicts if v.accepted] == ["good.jpg"]
    assert [x.photo_sha256 for x in samples(kit.db)] == [sha256_hex(obama)]
    assert len(kit.media.all_files()) == 2
    [row] = [r for r in audit_rows(kit.db) if r.action == "person.enrol"]
    details = json.loads(row.details)
    assert [(p["name"], p["accepted"]) for p in details["photos"]] == [
        (p.name, p.name == "good.jpg") for p in photos
    ]
    assert "2 faces found" in details["photos"][0]["reasons"][0]


def test_a_tiny_face_is_refused_unless_forced_then_kept_as_weak(kit: Kit, refs: Path) -> None:
    """Obama's photo at a quarter of its size: a 61 px face, below the 80 px minimum."""
    tiny = Photo("tiny.jpg", shrunk_jpeg(refs / OBAMA, 0.25))
    before = snapshot(kit.db, kit.media)
    with pytest.raises(EnrolmentRejected) as info:
        kit.enrol.enrol(ACTOR, _req("Barack Obama", [tiny]))
    [verdict] = info.value.verdicts
    assert not verdict.accepted
    assert any("below the minimum of 80 px" in r for r in verdict.reasons)
    assert verdict.quality is not None
    assert verdict.quality.size_px < 80
    assert snapshot(kit.db, kit.media) == before

    result = kit.enrol.enrol(ACTOR, _req("Barack Obama", [tiny], force=True))
    [verdict] = result.verdicts
    assert (verdict.accepted, verdict.weak) == (True, True)
    assert any("below the minimum" in r for r in verdict.reasons)
    [row] = samples(kit.db)
    assert row.weak is True
    assert kit.people.show(result.person_id).samples[0]["weak"] is True
    assert len(kit.gallery) == 1


def test_when_every_photo_is_bad_nothing_is_written(
    kit: Kit, refs: Path, png_bomb: Path, engine: Engine
) -> None:
    _obama(kit, refs)
    before = snapshot(kit.db, kit.media)
    gallery_before = (len(kit.gallery), kit.gallery.people)
    photos = [
        Photo("two.jpg", (refs / TWO_PEOPLE).read_bytes()),
        Photo("bomb.png", png_bomb.read_bytes()),
        Photo("garbage.jpg", b"\xff\xd8\xff" + bytes(500)),
    ]
    with pytest.raises(
        EnrolmentRejected, match=r"Jane Doe: no usable photo: two\.jpg: 2 faces found"
    ) as info:
        kit.enrol.enrol(ACTOR, _req("Jane Doe", photos))
    assert [v.name for v in info.value.verdicts] == ["two.jpg", "bomb.png", "garbage.jpg"]
    assert all(not v.accepted and v.reasons for v in info.value.verdicts)
    assert snapshot(kit.db, kit.media) == before
    assert (len(kit.gallery), kit.gallery.people) == gallery_before
    with kit.db.read() as s:
        assert s.scalar(select(Person).where(Person.name == "Jane Doe")) is None


def test_an_unknown_list_is_not_found_and_nothing_is_written(kit: Kit, refs: Path) -> None:
    before = snapshot(kit.db, kit.media)
    with pytest.raises(NotFound, match="no list named 'nope'"):
        kit.enrol.enrol(ACTOR, EnrolRequest("nope", "Barack Obama", REASON, [kit.photo(refs, OBAMA)]))
    assert snapshot(kit.db, kit.media) == before
    assert len(kit.gallery) == 0


def test_an_unknown_person_id_is_not_found_and_nothing_is_written(kit: Kit, refs: Path) -> None:
    before = snapshot(kit.db, kit.media)
    with pytest.raises(NotFound, match="no person with id 999"):
        kit.enrol.enrol(ACTOR, _req("Barack Obama", [kit.photo(refs, OBAMA)], person_id=999))
    assert snapshot(kit.db, kit.media) == before


@pytest.mark.parametrize(
    "name",
    ["", "   ", " Jane Doe", "Jane Doe ", "Jane  Doe", "J" * 129, "Jane\nDoe", "Jane\x00Doe",
     "Jane\u200bDoe"],
    ids=["empty", "blank", "leading", "trailing", "double-space", "129-chars", "newline", "nul",
         "zero-width"],
)  # fmt: skip
def test_invalid_person_names_are_refused_before_anything_is_done(kit: Kit, refs: Path, name: str) -> None:
    before = snapshot(kit.db, kit.media)
    with pytest.raises(BadInput, match="a person's name") as info:
        kit.enrol.enrol(ACTOR, _req(name, [kit.photo(refs, OBAMA)]))
    assert info.value.what == repr(name)
    assert snapshot(kit.db, kit.media) == before


def test_a_128_character_unicode_name_is_accepted(kit: Kit, refs: Path) -> None:
    name = "Zoë O'Brien-Łukasiewicz " + "x" * 104
    assert len(name) == 128
    result = kit.enrol.enrol(ACTOR, _req(name, [kit.photo(refs, OBAMA)]))
    assert kit.people.show(result.person_id).info.name == name


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": "  "}, "reason"),
        ({"photos": []}, "Jane Doe"),
        ({"expires_at": datetime.now(UTC) - timedelta(minutes=1)}, "expires"),
        ({"expires_at": datetime(2099, 1, 1)}, "expires"),  # no time zone: ambiguous
    ],
    ids=["no-reason", "no-photos", "expired", "naive-expiry"],
)
def test_bad_requests_name_the_field_and_write_nothing(
    kit: Kit, refs: Path, change: dict[str, object], field: str
) -> None:
    before = snapshot(kit.db, kit.media)
    fields: dict[str, object] = {"reason": REASON, "photos": [kit.photo(refs, OBAMA)], **change}
    with pytest.raises(BadInput) as info:
        kit.enrol.enrol(ACTOR, EnrolRequest("wanted", "Jane Doe", **fields))  # type: ignore[arg-type]
    assert info.value.what == field
    assert snapshot(kit.db, kit.media) == before


def test_the_same_photo_again_for_the_same_person_is_a_clear_refusal(kit: Kit, refs: Path) -> None:
    pid = _obama(kit, refs)
    before = snapshot(kit.db, kit.media)
    with pytest.raises(EnrolmentRejected, match="already enrolled for this person") as info:
        kit.enrol.enrol(ACTOR, _req("Barack Obama", [kit.photo(refs, OBAMA)]))
    assert [(v.name, v.accepted) for v in info.value.verdicts] == [(OBAMA, False)]
    assert snapshot(kit.db, kit.media) == before, "not even an audit row"
    # With a new photo alongside, the new one is added and the repeat named.
    result = kit.enrol.enrol(ACTOR, _req("Barack Obama", [kit.photo(refs, OBAMA), kit.photo(refs, OBAMA2)]))
    assert (result.person_id, result.created) == (pid, False)
    assert [(v.name, v.accepted, v.reasons) for v in result.verdicts] == [
        (OBAMA, False, ("already enrolled for this person",)),
        (OBAMA2, True, ()),
    ]
    assert len(samples(kit.db)) == len(kit.gallery) == 2


def test_the_same_photo_twice_in_one_request_is_enrolled_once(kit: Kit, refs: Path) -> None:
    """Regression: verdicts and files were keyed by photo name, so a repeated name hid the enrolled one."""
    photo = kit.photo(refs, OBAMA)
    result = kit.enrol.enrol(ACTOR, _req("Barack Obama", [photo, photo]))
    [row] = samples(kit.db)
    assert [(v.accepted, v.sample_id) for v in result.verdicts] == [(True, row.id), (False, None)]
    assert result.verdicts[1].reasons == ("already enrolled for this person",)


def test_two_photos_with_the_same_name_keep_their_own_files(kit: Kit, refs: Path) -> None:
    """Regression: files were keyed by photo name, so the second photo's files were given to the first."""
    photos = [
        Photo("photo.jpg", (refs / OBAMA).read_bytes()),
        Photo("photo.jpg", (refs / OBAMA2).read_bytes()),
    ]
    result = kit.enrol.enrol(ACTOR, _req("Barack Obama", photos))
    assert [v.accepted for v in result.verdicts] == [True, True]
    rows = samples(kit.db)
    assert [x.photo_sha256 for x in rows] == [sha256_hex(p.data) for p in photos]
    for row, photo in zip(rows, photos, strict=True):
        assert kit.media.path(row.photo_path).read_bytes() == photo.data
    assert len({x.crop_path for x in rows}) == 2


def test_a_face_already_enrolled_as_someone_else_is_flagged(kit: Kit, refs: Path) -> None:
    obama = _obama(kit, refs)
    biden = kit.enrol.enrol(ACTOR, _req("Joe Biden", [kit.photo(refs, BIDEN)]))
    assert biden.verdicts[0].looks_like is None

    result = kit.enrol.enrol(ACTOR, _req("Someone Else", [kit.photo(refs, OBAMA2)]))
    [verdict] = result.verdicts
    assert verdict.accepted, "flagged for a person to look at, not refused"
    assert verdict.looks_like is not None
    pid, name, score = verdict.looks_like
    assert (pid, name) == (obama, "Barack Obama")
    assert kit.config.match.threshold <= score <= 1.0
    assert result.person_id != obama
    [row] = [r for r in audit_rows(kit.db) if r.subject == f"person:{result.person_id}"]
    assert json.loads(row.details)["photos"][0]["looks_like"] == [obama, "Barack Obama", score]


def test_more_photos_of_the_same_person_are_not_flagged_as_someone_else(kit: Kit, refs: Path) -> None:
    """Regression: adding a photo to an existing person by name flagged it as looking like themselves."""
    pid = _obama(kit, refs)
    result = kit.enrol.enrol(ACTOR, _req("Barack Obama", [kit.photo(refs, OBAMA2)]))
    assert (result.person_id, result.created) == (pid, False)
    assert result.verdicts[0].looks_like is None
    by_id = kit.enrol.enrol(ACTOR, _req("ignored", [shrunk_photo(refs)], person_id=pid, force=True))
    assert by_id.verdicts[0].looks_like is None


def shrunk_photo(refs: Path) -> Photo:
    return Photo("obama-small.jpg", shrunk_jpeg(refs / OBAMA, 0.5))


def test_one_person_is_enrolled_once_and_put_on_several_lists(kit: Kit, refs: Path) -> None:
    pid = _obama(kit, refs)
    kit.lists.create(ACTOR, "vip", ListSettings(), "protection detail")
    with pytest.raises(
        BadInput, match=rf"already enrolled as person {pid} \(on wanted\).*add-list {pid} vip"
    ):
        kit.enrol.enrol(ACTOR, EnrolRequest("vip", "Barack Obama", "r", [kit.photo(refs, OBAMA2)]))
    info = kit.people.put_on_list(ACTOR, pid, "vip", "protection detail")
    assert sorted(info.lists) == ["vip", "wanted"]
    with pytest.raises(BadInput, match="already on this list"):
        kit.people.put_on_list(ACTOR, pid, "vip", "again")
    # One person on two lists is one candidate: the margin is to the nearest *other* person.
    kit.enrol.enrol(ACTOR, _req("Joe Biden", [kit.photo(refs, BIDEN)]))
    [row] = [x for x in samples(kit.db) if x.person_id == pid][:1]
    ranked = kit.gallery.search(vector(row)[None], 2, datetime.now(UTC))[0]
    assert ranked[0].person_id == pid and ranked[1].person_id != pid
    assert sorted(ranked[0].list_ids) == sorted(
        {i.id for i in kit.lists.all() if i.name in ("vip", "wanted")}
    )
    namesake = kit.enrol.enrol(
        ACTOR,
        EnrolRequest("vip", "Barack Obama", "r", [kit.photo(refs, OBAMA2)], new_person=True, force=True),
    )
    assert namesake.created and namesake.person_id != pid
    off = kit.people.take_off_list(ACTOR, pid, "vip", "detail ended")
    assert sorted(off.lists) == ["wanted"]
    actions = [a.action for a in audit_rows(kit.db)]
    assert actions.count("person.list.add") == 1 and actions.count("person.list.remove") == 1


def test_an_expired_entry_stops_matching_on_its_own(kit: Kit, refs: Path, engine: Engine) -> None:
    now = datetime.now(UTC)
    result = kit.enrol.enrol(
        ACTOR, _req("Barack Obama", [kit.photo(refs, OBAMA)], expires_at=now + timedelta(minutes=5))
    )
    kit.enrol.enrol(ACTOR, _req("Joe Biden", [kit.photo(refs, BIDEN)]))
    [row] = [x for x in samples(kit.db) if x.person_id == result.person_id]
    rebuilt = load_gallery(kit.db, engine.embedder.model_id, engine.embedder.dim)
    for gallery in (kit.gallery, rebuilt):
        assert [c.person_id for c in gallery.search(vector(row)[None], 1, now)[0]] == [result.person_id]
        later = gallery.search(vector(row)[None], 5, now + timedelta(minutes=6))[0]
        assert result.person_id not in [c.person_id for c in later]
        assert len(gallery) == 2, "the sample stays; only the entry lapsed"


def test_an_expiry_given_in_another_time_zone_means_the_same_instant(
    kit: Kit, refs: Path, engine: Engine
) -> None:
    """Regression: SQLite kept the wall-clock digits of a +05:00 expiry as if UTC, five hours too late."""
    expires = (datetime.now(UTC) + timedelta(hours=1)).astimezone(timezone(timedelta(hours=5)))
    result = kit.enrol.enrol(ACTOR, _req("Barack Obama", [kit.photo(refs, OBAMA)], expires_at=expires))
    assert kit.people.show(result.person_id).info.lists["wanted"] == expires
    [row] = samples(kit.db)
    rebuilt = load_gallery(kit.db, engine.embedder.model_id, engine.embedder.dim)
    for gallery in (kit.gallery, rebuilt):
        assert gallery.search(vector(row)[None], 1, expires - timedelta(minutes=1))[0]
        assert gallery.search(vector(row)[None], 1, expires + timedelta(minutes=1))[0] == []


def test_every_enrolment_has_one_audit_row_with_its_details(kit: Kit, refs: Path) -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = kit.enrol.enrol(
        ACTOR, _req("Barack Obama", [kit.photo(refs, OBAMA)], approved_by="test:carol", expires_at=expires)
    )
    kit.enrol.enrol("test:bob", _req("Barack Obama", [kit.photo(refs, OBAMA2), Photo("x.jpg", b"junk")]))
    kit.enrol.enrol(ACTOR, _req("Lin-Manuel Miranda", [kit.photo(refs, MIRANDA)]))
    rows = [r for r in audit_rows(kit.db) if r.action == "person.enrol"]
    assert [(r.actor, r.subject, r.reason) for r in rows] == [
        (ACTOR, f"person:{first.person_id}", REASON),
        ("test:bob", f"person:{first.person_id}", REASON),
        (ACTOR, f"person:{first.person_id + 1}", REASON),
    ]
    details = [json.loads(r.details) for r in rows]
    assert details[0] == {
        "name": "Barack Obama", "list": "wanted", "created": True, "approved_by": "test:carol",
        "expires_at": str(expires),
        "photos": [{"name": OBAMA, "accepted": True, "weak": False, "reasons": [], "looks_like": None}],
    }  # fmt: skip
    assert details[1]["created"] is False
    assert [(p["name"], p["accepted"]) for p in details[1]["photos"]] == [(OBAMA2, True), ("x.jpg", False)]
    with kit.db.read() as s:
        assert audit.verify(s).ok
        assert s.scalar(select(FaceSample.id).where(FaceSample.person_id == first.person_id + 1)) is not None
