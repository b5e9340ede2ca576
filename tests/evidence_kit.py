"""A small case for the evidence-export tests: real photos in a real media store, an alert with its best
shots, a review and its audit row, an alert on another list, and an unknown face."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.store import audit
from vigil.store.db import Database
from vigil.store.media import MediaStore, sha256_hex
from vigil.store.tables import (
    Camera,
    Event,
    EventReview,
    EventShot,
    EventStatus,
    FaceSample,
    Person,
    Severity,
    Watchlist,
    WatchlistEntry,
)

SEEN = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    alert_id: int  # Miranda on "wanted", confirmed by bob, with two best shots
    other_alert_id: int  # Obama on "vip" at another camera
    unknown_id: int  # an unknown face at the door
    wanted_id: int
    vip_id: int
    door_id: int
    hall_id: int
    shot_bytes: bytes  # the alert's first best shot
    photo_bytes: bytes  # Miranda's enrolled photo


def seed_case(db: Database, media: MediaStore, refs: Path) -> Case:
    now = datetime.now(UTC)
    photo = (refs / "ageitgey_lin-manuel-miranda.png").read_bytes()
    shot1, shot2 = (refs / "ageitgey_obama.jpg").read_bytes(), (refs / "ageitgey_obama2.jpg").read_bytes()
    photo_path = media.put("photos", photo, ".png")
    shot1_path, shot2_path = media.put("shots", shot1, ".jpg"), media.put("shots", shot2, ".jpg")
    with db.write() as s:
        door = Camera(name="door", url="rtsp://10.0.0.1/a", created_at=now)
        hall = Camera(name="hall", url="rtsp://10.0.0.2/a", created_at=now)
        wanted = Watchlist(name="wanted", created_by="t", created_at=now, severity=Severity.HIGH)
        vip = Watchlist(name="vip", created_by="t", created_at=now)
        miranda = Person(name="Lin-Manuel Miranda", created_by="t", created_at=now)
        obama = Person(name="Barack Obama", created_by="t", created_at=now)
        s.add_all([door, hall, wanted, vip, miranda, obama])
        s.flush()
        s.add(WatchlistEntry(watchlist_id=wanted.id, person_id=miranda.id, reason="warrant", added_by="t",
                             added_at=now))  # fmt: skip
        s.add(FaceSample(person_id=miranda.id, photo_sha256=sha256_hex(photo), photo_path=photo_path,
                         crop_path=photo_path, embedding=b"\0" * 16, model_id="m", dim=4, quality={},
                         created_at=now))  # fmt: skip
        alert = Event(
            camera_id=door.id, track_id=7, start_at=SEEN, end_at=SEEN + timedelta(seconds=4), model_id="m",
            person_id=miranda.id, watchlist_id=wanted.id, list_ids=[wanted.id], score=0.81, margin=0.3,
            threshold=0.52, fpir=0.001, calibrated_for=12, alerted_at=SEEN, frame_at=SEEN,
            severity=Severity.HIGH, status=EventStatus.CONFIRMED,
        )  # fmt: skip
        other = Event(
            camera_id=hall.id, track_id=8, start_at=SEEN, end_at=SEEN, model_id="m", person_id=obama.id,
            watchlist_id=vip.id, list_ids=[vip.id], score=0.7, margin=0.2, alerted_at=SEEN, frame_at=SEEN,
        )  # fmt: skip
        unknown = Event(camera_id=door.id, track_id=9, start_at=SEEN, end_at=SEEN, model_id="m", score=0.2)
        s.add_all([alert, other, unknown])
        s.flush()
        s.add_all([
            EventShot(event_id=alert.id, t_at=SEEN, crop_path=shot1_path, quality=0.9),
            EventShot(event_id=alert.id, t_at=SEEN + timedelta(seconds=1), crop_path=shot2_path, quality=0.8),
            EventReview(event_id=alert.id, username="bob", action=EventStatus.CONFIRMED, note="it is him",
                        at=now),
        ])  # fmt: skip
        audit.append(s, "bob", "alert.confirm", f"alert:{alert.id}", reason="it is him",
                     details={"status": "confirmed"})  # fmt: skip
        audit.append(s, "bob", "alert.confirm", f"alert:{other.id}", reason="someone else's")
        return Case(alert.id, other.id, unknown.id, wanted.id, vip.id, door.id, hall.id, shot1, photo)


def rewrite_zip(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """A copy of a zip with the files of ``change`` replaced (None: removed; a new name: added)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in change:
                new = change[info.filename]
                if new is not None:
                    dst.writestr(info.filename, new)
            else:
                dst.writestr(info.filename, src.read(info))
        for name, new in change.items():
            if name not in src.namelist() and new is not None:
                dst.writestr(name, new)
    return out.getvalue()
