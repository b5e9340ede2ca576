"""The archive index sharded over Ray actors answers exactly as one index over everything.

Real faces: one LFW photo each of the people with two or more is archived as a track (its template the
default embedder's vector), split over 3 shard actors that load their share from the database; every
person's second photo is searched in both the sharded and the single index. Tracks that end later and
purges reach the shard that holds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import read_bgr, skip_unless_required
from vigil.app import Engine
from vigil.config import StoreConfig
from vigil.evaluate.lfw import lfw_people
from vigil.runtime.ray_archive import ShardedArchive
from vigil.search.archive import Archive
from vigil.store.db import Database
from vigil.store.migrate import ensure_schema
from vigil.store.tables import Camera, Event
from vigil.types import FloatArray

pytestmark = pytest.mark.network

PEOPLE = 120
SHARDS = 3


@pytest.fixture(scope="module")
def ray() -> Iterator[Any]:
    try:
        import ray  # noqa: PLC0415 (the optional extra vigil[cluster])
    except ImportError:
        skip_unless_required("Ray is not installed: pip install 'vigil[cluster]'", "VIGIL_REQUIRE_SERVICES")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        namespace="vigil-test-archive",
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def _vector(engine: Engine, path: Path) -> FloatArray:
    faces = engine.stills.encode(read_bgr(path))
    assert len(faces.detections), f"no face in {path}"
    vector: FloatArray = faces.embeddings.vectors[0]
    return vector


def test_a_sharded_archive_answers_as_one_index(
    ray: Any, tmp_path: Path, engine: Engine, lfw_images: Path
) -> None:
    people = [(n, p) for n, p in sorted(lfw_people(lfw_images).items()) if len(p) >= 2][:PEOPLE]
    enrolled = np.stack([_vector(engine, lfw_images / p[0]) for _, p in people])
    probes = np.stack([_vector(engine, lfw_images / p[1]) for _, p in people])
    store = StoreConfig(data_dir=tmp_path / "data", url=f"sqlite:///{tmp_path / 'vigil.db'}")
    db = Database.from_url(str(store.url))
    ensure_schema(db.engine)
    now = datetime.now(UTC)
    with db.write() as s:
        cam = Camera(name="door", url="rtsp://127.0.0.1/x", created_at=now)
        s.add(cam)
        s.flush()
        rows = [
            Event(camera_id=cam.id, track_id=i, start_at=now, end_at=now, model_id=engine.model_id,
                  embedding=np.asarray(v, "<f4").tobytes(), recorded_at=now)
            for i, v in enumerate(enrolled[:-10])
        ]  # fmt: skip
        s.add_all(rows)
        s.flush()
        ids = np.array([r.id for r in rows], np.int64)
    try:
        sharded = ShardedArchive.load(ray, store, engine.model_id, engine.dim, SHARDS)
        single = Archive.load(db, engine.model_id, engine.dim)
        assert len(sharded) == len(single) == PEOPLE - 10
        # The last 10 people's tracks end after the load: each goes to its shard.
        late = np.arange(ids.max() + 1, ids.max() + 11, dtype=np.int64)
        for archive in (sharded, single):
            archive.add(late, enrolled[-10:])
        every = np.concatenate([ids, late])
        assert len(sharded) == PEOPLE
        found = 0
        for person, probe in enumerate(probes):
            a, b = sharded.search(probe, 5), single.search(probe, 5)
            assert [i for i, _ in a] == [i for i, _ in b]
            assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-5)
            found += a[0][0] == every[person]
        assert found >= 0.9 * PEOPLE, f"only {found} of {PEOPLE} second photos found their person first"
        # A purge reaches the shards that hold the tracks.
        gone = every[::7]
        assert sharded.remove(gone) == single.remove(gone) == len(gone)
        assert len(sharded) == PEOPLE - len(gone)
        for probe in probes[::5]:
            hits = sharded.search(probe, 10)
            assert not set(gone) & {i for i, _ in hits}
            assert [i for i, _ in hits] == [i for i, _ in single.search(probe, 10)]
        print(f"{found} of {PEOPLE} second photos found their person first in {SHARDS} shards")
        sharded.shutdown()
    finally:
        db.dispose()
