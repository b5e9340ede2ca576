"""Evidence export: alerts and events (one, or a case of several) as one signed archive.

An archive holds, for each item, its best shots and the enrolled photos of the person it names, and in
its manifest the times, camera, scores, the threshold it passed (with the FPIR and the list size it was
calibrated for), the model, the review history and every audit row about it; with a recording of the
footage, the video segment around the sighting with every other face blurred (see
:mod:`vigil.services.evidence_video`). The manifest lists every file with its SHA-256 and size and is
signed with the site's Ed25519 key (:mod:`vigil.services.evidence_archive`).

An export needs a reason and is audited (``evidence.export``: the items, the reason and the manifest's
SHA-256, which ties the archive to the audit chain). Asking for an item the user may not see is refused
and audited too (``evidence.denied``). What a user may see is decided by :func:`may_see` alone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

import vigil
from vigil.config import VigilConfig
from vigil.errors import BadInput, Forbidden, NotFound
from vigil.services.alerts import alert_lists
from vigil.services.evidence_archive import ArchiveWriter
from vigil.services.evidence_video import BLUR_MARGIN, FaceRedactor, Recording, Target, cut_segment
from vigil.services.visibility import Scope, alert_visible, event_lists, event_visible
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.media import MediaStore
from vigil.store.tables import (
    AuditEntry,
    Camera,
    Event,
    EventReview,
    EventShot,
    EventTemplate,
    FaceSample,
    Person,
)

MAX_ITEMS = 100
MAX_REASON = 500
MAX_PAD_S = 60.0


class ItemKind(StrEnum):
    ALERT = "alert"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class ExportItem:
    kind: ItemKind
    id: int

    @property
    def subject(self) -> str:
        """How the audit log names it (``alert:12``, ``event:40``)."""
        return f"{self.kind.value}:{self.id}"


@dataclass(frozen=True, slots=True)
class Requester:
    """Who exports, and the scope they are limited to (the server's shell: ``Scope.EVERYTHING``)."""

    username: str
    scope: Scope


@dataclass(frozen=True, slots=True)
class ExportRequest:
    items: tuple[ExportItem, ...]
    reason: str
    recording: Recording | None = None  # a copy of the footage: the segment around each sighting
    pad_s: float = 2.0  # the segment starts this long before the track and ends this long after


@dataclass(frozen=True, slots=True)
class EvidenceExport:
    export_id: str
    archive: bytes
    manifest_sha256: str
    audit_id: int

    @property
    def filename(self) -> str:
        return f"vigil-evidence-{self.export_id}.zip"


def may_see(requester: Requester, item: ExportItem, event: Event) -> bool:
    """Whether ``requester`` may export ``item`` (``event`` its row): the one visibility check of evidence
    exports, by the scope rules of :mod:`vigil.services.visibility` (an alert: its camera and one of its
    lists in scope; an event: its camera, and one of its lists when it was identified)."""
    lists = event_lists(event.watchlist_id, event.list_ids)
    if item.kind is ItemKind.ALERT:
        return alert_visible(requester.scope, event.camera_id, lists or [])
    return event_visible(requester.scope, event.camera_id, lists)


def check_request(request: ExportRequest) -> tuple[ExportItem, ...]:
    """The request's items, duplicates dropped (in order). Raises BadInput naming what is wrong."""
    if not request.reason.strip():
        raise BadInput("reason", "an evidence export needs a reason (a case reference)")
    if len(request.reason) > MAX_REASON:
        raise BadInput("reason", f"longer than {MAX_REASON} characters")
    items = tuple(dict.fromkeys(request.items))
    if not 1 <= len(items) <= MAX_ITEMS:
        raise BadInput("items", f"an export holds 1 to {MAX_ITEMS} alerts or events, not {len(items)}")
    if not 0 <= request.pad_s <= MAX_PAD_S:
        raise BadInput("pad_s", f"{request.pad_s} is not between 0 and {MAX_PAD_S:.0f} seconds")
    return items


class EvidenceDesk:
    """Builds, signs and audits evidence archives."""

    def __init__(
        self,
        db: Database,
        media: MediaStore,
        config: VigilConfig,
        signing_key: Callable[[], Ed25519PrivateKey],
        redactor: Callable[[], tuple[FaceRedactor, str]],
    ) -> None:
        """``redactor()`` gives the face redactor and the model id of the vectors it compares (loaded at
        the first export with a recording)."""
        self._db = db
        self._media = media
        self._config = config
        self._key = signing_key
        self._redactor = redactor

    def export(self, requester: Requester, request: ExportRequest) -> EvidenceExport:
        """The signed archive of ``request``'s items, audited.

        Raises:
            BadInput: no reason, no or too many items, a bad padding.
            NotFound: naming every item that does not exist (an alert id that is only an event too).
            Forbidden: the requester may not see one of the items (the refusal is audited).
        """
        items = check_request(request)
        export_id = uuid.uuid4().hex
        with self._db.read() as s:
            events = _load(s, items)
            denied = [i.subject for i in items if not may_see(requester, i, events[i])]
        if denied:
            self._refuse(requester, request, export_id, items, denied)
        writer = ArchiveWriter()
        now = datetime.now(UTC)
        with self._db.read() as s:
            records = [self._record(s, writer, item, events[item]) for item in items]
            rows = _audit_rows(s, [i.subject for i in items])
        if request.recording is not None:
            self._segments(writer, request, items, events, records)
        manifest = {
            "export": {
                "id": export_id, "created_at": now.isoformat(), "created_by": requester.username,
                "reason": request.reason, "vigil_version": vigil.__version__,
            },
            "match": {"min_margin": self._config.match.min_margin, "fpir": self._config.match.fpir},
            "items": records,
            "audit": rows,
        }  # fmt: skip
        archive, digest = writer.finish(manifest, self._key())
        with self._db.write() as s:
            row = audit.append(
                s, requester.username, "evidence.export", f"export:{export_id}", reason=request.reason,
                details={"items": [i.subject for i in items], "manifest_sha256": digest,
                         "files": len(writer.files), "segment": request.recording is not None},
            )  # fmt: skip
            audit_id = row.id
        return EvidenceExport(export_id, archive, digest, audit_id)

    def _refuse(
        self,
        requester: Requester,
        request: ExportRequest,
        export_id: str,
        items: Sequence[ExportItem],
        denied: list[str],
    ) -> None:
        with self._db.write() as s:
            audit.append(
                s, requester.username, "evidence.denied", f"export:{export_id}", reason=request.reason,
                details={"items": [i.subject for i in items], "denied": denied},
            )  # fmt: skip
        raise Forbidden(f"{requester.username} may not see {', '.join(denied)}: nothing was exported")

    def _record(self, s: Session, writer: ArchiveWriter, item: ExportItem, e: Event) -> dict[str, Any]:
        folder = f"items/{item.kind.value}-{item.id}"
        camera = s.get(Camera, e.camera_id)
        person = s.get(Person, e.person_id) if e.person_id is not None else None
        return {
            "kind": item.kind.value, "id": e.id, "subject": item.subject,
            "camera": {"id": e.camera_id, "name": camera.name if camera else None,
                       "recorded_footage": bool(camera and camera.virtual)},
            "track_id": e.track_id, "start_at": _iso(e.start_at), "end_at": _iso(e.end_at),
            "seen_at": _iso(e.frame_at), "raised_at": _iso(e.alerted_at), "retro": e.retro,
            "person": {"id": person.id, "name": person.name} if person else None,
            "lists": [{"id": wl.id, "name": wl.name, "severity": wl.severity.value, "review": wl.review.value}
                      for wl in alert_lists(s, e)],
            "score": e.score, "margin": e.margin, "model_id": e.model_id,
            "threshold": e.threshold, "fpir": e.fpir, "calibrated_for_size": e.calibrated_for,
            "cooldown_of": e.cooldown_of, "vetoed_by": e.vetoed_by,
            "status": e.status.value if e.alerted_at is not None else None,
            "reviews": [{"username": r.username, "action": r.action.value, "note": r.note, "at": _iso(r.at)}
                        for r in s.scalars(select(EventReview).where(EventReview.event_id == e.id)
                                           .order_by(EventReview.id))],
            "best_shots": self._shots(s, writer, folder, e.id),
            "enrolled_photos": self._enrolled(s, writer, folder, person),
            "segment": {"included": False, "why_not": "no recording was given: live cameras keep no video, "
                        "and uploaded footage is deleted once processed (export with `vigil evidence export "
                        "--video FILE` from a copy of the recording)"},
        }  # fmt: skip

    def _shots(self, s: Session, writer: ArchiveWriter, folder: str, event_id: int) -> list[dict[str, Any]]:
        out = []
        shots = s.scalars(select(EventShot).where(EventShot.event_id == event_id).order_by(EventShot.id))
        for n, shot in enumerate(shots, 1):
            data = self._file(shot.crop_path)
            name = writer.add(f"{folder}/shots/{n}.jpg", data) if data is not None else None
            out.append({"file": name, "t_at": _iso(shot.t_at), "quality": shot.quality,
                        **({} if name else {"why_missing": "the crop was purged"})})  # fmt: skip
        return out

    def _enrolled(
        self, s: Session, writer: ArchiveWriter, folder: str, person: Person | None
    ) -> list[dict[str, Any]]:
        if person is None:
            return []
        out, seen = [], set()
        samples = s.scalars(
            select(FaceSample).where(FaceSample.person_id == person.id).order_by(FaceSample.id)
        )
        for sample in samples:
            if sample.photo_sha256 in seen:  # the same photo under another model
                continue
            seen.add(sample.photo_sha256)
            data = self._file(sample.photo_path)
            suffix = sample.photo_path.rsplit(".", 1)[-1] if "." in sample.photo_path else "img"
            name = writer.add(f"{folder}/enrolled/{sample.id}.{suffix}", data) if data is not None else None
            out.append({"file": name, "sample_id": sample.id, "photo_sha256": sample.photo_sha256,
                        "weak": sample.weak, "enrolled_at": _iso(sample.created_at)})  # fmt: skip
        return out

    def _file(self, rel: str) -> bytes | None:
        try:
            return self._media.path(rel).read_bytes()
        except (FileNotFoundError, BadInput):
            return None

    def _segments(
        self,
        writer: ArchiveWriter,
        request: ExportRequest,
        items: Sequence[ExportItem],
        events: dict[ExportItem, Event],
        records: list[dict[str, Any]],
    ) -> None:
        recording = request.recording
        if recording is None:
            return
        redactor, model_id = self._redactor()
        pad = timedelta(seconds=request.pad_s)
        for item, record in zip(items, records, strict=True):
            e = events[item]
            target = Target(self._template(e, model_id), e.threshold or self._config.match.threshold,
                            self._config.match.min_margin)  # fmt: skip
            cut = cut_segment(
                recording,
                as_utc(e.start_at) - pad,
                as_utc(e.end_at) + pad,
                redactor,
                target,
                self._config.ingest,
            )
            if isinstance(cut, str):
                record["segment"] = {"included": False, "why_not": cut}
                continue
            name = writer.add(f"items/{item.kind.value}-{item.id}/segment.mp4", cut.mp4)
            record["segment"] = {
                "included": True, "file": name, "recording": recording.path.name,
                "recording_start": recording.start.isoformat(), "from_ms": cut.from_ms, "to_ms": cut.to_ms,
                "frames": cut.frames, "frames_face_kept": cut.faces_kept, "faces_blurred": cut.faces_blurred,
                "frames_all_faces_blurred": cut.frames_all_blurred,
                "matched_face": "the face closest to the track's template (model " + model_id + ") at the "
                "alert's threshold and margin; when none qualifies, every face of the frame is blurred"
                if target.template is not None else "unknown: no template of this model, every face blurred",
                "blur_margin": BLUR_MARGIN,
            }  # fmt: skip

    def _template(self, e: Event, model_id: str) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        """The track's template under ``model_id`` (None when it has none of that model)."""
        raw = e.embedding if e.model_id == model_id else None
        if raw is None:
            with self._db.read() as s:
                raw = s.scalar(
                    select(EventTemplate.embedding).where(
                        EventTemplate.event_id == e.id, EventTemplate.model_id == model_id
                    )
                )
        return None if raw is None else np.frombuffer(raw, "<f4").astype(np.float32)


def _load(s: Session, items: Sequence[ExportItem]) -> dict[ExportItem, Event]:
    found: dict[ExportItem, Event] = {}
    missing = []
    for item in items:
        e = s.get(Event, item.id)
        if e is None or (item.kind is ItemKind.ALERT and e.alerted_at is None):
            missing.append(f"{item.kind.value} {item.id}")
        else:
            s.expunge(e)  # read later, outside this session
            found[item] = e
    if missing:
        raise NotFound(f"no {', '.join(missing)}")
    return found


def _audit_rows(s: Session, subjects: list[str]) -> list[dict[str, Any]]:
    """Every audit row about the items, with every field its hash covers (so it can be checked)."""
    rows = s.scalars(select(AuditEntry).where(AuditEntry.subject.in_(subjects)).order_by(AuditEntry.id))
    return [
        {"id": r.id, "at": _iso(r.at), "actor": r.actor, "action": r.action, "subject": r.subject,
         "reason": r.reason, "details": json.loads(r.details or "{}"), "details_raw": r.details,
         "prev_hash": r.prev_hash, "hash": r.hash}
        for r in rows
    ]  # fmt: skip


def _iso(at: datetime | None) -> str | None:
    return as_utc(at).isoformat() if at is not None else None
