"""Unknown tracks in a store, made of real LFW photos: each photo one archived track that matched no list
(its template the photo's embedding by the default engine, its best shot the photo itself), for the
clusters' tests. Who is who is the ground truth: LFW's folder names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.app import Engine
from vigil.evaluate.embed_images import embed_central_face
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import Camera, Event, EventShot
from vigil.types import FloatArray

PEOPLE = {"Colin_Powell": 5, "Tony_Blair": 5, "Serena_Williams": 4, "Gerhard_Schroeder": 3}
STRANGERS = ("Aaron_Eckhart", "AJ_Cook", "Abdullah_Gul")  # one photo each: clusters of one
NOW = datetime.now(UTC)
_VECTORS: dict[str, FloatArray] = {}


@dataclass(frozen=True, slots=True)
class Face:
    person: str
    rel: str  # Name/Name_0001.jpg
    vector: FloatArray


@dataclass(frozen=True, slots=True)
class Track:
    event_id: int
    face: Face


def lfw_faces(engine: Engine, images: Path, people: dict[str, int] | None = None) -> list[Face]:
    """The photos of ``people`` (name: how many) and of the strangers, embedded (once per session)."""
    wanted = [(p, f"{p}/{p}_{i:04d}.jpg") for p, n in (people or PEOPLE).items() for i in range(1, n + 1)]
    wanted += [(p, f"{p}/{p}_0001.jpg") for p in STRANGERS]
    for _, rel in wanted:
        if rel not in _VECTORS:
            _VECTORS[rel] = embed_central_face(engine, images, rel).vector
    return [Face(p, rel, _VECTORS[rel]) for p, rel in wanted]


def archive_unknowns(
    db: Database,
    media: MediaStore,
    images: Path,
    faces: list[Face],
    *,
    model_id: str,
    recorded_ago: timedelta = timedelta(hours=2),
) -> list[Track]:
    """One unknown track per face, on the cameras "door" and "hall" (alternately), recorded
    ``recorded_ago``; returns them in order."""
    at = NOW - recorded_ago
    tracks = []
    with db.write() as s:
        cams = {}
        for name in ("door", "hall"):
            cam = s.query(Camera).filter_by(name=name, removed_at=None).one_or_none()
            if cam is None:
                cam = Camera(name=name, url=f"rtsp://cam/{name}", created_at=at - timedelta(days=1))
                s.add(cam)
                s.flush()
            cams[name] = cam.id
        for i, face in enumerate(faces):
            crop = media.put("shots", (images / face.rel).read_bytes(), ".jpg")
            e = Event(
                camera_id=cams["door" if i % 2 == 0 else "hall"], track_id=1000 + i, model_id=model_id,
                start_at=at + timedelta(seconds=i), end_at=at + timedelta(seconds=i + 3), recorded_at=at,
                embedding=face.vector.astype("<f4").tobytes(),
            )  # fmt: skip
            s.add(e)
            s.flush()
            s.add(EventShot(event_id=e.id, t_at=e.start_at, crop_path=crop, quality=0.5 + 0.01 * (i % 7)))
            tracks.append(Track(e.id, face))
    return tracks
