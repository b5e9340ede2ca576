"""The database fixtures: ``db_url`` gives a fresh, empty database on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, inspect, select, text

from tests.pg import (
    NOT_FOUND,
    REQUIRE_ENV,
    PostgresError,
    ThrowawayPostgres,
    find_postgres_bin,
    scratch_parent,
    unavailable,
)

metadata = MetaData()
people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
)


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """A SQLAlchemy engine on the test's database, disposed after."""
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_a_fresh_empty_database(db_engine: Engine, run: int) -> None:
    """Both runs create the same table without checkfirst: it would fail had the first run's survived."""
    assert inspect(db_engine).get_table_names() == []
    metadata.create_all(db_engine, checkfirst=False)
    with db_engine.begin() as conn:
        conn.execute(people.insert(), [{"name": "Ada"}, {"name": f"run {run}"}])
    with db_engine.connect() as conn:
        rows = conn.execute(select(people.c.id, people.c.name).order_by(people.c.id)).all()
    assert [tuple(row) for row in rows] == [(1, "Ada"), (2, f"run {run}")]


def test_the_two_params_are_different_engines(db_engine: Engine, request: pytest.FixtureRequest) -> None:
    expected = {"sqlite": ("sqlite", "pysqlite"), "postgresql": ("postgresql", "psycopg")}
    assert (db_engine.dialect.name, db_engine.dialect.driver) == expected[
        request.node.callspec.params["db_url"]
    ]
    with db_engine.connect() as conn:
        if db_engine.dialect.name == "postgresql":
            assert (
                conn.execute(text("SELECT current_setting('server_version_num')::int")).scalar_one()
                >= 15_00_00
            )
        else:
            assert conn.execute(text("SELECT sqlite_version()")).scalar_one()


@pytest.mark.network
def test_databases_in_one_cluster_are_isolated(postgres: ThrowawayPostgres) -> None:
    first, second = create_engine(postgres.new_database()), create_engine(postgres.new_database())
    try:
        metadata.create_all(first)
        assert inspect(first).get_table_names() == ["people"]
        assert inspect(second).get_table_names() == []
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.network
def test_server_listens_on_loopback_only(postgres: ThrowawayPostgres) -> None:
    engine = create_engine(postgres.url)
    try:
        with engine.connect() as conn:
            settings = {
                name: conn.execute(text(f"SHOW {name}")).scalar_one()
                for name in ("listen_addresses", "port", "unix_socket_directories", "fsync")
            }
            server_addr = conn.execute(text("SELECT host(inet_server_addr())")).scalar_one()
    finally:
        engine.dispose()
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["port"] == str(postgres.port)
    assert settings["unix_socket_directories"] == str(postgres.base_dir / "sock")
    assert settings["fsync"] == "off"
    assert server_addr == "127.0.0.1"


def _running(pid: int) -> bool:
    """Whether the process runs; a zombie (exited, not yet reaped by a lazy PID 1) does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.mark.network
def test_stop_removes_the_server_and_its_files() -> None:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        unavailable(NOT_FOUND)
    server = ThrowawayPostgres.start(bin_dir)
    pid_file = server.data_dir / "postmaster.pid"
    pid = int(pid_file.read_text().split()[0])
    server.stop()
    server.stop()  # twice is fine
    assert not server.base_dir.exists()
    assert not _running(pid)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    with pytest.raises(PostgresError, match="not running"):
        server.new_database()


@pytest.mark.network
def test_a_failed_start_reports_the_server_log() -> None:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        unavailable(NOT_FOUND)
    with pytest.raises(PostgresError, match=r"(?s)server log.*shared_buffers") as failure:
        ThrowawayPostgres.start(bin_dir, settings={"shared_buffers": "lots"})
    log_path = re.search(r"server log \((.+)\) ---", str(failure.value))
    assert log_path is not None
    assert not Path(log_path[1]).parent.exists()


@pytest.mark.network
@pytest.mark.parametrize("name", ["Upper", "semi;colon", "a" * 64, "1st"])
def test_new_database_refuses_odd_names(postgres: ThrowawayPostgres, name: str) -> None:
    with pytest.raises(ValueError, match="database name"):
        postgres.new_database(name)


def _fake_bin(root: Path, version: str, tools: tuple[str, ...] = ("initdb", "pg_ctl", "postgres")) -> Path:
    bin_dir = root / version / "bin"
    bin_dir.mkdir(parents=True)
    for tool in tools:
        (bin_dir / tool).touch(mode=0o755)
    return bin_dir


def test_find_postgres_bin_prefers_path_then_the_newest_version(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    _fake_bin(root, "9.6")
    newest = _fake_bin(root, "16")
    _fake_bin(root, "17", tools=("pg_ctl",))  # incomplete: no initdb / postgres
    _fake_bin(root, "15")
    assert find_postgres_bin(path="", roots=[root]) == newest
    on_path = _fake_bin(tmp_path / "elsewhere", "13")
    assert find_postgres_bin(path=str(on_path), roots=[root]) == on_path.resolve()
    assert find_postgres_bin(path="", roots=[tmp_path / "nothing"]) is None


def test_scratch_parent_needs_a_writable_folder_with_room(tmp_path: Path) -> None:
    assert scratch_parent(tmp_path) in {tmp_path, None}  # None only on a nearly full disk
    assert scratch_parent(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("require", "outcome"),
    [(None, pytest.skip.Exception), ("0", pytest.skip.Exception), ("1", pytest.fail.Exception)],
)
def test_missing_postgres_skips_unless_required(
    monkeypatch: pytest.MonkeyPatch, require: str | None, outcome: type[BaseException]
) -> None:
    """CI sets VIGIL_REQUIRE_POSTGRES=1 so that a missing PostgreSQL fails instead of silently skipping."""
    if require is None:
        monkeypatch.delenv(REQUIRE_ENV, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_ENV, require)
    with pytest.raises(outcome, match="PostgreSQL server binaries not found"):
        unavailable(NOT_FOUND)
