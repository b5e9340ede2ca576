"""`vigil calibrate build --strangers store`: thresholds from a site's own unknown tracks, audited.

The store holds real templates: the embeddings (default embedder, real engine) of LFW photos of people
in the stranger half of the calibration split, one photo each, as if each were an unknown track of a
site camera. Tracks that were someone's (alerted, cooling down, vetoed) and tracks of another model are
in the store too and must not be read as strangers. Since these "site" strangers are LFW photos, the
site calibration must agree with the shipped LFW one up to sampling noise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy import select

from tests.store_kit import Cli, write_config
from vigil.app import embedder_identity
from vigil.config import VigilConfig
from vigil.evaluate.calibrate import lfw_photos, split_people
from vigil.evaluate.embed_images import VectorCache, embed_images, lfw_cache_path
from vigil.match.calibration import load_calibration, shipped_calibration
from vigil.services.site_calibration import MIN_TRACKS
from vigil.store.db import Database
from vigil.store.migrate import ensure_schema
from vigil.store.tables import AuditEntry, Camera, Event, EventTemplate, Person, Watchlist
from vigil.types import FloatArray

BASE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
REASON = "calibrating the lobby cameras, ticket 4411"
DOOR, HALL = 240, 40  # unknown tracks of each camera


@pytest.fixture(scope="module")
def stranger_vectors(lfw_images: Path, model_dir: Path) -> FloatArray:
    """Real templates of 320 LFW people of the split's stranger half (never in the LFW gallery)."""
    cfg = VigilConfig(model_dir=model_dir)
    split = split_people(lfw_photos(lfw_images), 0)
    first: dict[str, str] = {}
    for path in split.strangers:
        first.setdefault(path.split("/")[0], path)
    paths = sorted(first.values())[:320]
    model, _ = embedder_identity(cfg)
    vectors = embed_images(cfg, lfw_images, paths, VectorCache(lfw_cache_path(cfg, model)), workers=4)
    return np.stack([vectors[p].vector for p in paths]).astype(np.float32)


@dataclass(frozen=True)
class Site:
    cli: Cli
    db: Database
    config: Path
    model_id: str


def _site(db_url: str, tmp_path: Path, model_dir: Path) -> Site:
    config = write_config(tmp_path / "vigil.yaml", tmp_path / "data", db_url, model_dir)
    db = Database.from_url(db_url)
    ensure_schema(db.engine)
    return Site(Cli(config), db, config, embedder_identity(VigilConfig(model_dir=model_dir))[0])


def _record(site: Site, vectors: FloatArray, counts: dict[str, int], *, model_id: str | None = None) -> None:
    """Unknown tracks of the cameras in ``counts`` (created if new), one minute apart, from ``vectors``."""
    with site.db.write() as s:
        i = 0
        for name, n in counts.items():
            cam = s.scalar(select(Camera).where(Camera.name == name))
            if cam is None:
                cam = Camera(name=name, url=f"rtsp://10.0.0.9/{name}", created_at=BASE)
                s.add(cam)
                s.flush()
            for _ in range(n):
                at = BASE + timedelta(minutes=i)
                template = vectors[i].astype("<f4").tobytes()
                s.add(Event(camera_id=cam.id, track_id=i, start_at=at, end_at=at + timedelta(seconds=5),
                            model_id=model_id or site.model_id, embedding=template))  # fmt: skip
                i += 1


def _record_someones(site: Site, vectors: FloatArray) -> None:
    """Tracks of a listed person: alerted, in cool-down, vetoed, and alerted for a person since removed."""
    with site.db.write() as s:
        cam = s.scalar(select(Camera).where(Camera.name == "door"))
        person = Person(name="Jane Doe", created_by="test", created_at=BASE)
        wl = Watchlist(name="wanted", created_by="test", created_at=BASE)
        s.add_all([person, wl])
        s.flush()
        assert cam is not None
        kinds: list[dict[str, Any]] = [
            {"person_id": person.id, "watchlist_id": wl.id, "alerted_at": BASE},
            {"person_id": person.id, "watchlist_id": wl.id, "cooldown_of": 1},
            {"vetoed_by": 1},
            {"alerted_at": BASE},  # person and list removed since: the FKs set NULL, the alert stays
        ]
        for j, kind in enumerate(kinds * 5):
            at = BASE + timedelta(hours=10, minutes=j)
            s.add(Event(camera_id=cam.id, track_id=1000 + j, start_at=at, end_at=at, model_id=site.model_id,
                        embedding=vectors[-1 - j].astype("<f4").tobytes(), **kind))  # fmt: skip


def _audit(db: Database) -> list[AuditEntry]:
    with db.read() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_a_site_calibration_is_made_from_the_unknown_tracks_only_and_audited(
    db_url: str, tmp_path: Path, model_dir: Path, stranger_vectors: FloatArray
) -> None:
    site = _site(db_url, tmp_path, model_dir)
    _record(site, stranger_vectors, {"door": DOOR, "hall": HALL})
    _record_someones(site, stranger_vectors)
    out = tmp_path / "site.json"
    r = site.cli(
        "calibrate", "build", "--strangers", "store", "--out", str(out), "-r", REASON, "--as", "test:op"
    )
    assert r.code == 0, r
    assert f"calibration: {out}" in r.out

    cal = load_calibration(out)
    assert (cal.model_id, cal.strangers, cal.gallery) == (site.model_id, DOOR + HALL, 2867)
    store = site.db.engine.url.render_as_string(hide_password=True)
    assert cal.source.startswith(f"site store {store}: {DOOR + HALL:,} unknown tracks (matched nobody)")
    assert "of cameras door, hall, filmed 2026-11-02 08:00 UTC to 2026-11-02 12:39 UTC" in cal.source
    for fpir in (0.01, 0.001):
        by_size = [cal.threshold(n, fpir).threshold for n in (1, 3, 10, 30, 100, 300, 1000, 2867, 10_000)]
        assert by_size == sorted(by_size), (fpir, by_size)
        assert by_size[0] < by_size[-1] - 0.1
    # These "site" strangers are LFW photos: the thresholds are the shipped LFW calibration's, give or
    # take what 280 strangers can resolve.
    lfw = shipped_calibration(site.model_id)
    assert lfw is not None
    for size in (1, 10, 100, 1000):
        assert abs(cal.threshold(size, 0.01).threshold - lfw.threshold(size, 0.01).threshold) < 0.04, size

    [row] = _audit(site.db)
    assert (row.actor, row.action, row.subject, row.reason) == (
        "test:op", "calibration.site", f"model:{site.model_id}", REASON
    )  # fmt: skip
    details = json.loads(row.details)
    assert (details["tracks"], details["cameras"]) == (DOOR + HALL, ["door", "hall"])

    site.config.write_text(
        yaml.safe_dump({**yaml.safe_load(site.config.read_text()), "match": {"calibration": str(out)}})
    )
    shown = site.cli("calibrate", "show")
    assert shown.code == 0, shown
    assert f"calibrated on: site store {store}" in shown.out
    assert f"{cal.threshold(100, 0.001).threshold:.3f}" in shown.out


def test_a_site_calibration_can_be_limited_to_cameras_and_a_period(
    tmp_path: Path, model_dir: Path, stranger_vectors: FloatArray
) -> None:
    site = _site(f"sqlite:///{tmp_path / 'vigil.db'}", tmp_path, model_dir)
    _record(site, stranger_vectors, {"door": DOOR, "hall": HALL})
    out = tmp_path / "door.json"
    since = (BASE + timedelta(minutes=20)).isoformat()
    r = site.cli(
        "calibrate", "build", "--strangers", "store", "--camera", "door", "--since", since,
        "--out", str(out), "-r", REASON,
    )  # fmt: skip
    assert r.code == 0, r
    cal = load_calibration(out)
    assert cal.strangers == DOOR - 20
    assert (
        f"{DOOR - 20:,} unknown tracks (matched nobody) of cameras door, filmed 2026-11-02 08:20"
        in cal.source
    )
    assert json.loads(_audit(site.db)[0].details)["since"].startswith("2026-11-02T08:20:00")


WHOLE = "every camera, the whole archive"
FEW = (
    f"error: store: 150 unknown tracks of fused-fr512-mfn192 ({WHOLE}; 5 more of other models), a site "
    f"calibration needs at least {MIN_TRACKS}: the finest FPIR it can measure is 1/(tracks × draws)"
)
OTHER = (
    f"error: store: its unknown tracks ({WHOLE}) are of another model (250 of dlib-resnet-v1+flip), "
    "the configured embedder is fused-fr512-mfn192"
)


@pytest.mark.parametrize(
    ("case", "args", "message"),
    [
        ("few", [], FEW),
        ("few", ["--camera", "door", "--until", "2026-11-02T09:00:00+00:00"],
         "error: store: 60 unknown tracks of fused-fr512-mfn192 (camera door; before 2026-11-02 09:00 UTC)"),
        ("other model", [], OTHER),
        ("few", ["--camera", "roof"], "error: no camera named 'roof'"),
        ("few", ["--since", "2026-11-02T09:00:00"], "error: since: 2026-11-02T09:00:00 has no time zone"),
        ("no reason", [], "error: reason: reading the archive's face templates needs a reason (--reason)"),
        ("ship", ["--ship"],
         "error: --ship writes the calibration Vigil ships (made from LFW): write a site's with --out FILE"),
        ("lfw", [], "error: --camera, --since, --until and --reason choose and justify --strangers store"),
        ("missing", [], "error: no store at "),
        ("unreachable", [], "error: database unavailable: "),
    ],
)  # fmt: skip
def test_a_site_calibration_is_refused_in_one_line_without_reading_a_template(
    tmp_path: Path, model_dir: Path, stranger_vectors: FloatArray, case: str, args: list[str], message: str
) -> None:
    url = {
        "missing": f"sqlite:///{tmp_path / 'nothing-here.db'}",
        "unreachable": "postgresql+psycopg://vigil@127.0.0.1:9/vigil?connect_timeout=2",
    }.get(case, f"sqlite:///{tmp_path / 'vigil.db'}")
    db: Database | None = None
    if case in ("missing", "unreachable"):
        cli = Cli(write_config(tmp_path / "vigil.yaml", tmp_path / "data", url, model_dir))
    else:
        site = _site(url, tmp_path, model_dir)
        cli, db = site.cli, site.db
        if case == "other model":
            _record(site, stranger_vectors, {"door": 250}, model_id="dlib-resnet-v1+flip")
        else:
            _record(site, stranger_vectors, {"door": 60, "hall": 90})
            _record(site, stranger_vectors, {"hall": 5}, model_id="dlib-resnet-v1+flip")
    out = tmp_path / "site.json"
    strangers = [] if case == "lfw" else ["--strangers", "store"]
    reason = [] if case == "no reason" else ["-r", REASON]
    target = [] if case == "ship" else ["--out", str(out)]
    r = cli("calibrate", "build", *strangers, *target, *reason, *args)
    assert r.code == 2, r
    assert r.err.startswith(message), r
    assert len(r.result.stderr.strip().splitlines()) == 1, r.result.stderr
    assert "Traceback" not in r.err
    assert not out.exists()
    if db is not None:
        assert _audit(db) == []
    if case == "missing":
        assert not (tmp_path / "nothing-here.db").exists()


def test_tracks_of_another_model_count_once_re_embedded(
    tmp_path: Path, model_dir: Path, stranger_vectors: FloatArray
) -> None:
    """Tracks recorded with dlib and re-embedded since (`vigil db reembed`) are the configured model's
    strangers, with their new template; those not re-embedded still are not."""
    site = _site(f"sqlite:///{tmp_path / 'vigil.db'}", tmp_path, model_dir)
    _record(site, stranger_vectors, {"door": 250}, model_id="dlib-resnet-v1+flip")
    with site.db.write() as s:
        events = s.scalars(select(Event).order_by(Event.id)).all()
        s.add_all(
            EventTemplate(event_id=e.id, model_id=site.model_id, embedding=stranger_vectors[i].astype("<f4")
                          .tobytes(), shots=1, created_at=BASE)
            for i, e in enumerate(events[:230])
        )  # fmt: skip
        for e in events:  # the old templates are dlib's: not these vectors
            e.embedding = np.zeros(128, "<f4").tobytes()
    out = tmp_path / "site.json"
    r = site.cli("calibrate", "build", "--strangers", "store", "--out", str(out), "-r", REASON)
    assert r.code == 0, r
    cal = load_calibration(out)
    assert cal.strangers == 230
    assert abs(cal.threshold(10, 0.01).threshold - shipped_threshold(site.model_id, 10)) < 0.05
    details = json.loads(_audit(site.db)[0].details)
    assert details["tracks"] == 230


def shipped_threshold(model_id: str, size: int) -> float:
    lfw = shipped_calibration(model_id)
    assert lfw is not None
    return lfw.threshold(size, 0.01).threshold
