"""/people: who is on the watchlists, enrolment from uploaded photos (with the quality gate's verdict per
photo), removal, and their face images. Enrolling and removing need the operator role; both are audited.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import MAX_ROW_ID, CurrentUser, OperatorUser, RowId, State, permit
from vigil.api.errors import error_body, error_responses
from vigil.api.schemas.people import (
    EnrolPublic,
    EntryPublic,
    ListEntryCreate,
    ListEntryPublic,
    ListMembershipPublic,
    LooksLikePublic,
    NegativePublic,
    PersonDetailPublic,
    PersonPublic,
    QualityPublic,
    SamplePublic,
    VerdictPublic,
)
from vigil.api.scope import UserScope, check_list, out_of_scope, refuse_act, refuse_beyond, scope_list_names
from vigil.api.state import ApiState
from vigil.errors import BadInput, NotFound
from vigil.services.enrol import EnrolmentRejected, EnrolRequest, Photo, PhotoVerdict
from vigil.services.feedback import FeedbackService
from vigil.services.people import PersonInfo
from vigil.services.permissions import Permission
from vigil.services.users import Principal
from vigil.services.visibility import Scope, person_visible

router = APIRouter(
    prefix="/people", tags=["people"], dependencies=[Depends(permit(Permission.SIGHTINGS_READ))]
)

MAX_PHOTOS = 10
Reason = Annotated[str, Query(min_length=1, max_length=500, description="Why; written to the audit log.")]
FACE_HEADERS = {"Cache-Control": "private, max-age=300"}


def _photo_url(person_id: int, samples: int) -> str | None:
    return f"/people/{person_id}/photo.jpg" if samples else None


def person_public(info: PersonInfo, shown: set[str] | None = None) -> PersonPublic:
    """A person with their lists (of ``shown`` only, when given: a scoped user's lists)."""
    return PersonPublic(
        id=info.id, name=info.name, samples=info.samples, created_at=info.created_at,
        lists=[ListMembershipPublic(name=n, expires_at=e) for n, e in sorted(info.lists.items())
               if shown is None or n in shown],
        photo_url=_photo_url(info.id, info.samples),
    )  # fmt: skip


async def _visible_person(state: ApiState, scope: Scope, person_id: int) -> bool:
    """Whether ``person_id`` exists and is on a list of ``scope`` (NotFound when there is no such person)."""
    if scope.list_ids is None:
        return True
    return person_visible(scope, await run_in_threadpool(state.people.list_ids_of, person_id))


async def _check_person(
    state: ApiState, scope: Scope, person_id: int, acting: tuple[Principal, str] | None = None
) -> None:
    """NotFound (audited when ``acting``: the user and the action) unless the person is in ``scope``."""
    if await _visible_person(state, scope, person_id):
        return
    if acting is None:
        raise out_of_scope(f"person with id {person_id}")
    raise await refuse_act(state, acting[0], acting[1], f"person:{person_id}")


def verdict_public(v: PhotoVerdict) -> VerdictPublic:
    q = v.quality
    quality = None
    if q is not None:
        quality = QualityPublic(
            size_px=round(q.size_px, 1), sharpness=round(q.sharpness, 3), frontal=round(q.frontal, 3),
            det_score=round(q.det_score, 3), edge=round(q.edge, 3), total=round(q.total, 3),
        )  # fmt: skip
    looks_like = None
    if v.looks_like is not None:
        pid, name, score = v.looks_like
        looks_like = LooksLikePublic(person_id=pid, name=name, score=score)
    return VerdictPublic(
        photo=v.name, accepted=v.accepted, weak=v.weak, reasons=list(v.reasons), quality=quality,
        looks_like=looks_like,
    )  # fmt: skip


@router.get("")
async def list_people(
    state: State,
    _user: CurrentUser,
    scope: UserScope,
    watchlist: Annotated[str | None, Query(description="Only this list.")] = None,
) -> list[PersonPublic]:
    """The people on your scope's lists (of ``watchlist`` only: 404 when it is not one of yours)."""
    names = await run_in_threadpool(scope_list_names, state, scope)
    if names is not None and watchlist is not None and watchlist not in names:
        raise out_of_scope(f"list named {watchlist!r}")
    people = await run_in_threadpool(state.people.all, watchlist)
    return [person_public(p, names) for p in people if names is None or not names.isdisjoint(p.lists)]


@router.get("/{person_id}")
async def get_person(
    person_id: RowId, state: State, _user: CurrentUser, scope: UserScope
) -> PersonDetailPublic:
    """A person of your scope's lists, with their entries on them (404 otherwise)."""
    await _check_person(state, scope, person_id)
    d = await run_in_threadpool(state.people.show, person_id)
    names = await run_in_threadpool(scope_list_names, state, scope)
    base = person_public(d.info, names)
    return PersonDetailPublic(
        **base.model_dump(),
        notes=d.notes,
        entries=[EntryPublic.model_validate(e) for e in d.entries if names is None or e["list"] in names],
        face_samples=[
            SamplePublic(
                id=int(str(x["id"])), weak=bool(x["weak"]), model=str(x["model"]),
                quality=dict(x["quality"]),  # type: ignore[call-overload]
                photo_url=f"/people/{person_id}/samples/{x['id']}.jpg",
            )
            for x in d.samples
        ],
    )  # fmt: skip


async def _read_photos(photos: list[UploadFile], max_bytes: int) -> list[Photo]:
    if not photos:
        raise BadInput("photos", "send at least one photo")
    if len(photos) > MAX_PHOTOS:
        raise BadInput("photos", f"{len(photos)} photos; at most {MAX_PHOTOS} at once")
    out = []
    for i, upload in enumerate(photos):
        name = upload.filename or f"photo {i + 1}"
        data = await upload.read(max_bytes + 1)  # the gate names a file that is too big
        out.append(Photo(name, data))
    return out


def _expiry(expires_at: str) -> datetime | None:
    """A date (the end of that day, UTC) or a date-time with a zone; blank for none."""
    text = expires_at.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, UTC)
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInput("expires_at", f"{text!r} is not a date (YYYY-MM-DD) or an ISO date-time") from exc


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=EnrolPublic, responses=error_responses(404)
)
async def enrol_person(  # noqa: PLR0917 (form fields come by name)
    state: State,
    user: OperatorUser,
    scope: UserScope,
    watchlist: Annotated[str, Form(min_length=1, max_length=64, description="The list's name.")],
    name: Annotated[str, Form(min_length=1, max_length=128, description="The person's name.")],
    reason: Annotated[str, Form(min_length=1, max_length=2000, description="Legal basis or case; audited.")],
    photos: Annotated[list[UploadFile], File(description=f"1-{MAX_PHOTOS} photos, one face each.")],
    photo_source: Annotated[str, Form(max_length=500, description="Where the photos come from.")] = "",
    approved_by: Annotated[str, Form(max_length=64, description="Who approved the entry.")] = "",
    expires_at: Annotated[str, Form(max_length=40, description="YYYY-MM-DD or ISO date-time.")] = "",
    notes: Annotated[str, Form(max_length=2000)] = "",
    force: Annotated[bool, Form(description="Keep photos below the quality gate, marked weak.")] = False,
    person_id: Annotated[
        int | None, Form(ge=1, le=MAX_ROW_ID, description="Add the photos to this enrolled person.")
    ] = None,
    new_person: Annotated[
        bool, Form(description="Someone else than the enrolled person of this name (on another list).")
    ] = False,
) -> EnrolPublic | JSONResponse:
    """Put a person on a list from photos. Each photo gets the quality gate's verdict; when none is usable,
    nothing is written and the answer is 422 with the verdicts. Into a list of your scope only (404), and
    onto a person of it (404)."""
    await check_list(state, scope, watchlist, user, "person.enrol")
    if person_id is not None:
        await _check_person(state, scope, person_id, (user, "person.enrol"))
    req = EnrolRequest(
        list_name=watchlist, name=name, reason=reason,
        photos=await _read_photos(photos, state.config.ingest.max_image_bytes),
        photo_source=photo_source, approved_by=approved_by or None, expires_at=_expiry(expires_at),
        notes=notes, force=force, person_id=person_id, new_person=new_person,
    )  # fmt: skip
    try:
        result = await run_in_threadpool(state.enrolment.enrol, user.username, req)
    except EnrolmentRejected as exc:
        verdicts = [verdict_public(v).model_dump() for v in exc.verdicts]
        return JSONResponse(error_body(str(exc), verdicts=verdicts), status.HTTP_422_UNPROCESSABLE_CONTENT)
    retro = await run_in_threadpool(state.live.retro_alerts, result.person_id)
    return EnrolPublic(
        person_id=result.person_id, name=result.name, watchlist=result.list_name, created=result.created,
        verdicts=[verdict_public(v) for v in result.verdicts], retro_alerts=retro,
    )  # fmt: skip


@router.post("/{person_id}/lists", status_code=status.HTTP_201_CREATED)
async def put_on_list(
    person_id: RowId, body: ListEntryCreate, state: State, user: OperatorUser, scope: UserScope
) -> ListEntryPublic:
    """Put an enrolled person on another list too: one person, their photos shared by every list (both of
    your scope, else 404)."""
    await _check_person(state, scope, person_id, (user, "person.list"))
    await check_list(state, scope, body.watchlist, user, "person.list")
    info = await run_in_threadpool(
        state.people.put_on_list, user.username, person_id, body.watchlist, body.reason, body.expires_at,
        body.approved_by,
    )  # fmt: skip
    retro = await run_in_threadpool(state.live.retro_alerts, person_id)
    names = await run_in_threadpool(scope_list_names, state, scope)
    return ListEntryPublic(**person_public(info, names).model_dump(), retro_alerts=retro)


@router.delete("/{person_id}/lists/{watchlist}")
async def take_off_list(  # noqa: PLR0917 (FastAPI passes parameters by name)
    person_id: RowId, watchlist: str, state: State, user: OperatorUser, scope: UserScope, reason: Reason
) -> PersonPublic:
    """Take a person off one list; they stay enrolled, with their other lists (both of your scope, else
    404)."""
    await _check_person(state, scope, person_id, (user, "person.unlist"))
    await check_list(state, scope, watchlist, user, "person.unlist")
    info = await run_in_threadpool(state.people.take_off_list, user.username, person_id, watchlist, reason)
    return person_public(info, await run_in_threadpool(scope_list_names, state, scope))


@router.get("/{person_id}/negatives")
async def person_negatives(
    person_id: RowId, state: State, _user: OperatorUser, scope: UserScope
) -> list[NegativePublic]:
    """The tracks rejected as "not this person": faces closer to one than to them are not named as them."""
    await _check_person(state, scope, person_id)
    rows = await run_in_threadpool(FeedbackService(state.db).of_person, person_id)
    return [NegativePublic(**asdict(n)) for n in rows]


@router.delete("/{person_id}/negatives/{negative_id}", status_code=status.HTTP_204_NO_CONTENT)
async def withdraw_negative(  # noqa: PLR0917 (FastAPI passes parameters by name)
    person_id: RowId, negative_id: RowId, state: State, user: OperatorUser, scope: UserScope, reason: Reason
) -> None:
    """Withdraw a negative (the rejection was itself a mistake); audited."""
    await _check_person(state, scope, person_id, (user, "person.negative.withdraw"))
    feedback = FeedbackService(state.db)
    if negative_id not in {n.id for n in await run_in_threadpool(feedback.of_person, person_id)}:
        raise NotFound(f"person {person_id} has no negative {negative_id}")
    await run_in_threadpool(feedback.withdraw, user.username, negative_id, reason)


@router.delete("/{person_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_person(
    person_id: RowId, state: State, user: OperatorUser, scope: UserScope, reason: Reason
) -> None:
    """Remove a person from every list, with their photos (files no other record uses are deleted). A
    person of your scope also on other lists is refused (403): take them off yours instead."""
    await _check_person(state, scope, person_id, (user, "person.remove"))
    if scope.list_ids is not None and not scope.list_ids.issuperset(
        await run_in_threadpool(state.people.list_ids_of, person_id)
    ):
        why = "the person is also on lists of others: take them off yours instead"
        raise await refuse_beyond(state, user, "person.remove", f"person:{person_id}", why)
    await run_in_threadpool(state.people.remove, user.username, person_id, reason)


@router.get("/{person_id}/photo.jpg", response_class=FileResponse)
async def person_face(person_id: RowId, state: State, _user: CurrentUser, scope: UserScope) -> FileResponse:
    """The aligned face of the person's best sample."""
    await _check_person(state, scope, person_id)
    rel = await run_in_threadpool(state.people.face_crop, person_id)
    return FileResponse(state.media.path(rel), media_type="image/jpeg", headers=FACE_HEADERS)


@router.get("/{person_id}/samples/{sample_id}.jpg", response_class=FileResponse)
async def sample_face(
    person_id: RowId, sample_id: RowId, state: State, _user: CurrentUser, scope: UserScope
) -> FileResponse:
    await _check_person(state, scope, person_id)
    rel = await run_in_threadpool(state.people.face_crop, person_id, sample_id)
    return FileResponse(state.media.path(rel), media_type="image/jpeg", headers=FACE_HEADERS)
