"""The video segment of an evidence export, on the real Hamilton clip with the real detector and embedder:
in the exported frames no face but Lin-Manuel Miranda's is found, while the original frames show several.

Ground truth: the clip (about 9 s at 30 fps) opens on Miranda on stage, with a pianist at the far left and
heads of the audience in the foreground, then cuts to close-ups of him, then to the audience; the footage
import of the clip (tests/integration/test_footage.py) alerts on him once. The segment asked for covers
the whole clip (10 s of padding around the alert's short track).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
from sqlalchemy import select

from vigil.app import Engine, build_evidence, build_footage, open_store
from vigil.config import StoreConfig, VigilConfig
from vigil.ingest import open_source
from vigil.services.enrol import EnrolRequest, Photo
from vigil.services.evidence import ExportItem, ExportRequest, ItemKind, Requester
from vigil.services.evidence_archive import verify_archive
from vigil.services.evidence_video import Recording
from vigil.services.lists import ListSettings
from vigil.services.visibility import Scope
from vigil.store.tables import Event

FILMED = datetime(2016, 3, 14, 19, 30, tzinfo=UTC)
MIRANDA = "Lin-Manuel Miranda"


def test_the_exported_segment_shows_no_face_but_the_matched_persons(
    tmp_path: Path, engine: Engine, refs: Path, hamilton_clip: Path
) -> None:
    cfg = VigilConfig(store=StoreConfig(data_dir=tmp_path / "data"), model_dir=engine.config.model_dir)
    store = open_store(cfg)
    store.lists.create("test", "wanted", ListSettings(), "test")
    photo = refs / "ageitgey_lin-manuel-miranda.png"
    enrolled = store.enrolment(engine).enrol(
        "test", EnrolRequest("wanted", MIRANDA, "test", (Photo(photo.name, photo.read_bytes()),))
    )
    source = open_source(hamilton_clip, cfg.ingest, "white house")
    try:
        build_footage(cfg, store, engine).run(source, "white house", FILMED)
    finally:
        source.close()
    with store.db.read() as s:
        alert_id = s.scalars(select(Event.id).where(Event.alerted_at.is_not(None))).one()
        # every track of the clip, and whether it is Miranda's: the judge of whose face a face is
        tracks = [(e.person_id == enrolled.person_id, e.embedding) for e in s.scalars(select(Event))]
    templates = np.stack([np.frombuffer(v, "<f4") for _, v in tracks if v is not None])
    is_miranda = np.array([m for m, v in tracks if v is not None])
    assert is_miranda.any() and not is_miranda.all(), "the clip has tracks of Miranda and of others"

    desk = build_evidence(cfg, store, lambda: engine)
    request = ExportRequest(
        (ExportItem(ItemKind.ALERT, alert_id),), "case 2026/31", Recording(hamilton_clip, FILMED), 10.0
    )
    archive = tmp_path / "evidence.zip"
    archive.write_bytes(desk.export(Requester("ines", Scope.EVERYTHING), request).archive)
    check = verify_archive(archive)
    assert check.ok, check.problems
    with zipfile.ZipFile(archive) as z:
        segment = json.loads(z.read("manifest.json"))["items"][0]["segment"]
        assert segment["included"], segment
        mp4 = z.read(segment["file"])

    exported: list[int] = []  # faces found per exported frame
    miranda_frames = 0
    with av.open(io.BytesIO(mp4), mode="r") as container:
        for frame in container.decode(video=0):
            image = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
            faces = engine.stills.encode(image)
            exported.append(len(faces.detections))
            for vector in faces.embeddings.vectors:
                nearest = int(np.argmax(templates @ vector))
                assert is_miranda[nearest], f"frame {len(exported) - 1}: a face of someone else is visible"
            miranda_frames += len(faces.detections) > 0
    source = open_source(hamilton_clip, cfg.ingest, "original")
    try:
        original = [len(engine.detector.detect(f.image)) for f in source.frames()]
    finally:
        source.close()

    assert len(exported) == segment["frames"] == len(original), "the whole clip was exported"
    assert sum(n >= 2 for n in original) >= 50, "the original frames show several faces"
    assert max(exported) <= 1, "at most one face (Miranda's) in any exported frame"
    assert miranda_frames >= 80, f"Miranda stays visible where he is located ({miranda_frames} frames)"
    assert segment["faces_blurred"] > 300 and segment["frames_all_faces_blurred"] > 0
