"""The gallery rebuilt from the database equals the live one kept in step with enrolments and removals.

Real photos (refs and LFW), real engine, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.store_kit import (
    ACTOR,
    BIDEN,
    MIRANDA,
    OBAMA,
    OBAMA2,
    Kit,
    assert_consistent,
    make_kit,
    samples,
    vector,
)
from vigil.app import Engine
from vigil.match.gallery import Gallery
from vigil.services import gallery as gallery_service
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.gallery import load_gallery, sweep_orphans
from vigil.services.lists import ListSettings
from vigil.store.tables import FaceSample

LFW = {"Colin Powell": "Colin_Powell", "Donald Rumsfeld": "Donald_Rumsfeld", "Hugo Chavez": "Hugo_Chavez"}


@pytest.fixture
def kit(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(db_url, tmp_path, engine)
    yield k
    k.db.dispose()


def _lfw(lfw_images: Path, folder: str, n: int) -> list[Photo]:
    return [
        Photo(f"{folder}_{i:04d}.jpg", (lfw_images / folder / f"{folder}_{i:04d}.jpg").read_bytes())
        for i in range(1, n + 1)
    ]


def _populate(kit: Kit, refs: Path, lfw_images: Path) -> dict[str, int]:
    """Seven people over two lists, one entry expiring soon, one person removed."""
    kit.lists.create(ACTOR, "vip", ListSettings(threshold=0.95), "protection detail")
    soon = datetime.now(UTC) + timedelta(minutes=10)
    ids = {}
    for name, photos, list_name, expires in [
        ("Barack Obama", [kit.photo(refs, OBAMA), kit.photo(refs, OBAMA2)], "wanted", None),
        ("Joe Biden", [kit.photo(refs, BIDEN)], "vip", soon),
        ("Lin-Manuel Miranda", [kit.photo(refs, MIRANDA)], "vip", None),
        *((name, _lfw(lfw_images, folder, 2), "wanted", None) for name, folder in LFW.items()),
    ]:
        ids[name] = kit.enrol.enrol(
            ACTOR, EnrolRequest(list_name, name, "r", photos, expires_at=expires)
        ).person_id
    kit.enrol.enrol(
        ACTOR,
        EnrolRequest("vip", "Barack Obama", "r", [kit.photo(refs, OBAMA)], person_id=ids["Barack Obama"]),
    )
    kit.people.remove(ACTOR, ids.pop("Donald Rumsfeld"), "withdrawn")
    return ids


def _answers(
    gallery: Gallery, probes: np.ndarray, at: datetime
) -> list[list[tuple[int, int, tuple[int, ...], float]]]:
    return [
        [(c.person_id, c.sample_id, c.list_ids, round(c.score, 5)) for c in row]
        for row in gallery.search(probes.astype(np.float32), 10, at)
    ]


def test_the_rebuilt_gallery_equals_the_live_one(
    kit: Kit, refs: Path, lfw_images: Path, engine: Engine
) -> None:
    ids = _populate(kit, refs, lfw_images)
    rebuilt = load_gallery(kit.db, engine.embedder.model_id, engine.embedder.dim)
    rows = samples(kit.db)
    assert len(rows) == 8  # 2 + 1 + 1 + 2 + 2 (Rumsfeld removed)
    assert len(rebuilt) == len(kit.gallery) == len(rows)
    assert rebuilt.people == kit.gallery.people == set(ids.values())
    probes = np.stack([vector(x) for x in rows])
    now = datetime.now(UTC)
    for at in (now, now + timedelta(hours=1)):
        assert _answers(rebuilt, probes, at) == _answers(kit.gallery, probes, at)
    # What the answers hold: Obama on both lists, Biden gone from vip once his entry lapsed.
    obama = next(i for i, x in enumerate(rows) if x.person_id == ids["Barack Obama"])
    biden = next(i for i, x in enumerate(rows) if x.person_id == ids["Joe Biden"])
    assert len(_answers(rebuilt, probes, now)[obama][0][2]) == 2
    assert _answers(rebuilt, probes, now)[biden][0][0] == ids["Joe Biden"]
    assert ids["Joe Biden"] not in [c[0] for c in _answers(rebuilt, probes, now + timedelta(hours=1))[biden]]
    assert_consistent(kit.db, kit.media, rebuilt)
    assert_consistent(kit.db, kit.media, kit.gallery)


def test_the_gallery_is_rebuilt_in_chunks(
    kit: Kit, refs: Path, lfw_images: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _populate(kit, refs, lfw_images)
    whole = load_gallery(kit.db, engine.embedder.model_id, engine.embedder.dim)
    monkeypatch.setattr(gallery_service, "CHUNK", 2)
    chunked = load_gallery(kit.db, engine.embedder.model_id, engine.embedder.dim)
    probes = np.stack([vector(x) for x in samples(kit.db)])
    now = datetime.now(UTC)
    assert (len(chunked), chunked.people) == (len(whole), whole.people)
    assert _answers(chunked, probes, now) == _answers(whole, probes, now)


def test_samples_of_another_model_are_not_loaded(kit: Kit, refs: Path, engine: Engine) -> None:
    """Vectors of another embedder are never compared with this one's."""
    kit.enrol.enrol(ACTOR, EnrolRequest("wanted", "Barack Obama", "r", [kit.photo(refs, OBAMA)]))
    [row] = samples(kit.db)
    with kit.db.write() as s:
        s.add(
            FaceSample(
                person_id=row.person_id, photo_sha256="0" * 64, photo_path=row.photo_path,
                crop_path=row.crop_path, embedding=np.ones(512, "<f4").tobytes(), model_id="other-model",
                dim=512, quality={}, weak=False, created_at=datetime.now(UTC),
            )
        )  # fmt: skip
    mine = load_gallery(kit.db, engine.embedder.model_id, engine.embedder.dim)
    other = load_gallery(kit.db, "other-model", 512)
    assert (len(mine), len(other)) == (1, 1)
    assert other.model_id == "other-model"


def test_sweep_removes_only_files_no_row_refers_to(kit: Kit, refs: Path) -> None:
    kit.enrol.enrol(ACTOR, EnrolRequest("wanted", "Barack Obama", "r", [kit.photo(refs, OBAMA)]))
    kept = kit.media.all_files()
    orphan = kit.media.put("photos", (refs / BIDEN).read_bytes(), ".jpg")
    crop = kit.media.put("crops", b"not referenced", ".jpg")
    partial = kit.media.root / "photos" / ".tmp-abc123"
    partial.write_bytes(b"a file being written")
    assert kit.media.all_files() == kept | {orphan, crop}
    assert sweep_orphans(kit.db, kit.media, min_age_s=0) == 2
    assert kit.media.all_files() == kept
    assert all(kit.media.path(p).is_file() for p in kept)
    assert partial.exists(), "a file another process is still writing is left alone"
    assert sweep_orphans(kit.db, kit.media, min_age_s=0) == 0


def test_sweep_leaves_young_files_to_enrolments_in_flight(kit: Kit, refs: Path) -> None:
    """Another process may have written a file whose row it has not committed yet: not an orphan."""
    young = kit.media.put("photos", (refs / BIDEN).read_bytes(), ".jpg")
    assert sweep_orphans(kit.db, kit.media) == 0  # default minimum age: an hour
    assert kit.media.path(young).is_file()
    old = time.time() - 2 * 3600
    os.utime(kit.media.path(young), (old, old))
    assert sweep_orphans(kit.db, kit.media) == 1
    assert not kit.media.path(young).exists()
