"""Evidence exports through the API (SQLite and PostgreSQL): operators download a signed archive that
verifies; a reason is required; unknown ids are 404; an item outside the caller's scope is 403 and the
refusal audited; viewers and auditors may not export."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from tests.api_kit import Api, bearer
from tests.evidence_kit import seed_case
from vigil.api.state import ApiState
from vigil.services.evidence_archive import verify_archive
from vigil.store.tables import AuditEntry, Role


def _state(api: Api) -> ApiState:
    state = api.app.state.vigil
    assert isinstance(state, ApiState)
    return state


def _evidence_rows(api: Api) -> list[tuple[str, str, str, dict[str, object]]]:
    with api.db.read() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("evidence.%")).order_by(AuditEntry.id)
        )
        return [(r.actor, r.action, r.reason, json.loads(r.details)) for r in rows]


def test_an_operator_downloads_an_alerts_archive_that_verifies(api: Api, refs: Path, tmp_path: Path) -> None:
    state = _state(api)
    case = seed_case(api.db, state.media, refs)
    op = bearer(api.user("ines", Role.OPERATOR))
    r = api.client.post(f"/alerts/{case.alert_id}/export", headers=op, json={"reason": "case 2026/31"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith('attachment; filename="vigil-evidence-')
    out = tmp_path / "a.zip"
    out.write_bytes(r.content)
    check = verify_archive(out)
    assert check.ok, check.problems
    assert check.manifest is not None and check.manifest["export"]["created_by"] == "ines"
    assert [i["subject"] for i in check.manifest["items"]] == [f"alert:{case.alert_id}"]
    ((actor, action, reason, details),) = _evidence_rows(api)
    assert (actor, action, reason) == ("ines", "evidence.export", "case 2026/31")
    assert details["manifest_sha256"] == r.headers["x-vigil-manifest-sha256"]
    assert r.headers["x-vigil-audit-id"].isdigit()

    case_r = api.client.post(
        "/exports", headers=op, json={"reason": "case 2026/31", "alerts": [case.alert_id],
                                      "events": [case.unknown_id, case.other_alert_id]},
    )  # fmt: skip
    assert case_r.status_code == 200, case_r.text
    out.write_bytes(case_r.content)
    check = verify_archive(out)
    assert check.ok and check.manifest is not None
    assert [i["subject"] for i in check.manifest["items"]] == [
        f"alert:{case.alert_id}", f"event:{case.unknown_id}", f"event:{case.other_alert_id}",
    ]  # fmt: skip
    event_r = api.client.post(f"/events/{case.unknown_id}/export", headers=op, json={"reason": "case 7"})
    assert event_r.status_code == 200, event_r.text


def test_bad_requests_say_what_is_wrong_and_export_nothing(api: Api, refs: Path) -> None:
    case = seed_case(api.db, _state(api).media, refs)
    op = bearer(api.user("ines", Role.OPERATOR))
    cases = [
        (f"/alerts/{case.alert_id}/export", {}, 422, "reason"),
        (f"/alerts/{case.alert_id}/export", {"reason": ""}, 422, "reason"),
        (f"/alerts/{case.alert_id}/export", {"reason": "   "}, 422, "needs a reason"),
        (f"/alerts/{case.alert_id}/export", {"reason": "x", "extra": 1}, 422, "extra"),
        ("/alerts/999999/export", {"reason": "case"}, 404, "no alert 999999"),
        (f"/alerts/{case.unknown_id}/export", {"reason": "case"}, 404, f"no alert {case.unknown_id}"),
        ("/events/999999/export", {"reason": "case"}, 404, "no event 999999"),
        ("/exports", {"reason": "case"}, 422, "1 to 100"),
        ("/exports", {"reason": "case", "alerts": [case.alert_id, 424242]}, 404, "no alert 424242"),
        ("/exports", {"reason": "case", "alerts": [0]}, 422, "alerts"),
    ]
    for path, body, status, says in cases:
        r = api.client.post(path, headers=op, json=body)
        assert r.status_code == status and says in r.json()["error"], (path, body, r.status_code, r.text)
    assert _evidence_rows(api) == [], "nothing exported, nothing to audit"


def test_an_alert_outside_the_callers_scope_is_403_and_audited(api: Api, refs: Path) -> None:
    state = _state(api)
    case = seed_case(api.db, state.media, refs)
    token = bearer(api.user("olga", Role.OPERATOR))
    state.limits.limit("admin", "olga", lists=["wanted"], cameras=None, reason="test")

    ok = api.client.post(f"/alerts/{case.alert_id}/export", headers=token, json={"reason": "case 1"})
    assert ok.status_code == 200, ok.text
    r = api.client.post(f"/alerts/{case.other_alert_id}/export", headers=token, json={"reason": "case 2"})
    assert r.status_code == 403 and f"alert:{case.other_alert_id}" in r.json()["error"]
    r = api.client.post(
        "/exports", headers=token, json={"reason": "case 3", "alerts": [case.alert_id, case.other_alert_id]}
    )
    assert r.status_code == 403
    rows = _evidence_rows(api)
    assert [(a, b, c) for a, b, c, _ in rows] == [
        ("olga", "evidence.export", "case 1"), ("olga", "evidence.denied", "case 2"),
        ("olga", "evidence.denied", "case 3"),
    ]  # fmt: skip
    assert rows[2][3]["denied"] == [f"alert:{case.other_alert_id}"]


def test_viewers_and_auditors_may_not_export(api: Api, refs: Path) -> None:
    case = seed_case(api.db, _state(api).media, refs)
    for role in [r for r in Role if r not in (Role.OPERATOR, Role.ADMIN)]:  # viewer, and auditor
        token = bearer(api.user(f"u-{role.value}", role))
        r = api.client.post(f"/alerts/{case.alert_id}/export", headers=token, json={"reason": "case"})
        assert r.status_code == 403, (role, r.text)
    assert _evidence_rows(api) == []
