"""Changing embedder keeps the archive searchable: archived tracks' kept best shots embedded again.

The Hamilton clip is recorded into the archive with one embedder (MobileFaceNet); `vigil db reembed`'s
two jobs then embed the gallery and the archive with the default one. Killed after a batch, the archive
job resumes without embedding anything twice; a track whose shots are gone stays under its own model and
a search says so; a "not this person" negative follows its track to the new model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from vigil.app import Engine, Store, build_engine, build_footage, open_store
from vigil.config import OnnxEmbedConfig, StoreConfig, VigilConfig
from vigil.errors import ModelError
from vigil.ingest import open_source
from vigil.search.archive import Archive
from vigil.search.service import SearchFilter, SearchRequest
from vigil.services import reembed_archive
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.feedback import FeedbackService, add_negative
from vigil.services.gallery import load_gallery
from vigil.services.lists import ListSettings
from vigil.services.reembed import Reembedder
from vigil.services.reembed_archive import ArchiveReembedder
from vigil.store.tables import AuditEntry, Event, EventShot, EventTemplate, NegativeTemplate

FILMED = datetime(2016, 3, 14, 19, 30, tzinfo=UTC)
MIRANDA = "Lin-Manuel Miranda"


class Killed(Exception):
    """Stands for the process being killed between two batches."""


@pytest.fixture(scope="module")
def old_engine(model_dir: Path) -> Engine:
    try:
        embed = OnnxEmbedConfig(model="mobilefacenet-sirius")
        return build_engine(VigilConfig(model_dir=model_dir, embed=embed))
    except ModelError as exc:
        pytest.skip(f"MobileFaceNet unavailable: {exc}")


@dataclass(frozen=True)
class Recorded:
    store: Store
    config: VigilConfig
    probe: Photo
    archived: int  # tracks with a template
    alerted_id: int  # Miranda's, with a "not this person" negative
    negative_id: int
    lost_id: int  # a track whose shot files are gone


def _record(tmp_path: Path, old_engine: Engine, refs: Path, clip: Path) -> Recorded:
    """The clip recorded with the old embedder, Miranda's alert rejected, one track's shots lost."""
    cfg = VigilConfig(store=StoreConfig(data_dir=tmp_path / "data"), model_dir=old_engine.config.model_dir,
                      embed=old_engine.config.embed)  # fmt: skip
    store = open_store(cfg)
    store.lists.create("test", "wanted", ListSettings(), "test")
    photo = refs / "ageitgey_lin-manuel-miranda.png"
    probe = Photo(photo.name, photo.read_bytes())
    store.enrolment(old_engine).enrol("test", EnrolRequest("wanted", MIRANDA, "test", (probe,)))
    source = open_source(clip, cfg.ingest, "white house")
    try:
        build_footage(cfg, store, old_engine).run(source, "white house", FILMED)
    finally:
        source.close()
    with store.db.write() as s:
        events = s.scalars(select(Event).where(Event.embedding.is_not(None)).order_by(Event.id)).all()
        assert len(events) >= 3 and {e.model_id for e in events} == {old_engine.model_id}
        alerted = next(e for e in events if e.alerted_at is not None)
        negative = add_negative(s, "officer", alerted, "not him", datetime.now(UTC))
        lost = next(e for e in events if e.id != alerted.id)
        for crop in s.scalars(select(EventShot.crop_path).where(EventShot.event_id == lost.id)):
            store.media.path(crop).unlink(missing_ok=True)
        assert negative is not None
        return Recorded(store, cfg, probe, len(events), alerted.id, negative, lost.id)


def test_archived_tracks_are_re_embedded_from_their_kept_shots_resumably(
    tmp_path: Path,
    engine: Engine,
    old_engine: Engine,
    refs: Path,
    hamilton_clip: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = _record(tmp_path, old_engine, refs, hamilton_clip)
    store, cfg, probe, archived = rec.store, rec.config, rec.probe, rec.archived
    alerted_id, lost_id, negative = rec.alerted_id, rec.lost_id, rec.negative_id
    old, new = old_engine.model_id, engine.model_id

    Reembedder(store.db, store.media, engine.stills, cfg.ingest, cfg.enrol).run("test", "embedder change")
    monkeypatch.setattr(reembed_archive, "BATCH", 1)
    job = ArchiveReembedder(store.db, store.media, engine.stills, cfg.ingest)
    assert job.pending() == archived

    def kill_after_first(done: int, total: int) -> None:
        if done == 1:
            raise Killed

    with pytest.raises(Killed):
        job.run("test", "embedder change", kill_after_first)
    with store.db.read() as s:
        assert s.scalar(select(func.count()).select_from(EventTemplate)) == 1, "one whole batch committed"
    report = job.run("test", "embedder change")
    assert report.total == archived - 1, "the batch done before the kill is not embedded twice"
    assert [e for e, _ in report.kept_old] == [lost_id]
    assert "unreadable" in report.kept_old[0][1]
    assert report.embedded == archived - 2
    assert job.pending() == 1, "only the track without shots is left, under its own model"

    with store.db.read() as s:
        templates = s.execute(select(EventTemplate.event_id, EventTemplate.embedding)).all()
        assert all(len(raw) == 4 * engine.dim for _, raw in templates)
        assert all(abs(float(np.linalg.norm(np.frombuffer(raw, "<f4"))) - 1) < 1e-4 for _, raw in templates)
        carried = s.scalars(select(NegativeTemplate).where(NegativeTemplate.event_id == alerted_id)).all()
        assert sorted(n.model_id for n in carried) == sorted([old, new])
        audited = s.scalars(select(AuditEntry.action).where(AuditEntry.action == "archive.reembed")).all()
        assert len(audited) == archived, "one audit row per committed batch"

    # Under the new model the archive holds every track but the lost one; a search finds Miranda there
    # and says one track could not be compared.
    archive = Archive.load(store.db, new, engine.dim)
    assert len(archive) == archived - 1
    gallery = load_gallery(store.db, new, engine.dim)
    finder = store.photo_search(lambda: engine.stills, lambda: gallery, lambda: archive)
    found = finder.search(
        "test", SearchRequest(probe, "case", filter=SearchFilter(
            since=FILMED - timedelta(minutes=1), until=FILMED + timedelta(minutes=1), min_score=0.3))
    )  # fmt: skip
    # (This photo scores about 0.42 against his track under the new model, live or re-embedded alike.)
    assert [h.event_id for h in found.archive_hits] == [alerted_id]
    assert found.other_models == {old: 1}
    assert len(Archive.load(store.db, old, old_engine.dim)) == archived, "the old vectors still serve"

    # Withdrawing the negative withdraws it under both models; the track's purge takes its template.
    FeedbackService(store.db).withdraw("officer", negative, "it was him")
    with store.db.write() as s:
        assert s.scalars(select(NegativeTemplate)).all() == []
        s.execute(delete(EventShot).where(EventShot.event_id == alerted_id))
        s.execute(delete(Event).where(Event.id == alerted_id))
    with store.db.read() as s:
        assert s.scalar(select(func.count()).select_from(EventTemplate)) == archived - 2
