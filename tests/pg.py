"""A throwaway PostgreSQL cluster for tests: own data folder, free loopback port, no fsync, gone after.

The store must pass the same tests on SQLite and PostgreSQL. Tests start this cluster once per session
(``tests/conftest.py``) and take a fresh database from it per test; nothing is shared with a system
cluster, nothing listens beyond 127.0.0.1, and ``stop()`` deletes every file it made.

Example:
    >>> with ThrowawayPostgres.start() as pg:  # doctest: +SKIP
    ...     url = pg.new_database("demo")  # postgresql+psycopg://vigil@127.0.0.1:PORT/demo
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from tests.helpers import skip_unless_required

SUPERUSER = "vigil"
REQUIRE_ENV = "VIGIL_REQUIRE_POSTGRES"
NOT_FOUND = "PostgreSQL server binaries not found: apt-get install postgresql (CI does this)"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
TOOLS = ("initdb", "pg_ctl", "postgres")

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_INITDB_TIMEOUT_S = 120.0
_START_TIMEOUT_S = 60
_STOP_TIMEOUT_S = 30.0
_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 30
_INITDB_FLAGS = ("--no-sync", "-E", "UTF8", "--locale=C")

# Settings for a disposable cluster: loopback only, durability off (a crash loses nothing we need).
_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_wal_size": "128MB",  # bounds the WAL kept between checkpoints (RAM, when on /dev/shm)
    "min_wal_size": "32MB",
}
# A memory-backed folder makes CREATE DATABASE ~15x faster than a virtual disk (even with fsync off);
# used only when it has room (Docker gives /dev/shm 64 MB by default).
SHM = Path("/dev/shm")
_SHM_MIN_FREE = 1 << 30


class PostgresError(RuntimeError):
    """The throwaway cluster could not be created, started, used or stopped."""


def unavailable(reason: str) -> NoReturn:
    """Skips the test, or fails it when ``VIGIL_REQUIRE_POSTGRES=1``."""
    skip_unless_required(reason, REQUIRE_ENV)


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    """``/usr/lib/postgresql/15/bin`` -> (15,); unparsable names sort last."""
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def find_postgres_bin(path: str | None = None, roots: Iterable[Path] = (DEBIAN_ROOT,)) -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: ``PATH`` first, then Debian's, newest first.

    Args:
        path: the search path for pg_ctl (``os.environ["PATH"]`` when None).
        roots: folders laid out like Debian's ``/usr/lib/postgresql/<version>/bin``.
    """
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl", path=path)
    if on_path is not None:
        candidates.append(Path(on_path).resolve().parent)  # through links like /usr/local/bin/pg_ctl
    for root in roots:
        candidates += sorted(root.glob("*/bin"), key=_version_key, reverse=True)
    for bin_dir in candidates:
        if all(os.access(bin_dir / tool, os.X_OK) for tool in TOOLS):
            return bin_dir
    return None


def _server_account() -> pwd.struct_passwd | None:
    """Who runs the server: ourselves, or, as root (initdb refuses root), ``postgres`` or ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresError("running as root but neither a 'postgres' nor a 'nobody' account exists")


def scratch_parent(shm: Path = SHM) -> Path | None:
    """Where to put the cluster: ``shm`` when it is a writable folder with 1 GiB free, else None (TMPDIR)."""
    try:
        roomy = shutil.disk_usage(shm).free >= _SHM_MIN_FREE
    except OSError:
        return None
    return shm if roomy and os.access(shm, os.W_OK | os.X_OK) else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _conf_line(key: str, value: str) -> str:
    """``key = 'value'`` for postgresql.conf, where backslash and quote are special inside quotes."""
    quoted = value.replace("\\", "\\\\").replace("'", "''")
    return f"{key} = '{quoted}'\n"


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no server log: {exc})"


class ThrowawayPostgres:
    """A private PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only.

    Build it with :meth:`start`; every instance is running until :meth:`stop`.

    Attributes:
        bin_dir: where initdb, pg_ctl and postgres were found.
        base_dir: the temporary folder (``data/``, ``sock/``, ``server.log``), deleted by ``stop()``.
        port: the loopback TCP port.
        url: SQLAlchemy URL of the database created at start (``vigil``).
    """

    def __init__(self, bin_dir: Path, base_dir: Path, account: pwd.struct_passwd | None) -> None:
        self.bin_dir = bin_dir
        self.base_dir = base_dir
        self.port = 0
        self.url = ""
        self._account = account
        self._admin: psycopg.Connection[TupleRow] | None = None
        self._running = False

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "server.log"

    @property
    def _where(self) -> list[str]:
        """pg_ctl's data folder and server log arguments."""
        return ["-D", str(self.data_dir), "-l", str(self.log_path)]

    @classmethod
    def start(
        cls,
        bin_dir: Path | None = None,
        settings: Mapping[str, str] | None = None,
        parent: Path | None = None,
    ) -> Self:
        """Creates a cluster (superuser ``vigil``, trust auth, UTF8), starts it, creates database ``vigil``.

        Args:
            bin_dir: PostgreSQL's bin folder; found with :func:`find_postgres_bin` when None.
            settings: extra server settings (``postgresql.conf`` keys), e.g. ``{"max_connections": "50"}``.
            parent: where the temporary folder goes; :func:`scratch_parent` or ``TMPDIR`` when None.

        Raises:
            PostgresError: binaries missing, initdb or start failed (with the server log's tail).
        """
        bin_dir = bin_dir or find_postgres_bin()
        if bin_dir is None:
            raise PostgresError(NOT_FOUND)
        account = _server_account()
        base_dir = Path(tempfile.mkdtemp(prefix="vigil-pg-", dir=parent or scratch_parent()))
        server = cls(bin_dir, base_dir, account)
        try:
            server._init_cluster({**_SETTINGS, **(settings or {})})
            server._start_server()
            server.url = server.new_database(SUPERUSER)
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, args: Sequence[str], timeout_s: float, what: str) -> str:
        """Runs a PostgreSQL tool as the server account; its output, or PostgresError naming ``what``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        account = self._account
        try:
            done = subprocess.run(
                [str(self.bin_dir / args[0]), *args[1:]],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
                cwd=self.base_dir,
                env=env,
                user=None if account is None else account.pw_uid,
                group=None if account is None else account.pw_gid,
                extra_groups=None if account is None else [],
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(f"{what}: {args[0]} took longer than {timeout_s:.0f} s") from exc
        if done.returncode != 0:
            raise PostgresError(
                f"{what}: {args[0]} exited with {done.returncode}\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def _init_cluster(self, settings: Mapping[str, str]) -> None:
        sock_dir = self.base_dir / "sock"
        sock_dir.mkdir()
        if self._account is not None:
            for path in (self.base_dir, sock_dir):
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
        self._run(
            ["initdb", "-D", str(self.data_dir), "-A", "trust", "-U", SUPERUSER, *_INITDB_FLAGS],
            _INITDB_TIMEOUT_S,
            "creating the cluster",
        )
        # Settings go in the config file: pg_ctl hands -o to a shell, so -o carries only the port number.
        conf = {**settings, "unix_socket_directories": str(sock_dir)}
        with (self.data_dir / "postgresql.conf").open("a") as out:
            out.write("\n# Vigil test cluster\n")
            out.writelines(_conf_line(key, value) for key, value in conf.items())

    def _start_server(self) -> None:
        """pg_ctl start on a free port, retried when another process takes the port first."""
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = _free_port()
            try:
                self._run(
                    ["pg_ctl", "start", "-w", "-t", str(_START_TIMEOUT_S), "-o", f"-p {port}", *self._where],
                    _START_TIMEOUT_S + 15,
                    f"starting PostgreSQL on 127.0.0.1:{port}",
                )
            except PostgresError as exc:
                log = _tail(self.log_path)
                if attempt < _START_ATTEMPTS and "could not bind" in log:
                    continue
                raise PostgresError(f"{exc}\n--- server log ({self.log_path}) ---\n{log}") from exc
            self.port = port
            self._running = True
            return

    def _admin_conn(self) -> psycopg.Connection[TupleRow]:
        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(
                host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
            )
        return self._admin

    def url_for(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name`` in this cluster."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def new_database(self, name: str | None = None) -> str:
        """Creates an empty database (a random name when None) and returns its SQLAlchemy URL.

        Raises:
            ValueError: ``name`` is not a plain lower-case identifier.
            PostgresError: the server is not running.
        """
        name = name or f"t_{uuid.uuid4().hex}"
        if not _NAME.fullmatch(name):
            raise ValueError(f"database name {name!r}: use [a-z_][a-z0-9_]*, at most 63 characters")
        if not self._running:
            raise PostgresError("the throwaway PostgreSQL server is not running")
        self._admin_conn().execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drops database ``name``, closing any connection a test left open to it."""
        if self._running:
            query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            self._admin_conn().execute(query)

    def stop(self) -> None:
        """Stops the server at once (``-m immediate``) and deletes its folder. Safe to call twice."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        # After a failed start the server may still be coming up: stop it too, without masking the error.
        was_running, self._running = self._running, False
        try:
            if was_running or (self.data_dir / "postmaster.pid").exists():
                self._run(
                    ["pg_ctl", "stop", "-m", "immediate", "-w", *self._where],
                    _STOP_TIMEOUT_S,
                    "stopping PostgreSQL",
                )
        except PostgresError:
            if was_running:
                raise
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
