"""Evidence exports over a real database (SQLite and PostgreSQL) and real photos: the archive holds what
the manifest says, the signature and every hash verify, and any tampering is named; bad requests and items
outside the requester's scope are refused, the refusal audited."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from typer.testing import CliRunner

from tests.evidence_kit import SEEN, Case, rewrite_zip, seed_case
from vigil.cli import app as cli
from vigil.config import VigilConfig
from vigil.errors import BadInput, Forbidden, NotFound
from vigil.services.evidence import EvidenceDesk, ExportItem, ExportRequest, ItemKind, Requester
from vigil.services.evidence_archive import (
    ArchiveWriter,
    fingerprint,
    load_or_create_signing_key,
    public_pem,
    verify_archive,
)
from vigil.services.evidence_video import FaceRedactor
from vigil.services.visibility import Scope
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.tables import AuditEntry

ALL = Requester("ines", Scope.EVERYTHING)


def _no_models() -> tuple[FaceRedactor, str]:
    raise AssertionError("no face model is needed without a recording")


@pytest.fixture
def desk(db: Database, tmp_path: Path) -> EvidenceDesk:
    key = tmp_path / "data" / "evidence.key"
    return EvidenceDesk(
        db, MediaStore(tmp_path / "media"), VigilConfig(), lambda: load_or_create_signing_key(key), _no_models
    )


@pytest.fixture
def case(db: Database, tmp_path: Path, refs: Path) -> Case:
    return seed_case(db, MediaStore(tmp_path / "media"), refs)


def _alert(i: int) -> ExportItem:
    return ExportItem(ItemKind.ALERT, i)


def _export(desk: EvidenceDesk, tmp_path: Path, *items: ExportItem, reason: str = "case 2026/31") -> Path:
    out = tmp_path / "evidence.zip"
    out.write_bytes(desk.export(ALL, ExportRequest(items, reason)).archive)
    return out


def test_an_alert_exports_with_its_shots_photo_scores_reviews_and_audit_rows_signed(
    desk: EvidenceDesk, case: Case, db: Database, tmp_path: Path
) -> None:
    result = desk.export(ALL, ExportRequest((_alert(case.alert_id),), "case 2026/31"))
    out = tmp_path / "e.zip"
    out.write_bytes(result.archive)

    check = verify_archive(out)
    assert check.ok, check.problems
    assert check.manifest is not None and check.files == 3  # two best shots, one enrolled photo
    m = check.manifest
    assert m["export"]["created_by"] == "ines" and m["export"]["reason"] == "case 2026/31"
    (item,) = m["items"]
    assert item["subject"] == f"alert:{case.alert_id}" and item["person"]["name"] == "Lin-Manuel Miranda"
    assert item["camera"]["name"] == "door" and item["start_at"] == SEEN.isoformat()
    assert (item["score"], item["margin"], item["threshold"], item["fpir"], item["calibrated_for_size"]) == (
        0.81, 0.3, 0.52, 0.001, 12,
    )  # fmt: skip
    assert item["model_id"] == "m" and [x["name"] for x in item["lists"]] == ["wanted"]
    assert [(r["username"], r["action"], r["note"]) for r in item["reviews"]] == [
        ("bob", "confirmed", "it is him")
    ]
    assert item["segment"]["included"] is False and "no recording" in item["segment"]["why_not"]
    with zipfile.ZipFile(out) as z:
        assert z.read(item["best_shots"][0]["file"]) == case.shot_bytes
        assert z.read(item["enrolled_photos"][0]["file"]) == case.photo_bytes
    # the audit rows about this alert (and only it), with what their hashes cover
    assert [(a["action"], a["subject"]) for a in m["audit"]] == [("alert.confirm", f"alert:{case.alert_id}")]
    row = m["audit"][0]
    assert row["hash"] == audit.entry_hash(
        row["prev_hash"], at=SEEN.fromisoformat(row["at"]), actor=row["actor"], action=row["action"],
        subject=row["subject"], reason=row["reason"], details=row["details_raw"],
    )  # fmt: skip
    with db.read() as s:
        logged = s.get(AuditEntry, result.audit_id)
        assert logged is not None and logged.action == "evidence.export" and logged.reason == "case 2026/31"
        details = json.loads(logged.details)
    assert (
        details["items"] == [f"alert:{case.alert_id}"]
        and details["manifest_sha256"] == result.manifest_sha256
    )


def test_a_case_holds_several_alerts_and_events(desk: EvidenceDesk, case: Case, tmp_path: Path) -> None:
    items = (_alert(case.alert_id), _alert(case.other_alert_id), ExportItem(ItemKind.EVENT, case.unknown_id))
    check = verify_archive(_export(desk, tmp_path, *items, _alert(case.alert_id)))
    assert check.ok and check.manifest is not None
    assert [i["subject"] for i in check.manifest["items"]] == [i.subject for i in items], (
        "once each, in order"
    )
    unknown = check.manifest["items"][2]
    assert unknown["person"] is None and unknown["status"] is None and unknown["best_shots"] == []


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("shot", "sha256 does not match"),
        ("reason", "signature does not match"),
        ("extra", "not in the manifest"),
        ("removed", "missing from the archive"),
        ("signature", "signature does not match"),
        ("key", "signature does not match"),
    ],
)
def test_tampering_is_found_and_named(
    desk: EvidenceDesk, case: Case, tmp_path: Path, tamper: str, problem: str
) -> None:
    good = _export(desk, tmp_path, _alert(case.alert_id))
    data = good.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        manifest = json.loads(z.read("manifest.json"))
    shot = manifest["items"][0]["best_shots"][0]["file"]
    other_key = Ed25519PrivateKey.generate()
    changes: dict[str, dict[str, bytes | None]] = {
        "shot": {shot: case.shot_bytes[:-1] + b"\x00"},
        "reason": {
            "manifest.json": json.dumps(
                {**manifest, "export": {**manifest["export"], "reason": "x"}}
            ).encode()
        },
        "extra": {"items/planted.jpg": b"\xff\xd8\xff"},
        "removed": {shot: None},
        "signature": {"manifest.sig": b"AAAA" * 22 + b"\n"},
        "key": {"public_key.pem": public_pem(other_key.public_key())},
    }
    change = changes[tamper]
    bad = tmp_path / "bad.zip"
    bad.write_bytes(rewrite_zip(data, change))
    check = verify_archive(bad)
    assert not check.ok and any(problem in p for p in check.problems), check.problems
    assert verify_archive(good).ok, "the original still verifies"

    runner = CliRunner()
    assert runner.invoke(cli, ["evidence", "verify", str(good)]).exit_code == 0
    failed = runner.invoke(cli, ["evidence", "verify", str(bad)])
    assert failed.exit_code == 1 and "FAILED" in failed.output


def test_an_archive_re_signed_by_another_key_fails_against_the_sites_key(
    desk: EvidenceDesk, case: Case, tmp_path: Path
) -> None:
    """A forger who rebuilds the whole archive with a key of their own passes the self-check (the
    fingerprint differs) but not the check against the site's public key."""
    site_key = load_or_create_signing_key(tmp_path / "data" / "evidence.key")
    _export(desk, tmp_path, _alert(case.alert_id))
    forger = Ed25519PrivateKey.generate()
    writer = ArchiveWriter()
    writer.add("items/alert-1/shots/1.jpg", b"forged")
    forged = tmp_path / "forged.zip"
    forged.write_bytes(writer.finish({"export": {"reason": "forged"}}, forger)[0])
    assert verify_archive(forged).ok and verify_archive(forged).fingerprint == fingerprint(
        forger.public_key()
    )
    against_site = verify_archive(forged, site_key.public_key())
    assert not against_site.ok and "signature does not match" in against_site.problems[0]
    pem = tmp_path / "site.pem"
    pem.write_bytes(public_pem(site_key.public_key()))
    result = CliRunner().invoke(cli, ["evidence", "verify", str(forged), "--key", str(pem)])
    assert result.exit_code == 1


def test_not_a_zip_fails_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    check = verify_archive(junk)
    assert not check.ok and "not a readable zip" in check.problems[0]


@pytest.mark.parametrize(
    ("items", "reason", "error", "message"),
    [
        (("alert",), "  ", BadInput, "needs a reason"),
        ((), "case", BadInput, "1 to 100"),
        (("missing", "alert"), "case", NotFound, "no alert 999999"),
        (("unknown-as-alert",), "case", NotFound, "no alert"),
    ],
)
def test_bad_requests_are_refused_naming_what_is_wrong(
    desk: EvidenceDesk, case: Case, db: Database, items: tuple[str, ...], reason: str,
    error: type[Exception], message: str,
) -> None:  # fmt: skip
    ids = {"alert": case.alert_id, "missing": 999_999, "unknown-as-alert": case.unknown_id}
    with pytest.raises(error, match=message):
        desk.export(ALL, ExportRequest(tuple(_alert(ids[i]) for i in items), reason))
    with db.read() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action.like("evidence.%"))).all() == []


def test_an_item_outside_the_scope_is_refused_and_the_refusal_audited(
    desk: EvidenceDesk, case: Case, db: Database
) -> None:
    wanted_only = Requester("olga", Scope(list_ids=frozenset({case.wanted_id})))
    desk.export(wanted_only, ExportRequest((_alert(case.alert_id),), "case 1"))  # in scope: fine
    with pytest.raises(Forbidden, match=f"olga may not see alert:{case.other_alert_id}"):
        desk.export(
            wanted_only, ExportRequest((_alert(case.alert_id), _alert(case.other_alert_id)), "case 2")
        )
    hall_only = Requester("hal", Scope(camera_ids=frozenset({case.hall_id})))
    with pytest.raises(Forbidden):
        desk.export(hall_only, ExportRequest((ExportItem(ItemKind.EVENT, case.unknown_id),), "case 3"))
    with db.read() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("evidence.%")).order_by(AuditEntry.id)
        )
        logged = [(r.actor, r.action, r.reason, json.loads(r.details)) for r in rows]
    assert [(a, b, c) for a, b, c, _ in logged] == [
        ("olga", "evidence.export", "case 1"), ("olga", "evidence.denied", "case 2"),
        ("hal", "evidence.denied", "case 3"),
    ]  # fmt: skip
    assert logged[1][3]["denied"] == [f"alert:{case.other_alert_id}"]
    assert logged[1][3]["items"] == [f"alert:{case.alert_id}", f"alert:{case.other_alert_id}"]


def test_the_signing_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "evidence.key"
    first = load_or_create_signing_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert fingerprint(load_or_create_signing_key(path).public_key()) == fingerprint(first.public_key())
    path.write_bytes(b"garbage")
    with pytest.raises(BadInput, match="not a readable private key"):
        load_or_create_signing_key(path)
