"""`vigil report` over a real SQLite store and a seeded period (tests/report_kit.py): the HTML carries the
seeded figures, the PDF is a PDF, the read is audited with who asked, and bad input writes nothing."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.report_kit import RECOGNIZE_REASON, WANTED_BASIS, Seeded, seed
from vigil.app import open_store
from vigil.cli import app
from vigil.config import VigilConfig
from vigil.config.schema import StoreConfig
from vigil.store.tables import AuditEntry


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, VigilConfig]:
    data = tmp_path / "data"
    config = tmp_path / "vigil.yaml"
    config.write_text(f"store:\n  data_dir: {data}\n")
    return config, VigilConfig(store=StoreConfig(data_dir=data))


def run(
    config: Path, since: datetime | str, until: datetime | str, out: Path, *extra: str
) -> tuple[int, str]:
    def iso(at: datetime | str) -> str:
        return at if isinstance(at, str) else at.isoformat()

    args = ["report", "-c", str(config), "--since", iso(since), "--until", iso(until), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, *extra])
    return result.exit_code, result.output


def reads(cfg: VigilConfig) -> list[AuditEntry]:
    store = open_store(cfg)
    with store.db.read() as s:
        found = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "report.read")))
    store.db.dispose()
    return found


def seeded_store(cfg: VigilConfig) -> Seeded:
    store = open_store(cfg)
    seeded = seed(store.db)
    store.db.dispose()
    return seeded


def test_the_html_report_has_the_seeded_figures_and_the_read_is_audited(
    site: tuple[Path, VigilConfig], tmp_path: Path
) -> None:
    config, cfg = site
    seeded = seeded_store(cfg)
    out = tmp_path / "report.html"
    code, output = run(config, seeded.since, seeded.until, out, "--as", "audrey")
    assert code == 0, output
    page = out.read_text(encoding="utf-8")
    for shown in (
        RECOGNIZE_REASON, WANTED_BASIS, "2 min 30 s", "10 min 00 s", "Intact: all 10 audit rows",
        "<b>5</b>alerts", "0.520–0.530",
    ):  # fmt: skip
        assert shown in page, shown
    assert "5 alerts, 2 searches" in output
    [row] = reads(cfg)
    assert (row.actor, row.subject) == ("audrey", "report")
    details = json.loads(row.details or "{}")
    assert details == {"since": seeded.since.isoformat(), "until": seeded.until.isoformat(), "format": "html"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == [], "no temporary left"


def test_the_os_user_is_who_read_when_no_actor_is_given(
    site: tuple[Path, VigilConfig], tmp_path: Path
) -> None:
    config, cfg = site
    seeded = seeded_store(cfg)
    code, output = run(config, seeded.since, seeded.until, tmp_path / "r.html")
    assert code == 0, output
    [row] = reads(cfg)
    assert row.actor.startswith("local:")


def test_the_pdf_report_is_a_pdf(site: tuple[Path, VigilConfig], tmp_path: Path) -> None:
    config, cfg = site
    seeded = seeded_store(cfg)
    out = tmp_path / "report.pdf"
    code, output = run(config, seeded.since, seeded.until, out, "--pdf")
    assert code == 0, output
    assert out.read_bytes().startswith(b"%PDF") and out.stat().st_size > 10_000
    assert [json.loads(r.details or "{}")["format"] for r in reads(cfg)] == ["pdf"]


@pytest.mark.parametrize(
    ("since", "until", "problem"),
    [
        ("2026-01-02T00:00:00+00:00", "2026-01-01T00:00:00+00:00", "since must be before until"),
        ("2026-01-01T00:00:00", "2026-01-02T00:00:00+00:00", "has no time zone"),
    ],
)
def test_a_bad_period_exits_2_and_writes_nothing(
    site: tuple[Path, VigilConfig], tmp_path: Path, since: str, until: str, problem: str
) -> None:
    config, cfg = site
    seeded_store(cfg)
    out = tmp_path / "report.html"
    code, output = run(config, since, until, out)
    assert code == 2 and problem in " ".join(output.split()), output
    assert not out.exists() and reads(cfg) == []


def test_an_unwritable_out_exits_2_and_writes_nothing(site: tuple[Path, VigilConfig], tmp_path: Path) -> None:
    config, cfg = site
    seeded = seeded_store(cfg)
    (tmp_path / "a-file").write_text("x")
    cases = [
        (tmp_path / "nowhere" / "r.html", "no such folder"),
        (tmp_path / "a-file" / "r.html", "no such folder"),
        (tmp_path, "is a folder"),
    ]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((locked / "r.html", "cannot write"))
    for out, problem in cases:
        code, output = run(config, seeded.since, seeded.until, out)
        assert code == 2 and problem in " ".join(output.split()), output
        assert out == tmp_path or not out.exists()
    assert reads(cfg) == []
