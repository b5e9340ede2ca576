"""/search: where was this person seen, and is this person on a list? /recognize: who is every face of
this photo? Operators and admins; a reason is required, and every search is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import OperatorUser, State
from vigil.api.schemas.search import (
    ArchiveHitPublic,
    FacePublic,
    ListHitPublic,
    PersonScorePublic,
    RecognizedFacePublic,
    RecognizePublic,
    SearchPublic,
)
from vigil.api.scope import UserScope
from vigil.errors import BadInput
from vigil.search.recognize import PersonScore, Recognition
from vigil.search.service import MAX_K, ChooseFace, SearchFilter, SearchRequest, SearchResult
from vigil.services.enrol import Photo

router = APIRouter(tags=["search"])


def search_public(r: SearchResult) -> SearchPublic:
    return SearchPublic(
        audit_id=r.audit_id, probe_sha256=r.probe_sha256, face=r.face, min_score=r.min_score,
        faces=[FacePublic(index=f.index, xyxy=f.xyxy, score=f.score) for f in r.faces],
        lists=[ListHitPublic(person_id=h.person_id, name=h.name, score=h.score, lists=list(h.lists),
                             photo_url=f"/people/{h.person_id}/photo.jpg") for h in r.list_hits],
        archive=[ArchiveHitPublic(
            event_id=h.event_id, score=h.score, camera_id=h.camera_id, camera=h.camera, start_at=h.start_at,
            end_at=h.end_at, person=h.person, watchlist=h.watchlist,
            image_url=f"/media/events/{h.event_id}/best.jpg", event_url=f"/events/{h.event_id}",
        ) for h in r.archive_hits],
        not_searched=r.other_models,
    )  # fmt: skip


def _ids(text: str, what: str) -> frozenset[int] | None:
    """'3,5' -> {3, 5}; blank -> None (no filter)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        return None
    try:
        return frozenset(int(p) for p in parts)
    except ValueError:
        raise BadInput(what, f"{text!r} is not a comma-separated list of ids") from None


@router.post("/search")
async def search_by_photo(  # noqa: PLR0917 (form fields come by name)
    state: State,
    user: OperatorUser,
    scope: UserScope,
    photo: Annotated[UploadFile, File(description="A photo of the person to look for.")],
    reason: Annotated[str, Form(min_length=1, max_length=500, description="Case reference; audited.")],
    face: Annotated[int | None, Form(ge=0, description="Which face, when the photo shows several.")] = None,
    since: Annotated[datetime | None, Form(description="Sightings from (ISO, with zone).")] = None,
    until: Annotated[datetime | None, Form(description="Sightings before (ISO, with zone).")] = None,
    cameras: Annotated[str, Form(description="Camera ids, comma-separated; blank: all.")] = "",
    watchlists: Annotated[str, Form(description="List ids, comma-separated; blank: all.")] = "",
    min_score: Annotated[float | None, Form(ge=-1, le=1, description="Blank: search.min_score.")] = None,
    k: Annotated[int, Form(ge=1, le=MAX_K, description="Candidates of each kind.")] = 20,
) -> SearchPublic:
    """Find the face in the photo, then rank enrolled people and past sightings that resemble it.

    A photo with several faces and no ``face`` gets ``choose_face: true`` with the ``faces`` (boxes, largest
    first) and no results: ask again with ``face``. Only results of your scope: people of your lists,
    sightings by your cameras (unknown faces, or identified under your lists).
    """
    data = await photo.read(state.config.ingest.max_image_bytes + 1)
    f = SearchFilter(since, until, _ids(cameras, "cameras"), _ids(watchlists, "watchlists"), min_score, k)
    req = SearchRequest(Photo(photo.filename or "photo", data), reason, face, f)
    try:
        result = await run_in_threadpool(state.search.search, user.username, req, scope)
    except ChooseFace as exc:  # a question, not an error: which face?
        faces = [FacePublic(index=b.index, xyxy=b.xyxy, score=b.score) for b in exc.faces]
        min_used = f.min_score if f.min_score is not None else state.config.search.min_score
        return SearchPublic(
            choose_face=True, audit_id=None, probe_sha256="", faces=faces, face=None, min_score=min_used,
            lists=[], archive=[],
        )  # fmt: skip
    return search_public(result)


def _person(p: PersonScore | None) -> PersonScorePublic | None:
    if p is None:
        return None
    return PersonScorePublic(
        person_id=p.person_id, name=p.name, score=p.score, lists=list(p.lists),
        photo_url=f"/people/{p.person_id}/photo.jpg",
    )  # fmt: skip


def recognize_public(r: Recognition) -> RecognizePublic:
    faces = []
    for f in r.faces:
        face, d = f.face, f.face.decision
        known = f.candidate is not None  # None too when outside the caller's scope
        faces.append(RecognizedFacePublic(
            index=face.index, xyxy=face.xyxy, det_score=face.det_score, judged=face.judged,
            problems=list(face.problems), identity=_person(f.identity), lists=list(f.lists),
            score=round(d.score, 4) if known else None, margin=round(d.margin, 4) if known else None,
            threshold=round(d.threshold, 4), candidate=_person(f.candidate), runner_up=_person(f.runner_up),
        ))  # fmt: skip
    return RecognizePublic(audit_id=r.audit_id, probe_sha256=r.probe_sha256, model_id=r.model_id, faces=faces)


@router.post("/recognize")
async def recognize_photo(
    state: State,
    user: OperatorUser,
    scope: UserScope,
    photo: Annotated[UploadFile, File(description="A photo (JPEG, PNG, BMP or WebP) of one or more people.")],
    reason: Annotated[str, Form(min_length=1, max_length=500, description="Case reference; audited.")],
) -> RecognizePublic:
    """Who is in this photo? Every face, largest first, identified against the watchlists or unknown.

    Each face is judged like a camera's track: named when its closest enrolled person scores at least the
    threshold of one of their lists (the list's own, or calibrated for its size) and leads the runner-up
    by `match.min_margin`. A face too small or blurred to judge says so (`judged: false`, `problems`).
    Audited like a search (user, reason, the photo's SHA-256, each answer); the photo is kept for
    `retention.probe_days`. An unreadable, corrupt or oversized photo is refused (422) with the reason.
    A user limited to lists sees only their people named; anyone else's face is reported unknown.
    """
    data = await photo.read(state.config.ingest.max_image_bytes + 1)
    result = await run_in_threadpool(
        state.search.recognize, user.username, Photo(photo.filename or "photo", data), reason, scope
    )
    return recognize_public(result)
