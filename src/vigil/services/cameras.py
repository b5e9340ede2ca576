"""Cameras: added, changed, paused and removed through the API or declared in the config file.

The database holds every camera; the runner (the camera supervisor) is told to run the enabled ones.
Each change is audited with who and why. URLs may hold credentials: they are kept in the database
for the workers, and shown redacted everywhere else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.config import CameraConfig
from vigil.errors import BadInput, NotFound
from vigil.ingest.netpolicy import OPEN, NetPolicy
from vigil.ingest.urls import STREAM_SCHEMES, redact_url, url_scheme
from vigil.ingest.webcam import is_webcam_spec
from vigil.runtime.messages import CameraSpec
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.tables import Camera, Event

log = logging.getLogger(__name__)
CAMERA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


class CameraRunner(Protocol):
    def run(self, spec: CameraSpec) -> None: ...

    def remove(self, camera_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class CameraInfo:
    id: int
    name: str
    url: str  # redacted
    enabled: bool
    loop: bool
    max_fps: float | None
    from_config: bool
    created_at: datetime
    removed_at: datetime | None = None  # removed: stopped, its history kept
    latitude: float | None = None  # where it is (WGS 84), for the impossible-travel rule
    longitude: float | None = None
    site: str | None = None


@dataclass(frozen=True, slots=True)
class CameraChange:
    """Fields to change (None: keep)."""

    name: str | None = None
    url: str | None = None
    loop: bool | None = None
    max_fps: float | None = None
    enabled: bool | None = None
    location: tuple[float | None, float | None] | None = None  # (latitude, longitude); (None, None) clears
    site: str | None = None  # "" clears


def check_place(latitude: float | None, longitude: float | None, site: str | None) -> str | None:
    """Check a camera's location (both coordinates or neither, in range) and return its site ("" or
    blank: none)."""
    if (latitude is None) != (longitude is None):
        raise BadInput(
            "latitude" if latitude is None else "longitude", "give both latitude and longitude, or neither"
        )
    if latitude is not None and not -90 <= latitude <= 90:
        raise BadInput("latitude", f"{latitude} is not between -90 and 90 degrees")
    if longitude is not None and not -180 <= longitude <= 180:
        raise BadInput("longitude", f"{longitude} is not between -180 and 180 degrees")
    site = (site or "").strip() or None
    if site is not None and len(site) > 64:
        raise BadInput("site", "a site name has at most 64 characters")
    return site


def check_camera_url(url: str, file_roots: Sequence[Path] | None = None, network: NetPolicy = OPEN) -> str:
    """Accept a stream URL (rtsp, rtsps, http, https), ``webcam:N`` or an existing video file path; with
    ``file_roots``, only a file inside one of those folders (after symlinks are followed): a camera must
    not become a way to read the server's files."""
    url = url.strip()
    if not url:
        raise BadInput("url", "empty camera URL")
    if is_webcam_spec(url):
        return url
    scheme = url_scheme(url)
    if scheme is not None:
        if scheme not in STREAM_SCHEMES:
            allowed = ", ".join(sorted(STREAM_SCHEMES))
            raise BadInput("url", f"unsupported URL scheme {scheme!r} in {redact_url(url)} (use {allowed})")
        network.check(url, "url")
        return url
    path = Path(url).expanduser()
    if not path.is_absolute():
        raise BadInput("url", f"{url}: a file camera needs an absolute path")
    if not path.is_file():
        raise BadInput("url", f"{url}: no such video file")
    if file_roots is not None:
        real = path.resolve()
        if not any(real.is_relative_to(root.expanduser().resolve()) for root in file_roots):
            where = ", ".join(str(r) for r in file_roots) or "none (file cameras are off)"
            raise BadInput(
                "url",
                f"{url}: file cameras may only read videos in live.file_roots ({where}); an administrator "
                "sets it in the config file",
            )
    return str(path)


def _check_name(name: str) -> str:
    if not CAMERA_NAME.fullmatch(name):
        raise BadInput(
            "name", f"{name!r}: 1-64 letters, digits, spaces, '.', '_' or '-', starting alphanumeric"
        )
    return name


def _check_fps(max_fps: float | None) -> float | None:
    if max_fps is not None and not 0 < max_fps <= 120:
        raise BadInput("max_fps", f"{max_fps} is not in (0, 120]")
    return max_fps


def _info(c: Camera) -> CameraInfo:
    return CameraInfo(
        c.id, c.name, redact_url(c.url), c.enabled, c.loop, c.max_fps, c.from_config, as_utc(c.created_at),
        as_utc(c.removed_at) if c.removed_at is not None else None, c.latitude, c.longitude, c.site,
    )  # fmt: skip


IN_USE = Camera.removed_at.is_(None)
"""Cameras not removed (a removed camera's row stays for its history)."""


def spec_of(c: Camera) -> CameraSpec:
    return CameraSpec(c.id, c.name, c.url, c.loop, c.max_fps)


class CameraService:
    def __init__(
        self, db: Database, runner: CameraRunner, file_roots: Sequence[Path] = (), network: NetPolicy = OPEN
    ) -> None:
        self._db = db
        self._runner = runner
        self._file_roots = tuple(file_roots)
        self._network = network
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after a camera is added, changed, removed, or synced from the config file
        (e.g. to announce the cameras to Home Assistant). A listener that raises is logged, not fatal."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("a camera change listener failed")

    def sync_config(self, cameras: Sequence[CameraConfig]) -> None:
        """Make the config file's cameras exist as declared (the file is their truth at start).

        A camera the file declared before and no longer does is paused (not deleted: its events stay).
        """
        now = datetime.now(UTC)
        declared = {c.name for c in cameras}
        with self._db.write() as s:
            dropped = s.scalars(
                select(Camera).where(Camera.from_config, IN_USE, Camera.name.not_in(declared))
            ).all()
            for gone in dropped:
                gone.from_config, gone.enabled = False, False
                audit.append(
                    s, "vigil", "camera.pause", f"camera:{gone.id}", reason="no longer in the config file",
                    details={"name": gone.name},
                )  # fmt: skip
            for cfg in cameras:
                url = check_camera_url(cfg.url, network=self._network)
                row = s.scalar(select(Camera).where(Camera.name == cfg.name, IN_USE))
                place = (cfg.latitude, cfg.longitude, cfg.site)
                if row is None:
                    row = Camera(name=cfg.name, url=url, created_at=now, virtual=False)
                    s.add(row)
                elif (row.url, row.loop, row.max_fps, row.enabled, row.from_config) == (
                    url, cfg.loop, cfg.max_fps, cfg.enabled, True,
                ) and (row.latitude, row.longitude, row.site) == place:  # fmt: skip
                    continue
                row.url, row.loop, row.max_fps, row.enabled, row.from_config = (
                    url, cfg.loop, cfg.max_fps, cfg.enabled, True,
                )  # fmt: skip
                row.latitude, row.longitude, row.site = place
                s.flush()
                audit.append(
                    s, "vigil", "camera.config", f"camera:{row.id}", reason="declared in the config file",
                    details={"name": cfg.name, "url": redact_url(url), "enabled": cfg.enabled},
                )  # fmt: skip
        self._changed()

    def start_all(self) -> int:
        specs = self.enabled_specs()
        for spec in specs.values():
            self._runner.run(spec)
        return len(specs)

    def enabled_specs(self) -> dict[int, CameraSpec]:
        """The cameras that should run now, as the database says (whichever process changed them)."""
        with self._db.read() as s:
            query = select(Camera).where(Camera.enabled, ~Camera.virtual, IN_USE)
            return {c.id: spec_of(c) for c in s.scalars(query)}

    def all(self, *, include_footage: bool = False, include_removed: bool = False) -> list[CameraInfo]:
        """The live cameras (and, with ``include_footage``, the virtual cameras of recorded footage; with
        ``include_removed``, the removed ones, whose history is kept)."""
        query = select(Camera).order_by(Camera.id)
        if not include_removed:
            query = query.where(IN_USE)
        with self._db.read() as s:
            return [_info(c) for c in s.scalars(query if include_footage else query.where(~Camera.virtual))]

    def names(self) -> dict[int, str]:
        """The name of every camera, removed ones included (their events are still shown)."""
        with self._db.read() as s:
            return dict(s.execute(select(Camera.id, Camera.name)).all())

    def get(self, camera_id: int) -> CameraInfo:
        with self._db.read() as s:
            return _info(self._row(s, camera_id))

    def add(
        self,
        actor: str,
        name: str,
        url: str,
        *,
        loop: bool = False,
        max_fps: float | None = None,
        enabled: bool = True,
        reason: str = "",
        latitude: float | None = None,
        longitude: float | None = None,
        site: str | None = None,
    ) -> CameraInfo:
        row = Camera(
            name=_check_name(name), url=check_camera_url(url, self._file_roots, self._network), loop=loop,
            max_fps=_check_fps(max_fps),
            enabled=enabled, virtual=False, from_config=False, created_at=datetime.now(UTC),
            site=check_place(latitude, longitude, site), latitude=latitude, longitude=longitude,
        )  # fmt: skip
        try:
            with self._db.write() as s:
                s.add(row)
                s.flush()
                audit.append(
                    s, actor, "camera.add", f"camera:{row.id}", reason=reason,
                    details={"name": name, "url": redact_url(row.url), "enabled": enabled, "loop": loop},
                )  # fmt: skip
                info, spec = _info(row), spec_of(row)
        except IntegrityError as exc:
            raise BadInput("name", f"a camera named {name!r} already exists") from exc
        if enabled:
            self._runner.run(spec)
        self._changed()
        return info

    def change(self, actor: str, camera_id: int, change: CameraChange, reason: str = "") -> CameraInfo:
        try:
            with self._db.write() as s:
                row = self._row(s, camera_id)
                before = _info(row)
                if change.name is not None:
                    row.name = _check_name(change.name)
                if change.url is not None:
                    row.url = check_camera_url(change.url, self._file_roots, self._network)
                if change.loop is not None:
                    row.loop = change.loop
                if change.max_fps is not None:
                    row.max_fps = _check_fps(change.max_fps)
                if change.enabled is not None:
                    row.enabled = change.enabled
                if change.location is not None or change.site is not None:
                    lat, lon = (
                        change.location if change.location is not None else (row.latitude, row.longitude)
                    )
                    row.site = check_place(lat, lon, row.site if change.site is None else change.site)
                    row.latitude, row.longitude = lat, lon
                s.flush()
                info, spec = _info(row), spec_of(row)
                action = "camera.change"
                if change.enabled is not None and change.enabled != before.enabled:
                    action = "camera.resume" if change.enabled else "camera.pause"
                audit.append(
                    s, actor, action, f"camera:{camera_id}", reason=reason,
                    details=_diff(before, info),
                )  # fmt: skip
        except IntegrityError as exc:
            raise BadInput("name", f"a camera named {change.name!r} already exists") from exc
        if info.enabled:
            self._runner.run(spec)
        else:
            self._runner.remove(camera_id)
        self._changed()
        return info

    def remove(self, actor: str, camera_id: int, reason: str = "") -> None:
        """Stop the camera and mark it removed. Its events and alerts stay, under their retention, with
        their ids (webhook keys, links and audit references never point at another camera's alerts); its
        name is free for a new camera."""
        with self._db.write() as s:
            row = self._row(s, camera_id)
            row.removed_at, row.enabled, row.from_config = datetime.now(UTC), False, False
            events = s.scalar(select(func.count(Event.id)).where(Event.camera_id == camera_id))
            audit.append(
                s, actor, "camera.remove", f"camera:{camera_id}", reason=reason,
                details={"name": row.name, "events_kept": events},
            )  # fmt: skip
        self._runner.remove(camera_id)
        self._changed()

    def _row(self, session: Session, camera_id: int) -> Camera:
        row = session.get(Camera, camera_id)
        if row is None or row.virtual or row.removed_at is not None:
            raise NotFound(f"no camera {camera_id}" + (" (it was removed)" if row and row.removed_at else ""))
        return row


def _diff(before: CameraInfo, after: CameraInfo) -> dict[str, object]:
    out: dict[str, object] = {}
    for field in ("name", "url", "enabled", "loop", "max_fps", "latitude", "longitude", "site"):
        old, new = getattr(before, field), getattr(after, field)
        if old != new:
            out[field] = {"from": old, "to": new}
    return out
