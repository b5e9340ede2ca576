"""Evidence exports: an alert, an event, or a case of several, as one signed zip (operators; a reason
is required; audited). An item outside the caller's scope is refused with 403, and the refusal audited."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from vigil.api.deps import OperatorUser, RowId, State
from vigil.api.errors import error_responses
from vigil.api.schemas.evidence import CaseExportCreate, ExportCreate
from vigil.api.scope import UserScope
from vigil.services.evidence import EvidenceExport, ExportItem, ExportRequest, ItemKind, Requester

router = APIRouter(tags=["evidence"])

ZIP_ANSWER: dict[int | str, dict[str, object]] = {
    200: {
        "content": {"application/zip": {}},
        "description": "The archive: manifest.json (every file's sha256 and size), manifest.sig (Ed25519), "
        "public_key.pem and the files. `vigil evidence verify FILE` checks it.",
    },
    **error_responses(403),
}


def _answer(export: EvidenceExport) -> Response:
    return Response(
        export.archive,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "X-Vigil-Export-Id": export.export_id,
            "X-Vigil-Audit-Id": str(export.audit_id),
            "X-Vigil-Manifest-Sha256": export.manifest_sha256,
        },
    )


async def _export(
    state: State, user: OperatorUser, scope: UserScope, items: list[ExportItem], reason: str
) -> Response:
    request = ExportRequest(tuple(items), reason)
    requester = Requester(user.username, scope)
    return _answer(await run_in_threadpool(state.evidence.export, requester, request))


@router.post("/alerts/{alert_id}/export", response_class=Response, responses=ZIP_ANSWER)
async def export_alert(
    alert_id: RowId, body: ExportCreate, state: State, user: OperatorUser, scope: UserScope
) -> Response:
    """One alert as a signed evidence archive: best shots, enrolled photos, times, camera, scores, the
    threshold and model, reviews and audit rows. 403 (audited) when the alert is outside your scope."""
    return await _export(state, user, scope, [ExportItem(ItemKind.ALERT, alert_id)], body.reason)


@router.post("/events/{event_id}/export", response_class=Response, responses=ZIP_ANSWER)
async def export_event(
    event_id: RowId, body: ExportCreate, state: State, user: OperatorUser, scope: UserScope
) -> Response:
    """One event (a recorded track, alert or not) as a signed evidence archive."""
    return await _export(state, user, scope, [ExportItem(ItemKind.EVENT, event_id)], body.reason)


@router.post("/exports", response_class=Response, responses={**ZIP_ANSWER, **error_responses(404)})
async def export_case(body: CaseExportCreate, state: State, user: OperatorUser, scope: UserScope) -> Response:
    """A case: the alerts and events listed (1 to 100 in all) in one signed archive. 404 names every id
    that does not exist."""
    items = [ExportItem(ItemKind.ALERT, i) for i in body.alerts]
    items += [ExportItem(ItemKind.EVENT, i) for i in body.events]
    return await _export(state, user, scope, items, body.reason)
