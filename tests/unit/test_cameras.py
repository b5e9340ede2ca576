"""CameraService on both engines: cameras added, changed, paused, removed and declared in the config file,
each change audited; URLs checked and shown without credentials; the runner told what to run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.store_kit import ACTOR, audit_rows
from vigil.config import CameraConfig
from vigil.errors import BadInput, NotFound
from vigil.runtime.messages import CameraSpec
from vigil.services.cameras import CameraChange, CameraService
from vigil.store.db import Database


class Runner:
    """What the supervisor would be running, as the service asked."""

    def __init__(self) -> None:
        self.running: dict[int, CameraSpec] = {}

    def run(self, spec: CameraSpec) -> None:
        self.running[spec.camera_id] = spec

    def remove(self, camera_id: int) -> None:
        self.running.pop(camera_id, None)


@pytest.fixture
def runner() -> Runner:
    return Runner()


@pytest.fixture
def cameras(db: Database, runner: Runner, hamilton_clip: Path) -> CameraService:
    return CameraService(db, runner, file_roots=(hamilton_clip.parent,))


def test_add_change_pause_resume_remove_each_audited(
    cameras: CameraService, runner: Runner, db: Database, hamilton_clip: Path
) -> None:
    door = cameras.add(ACTOR, "front door", "rtsp://admin:s3cret@10.0.0.5/live", reason="new camera")
    assert door.url == "rtsp://***:***@10.0.0.5/live"
    assert runner.running[door.id].url == "rtsp://admin:s3cret@10.0.0.5/live", "the worker gets the real URL"
    clip = cameras.add(ACTOR, "clip", str(hamilton_clip), loop=True, max_fps=5)
    assert (runner.running[clip.id].loop, runner.running[clip.id].max_fps) == (True, 5)

    paused = cameras.change(ACTOR, door.id, CameraChange(enabled=False), "maintenance")
    assert not paused.enabled and door.id not in runner.running
    cameras.change(ACTOR, door.id, CameraChange(enabled=True, name="porch"), "back")
    assert runner.running[door.id].name == "porch"
    cameras.remove(ACTOR, clip.id, "not needed")
    assert clip.id not in runner.running and [c.name for c in cameras.all()] == ["porch"]

    rows = [(a.action, a.reason) for a in audit_rows(db)]
    assert rows == [
        ("camera.add", "new camera"), ("camera.add", ""), ("camera.pause", "maintenance"),
        ("camera.resume", "back"), ("camera.remove", "not needed"),
    ]  # fmt: skip
    assert "s3cret" not in "".join(a.details for a in audit_rows(db))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://10.0.0.1/cam", "unsupported URL scheme 'ftp'"),
        ("file:///etc/passwd", "unsupported URL scheme 'file'"),
        ("clips/door.mp4", "absolute path"),
        ("/no/such/clip.mp4", "no such video file"),
        ("  ", "empty camera URL"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(cameras: CameraService, url: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        cameras.add(ACTOR, "cam", url)
    assert cameras.all() == []


def test_names_are_unique_and_checked(cameras: CameraService) -> None:
    cameras.add(ACTOR, "door", "rtsp://10.0.0.5/a")
    with pytest.raises(BadInput, match="already exists"):
        cameras.add(ACTOR, "door", "rtsp://10.0.0.6/b")
    with pytest.raises(BadInput, match="letters, digits"):
        cameras.add(ACTOR, "../etc", "rtsp://10.0.0.6/b")
    with pytest.raises(NotFound):
        cameras.change(ACTOR, 999, CameraChange(enabled=False))


def test_the_config_file_declares_cameras_and_a_dropped_one_is_paused(
    cameras: CameraService, runner: Runner, db: Database
) -> None:
    cameras.sync_config(
        [CameraConfig(name="gate", url="rtsp://10.0.0.7/s"), CameraConfig(name="dock", url="webcam:0")]
    )
    assert cameras.start_all() == 2
    assert {s.name for s in runner.running.values()} == {"gate", "dock"}
    moved = CameraConfig(name="gate", url="rtsp://10.0.0.8/s", max_fps=4)
    cameras.sync_config([moved])
    by_name = {c.name: c for c in cameras.all()}
    assert by_name["gate"].url == "rtsp://10.0.0.8/s" and by_name["gate"].from_config
    assert not by_name["dock"].enabled and not by_name["dock"].from_config, "paused, its events kept"
    cameras.sync_config(
        [CameraConfig(name="gate", url="rtsp://10.0.0.8/s", max_fps=4)]
    )  # no change: no audit
    actions = [a.action for a in audit_rows(db)]
    assert actions == ["camera.config", "camera.config", "camera.pause", "camera.config"]


def test_file_cameras_read_only_inside_the_configured_folders(
    db: Database, runner: Runner, hamilton_clip: Path, tmp_path: Path
) -> None:
    """A camera must not become a way to read the server's files (tried: any readable video or photo)."""
    fenced = CameraService(db, runner, file_roots=(hamilton_clip.parent,))
    assert fenced.add(ACTOR, "clip", str(hamilton_clip)).name == "clip"
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(hamilton_clip.read_bytes())
    with pytest.raises(BadInput, match=r"file cameras may only read videos in live\.file_roots"):
        fenced.add(ACTOR, "secret", str(outside))
    link = hamilton_clip.parent / ".." / "x"  # a path that climbs out
    with pytest.raises(BadInput, match=r"no such video file|live\.file_roots"):
        fenced.add(ACTOR, "climb", str(link))
    escape = tmp_path / "inside"
    escape.mkdir()
    (escape / "clip.mp4").symlink_to(outside)  # a symlink inside a root that points out of it
    inside_root = CameraService(db, runner, file_roots=(escape,))
    with pytest.raises(BadInput, match=r"live\.file_roots"):
        inside_root.add(ACTOR, "via-link", str(escape / "clip.mp4"))
    closed = CameraService(db, runner)
    with pytest.raises(BadInput, match=r"none \(file cameras are off\)"):
        closed.add(ACTOR, "any", str(hamilton_clip))
    assert closed.add(ACTOR, "door", "rtsp://10.0.0.5/a").name == "door", "streams are not fenced by it"
    clip = next(c for c in fenced.all() if c.name == "clip")
    with pytest.raises(BadInput, match=r"live\.file_roots"):
        fenced.change(ACTOR, clip.id, CameraChange(url=str(outside)), "moved")


def test_a_removed_camera_is_kept_for_its_history_and_its_name_is_free(
    cameras: CameraService, runner: Runner, db: Database
) -> None:
    door = cameras.add(ACTOR, "door", "rtsp://10.0.0.5/live")
    cameras.remove(ACTOR, door.id, "moved to the back")
    assert door.id not in runner.running
    with pytest.raises(NotFound, match=rf"no camera {door.id} \(it was removed\)"):
        cameras.get(door.id)
    with pytest.raises(NotFound, match="it was removed"):
        cameras.change(ACTOR, door.id, CameraChange(enabled=True))
    (kept,) = cameras.all(include_removed=True)
    assert (kept.id, kept.enabled, kept.removed_at is not None) == (door.id, False, True)
    assert cameras.names()[door.id] == "door", "its events are still shown under its name"
    again = cameras.add(ACTOR, "door", "rtsp://10.0.0.6/live")
    assert again.id > door.id and [c.id for c in cameras.all()] == [again.id]
    with pytest.raises(BadInput, match="already exists"):
        cameras.add(ACTOR, "door", "rtsp://10.0.0.7/live")
    assert cameras.start_all() == 1 and list(runner.running) == [again.id]
    removal = next(a for a in audit_rows(db) if a.action == "camera.remove")
    assert json.loads(removal.details) == {"events_kept": 0, "name": "door"}
