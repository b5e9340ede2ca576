"""`vigil enroll` and `vigil people` on real photos, on SQLite and PostgreSQL.

Ground truth: obama.jpg and obama2.jpg are Barack Obama, biden.jpg is Joe Biden, two.jpg shows two
people, tiny.jpg is obama.jpg at a quarter of its size (a 61 px face), broken.jpg is a truncated JPEG.
Exit codes: 0 someone was enrolled, 1 nobody could be (reasons printed), 2 the command could not run.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.store_kit import (
    BIDEN,
    OBAMA,
    OBAMA2,
    TWO_PEOPLE,
    CachedStills,
    Cli,
    audit_rows,
    counts,
    samples,
    shrunk_jpeg,
    snapshot,
    write_config,
)
from vigil.app import Engine
from vigil.cli import store as store_cli
from vigil.config import VigilConfig
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import Person, WatchlistEntry


@pytest.fixture
def photos(refs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Short-named copies of the reference photos in the working directory (named as given)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for src, dst in [
        (OBAMA, "obama.jpg"),
        (OBAMA2, "obama2.jpg"),
        (BIDEN, "biden.jpg"),
        (TWO_PEOPLE, "two.jpg"),
    ]:
        shutil.copy(refs / src, folder / dst)
    (folder / "tiny.jpg").write_bytes(shrunk_jpeg(refs / OBAMA, 0.25))
    (folder / "broken.jpg").write_bytes((refs / OBAMA).read_bytes()[:5000])
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def cli(db_url: str, tmp_path: Path, model_dir: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI on the test's database with a list ``wanted``; the session's engine instead of a reload."""

    def build_engine(config: VigilConfig) -> Engine:
        assert config.model_dir == model_dir
        return dataclasses.replace(engine, stills=CachedStills(engine))

    monkeypatch.setattr(store_cli, "build_engine", build_engine)
    run = Cli(write_config(tmp_path / "vigil.yaml", tmp_path / "data", db_url, model_dir))
    assert run("lists", "create", "wanted", "-r", "court order 12/2024").code == 0
    return run


@pytest.fixture
def db(db_url: str, cli: Cli) -> Iterator[Database]:
    database = Database.from_url(db_url)
    yield database
    database.dispose()


@pytest.fixture
def media(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "data" / "media")


def _enrol(cli: Cli, name: str, *args: str) -> tuple[int, str, str]:
    r = cli("enroll", "--list", "wanted", "--name", name, "--reason", "case 7", "--as", "test:cli", *args)
    assert "Traceback" not in r.err, r
    return r.code, r.out, r.err


def test_enroll_prints_a_verdict_per_photo(cli: Cli, photos: Path, db: Database, media: MediaStore) -> None:
    code, out, _ = _enrol(
        cli, "Barack Obama", "obama.jpg", "two.jpg", "broken.jpg", "obama2.jpg",
        "--source", "press photos", "--approved-by", "test:carol", "--expires", "2031-06-30",
    )  # fmt: skip
    assert code == 0, out
    assert out.startswith("enrolled Barack Obama (person 1) on wanted: 2 photo(s)")
    assert re.search(r"ok obama\.jpg quality 0\.\d\d\b", out)
    assert re.search(r"ok obama2\.jpg quality 0\.\d\d\b", out)
    assert "no two.jpg - 2 faces found; a watchlist photo must show exactly one person" in out
    assert "no broken.jpg - corrupt JPEG image" in out
    with db.read() as s:
        entry = s.scalars(select(WatchlistEntry)).one()
        assert (entry.photo_source, entry.approved_by, entry.added_by) == (
            "press photos",
            "test:carol",
            "test:cli",
        )
        assert entry.expires_at is not None
        assert entry.expires_at.replace(tzinfo=UTC) == datetime(2031, 6, 30, tzinfo=UTC)
    assert len(samples(db)) == 2
    assert len(media.all_files()) == 4


def test_enroll_with_only_bad_photos_exits_1_with_the_reasons_and_writes_nothing(
    cli: Cli, photos: Path, db: Database, media: MediaStore
) -> None:
    before = snapshot(db, media)
    code, out, err = _enrol(cli, "Jane Doe", "two.jpg", "broken.jpg", "tiny.jpg", "missing.jpg")
    assert code == 1
    assert "no two.jpg - 2 faces found" in out
    assert "no broken.jpg - corrupt JPEG image" in out
    assert re.search(r"no tiny\.jpg quality 0\.\d\d - ", out)
    assert "face is 61 px, below the minimum of 80 px" in out
    assert "error: missing.jpg: cannot read (No such file or directory)" in err
    assert "Jane Doe: nothing enrolled" in err
    assert snapshot(db, media) == before


def test_force_keeps_a_weak_photo_marked_weak(cli: Cli, photos: Path, db: Database) -> None:
    code, out, _ = _enrol(cli, "Barack Obama", "tiny.jpg", "--force")
    assert code == 0, out
    assert re.search(r"weak tiny\.jpg quality 0\.\d\d - ", out)
    assert "below the minimum of 80 px" in out
    assert [x.weak for x in samples(db)] == [True]
    shown = cli("people", "show", "1")
    assert "(weak)" in shown.out


def test_a_face_enrolled_as_someone_else_is_flagged(cli: Cli, photos: Path) -> None:
    assert _enrol(cli, "Barack Obama", "obama.jpg")[0] == 0
    code, out, _ = _enrol(cli, "Barack Obama", "obama2.jpg")
    assert code == 0
    assert "added to Barack Obama (person 1) on wanted: 1 photo(s)" in out
    assert "flagged" not in out, "not flagged as looking like himself"
    code, out, _ = _enrol(cli, "Someone Else", "tiny.jpg", "--force")
    assert code == 0
    assert "enrolled Someone Else (person 2)" in out
    assert re.search(r"flagged: already matches Barack Obama \(person 1\) at 0\.9[2-9]\d\b", out)


def test_enrolling_the_same_photo_again_is_refused(
    cli: Cli, photos: Path, db: Database, media: MediaStore
) -> None:
    assert _enrol(cli, "Barack Obama", "obama.jpg")[0] == 0
    before = snapshot(db, media)
    code, out, err = _enrol(cli, "Barack Obama", "obama.jpg")
    assert code == 1
    assert "no obama.jpg - already enrolled for this person" in out
    assert "Barack Obama: nothing enrolled" in err
    assert snapshot(db, media) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--list", "nope", "--name", "Jane Doe", "-r", "x", "obama.jpg"], "error: no list named 'nope'"),
        (["--list", "wanted", "--name", " Jane", "-r", "x", "obama.jpg"],
         "error: ' Jane': a person's name may not"),
        (["--list", "wanted", "--name", "Jane Doe", "obama.jpg"],
         "error: reason: putting a person on a list needs"),
        (["--list", "wanted", "--name", "Jane Doe", "-r", "x", "--expires", "2001-01-01", "obama.jpg"],
         "error: expires: 2001-01-01 00:00 is already past"),
        (["--list", "wanted", "--name", "Jane Doe", "-r", "x", "--expires", "soon", "obama.jpg"],
         "error: --expires: 'soon' is not a date"),
        (["--name", "Jane Doe", "-r", "x", "obama.jpg"], "--list is required"),
        (["--list", "wanted", "--name", "Jane Doe", "-r", "x"], "give at least one photo"),
        (["--list", "wanted", "--name", "Jane Doe", "--folder", ".", "-r", "x"], "give either --name"),
    ],
    ids=["unknown-list", "bad-name", "no-reason", "past-expiry", "bad-expiry", "no-list", "no-photo",
         "name-and-folder"],
)  # fmt: skip
def test_enroll_errors_exit_2_and_write_nothing(
    cli: Cli, photos: Path, db: Database, media: MediaStore, args: list[str], message: str
) -> None:
    before = snapshot(db, media)
    r = cli("enroll", *args)
    assert r.code == 2, r
    assert message in r.err, r
    assert "Traceback" not in r.err
    assert snapshot(db, media) == before


def test_enroll_folder_reports_bad_photos_and_people_and_enrols_the_rest(
    cli: Cli, photos: Path, tmp_path: Path, db: Database
) -> None:
    tree = tmp_path / "tree"
    for person, files in {
        "Barack Obama": ["obama.jpg", "obama2.jpg", "broken.jpg"],
        "Joe Biden": ["biden.jpg"],
        "Two People": ["two.jpg"],
        "Empty": [],
    }.items():
        (tree / person).mkdir(parents=True)
        for f in files:
            shutil.copy(photos / f, tree / person / f)
    (tree / "notes.txt").write_text("not a person folder")
    (tree / "Joe Biden" / "readme.txt").write_text("not a photo")

    r = cli(
        "enroll",
        "--list",
        "wanted",
        "--folder",
        str(tree),
        "--reason",
        "bulk import",
        "--expires",
        "2031-01-01",
    )
    assert r.code == 0, r
    assert r.out.endswith("enrolled 2 people on wanted; 1 could not be enrolled")
    err = r.err.replace(" ", "")  # long paths may be folded
    assert "skipped" in r.err
    assert "notes.txt:notinapersonfolder" in err
    assert "readme.txt:notanimagefilename;ignored" in err
    assert "Empty:personfolderhasnophotos" in err
    assert "broken.jpg:truncatedorcorrupt" in err or "broken.jpg:corruptJPEG" in err
    assert "TwoPeople:nothingenrolled" in err
    assert "2facesfound" in err
    with db.read() as s:
        names = {p.name: len(p.samples) for p in s.scalars(select(Person))}
    assert names == {"Barack Obama": 2, "Joe Biden": 1}
    assert [a.reason for a in audit_rows(db) if a.action == "person.enrol"] == ["bulk import"] * 2


def test_enroll_folder_with_nobody_usable_exits_1(
    cli: Cli, photos: Path, tmp_path: Path, db: Database
) -> None:
    (tmp_path / "tree" / "Two People").mkdir(parents=True)
    shutil.copy(photos / "two.jpg", tmp_path / "tree" / "Two People")
    r = cli("enroll", "--list", "wanted", "--folder", str(tmp_path / "tree"), "--reason", "bulk")
    assert r.code == 1, r
    assert r.out == "enrolled 0 people on wanted; 1 could not be enrolled"
    assert counts(db)["people"] == 0


def test_people_ls_show_rm(cli: Cli, photos: Path, db: Database, media: MediaStore) -> None:
    soon = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%d")
    assert (
        _enrol(
            cli, "Barack Obama", "obama.jpg", "obama2.jpg", "--approved-by", "test:carol", "--expires", soon
        )[0]
        == 0
    )
    assert _enrol(cli, "Joe Biden", "biden.jpg")[0] == 0
    assert cli("lists", "create", "vip", "-r", "protection").code == 0

    r = cli("people", "ls")
    assert r.code == 0, r
    assert [row[:4] for row in r.table()] == [
        ["1", "Barack Obama", f"wanted (until {soon})", "2"],
        ["2", "Joe Biden", "wanted", "1"],
    ]
    assert cli("people", "ls", "--list", "vip").table() == []
    assert [row[1] for row in cli("people", "ls", "--list", "wanted").table()] == [
        "Barack Obama",
        "Joe Biden",
    ]

    r = cli("people", "show", "1")
    assert r.code == 0, r
    assert r.out.startswith("Barack Obama (person 1, enrolled ")
    assert (
        f"list wanted: case 7 (source: -; added by test:cli, approved by test:carol; until {soon})" in r.out
    )
    assert len(re.findall(r"photo \d+: photos/\S+\.jpg quality 0\.\d\d", r.out)) == 2

    obama_files = {p for x in samples(db) if x.person_id == 1 for p in (x.photo_path, x.crop_path)}
    r = cli("people", "rm", "1", "--reason", "entry withdrawn", "--as", "test:cli")
    assert (r.code, r.out) == (0, "removed person 1"), r
    assert [row[1] for row in cli("people", "ls").table()] == ["Joe Biden"]
    assert not obama_files & media.all_files()
    last = audit_rows(db)[-1]
    assert (last.actor, last.action, last.subject, last.reason) == (
        "test:cli", "person.remove", "person:1", "entry withdrawn"
    )  # fmt: skip
    assert cli("db", "verify-audit").out == "audit chain intact: 5 rows"

    for args in (["people", "show", "1"], ["people", "rm", "1", "-r", "again"]):
        r = cli(*args)
        assert (r.code, r.err) == (2, "error: no person with id 1"), r
    r = cli("people", "rm", "2", "-r", " ")
    assert (r.code, r.err) == (2, "error: reason: removing a person needs a reason"), r
