"""The accountability report of a seeded period (tests/report_kit.py), on SQLite and PostgreSQL: its
figures exactly, the same figures in the HTML and the PDF, and an empty period as an empty report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.report_kit import ENROL_BASIS, RECOGNIZE_REASON, SEARCH_REASON, WANTED_BASIS, seed
from tests.store_kit import drop_audit_guard
from vigil.app import threshold_policy
from vigil.config import VigilConfig
from vigil.errors import BadInput
from vigil.services.lists import ListService
from vigil.services.report import ListAlerts, ReportService, ReviewerLine
from vigil.services.report_render import render_html, render_pdf
from vigil.store.db import Database
from vigil.store.tables import AuditEntry


def reports(db: Database) -> ReportService:
    return ReportService(db, ListService(db, threshold_policy(VigilConfig())))


def test_the_report_of_a_seeded_period_has_its_figures(db: Database, tmp_path: Path) -> None:
    seeded = seed(db)
    report = reports(db).build(seeded.since, seeded.until)

    assert [(s.actor, s.action, s.reason, s.found) for s in report.searches] == [
        ("ana", "search.photo", SEARCH_REASON, 3), ("ben", "recognize.photo", RECOGNIZE_REASON, 1),
    ]  # fmt: skip
    assert report.searches_per_actor == {"ana": 1, "ben": 1}
    assert report.alerts_per_list == [
        ListAlerts("vip", 2, confirmed=1, rejected=0, acknowledged=0, open=1),
        ListAlerts("wanted", 3, confirmed=1, rejected=1, acknowledged=1, open=0),
    ]  # the alert of two days before is not counted
    assert report.alerts_total == 5
    assert sum(n for day in report.alerts_per_day.values() for n in day.values()) == 5
    assert report.reviewers == [
        ReviewerLine("ana", acknowledged=0, confirmed=1, rejected=1, median_s=120.0),
        ReviewerLine("ben", acknowledged=1, confirmed=1, rejected=0, median_s=360.0),
    ]
    rt = report.review_times
    assert (rt.reviewed, rt.unreviewed, rt.median_s, rt.max_s) == (4, 1, 150.0, 600.0)
    assert rt.p90_s == pytest.approx(180 + 0.7 * 420)
    by_list = {t.watchlist: t for t in report.thresholds}
    assert by_list["vip"].fixed and by_list["vip"].threshold == pytest.approx(0.6)
    assert by_list["vip"].calibrated is not None and by_list["vip"].calibrated < 0.6
    assert not by_list["vip"].below_calibrated
    assert (by_list["vip"].passed_min, by_list["vip"].passed_max) == (0.6, 0.6)
    assert not by_list["wanted"].fixed and by_list["wanted"].fpir == pytest.approx(0.001)
    assert by_list["wanted"].calibrated == pytest.approx(by_list["wanted"].threshold)
    assert (by_list["wanted"].passed_min, by_list["wanted"].passed_max) == (0.52, 0.53)
    assert [(c.watchlist, c.reason) for c in report.rule_changes] == [
        ("vip", "fewer false alerts at the gala")
    ]
    assert [(c.action, c.watchlist, c.reason) for c in report.list_changes] == [
        ("list.create", "wanted", WANTED_BASIS), ("list.create", "vip", "protection detail 4"),
        ("person.list.add", "wanted", ENROL_BASIS),
    ]  # fmt: skip
    assert [(p.events, p.files, p.probes) for p in report.purges] == [(5, 7, 2)]
    assert report.chain.ok and report.chain.rows == 10
    assert not report.empty

    page = render_html(report)
    for shown in (
        "case 2026/17: robbery at the station &lt;b&gt;kiosk&lt;/b&gt;", RECOGNIZE_REASON, WANTED_BASIS,
        ENROL_BASIS, "chief", "2 min 30 s", "7 min 54 s", "10 min 00 s", "Intact: all 10 audit rows",
        '<b>5</b>alerts', '<td class="num">3</td>', "0.520–0.530", "<td>hand</td>",
    ):  # fmt: skip
        assert shown in page, shown
    assert "<b>kiosk</b>" not in page, "a reason is data, never markup"
    assert page.count("data:image/png;base64,") == 3
    assert "http://" not in page and "https://" not in page, "self-contained: nothing fetched"

    pdf = tmp_path / "report.pdf"
    render_pdf(report, pdf)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000


def test_the_report_says_when_the_chain_is_broken(db: Database) -> None:
    seeded = seed(db)
    drop_audit_guard(db)
    with db.write() as s:
        row = s.scalars(select(AuditEntry).where(AuditEntry.action == "search.photo")).one()
        s.execute(update(AuditEntry).where(AuditEntry.id == row.id).values(reason="nothing to see"))
    report = reports(db).build(seeded.since, seeded.until)
    assert not report.chain.ok and report.chain.broken_at == row.id
    assert f"Broken at row {row.id}: row content does not match its hash" in render_html(report)


def test_an_empty_period_is_an_empty_report_not_an_error(db: Database, tmp_path: Path) -> None:
    seed(db)
    since = datetime(2020, 1, 1, tzinfo=UTC)
    report = reports(db).build(since, since + timedelta(days=7))
    assert report.empty
    assert (report.searches, report.alerts_per_list, report.reviewers, report.purges) == ([], [], [], [])
    assert (report.review_times.reviewed, report.review_times.median_s) == (0, None)
    assert [t.watchlist for t in report.thresholds] == ["vip", "wanted"], "the rules in force are stated"
    page = render_html(report)
    assert 'data-testid="report-empty"' in page and "data:image/png" not in page
    render_pdf(report, tmp_path / "empty.pdf")
    assert (tmp_path / "empty.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(
    ("since", "until", "problem"),
    [
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "since must be before until"),
        (datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC), "has no time zone"),
    ],
)
def test_a_bad_period_is_refused_with_the_reason(
    db: Database, since: datetime, until: datetime, problem: str
) -> None:
    with pytest.raises(BadInput, match=problem):
        reports(db).build(since, until)
