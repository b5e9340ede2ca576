"""`vigil db | lists` and the store's failures at the command line: gone, locked, behind its migrations.

Exit codes: 0 done, 1 the command ran but found a problem (a broken audit chain), 2 the command could
not do its job (bad input, unknown name, database unavailable); every error is one sentence on stderr.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.store_kit import ACTOR, OBAMA, Cli, audit_rows, counts, drop_audit_guard, open_db, write_config
from vigil.app import Engine
from vigil.cli import store as store_cli
from vigil.errors import StoreError
from vigil.match.thresholds import UNCALIBRATED
from vigil.services.gallery import sweep_orphans
from vigil.services.lists import ListService, ListSettings
from vigil.services.users import UserService
from vigil.store import db as store_db
from vigil.store import migrate
from vigil.store.db import Database
from vigil.store.media import MediaStore

HEAD = migrate.head()


@pytest.fixture
def cli(db_url: str, tmp_path: Path, model_dir: Path) -> Cli:
    return Cli(write_config(tmp_path / "vigil.yaml", tmp_path / "data", db_url, model_dir))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """This process's own view of the database the CLI uses (opened after the CLI made the schema)."""
    database = Database.from_url(db_url)
    yield database
    database.dispose()


def test_lists_create_ls_rm(cli: Cli, db: Database) -> None:
    r = cli(
        "lists", "create", "wanted", "--reason", "court order 12/2024", "--threshold", "0.95",
        "--severity", "critical", "--review", "two_person", "--colour", "#ff0000", "--retention-days", "90",
        "--as", "test:cli",
    )  # fmt: skip
    assert (r.code, r.out) == (0, "created list wanted (id 1), threshold 0.950"), r
    assert cli("lists", "create", "missing", "-r", "family request").code == 0

    r = cli("lists", "ls")
    assert r.code == 0, r
    [missing, wanted] = r.table()
    assert wanted[:3] == ["wanted", "0", "0.950"]
    assert wanted[3].startswith("set by hand; calibrated 0.3")
    assert wanted[4:] == ["critical", "two_person", "90", "test:cli"]
    calibrated = float(missing[2])
    assert 0.3 <= calibrated < 0.4  # the default embedder at FPIR 0.001 for a list of one (docs/accuracy.md)
    assert missing[3] == "FPIR 0.001 at 0 people"
    assert missing[4:7] == ["medium", "acknowledge", "30"]
    assert missing[7].startswith("local:")

    r = cli("lists", "rm", "missing", "--reason", "found", "--as", "test:cli")
    assert (r.code, r.out) == (0, "removed list missing (0 entries)"), r
    assert [row[0] for row in cli("lists", "ls").table()] == ["wanted"]
    assert [(a.actor, a.action, a.subject) for a in audit_rows(db)] == [
        ("test:cli", "list.create", "list:wanted"),
        (audit_rows(db)[1].actor, "list.create", "list:missing"),
        ("test:cli", "list.remove", "list:missing"),
    ]
    assert audit_rows(db)[1].actor.startswith("local:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lists", "create", "Wanted", "-r", "x"], "error: Wanted: list names are 1-64 lowercase"),
        (["lists", "create", "wanted", "-r", " "], "error: reason: creating a list needs a reason"),
        (["lists", "create", "wanted", "-r", "x", "--colour", "red"],
         "error: colour: 'red' is not a #rrggbb colour"),
        (["lists", "create", "wanted", "-r", "x", "--threshold", "0.2"],
         "error: threshold: 0.2 is below the threshold calibrated for this list (0.3"),
        (["lists", "create", "wanted", "-r", "x", "--threshold", "2"],
         "error: threshold: 2.0 is not a cosine"),
        (["lists", "rm", "nope", "-r", "x"], "error: no list named 'nope'"),
    ],
)  # fmt: skip
def test_list_errors_are_one_sentence_and_exit_2(
    cli: Cli, db: Database, args: list[str], message: str
) -> None:
    r = cli(*args)
    assert r.code == 2, r
    assert r.err.startswith(message), r
    assert "Traceback" not in r.err
    assert counts(db)["watchlists"] == counts(db)["audit_log"] == 0


def test_a_duplicate_list_is_refused(cli: Cli, db: Database) -> None:
    assert cli("lists", "create", "wanted", "-r", "first").code == 0
    r = cli("lists", "create", "wanted", "-r", "second")
    assert (r.code, r.err) == (2, "error: wanted: a list with this name already exists"), r
    assert [a.reason for a in audit_rows(db)] == ["first"]


def test_a_threshold_under_the_calibrated_one_needs_force_and_stays_flagged(cli: Cli, db: Database) -> None:
    r = cli("lists", "create", "wanted", "-r", "x", "--threshold", "0.2", "--force")
    assert r.code == 0, r
    [row] = cli("lists", "ls").table()
    assert row[2] == "0.200"
    assert "BELOW IT" in row[3], row

    r = cli("lists", "set", "wanted", "-r", "follow the calibration")
    assert r.code == 0, r
    calibrated = float(r.out.split("threshold ")[1].split()[0])
    assert "(FPIR 0.001 at 0 people)" in r.out
    r = cli("lists", "set", "wanted", "-r", "one in ten thousand", "--fpir", "0.0001")
    assert r.code == 0, r
    assert float(r.out.split("threshold ")[1].split()[0]) > calibrated + 0.03
    actions = [(a.action, json.loads(a.details).get("forced")) for a in audit_rows(db)]
    assert actions == [("list.create", True), ("list.rule", False), ("list.rule", False)]


def test_db_upgrade_is_idempotent(cli: Cli, db_url: str) -> None:
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    first = cli("db", "upgrade")
    assert (first.code, first.out) == (0, f"schema: empty → {HEAD} ({dialect})"), first
    again = cli("db", "upgrade")
    assert (again.code, again.out) == (0, f"schema: {HEAD} → {HEAD} ({dialect})"), again
    assert cli("lists", "create", "wanted", "-r", "x").code == 0


def test_db_verify_audit_reports_the_broken_row(cli: Cli, db: Database) -> None:
    for name in ("a", "b", "c"):
        assert cli("lists", "create", name, "-r", "x").code == 0
    r = cli("db", "verify-audit")
    assert (r.code, r.out) == (0, "audit chain intact: 3 rows"), r
    drop_audit_guard(db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET reason = 'y' WHERE id = 2"))
    r = cli("db", "verify-audit")
    assert r.code == 1, r
    assert r.err == "audit chain broken at row 2: row content does not match its hash (it was altered)"


def test_a_schema_behind_the_code_is_refused_until_upgraded(cli: Cli, db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('0000')"))
    r = cli("lists", "ls")
    assert r.code == 2, r
    assert (
        r.err
        == f"error: the database schema is at revision 0000, this Vigil needs {HEAD}: run `vigil db upgrade`"
    )


def test_db_upgrade_from_a_revision_it_does_not_know_is_a_clear_error(cli: Cli, db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('f00dcafe')"))
    r = cli("db", "upgrade")
    assert r.code == 2, r
    assert r.err.startswith("error: cannot upgrade the schema: "), r
    assert "f00dcafe" in r.err


# --- the database gone or locked (SQLite only: a file and a lock this test can take) ---------------------


def _sqlite_cli(tmp_path: Path, model_dir: Path, data_dir: Path, url: str = "") -> Cli:
    return Cli(
        write_config(
            tmp_path / "vigil.yaml", data_dir, url or f"sqlite:///{data_dir / 'vigil.db'}", model_dir
        )
    )


def test_a_data_dir_that_cannot_be_created_is_a_clear_error(tmp_path: Path, model_dir: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file where the data dir's parent should be")
    cli = _sqlite_cli(tmp_path, model_dir, blocker / "data")
    for args in (["lists", "ls"], ["lists", "create", "wanted", "-r", "x"], ["db", "upgrade"]):
        r = cli(*args)
        assert r.code == 2, r
        assert r.err.startswith("error: cannot use the data dir"), r
        assert "not-a-folder" in r.err.replace(" ", "")
    assert blocker.read_text().startswith("a regular file")


@pytest.mark.parametrize(
    "url",
    ["sqlite:////nonexistent-vigil-test/dir/vigil.db", "postgresql+psycopg://vigil@127.0.0.1:9/vigil"],
    ids=["sqlite-folder-gone", "postgresql-nobody-listening"],
)
def test_a_database_that_is_gone_is_a_clear_error(tmp_path: Path, model_dir: Path, url: str) -> None:
    cli = _sqlite_cli(tmp_path, model_dir, tmp_path / "data", url)
    for args in (["lists", "ls"], ["db", "upgrade"], ["db", "verify-audit"]):
        r = cli(*args)
        assert r.code == 2, r
        assert r.err.startswith("error: database unavailable: "), r
        assert "Traceback" not in r.err


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store whose SQLite database another connection holds the write lock on (busy timeout 0.3 s)."""
    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'vigil.db'}"
    db = open_db(url)
    ListService(db, UNCALIBRATED).create(ACTOR, "wanted", ListSettings(), "before the lock")
    db.dispose()
    other = sqlite3.connect(data / "vigil.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield data
    other.execute("ROLLBACK")
    other.close()


def test_a_locked_database_is_a_store_error_and_nothing_is_written(locked: Path) -> None:
    db = Database.from_url(f"sqlite:///{locked / 'vigil.db'}")
    lists = ListService(db, UNCALIBRATED)
    assert [i.name for i in lists.all()] == ["wanted"], "readers are not blocked (WAL)"
    with pytest.raises(StoreError, match=r"^database unavailable: database is locked$"):
        lists.create(ACTOR, "other", ListSettings(), "during the lock")
    with pytest.raises(StoreError, match="database is locked"):
        lists.remove(ACTOR, "wanted", "during the lock")
    db.dispose()


def test_a_locked_database_at_the_command_line(locked: Path, tmp_path: Path, model_dir: Path) -> None:
    cli = _sqlite_cli(tmp_path, model_dir, locked)
    r = cli("lists", "create", "other", "-r", "during the lock")
    assert (r.code, r.err) == (2, "error: database unavailable: database is locked"), r
    assert cli("lists", "ls").code == 0


def test_nothing_was_half_written_under_the_lock(locked: Path, tmp_path: Path, model_dir: Path) -> None:
    cli = _sqlite_cli(tmp_path, model_dir, locked)
    assert cli("lists", "create", "other", "-r", "during the lock").code == 2
    assert cli("lists", "rm", "wanted", "-r", "during the lock").code == 2
    check = sqlite3.connect(locked / "vigil.db")
    try:
        assert check.execute("SELECT name FROM watchlists").fetchall() == [("wanted",)]
        assert check.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)
    finally:
        check.close()


def test_an_enrolment_under_the_lock_writes_no_row_and_only_sweepable_files(
    locked: Path, tmp_path: Path, model_dir: Path, engine: Engine, refs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_cli, "build_engine", lambda config: engine)
    cli = _sqlite_cli(tmp_path, model_dir, locked)
    r = cli("enroll", "--list", "wanted", "--name", "Barack Obama", "-r", "case 7", str(refs / OBAMA))
    assert (r.code, r.err) == (2, "error: database unavailable: database is locked"), r
    db = Database.from_url(f"sqlite:///{locked / 'vigil.db'}")  # reading works beside the writer (WAL)
    try:
        assert (counts(db)["people"], counts(db)["face_samples"], counts(db)["audit_log"]) == (0, 0, 1)
        media = MediaStore(locked / "media")
        assert len(media.all_files()) == 2, "the photo and its crop, written before the transaction"
        assert sweep_orphans(db, media, min_age_s=0) == 2
        assert media.all_files() == set()
    finally:
        db.dispose()


def test_users_add_passwd_token_disable(cli: Cli, db: Database) -> None:
    """Accounts from the server's shell: each secret printed once, working, and each change audited."""
    r = cli("users", "add", "officer1", "--role", "operator", "-r", "new shift", "--as", "test:cli")
    assert r.code == 0 and r.out.startswith("created officer1 (operator) password: "), r
    password = r.out.rsplit(" ", 1)[1]
    users = UserService(db, session_hours=1)
    assert users.login("officer1", password)[1].role.value == "operator"
    r = cli("users", "token", "officer1", "--name", "prometheus")
    token = r.out.rsplit(" ", 1)[1]
    assert r.code == 0 and token.startswith("vgl_"), r
    principal = users.resolve(token)
    assert principal is not None and principal.username == "officer1"
    r = cli("users", "passwd", "officer1")
    assert r.code == 0 and r.out.rsplit(" ", 1)[1] != password
    assert cli("users", "disable", "officer1", "-r", "left").code == 0
    assert users.resolve(token) is None, "a disabled user's tokens stop working"
    assert [row[:3] for row in cli("users", "ls").table()] == [["officer1", "operator", "yes"]]
    r = cli("users", "add", "officer1")
    assert r.code == 2 and "officer1" in r.err and "Traceback" not in r.err, r
    actions = [a.action for a in audit_rows(db) if a.subject.endswith("officer1") or "officer1" in a.details]
    assert actions[0] == "user.create" and "user.disable" in " ".join(actions), actions
    assert password not in "".join(a.details for a in audit_rows(db))
