"""Changing the embedder keeps the archive searchable: every archived track whose best shots are still
kept is embedded again with the new model.

A track's template (``events.embedding``) is of the model that recorded it. Re-embedding finds the face
in each of the track's kept best shots (the stored patch around the face), embeds it with the new
model and stores the mean of those vectors, unit length, in ``event_templates`` beside the old one;
searches use it once the configuration names the new model (:meth:`vigil.search.archive.Archive.load`).
The track's "not this person" negatives are carried over to the new model too. Batches commit one by
one with their audit row, so a killed run resumes where it stopped and a track never has half a
template. A track whose shots were already purged, or whose shots show no face the detector finds
again, keeps only its own model's template: searches under the new model say how many such tracks
they could not compare (:attr:`vigil.search.service.SearchResult.other_models`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.config import IngestConfig
from vigil.embed.stills import StillEncoder
from vigil.errors import BadInput
from vigil.ingest.images import decode_image
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import Event, EventShot, EventTemplate, NegativeTemplate
from vigil.types import FloatArray

log = logging.getLogger(__name__)

BATCH = 32


@dataclass
class ArchiveReembedReport:
    """What an archive re-embedding run did: tracks embedded now, and those kept under their own model."""

    model_id: str
    total: int
    embedded: int = 0
    negatives: int = 0
    kept_old: list[tuple[int, str]] = field(default_factory=list)  # (event id, why)


def _to_do(db: Database, model_id: str) -> list[int]:
    """Archived tracks with a template of another model, no template of ``model_id`` yet, and shots."""
    has_new = (
        select(EventTemplate.id)
        .where(EventTemplate.event_id == Event.id, EventTemplate.model_id == model_id)
        .exists()
    )
    has_shot = select(EventShot.id).where(EventShot.event_id == Event.id).exists()
    with db.read() as s:
        ids = s.scalars(
            select(Event.id)
            .where(Event.model_id != model_id, Event.embedding.is_not(None), ~has_new, has_shot)
            .order_by(Event.id)
        ).all()
    return [int(i) for i in ids]


def central_face(xyxy: FloatArray, size_wh: tuple[int, int]) -> int | None:
    """Index of the box whose centre is nearest the image centre (a best shot is cut around its face)."""
    if len(xyxy) == 0:
        return None
    centres = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    return int(np.argmin(np.linalg.norm(centres - np.array(size_wh, np.float32) / 2, axis=1)))


class ArchiveReembedder:
    """Embeds the kept best shots of every archived track that has no template of ``stills``' model."""

    def __init__(self, db: Database, media: MediaStore, stills: StillEncoder, ingest: IngestConfig) -> None:
        self._db = db
        self._media = media
        self._stills = stills
        self._ingest = ingest

    def pending(self) -> int:
        return len(_to_do(self._db, self._stills.model_id))

    def run(
        self, actor: str, reason: str, progress: Callable[[int, int], None] | None = None
    ) -> ArchiveReembedReport:
        """Embed what is missing, a batch of tracks per transaction (each with its audit row)."""
        model_id = self._stills.model_id
        todo = _to_do(self._db, model_id)
        report = ArchiveReembedReport(model_id, len(todo))
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            with self._db.read() as s:
                shots = s.execute(
                    select(EventShot.event_id, EventShot.crop_path)
                    .where(EventShot.event_id.in_(batch))
                    .order_by(EventShot.id)
                ).all()
            paths: dict[int, list[str]] = {}
            for event_id, crop in shots:
                paths.setdefault(int(event_id), []).append(str(crop))
            templates: dict[int, tuple[FloatArray, int]] = {}
            for event_id in batch:
                made, why = self._template(paths.get(event_id, []))
                if made is None:
                    report.kept_old.append((event_id, why))
                else:
                    templates[event_id] = made
            now = datetime.now(UTC)
            with self._db.write() as s:
                alive = set(s.scalars(select(Event.id).where(Event.id.in_(list(templates)))))
                for event_id, (vector, n) in templates.items():
                    if event_id not in alive:  # purged meanwhile
                        continue
                    raw = np.asarray(vector, "<f4").tobytes()
                    s.add(EventTemplate(event_id=event_id, model_id=model_id, embedding=raw, shots=n,
                                        created_at=now))  # fmt: skip
                    report.negatives += _carry_negatives(s, event_id, model_id, raw)
                    report.embedded += 1
                audit.append(
                    s, actor, "archive.reembed", f"model:{model_id}", reason=reason,
                    details={"events": sorted(e for e in templates if e in alive),
                             "kept_old": [{"event": e, "why": w} for e, w in report.kept_old
                                          if e in batch]},
                )  # fmt: skip
            if progress is not None:
                progress(start + len(batch), len(todo))
        log.info(
            "re-embedded %d archived tracks with %s (%d kept under their own model)",
            report.embedded, model_id, len(report.kept_old),
        )  # fmt: skip
        return report

    def _template(self, crops: Sequence[str]) -> tuple[tuple[FloatArray, int] | None, str]:
        """The mean of the new model's vectors of the face in each shot, or None and why."""
        vectors: list[FloatArray] = []
        problems: list[str] = []
        for rel in crops:
            try:
                image = decode_image(self._media.path(rel).read_bytes(), rel, self._ingest)
            except (BadInput, OSError) as exc:
                problems.append(f"{rel}: {exc.reason if isinstance(exc, BadInput) else 'unreadable'}")
                continue
            dets = self._stills.detector.detect(image)
            i = central_face(dets.xyxy, (int(image.shape[1]), int(image.shape[0])))
            if i is None:
                problems.append(f"{rel}: no face found again")
                continue
            found = self._stills.embed_boxes(image, dets.xyxy[i : i + 1], dets.landmarks[i : i + 1])
            vectors.append(found.vectors[0])
        if not vectors:
            return None, "; ".join(problems) or "no shot kept"
        mean = np.mean(np.stack(vectors), axis=0)
        unit = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
        return (unit, len(vectors)), ""


def _carry_negatives(session: Session, event_id: int, model_id: str, raw: bytes) -> int:
    """Copy the track's "not this person" negatives to ``model_id`` (same person, list and reason)."""
    rows = session.scalars(select(NegativeTemplate).where(NegativeTemplate.event_id == event_id)).all()
    have = {(r.person_id, r.watchlist_id) for r in rows if r.model_id == model_id}
    added = 0
    for r in rows:
        key = (r.person_id, r.watchlist_id)
        if r.model_id == model_id or key in have:
            continue
        have.add(key)
        session.add(
            NegativeTemplate(
                person_id=r.person_id, watchlist_id=r.watchlist_id, event_id=event_id, model_id=model_id,
                embedding=raw, reason=r.reason, created_by=r.created_by, created_at=r.created_at,
            )
        )  # fmt: skip
        added += 1
    return added
