"""Changing the embedder without re-enrolling: every enrolment photo embedded again with the new model.

A sample's vector is only ever compared with vectors of its own model, and a gallery holds one model's
samples (``load_gallery``). Re-embedding adds, beside each photo's old sample, a sample of the new model
(same photo, new aligned crop); the old samples keep serving until the configuration names the new
model. Batches commit one by one with their audit row, so a killed run resumes where it stopped and a
photo is never half-embedded; until every photo has a vector of the new model, ``vigil serve`` with the
new model refuses to start (:func:`check_gallery_model`), so a gallery never mixes models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from vigil.config import EnrolConfig, IngestConfig
from vigil.embed.stills import StillEncoder
from vigil.errors import BadInput, StoreError
from vigil.ingest.images import decode_image
from vigil.services.gate import examine, quality_json
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import FaceSample

log = logging.getLogger(__name__)

BATCH = 16


@dataclass(frozen=True, slots=True)
class _Todo:
    sample_id: int
    person_id: int
    photo_sha256: str
    photo_path: str
    weak: bool


@dataclass
class ReembedReport:
    """What a re-embedding run did: photos embedded now, already done before, and those that failed."""

    model_id: str
    total: int
    embedded: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (sample id, reason)

    @property
    def complete(self) -> bool:
        return not self.failed


def _missing(db: Database, model_id: str) -> list[_Todo]:
    """One old sample per (person, photo) that has no sample of ``model_id`` yet."""
    new = aliased(FaceSample)
    has_new = (
        select(new.id)
        .where(new.person_id == FaceSample.person_id, new.photo_sha256 == FaceSample.photo_sha256)
        .where(new.model_id == model_id)
        .exists()
    )
    first = (
        select(func.min(FaceSample.id))
        .where(FaceSample.model_id != model_id, ~has_new)
        .group_by(FaceSample.person_id, FaceSample.photo_sha256)
    )
    with db.read() as s:
        rows = s.execute(
            select(
                FaceSample.id, FaceSample.person_id, FaceSample.photo_sha256, FaceSample.photo_path,
                FaceSample.weak,
            ).where(FaceSample.id.in_(first)).order_by(FaceSample.id)
        ).all()  # fmt: skip
    return [_Todo(*row) for row in rows]


def gallery_models(db: Database) -> dict[str, int]:
    """How many enrolled photos have a vector of each model."""
    with db.read() as s:
        rows = s.execute(select(FaceSample.model_id, func.count()).group_by(FaceSample.model_id)).all()
    return {str(m): int(n) for m, n in rows}


def check_gallery_model(db: Database, model_id: str, model_name: str) -> None:
    """Refuse to serve a gallery some of whose photos have no vector of ``model_id``.

    Raises:
        StoreError: naming the models found and the command that re-embeds the photos.
    """
    missing = _missing(db, model_id)
    if not missing:
        return
    models = ", ".join(f"{m} ({n} photos)" for m, n in sorted(gallery_models(db).items()))
    people = len({t.person_id for t in missing})
    raise StoreError(
        f"the gallery was embedded with another model: {len(missing)} enrolment photos of {people} people "
        f"have no {model_id} vector (the store holds {models}); run `vigil db reembed --model {model_name}` "
        "with this configuration, or configure the embedder they were enrolled with"
    )


class Reembedder:
    """Embeds every enrolment photo that has no vector of ``stills``' model yet."""

    def __init__(
        self, db: Database, media: MediaStore, stills: StillEncoder, ingest: IngestConfig, gate: EnrolConfig
    ) -> None:
        self._db = db
        self._media = media
        self._stills = stills
        self._ingest = ingest
        self._gate = gate

    def pending(self) -> int:
        return len(_missing(self._db, self._stills.model_id))

    def run(
        self, actor: str, reason: str, progress: Callable[[int, int], None] | None = None
    ) -> ReembedReport:
        """Embed what is missing, a batch per transaction (each with its audit row)."""
        model_id = self._stills.model_id
        todo = _missing(self._db, model_id)
        report = ReembedReport(model_id, len(todo))
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            rows, failed = self._embed(batch)
            report.failed += failed
            with self._db.write() as s:
                s.add_all(rows)
                s.flush()
                audit.append(
                    s, actor, "gallery.reembed", f"model:{model_id}", reason=reason,
                    details={"samples": [r.id for r in rows], "from": [t.sample_id for t in batch],
                             "failed": [{"sample": i, "reason": why} for i, why in failed]},
                )  # fmt: skip
            report.embedded += len(rows)
            if progress is not None:
                progress(start + len(batch), len(todo))
        log.info("re-embedded %d photos with %s (%d failed)", report.embedded, model_id, len(report.failed))
        return report

    def _embed(self, batch: list[_Todo]) -> tuple[list[FaceSample], list[tuple[int, str]]]:
        rows: list[FaceSample] = []
        failed: list[tuple[int, str]] = []
        for t in batch:
            try:
                data = self._media.path(t.photo_path).read_bytes()
                face = examine(self._stills, decode_image(data, t.photo_path, self._ingest), t.photo_path,
                               self._gate)  # fmt: skip
            except BadInput as exc:
                failed.append((t.sample_id, exc.reason))
                continue
            except OSError as exc:
                failed.append((t.sample_id, f"photo unreadable ({exc.strerror or exc})"))
                continue
            rows.append(
                FaceSample(
                    person_id=t.person_id,
                    photo_sha256=t.photo_sha256,
                    photo_path=t.photo_path,
                    crop_path=self._media.put("crops", face.chip_jpeg, ".jpg"),
                    embedding=face.vector.astype("<f4").tobytes(),
                    model_id=face.model_id,
                    dim=len(face.vector),
                    weak=t.weak,
                    created_at=datetime.now(UTC),
                    quality=quality_json(face.quality),
                )
            )
        return rows, failed
