"""An enrolment killed (SIGKILL) part-way leaves the database and the rebuilt gallery in agreement.

A child process enrols real LFW photos into the test's database (SQLite or PostgreSQL) and is killed
with no chance to clean up: at several points of ``vigil enroll --folder``, and, to show the windows
that matter, exactly after the media files were written (before the transaction) and inside the open
transaction (rows flushed, not committed). Afterwards this process opens the store as a restart would:
every sample in the database is in the gallery and the other way round, every person is whole, the
audit chain holds, and the only debris is unreferenced media files, which ``sweep_orphans`` removes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.store_kit import ACTOR, assert_consistent, counts, open_db, samples, write_config
from vigil.app import Engine
from vigil.match.thresholds import UNCALIBRATED
from vigil.services.gallery import load_gallery, sweep_orphans
from vigil.services.lists import ListService, ListSettings
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import AuditEntry

# Four LFW people with photos 1-8 that pass the enrolment gate (but Jean_Chretien_0005: two faces).
PEOPLE = ("Colin_Powell", "Donald_Rumsfeld", "Gerhard_Schroeder", "Jean_Chretien")
CLI = "from vigil.cli import main; main()"

# The child for the two precise windows: a real enrolment whose process stops (then is killed) right
# after the media files are written, or right after the audit row is flushed in the open transaction.
PAUSING_CHILD = r"""
import sys, time
from pathlib import Path

from vigil.app import build_engine, open_store
from vigil.config import load_config
from vigil.services.enrol import EnrolRequest, Photo
from vigil.store import audit
from vigil.store.media import MediaStore

config, where, marker, name, *paths = sys.argv[1:]
cfg = load_config(Path(config))
service = open_store(cfg).enrolment(build_engine(cfg))

def stop_here():
    Path(marker).write_text("stopped")
    time.sleep(300)

if where == "after-files":
    put = MediaStore.put
    def put_then_stop(self, kind, data, suffix):
        rel = put(self, kind, data, suffix)
        if kind == "crops":
            stop_here()
        return rel
    MediaStore.put = put_then_stop
else:
    append = audit.append
    def append_then_stop(*args, **kwargs):
        append(*args, **kwargs)
        stop_here()
    audit.append = append_then_stop
photos = [Photo(p, Path(p).read_bytes()) for p in paths]
service.enrol("test:child", EnrolRequest("wanted", name, "crash test", photos))
"""


@pytest.fixture
def store(db_url: str, tmp_path: Path, model_dir: Path) -> Iterator[tuple[Path, Database, MediaStore]]:
    """A config file for the child, and this process's view of the same store, with a list ``wanted``."""
    data = tmp_path / "data"
    config = write_config(tmp_path / "vigil.yaml", data, db_url, model_dir)
    db = open_db(db_url)
    ListService(db, UNCALIBRATED).create(ACTOR, "wanted", ListSettings(), "crash test")
    yield config, db, MediaStore(data / "media")
    db.dispose()


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "VIGIL_DATABASE_URL"}


def _tree(root: Path, lfw_images: Path, trial: int) -> Path:
    """``<name> <trial>/`` folders of two photos each, new photos every trial (new files to wait for)."""
    for folder in PEOPLE:
        person = root / f"{folder.replace('_', ' ')} {trial}"
        person.mkdir(parents=True)
        for i in (2 * trial + 1, 2 * trial + 2):
            shutil.copy(lfw_images / folder / f"{folder}_{i:04d}.jpg", person)
    return root


def _wait_for(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout_s: float = 40.0) -> bool:
    """Poll ``ready()`` until true (the child still running); False if the child ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("the child neither got there nor ended in time")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def _check_after_restart(db: Database, media: MediaStore, engine: Engine) -> None:
    """What a restart sees: a whole database, the gallery rebuilt from it, no stray file after the sweep."""
    gallery = load_gallery(db, engine.embedder.model_id, engine.embedder.dim)
    assert_consistent(db, media, gallery)
    with db.read() as s:
        enrolments = s.scalars(select(AuditEntry.subject).where(AuditEntry.action == "person.enrol")).all()
    assert len(enrolments) == len(set(enrolments)) == len(gallery.people), "one audit row per person"
    sweep_orphans(db, media, min_age_s=0)
    assert media.all_files() == {p for x in samples(db) for p in (x.photo_path, x.crop_path)}


def test_killing_vigil_enroll_at_any_point_leaves_db_and_gallery_in_agreement(
    store: tuple[Path, Database, MediaStore], engine: Engine, lfw_images: Path, tmp_path: Path
) -> None:
    config, db, media = store
    # Kill once the media folder holds this many files (a person is 2 photos + 2 crops), then let one run end.
    kill_at = (1, 4, 9, None)
    people = 0
    for trial, files in enumerate(kill_at):
        tree = _tree(tmp_path / f"tree{trial}", lfw_images, trial)
        before = len(media.all_files())
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "enroll", "--list", "wanted", "--reason", "crash test",
             "--folder", str(tree), "--config", str(config), "--as", "test:child"],
            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        if files is None:
            _, stderr = proc.communicate(timeout=60)
            assert proc.returncode == 0, stderr.decode()
        else:
            want = before + files

            def written(want: int = want) -> bool:
                return len(media.all_files()) >= want

            assert _wait_for(proc, written), f"the child ended before it was killed (trial {trial})"
            _kill(proc)
        _check_after_restart(db, media, engine)
        now = counts(db)["people"]
        assert now >= people
        people = now
    assert people >= len(PEOPLE), "the last, uninterrupted run enrolled its people"


@pytest.mark.parametrize("where", ["after-files", "in-transaction"])
def test_a_kill_in_the_critical_windows_writes_no_row_and_only_orphan_files(
    store: tuple[Path, Database, MediaStore], engine: Engine, lfw_images: Path, tmp_path: Path, where: str
) -> None:
    config, db, media = store
    marker = tmp_path / "stopped"
    photos = [str(lfw_images / "Colin_Powell" / f"Colin_Powell_{i:04d}.jpg") for i in (1, 2)]
    before = counts(db)
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSING_CHILD, str(config), where, str(marker), "Colin Powell", *photos],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    if not _wait_for(proc, marker.exists):
        raise AssertionError(proc.communicate()[1].decode())
    if where == "in-transaction":  # the rows are really there, in the transaction that will never commit
        assert len(media.all_files()) == 4
    _kill(proc)

    assert counts(db) == before, "no row of the killed enrolment survives"
    orphans = media.all_files()
    assert len(orphans) == (2 if where == "after-files" else 4)
    assert {p.split("/")[0] for p in orphans} == {"photos", "crops"}
    _check_after_restart(db, media, engine)  # sweeps
    assert media.all_files() == set()
    # The database is usable at once: not left locked by the dead writer.
    ListService(db, UNCALIBRATED).create(ACTOR, "after-the-crash", ListSettings(), "still writable")
