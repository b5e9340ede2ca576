"""Changing embedder without re-enrolling: re-embedding every enrolment photo, resumable, never a mix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.store_kit import ACTOR, BIDEN, MIRANDA, OBAMA, OBAMA2, audit_rows, make_kit, samples
from vigil.app import Engine, build_engine, build_server
from vigil.config import DlibEmbedConfig, StoreConfig, VigilConfig
from vigil.errors import StoreError
from vigil.services import reembed
from vigil.services.enrol import EnrolRequest
from vigil.services.gallery import load_gallery
from vigil.services.reembed import Reembedder, check_gallery_model, gallery_models


@pytest.fixture(scope="module")
def dlib_engine(model_dir: Path) -> Engine:
    return build_engine(VigilConfig(model_dir=model_dir, embed=DlibEmbedConfig()))


class Killed(Exception):
    """Stands for the process being killed between two batches."""


def test_a_gallery_is_re_embedded_resumably_and_never_served_half_done(
    db_url: str,
    tmp_path: Path,
    refs: Path,
    engine: Engine,
    dlib_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kit = make_kit(db_url, tmp_path, dlib_engine, dlib_engine.config)
    for name, photos in (
        ("Barack Obama", [OBAMA, OBAMA2]),
        ("Joe Biden", [BIDEN]),
        ("Lin-Manuel Miranda", [MIRANDA]),
    ):
        kit.enrol.enrol(ACTOR, EnrolRequest("wanted", name, "case", [kit.photo(refs, p) for p in photos]))
    old, new = dlib_engine.model_id, engine.model_id
    assert gallery_models(kit.db) == {old: 4}

    with pytest.raises(StoreError, match=rf"4 enrolment photos of 3 people have no {new} vector.*"
                       r"vigil db reembed --model fused-fr512-mfn192"):  # fmt: skip
        check_gallery_model(kit.db, new, "fused-fr512-mfn192")

    # Killed after the first batch of one photo: what is committed is whole, the rest waits.
    monkeypatch.setattr(reembed, "BATCH", 1)
    worker = Reembedder(kit.db, kit.media, engine.stills, kit.config.ingest, kit.config.enrol)

    def kill_after_first(done: int, total: int) -> None:
        if done == 1:
            raise Killed

    with pytest.raises(Killed):
        worker.run(ACTOR, "embedder change", kill_after_first)
    assert gallery_models(kit.db) == {old: 4, new: 1}
    assert worker.pending() == 3
    with pytest.raises(StoreError, match="3 enrolment photos"):
        check_gallery_model(kit.db, new, "fused-fr512-mfn192")
    check_gallery_model(kit.db, old, "dlib-resnet-v1")  # the old model still serves, whole
    assert len(load_gallery(kit.db, old, dlib_engine.dim).people) == 3

    report = worker.run(ACTOR, "embedder change")
    assert (report.total, report.embedded, report.complete) == (3, 3, True)
    check_gallery_model(kit.db, new, "fused-fr512-mfn192")
    assert worker.pending() == 0 and worker.run(ACTOR, "again").total == 0, "nothing is embedded twice"
    fresh = load_gallery(kit.db, new, engine.dim)
    assert len(fresh.people) == 3 and len(fresh) == 4
    # The new vectors are the new model's: Obama's two photos are closer to each other than to Biden.
    rows = {(x.person_id, x.photo_sha256): x for x in samples(kit.db) if x.model_id == new}
    assert all(x.dim == 704 for x in rows.values())
    obama = [np.frombuffer(x.embedding, "<f4") for (p, _), x in rows.items() if p == min(p for p, _ in rows)]
    assert len(obama) == 2 and float(obama[0] @ obama[1]) > 0.5
    assert [a.action for a in audit_rows(kit.db)].count("gallery.reembed") == 4


def test_serve_refuses_a_gallery_of_another_model_and_names_the_fix(
    db_url: str, tmp_path: Path, refs: Path, dlib_engine: Engine, model_dir: Path
) -> None:
    kit = make_kit(db_url, tmp_path, dlib_engine, dlib_engine.config)
    kit.enrol.enrol(ACTOR, EnrolRequest("wanted", "Joe Biden", "case", [kit.photo(refs, BIDEN)]))
    config = VigilConfig(model_dir=model_dir, store=StoreConfig(url=db_url, data_dir=tmp_path / "data"))
    with pytest.raises(StoreError, match=r"run `vigil db reembed --model fused-fr512-mfn192`"):
        build_server(config, workers=1)
