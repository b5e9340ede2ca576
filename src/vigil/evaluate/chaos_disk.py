"""`vigil bench chaos disk`: the data dir on a small tmpfs, filled up and then remounted read-only.

The server is built by the composition root over a data dir on its own tmpfs (root only). With the
disk full, enrolment, a list change, footage upload and a footage job (which records sightings) must
each answer a clear 507 "the disk is full" (a job: fail or wait, never "done" with holes), and leave no
person without photos and no orphan media file; once the filler is deleted, the same requests succeed.
Remounted read-only, writes must answer 503 "the data dir is read-only" while the lists still read;
remounted read-write, writes resume.
"""

from __future__ import annotations

import errno
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from httpx import Response

from vigil.app import Server, build_server
from vigil.config import StoreConfig, VigilConfig
from vigil.evaluate.chaos_inputs import remux

REASON = "chaos disk bench"
TMPFS_MB = 8


class MountUnavailable(RuntimeError):
    """A tmpfs cannot be mounted here (not root, or no permission in this container)."""


@dataclass(frozen=True, slots=True)
class Check:
    """One request in one phase and whether its answer was the expected one."""

    phase: str
    what: str
    status: int | str
    expected: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class DiskResult:
    size_mb: int
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


@contextmanager
def tmpfs(size_mb: int) -> Iterator[Path]:
    """A fresh tmpfs of ``size_mb`` mounted on a temporary folder; always unmounted after."""
    with tempfile.TemporaryDirectory(prefix="vigil-chaos-disk-") as tmp:
        mnt = Path(tmp)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mnt)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise MountUnavailable(f"cannot mount a tmpfs on {mnt}: {done.stderr.strip() or done.returncode}")
        try:
            yield mnt
        finally:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def remount(mnt: Path, mode: str) -> None:
    """Remount ``mnt`` ``ro`` or ``rw``."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mnt)], check=True, capture_output=True)


def fill(mnt: Path) -> Path:
    """Write a filler file until the disk has no space left; returns it."""
    filler = mnt / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(bytes(1 << 16))
                f.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler


class DiskHarness:
    """The server over a data dir on ``mnt`` and the requests the phases send."""

    def __init__(self, mnt: Path, photo: Path, clip: bytes) -> None:
        self.data = mnt / "data"
        self.server: Server = build_server(VigilConfig(store=StoreConfig(data_dir=self.data)), workers=1)
        if self.server.bootstrap is None:
            raise RuntimeError("no first administrator was created")
        self.client = TestClient(self.server.app, raise_server_exceptions=False)
        self.headers = {"Authorization": f"Bearer {self.server.bootstrap.token}"}
        self.photo, self.clip = photo, clip
        self.checks: list[Check] = []

    def close(self) -> None:
        self.client.close()
        self.release()

    def release(self) -> None:
        """Close the database's connections (tmpfs refuses a read-only remount while files are open for
        writing; a real disk going read-only under load is forced by the kernel instead)."""
        self.server.app.state.vigil.db.dispose()

    def check(self, phase: str, what: str, r: Response, codes: set[int], words: str = "") -> Response:
        """Record whether ``r`` has one of ``codes`` and (for an error) says ``words``."""
        text = r.text[:160]
        ok = r.status_code in codes and (not words or words in text)
        expected = "/".join(map(str, sorted(codes))) + (f" saying {words!r}" if words else "")
        self.checks.append(Check(phase, what, r.status_code, expected, ok, text))
        return r

    def note(self, phase: str, what: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(phase, what, "-", "true", ok, detail))

    def enrol(self, name: str) -> Response:
        form = {"watchlist": "chaos", "name": name, "reason": REASON}
        files = {"photos": (self.photo.name, self.photo.read_bytes())}
        r: Response = self.client.post("/people", data=form, files=files, headers=self.headers)
        return r

    def new_list(self, name: str) -> Response:
        r: Response = self.client.post(
            "/watchlists", json={"name": name, "reason": REASON}, headers=self.headers
        )
        return r

    def upload(self) -> Response:
        form = {"camera": "chaos disk", "reason": REASON}
        files = {"video": ("clip.mp4", self.clip, "video/mp4")}
        r: Response = self.client.post("/footage", data=form, files=files, headers=self.headers)
        return r

    def people(self) -> list[str]:
        return [str(p["name"]) for p in self.client.get("/people", headers=self.headers).json()]

    def media_files(self) -> set[str]:
        files: set[str] = self.server.app.state.vigil.media.all_files()
        return files

    def job_status(self, job_id: int) -> str:
        return str(self.client.get(f"/footage/jobs/{job_id}", headers=self.headers).json()["status"])

    def run_job(self) -> str:
        """Run the next footage job as ``vigil serve``'s runner would; an error escaping it is named."""
        try:
            self.server.jobs.run_next()
        except Exception as exc:
            return f"runner raised {type(exc).__name__}: {exc}"
        return ""


def run_disk(
    photo: Path, clip_path: Path, *, size_mb: int = TMPFS_MB, progress: Callable[[str], None] = print
) -> DiskResult:
    """Run the phases on a ``size_mb`` tmpfs (see the module docstring).

    Raises:
        MountUnavailable: a tmpfs cannot be mounted here.
    """
    clip = remux(clip_path, "mp4")
    with tmpfs(size_mb) as mnt:
        h = DiskHarness(mnt, photo, clip)
        try:
            _phases(h, mnt, progress)
        finally:
            h.close()
    return DiskResult(size_mb, tuple(h.checks))


def _phases(h: DiskHarness, mnt: Path, progress: Callable[[str], None]) -> None:
    h.check("setup", "create list", h.new_list("chaos"), {201})
    h.check("setup", "enrol", h.enrol("before"), {201})
    queued = h.check("setup", "upload footage", h.upload(), {202}).json()
    progress("disk full")
    filler = fill(mnt)
    _full(h, int(queued["id"]))
    progress("space back")
    filler.unlink()
    _space_back(h, int(queued["id"]))
    progress("read-only")
    h.release()
    remount(mnt, "ro")
    try:
        _read_only(h)
    finally:
        remount(mnt, "rw")
    progress("read-write again")
    h.check("rw again", "enrol", h.enrol("read-only"), {201})
    h.check("rw again", "create list", h.new_list("after"), {201})


def _full(h: DiskHarness, job_id: int) -> None:
    people, files = h.people(), h.media_files()
    h.check("full", "enrol", h.enrol("full"), {507}, "disk is full")
    h.note("full", "no person without photos", "full" not in h.people(), f"people: {h.people()}")
    h.note(
        "full",
        "no orphan media file",
        h.media_files() == files,
        f"{len(h.media_files())} vs {len(files)} files",
    )
    h.check("full", "create list", h.new_list("full"), {201, 507})
    h.check("full", "upload footage", h.upload(), {507}, "disk is full")
    raised = h.run_job()
    status = h.job_status(job_id)
    held = status in {"queued", "running", "failed"} and h.people() == people
    h.note("full", "footage job not done with holes", held, f"job {status}; {raised or 'runner went on'}")


def _space_back(h: DiskHarness, job_id: int) -> None:
    h.check("space back", "enrol", h.enrol("full"), {201})
    h.check("space back", "upload footage", h.upload(), {202})
    raised = h.run_job()  # the job the full disk held back (queued or interrupted) runs now
    status = h.job_status(job_id)
    ended = status in {"done", "failed"} and not raised
    h.note("space back", "held-back footage job ends", ended, f"job {status}; {raised or 'runner went on'}")
    raised = h.run_job()
    h.note("space back", "new footage job runs", not raised, raised or "ran")


def _read_only(h: DiskHarness) -> None:
    h.check("read-only", "enrol", h.enrol("read-only"), {503}, "read-only")
    h.check("read-only", "create list", h.new_list("ro"), {503}, "read-only")
    h.check("read-only", "upload footage", h.upload(), {503}, "read-only")
    h.check("read-only", "list people", h.client.get("/people", headers=h.headers), {200})
    h.check("read-only", "list watchlists", h.client.get("/watchlists", headers=h.headers), {200})
    h.check("read-only", "list footage jobs", h.client.get("/footage/jobs", headers=h.headers), {200})
