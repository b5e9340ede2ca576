"""A private PostgreSQL cluster for benchmarks: its own folder on disk, a loopback port, stock settings.

``vigil bench store --postgres`` measures PostgreSQL without touching any cluster already on the machine:
it creates one in a temporary folder, listening on 127.0.0.1 only (trust authentication, so nothing
beyond this machine can reach it), and deletes it afterwards. Unlike the test cluster
(``tests/pg.py``: no fsync, in memory when it can, tuned for creating many small databases fast), this
one keeps PostgreSQL's default settings, durability included, and writes to disk, so that insert and
start-up times are those of an ordinary installation.

Example:
    >>> with LocalCluster.start() as pg:  # doctest: +SKIP
    ...     url = pg.new_database("bench")  # postgresql+psycopg://vigil@127.0.0.1:PORT/bench
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql

from vigil.errors import StoreError

log = logging.getLogger(__name__)

SUPERUSER = "vigil"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
TOOLS = ("initdb", "pg_ctl", "postgres")
NOT_FOUND = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_TOOL_TIMEOUT_S = 120.0
_START_ATTEMPTS = 3


def find_postgres_bin(path: str | None = None, root: Path = DEBIAN_ROOT) -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: ``PATH`` first, then Debian's, newest first."""
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl", path=path)
    if on_path is not None:
        candidates.append(Path(on_path).resolve().parent)

    def version(bin_dir: Path) -> tuple[int, ...]:
        try:
            return tuple(int(p) for p in bin_dir.parent.name.split("."))
        except ValueError:
            return (-1,)

    candidates += sorted(root.glob("*/bin"), key=version, reverse=True)
    for bin_dir in candidates:
        if all(os.access(bin_dir / tool, os.X_OK) for tool in TOOLS):
            return bin_dir
    return None


def _server_account() -> pwd.struct_passwd | None:
    """Who runs the server: ourselves, or ``postgres`` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise StoreError("running as root, and there is no 'postgres' account to run PostgreSQL") from exc


def free_port() -> int:
    """A TCP port on 127.0.0.1 free now (for a server this process starts next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalCluster:
    """A PostgreSQL cluster in a temporary folder on 127.0.0.1; running from :meth:`start` to :meth:`stop`.

    Attributes:
        bin_dir: where initdb and pg_ctl were found.
        base_dir: the temporary folder (``data/``, ``server.log``), deleted by :meth:`stop`.
        port: the loopback TCP port.
    """

    def __init__(self, bin_dir: Path, base_dir: Path, account: pwd.struct_passwd | None) -> None:
        self.bin_dir = bin_dir
        self.base_dir = base_dir
        self.port = 0
        self._account = account
        self._running = False

    @property
    def version(self) -> str:
        """The server's version, e.g. ``15.14``."""
        found = re.search(r"\d+(?:\.\d+)+", self._run(["postgres", "--version"], "reading the version"))
        return found.group() if found else "?"

    @classmethod
    def start(cls, parent: Path | None = None, bin_dir: Path | None = None) -> Self:
        """Create a cluster (superuser ``vigil``, trust authentication, UTF8) under ``parent`` and start it.

        ``parent`` defaults to ``TMPDIR``; as root the server runs as ``postgres``, which must reach it.

        Raises:
            StoreError: no binaries, or initdb or the start failed (with the server log's tail).
        """
        bin_dir = bin_dir or find_postgres_bin()
        if bin_dir is None:
            raise StoreError(NOT_FOUND)
        account = _server_account()
        base_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-pg-", dir=parent))
        cluster = cls(bin_dir, base_dir, account)
        try:
            if account is not None:
                os.chown(base_dir, account.pw_uid, account.pw_gid)
            cluster._run(
                ["initdb", "-D", str(cluster.data_dir), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8",
                 "--locale=C"],
                "creating the cluster",
            )  # fmt: skip
            with (cluster.data_dir / "postgresql.conf").open("a") as conf:
                conf.write("\n# vigil bench store: loopback only, everything else stock\n")
                conf.write("listen_addresses = '127.0.0.1'\n")
                conf.write(f"unix_socket_directories = '{base_dir}'\n")
            cluster._start_server()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "server.log"

    def _run(self, args: Sequence[str], what: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        account = self._account
        try:
            done = subprocess.run(
                [str(self.bin_dir / args[0]), *args[1:]],
                capture_output=True,
                text=True,
                timeout=_TOOL_TIMEOUT_S,
                check=False,
                cwd=self.base_dir,
                env=env,
                user=None if account is None else account.pw_uid,
                group=None if account is None else account.pw_gid,
                extra_groups=None if account is None else [],
            )
        except subprocess.TimeoutExpired as exc:
            raise StoreError(f"{what}: {args[0]} took longer than {_TOOL_TIMEOUT_S:.0f} s") from exc
        if done.returncode != 0:
            raise StoreError(f"{what}: {args[0]} exited with {done.returncode}\n{done.stdout}{done.stderr}")
        return done.stdout

    def _start_server(self) -> None:
        """``pg_ctl start`` on a free port, retried when another process takes the port first."""
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = free_port()
            try:
                self._run(
                    ["pg_ctl", "start", "-w", "-t", "60", "-o", f"-p {port}", "-D", str(self.data_dir),
                     "-l", str(self.log_path)],
                    f"starting PostgreSQL on 127.0.0.1:{port}",
                )  # fmt: skip
            except StoreError as exc:
                tail = self._log_tail()
                if attempt < _START_ATTEMPTS and "could not bind" in tail:
                    continue
                raise StoreError(f"{exc}\n--- server log ---\n{tail}") from exc
            self.port = port
            self._running = True
            log.info("benchmark PostgreSQL cluster on 127.0.0.1:%d in %s", port, self.base_dir)
            return

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no server log: {exc})"

    def url_for(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name`` in this cluster."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def _admin(self, statement: sql.Composed) -> None:
        if not self._running:
            raise StoreError("the benchmark PostgreSQL cluster is not running")
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement)

    def new_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL.

        Raises:
            ValueError: ``name`` is not a plain lower-case identifier.
        """
        if not _NAME.fullmatch(name):
            raise ValueError(f"database name {name!r}: use [a-z_][a-z0-9_]*, at most 63 characters")
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, closing any connection still open to it."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Stop the server (``-m fast``) and delete its folder. Safe to call twice."""
        was_running, self._running = self._running, False
        try:
            if was_running or (self.data_dir / "postmaster.pid").exists():
                self._run(
                    ["pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.data_dir)], "stopping PostgreSQL"
                )
        except StoreError:
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
