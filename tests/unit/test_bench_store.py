"""`vigil bench store`: the synthetic gallery's bulk path, the fresh-process start-up, LFW enrolment, the CLI.

Sizes are tiny (thousands of faces, ten photos): the numbers' sense is checked, not the targets, which
are the benchmark's job. Database tests run on SQLite and on a real PostgreSQL (``db_url``).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, inspect, select
from typer.testing import CliRunner

from tests.pg import ThrowawayPostgres
from vigil.app import Engine
from vigil.cli import app
from vigil.cli.bench_store import _redacted_command
from vigil.config import VigilConfig
from vigil.errors import BadInput, StoreError
from vigil.evaluate.bench_enrol import EnrolSetup, bench_enrol, lfw_people, reason_kind
from vigil.evaluate.bench_store import GivenDatabase, judge
from vigil.evaluate.pg_cluster import LocalCluster, find_postgres_bin
from vigil.evaluate.store_startup import measure_fresh_process
from vigil.evaluate.synthetic_gallery import SYNTHETIC_LIST, SyntheticGallery, bulk_insert, make_probes
from vigil.services.gallery import load_gallery
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.migrate import ensure_schema
from vigil.store.tables import FaceSample, Person, Watchlist, WatchlistEntry

MODEL = "dlib-resnet-v1+flip"
# Ten LFW photos of eight people: two show two faces each and must be refused by the gate.
ENROL_PHOTOS = {
    "George_W_Bush": (1, 2, 3),
    "Colin_Powell": (125,),
    "Salma_Hayek": (6,),
    "Andre_Agassi": (7,),
    "Ashraf_Ghani": (1,),
    "Markus_Beyer": (1,),
    "Alberto_Acosta": (1,),  # two faces
    "Rita_Moreno": (2,),  # two faces
}
TWO_FACES = "# faces found; a watchlist photo must show exactly one person"


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database.from_url(db_url)
    ensure_schema(database.engine)
    return database


@pytest.fixture(scope="module")
def lfw_ten(lfw_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lfw")
    for name, numbers in ENROL_PHOTOS.items():
        (root / name).mkdir()
        for n in numbers:
            shutil.copy(lfw_images / name / f"{name}_{n:04d}.jpg", root / name)
    return root


# --- the synthetic gallery -------------------------------------------------------------------------------


def test_bulk_insert_round_trips_every_vector_to_its_person(db: Database) -> None:
    gallery = SyntheticGallery(faces=3_000, people=300, model_id=MODEL, chunk=1_000)
    times = bulk_insert(db, gallery)
    assert times.samples == 3_000
    assert times.method == ("COPY" if db.dialect == "postgresql" else "executemany")

    with db.read() as s:
        columns = (FaceSample.id, FaceSample.person_id, FaceSample.embedding, FaceSample.model_id)
        rows = s.execute(select(*columns).order_by(FaceSample.id)).all()
        entries = s.execute(select(WatchlistEntry.person_id).join(Watchlist)
                            .where(Watchlist.name == SYNTHETIC_LIST)).scalars().all()  # fmt: skip
        chain = audit.verify(s)
    ids = np.array([r.id for r in rows])
    stored = np.frombuffer(b"".join(r.embedding for r in rows), "<f4").reshape(-1, 128)
    expected = np.concatenate([v for _, v in gallery.chunks()])
    np.testing.assert_array_equal(ids, np.arange(1, 3_001))
    np.testing.assert_array_equal(stored, expected)  # bit for bit
    assert [r.person_id for r in rows] == gallery.person_of(ids).tolist()
    assert {r.model_id for r in rows} == {MODEL}
    assert sorted(entries) == list(range(1, 301))
    assert chain.ok and chain.rows == 2  # the list, then the load

    loaded = load_gallery(db, MODEL, 128)
    assert len(loaded) == 3_000 and loaded.people == set(range(1, 301))
    found = loaded.search(expected, 1, datetime.now(UTC))
    assert [c[0].sample_id for c in found] == ids.tolist()
    assert [c[0].person_id for c in found] == gallery.person_of(ids).tolist()
    assert all(c[0].score == pytest.approx(1.0, abs=1e-5) for c in found)


def test_bulk_insert_leaves_ids_for_the_next_ordinary_insert(db: Database) -> None:
    """PostgreSQL: rows COPYed with explicit ids must move the id sequences on, or the next insert fails."""
    bulk_insert(db, SyntheticGallery(faces=50, people=10, model_id=MODEL))
    with db.write() as s:
        person = Person(name="After The Load", created_by="test", created_at=datetime.now(UTC))
        s.add(person)
        s.flush()
        assert person.id == 11


def test_bulk_insert_refuses_a_database_that_holds_people(db: Database) -> None:
    gallery = SyntheticGallery(faces=20, people=5, model_id=MODEL)
    bulk_insert(db, gallery)
    with pytest.raises(BadInput, match="needs an empty one"):
        bulk_insert(db, gallery)


@pytest.mark.parametrize(("faces", "people"), [(0, 0), (10, 0), (10, 11)])
def test_synthetic_gallery_needs_a_face_per_person(faces: int, people: int) -> None:
    with pytest.raises(BadInput):
        SyntheticGallery(faces=faces, people=people, model_id=MODEL)


def test_probes_know_their_brute_force_answers() -> None:
    gallery = SyntheticGallery(faces=5_000, people=500, model_id=MODEL, chunk=1_500)
    probes = make_probes(gallery, 300)
    everything = np.concatenate([v for _, v in gallery.chunks()])
    scores = probes.vectors @ everything.T
    np.testing.assert_array_equal(probes.truth_ids, scores.argmax(axis=1) + 1)
    np.testing.assert_allclose(probes.truth_scores, scores.max(axis=1), atol=1e-6)
    np.testing.assert_array_equal(probes.truth_ids, probes.source_ids)  # low noise: the source is nearest
    np.testing.assert_array_equal(probes.source_people, gallery.person_of(probes.source_ids))
    assert 0.8 < probes.truth_scores.min() < probes.truth_scores.max() < 0.97
    np.testing.assert_allclose(np.linalg.norm(probes.vectors, axis=1), 1.0, atol=1e-5)


# --- a fresh process on a stored gallery -----------------------------------------------------------------


def test_fresh_process_loads_20000_faces_and_answers_every_probe_exactly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    db = Database.from_url(url)
    ensure_schema(db.engine)
    gallery = SyntheticGallery(faces=20_000, people=2_000, model_id=MODEL)
    bulk_insert(db, gallery)
    db.dispose()
    probes = make_probes(gallery, 100)

    run = measure_fresh_process(url, tmp_path, MODEL, 128, probes=probes.vectors)

    s = run.startup
    assert (s.samples, s.people) == (20_000, 2_000)
    assert s.total_s > s.imports_s > 0 and s.total_s > s.load_gallery_s > 0
    assert s.total_s < 120
    assert 0 < s.rss_base_mib < s.rss_ready_mib <= s.peak_rss_mib
    assert run.vigil_threads == 1  # vigil.app.configure_libraries, in open_store
    expected = [1] if run.library_threads == 1 else [1, run.library_threads]
    assert [q.threads for q in run.queries] == expected
    for queries in run.queries:
        latency = judge(queries, probes)
        assert latency.queries == 100
        assert 0 < latency.p50 <= latency.p95 <= latency.p99 < 1_000
        assert latency.rank1 == latency.exact == 100


def test_a_failing_fresh_process_says_why(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="exited with"):
        measure_fresh_process("sqlite:////nonexistent/dir/vigil.db", tmp_path / "data", MODEL, 128)


# --- LFW enrolment ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("2 faces found; a watchlist photo must show exactly one person", TWO_FACES),
        ("face is 61 px, below the minimum of 80 px", "face is # px, below the minimum of # px"),
        ("face is blurred or dark (sharpness 0.21 < 0.30)", "face is blurred or dark (sharpness # < #)"),
        ("no face found", "no face found"),
    ],
)
def test_refusal_reasons_are_counted_without_their_numbers(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind


def test_lfw_people_groups_photos_by_identity_largest_first(lfw_ten: Path) -> None:
    people = lfw_people(lfw_ten)
    assert people[0].name == "George W Bush" and len(people[0].paths) == 3
    assert sum(len(p.paths) for p in people) == 10 and len(people) == 8
    drawn = lfw_people(lfw_ten, limit=4)
    assert sum(len(p.paths) for p in drawn) == 4
    assert drawn == lfw_people(lfw_ten, limit=4)  # the same draw every time


def test_enrolment_counts_accepted_and_refused_photos(
    engine: Engine, lfw_ten: Path, db_url: str, tmp_path: Path
) -> None:
    setup = EnrolSetup(engine.config, db_url, tmp_path)
    seen: list[tuple[int, int]] = []
    result = bench_enrol(
        setup, lfw_people(lfw_ten), workers=1, engine=engine, progress=lambda d, n: seen.append((d, n))
    )

    assert (result.people, result.photos) == (8, 10)
    assert result.accepted == 8 and result.refused_photos == 2
    assert result.refused == {TWO_FACES: 2}
    assert result.people_enrolled == 6
    assert result.samples_in_db == result.accepted
    assert result.audit_rows == 1 + 6  # the list, then one row per person enrolled
    assert seen[-1] == (10, 10)
    assert result.wall_s > 0 and result.images_per_s == pytest.approx(10 / result.wall_s)
    assert result.seconds["detect_align_embed"] > result.seconds["db_write"] > 0
    assert sum(result.seconds.values()) == pytest.approx(result.wall_s, rel=0.05)


def test_enrolment_in_worker_processes_adds_up_to_the_same(
    lfw_ten: Path, model_dir: Path, tmp_path: Path
) -> None:
    setup = EnrolSetup(VigilConfig(model_dir=model_dir), f"sqlite:///{tmp_path / 'vigil.db'}", tmp_path)
    result = bench_enrol(setup, lfw_people(lfw_ten, limit=5), workers=2)
    assert result.photos == 5 and result.workers == 2
    assert result.accepted + result.refused_photos == 5
    assert result.samples_in_db == result.accepted
    assert result.models_s > 0


# --- databases and the command ------------------------------------------------------------------------


@pytest.mark.network
def test_a_given_database_must_be_empty_and_is_emptied_after(
    postgres: ThrowawayPostgres, tmp_path: Path
) -> None:
    url = postgres.new_database()
    given = GivenDatabase(url, tmp_path)
    with given.fresh("one") as spot:
        db = Database.from_url(spot.url)
        ensure_schema(db.engine)
        bulk_insert(db, SyntheticGallery(faces=10, people=2, model_id=MODEL))
        db.dispose()
        with pytest.raises(BadInput, match="needs an empty database"), given.fresh("two"):
            pass
    engine = create_engine(url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()
    with given.fresh("three"):  # and can be used again
        pass


@pytest.mark.network
def test_local_cluster_starts_on_loopback_and_leaves_nothing() -> None:
    if find_postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries not installed")
    with LocalCluster.start() as cluster:  # in TMPDIR: as root, the server's account must reach it
        url = cluster.new_database("bench_test")
        assert url.startswith("postgresql+psycopg://vigil@127.0.0.1:")
        db = Database.from_url(url)
        ensure_schema(db.engine)
        db.dispose()
        cluster.drop_database("bench_test")
        base = cluster.base_dir
    assert not base.exists()


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["vigil", "bench", "store", "--faces", "10"], "vigil bench store --faces 10"),
        (["/x/vigil", "--postgres-url", "postgresql+psycopg://u:secret@h/db"],
         "vigil --postgres-url 'postgresql+psycopg://u:***@h/db'"),
        (["vigil", "--postgres-url=postgresql+psycopg://u:secret@h/db"],
         "vigil '--postgres-url=postgresql+psycopg://u:***@h/db'"),
    ],
)  # fmt: skip
def test_the_printed_command_hides_database_passwords(argv: list[str], shown: str) -> None:
    assert _redacted_command(argv) == shown


def test_cli_runs_both_parts_small_and_writes_json(lfw_ten: Path, model_dir: Path, tmp_path: Path) -> None:
    out, plot = tmp_path / "store.json", tmp_path / "store.png"
    result = CliRunner().invoke(
        app,
        ["bench", "store", "--lfw", str(lfw_ten), "--limit", "3", "--workers", "1", "--faces", "3000",
         "--people", "300", "--queries", "20", "--no-postgres", "--json", str(out), "--plot", str(plot),
         "--model-dir", str(model_dir)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [e["engine"] for e in data["enrol"]] == ["sqlite"]
    assert data["enrol"][0]["photos"] == 3
    scale = data["scale"][0]
    assert (scale["engine"], scale["faces"], scale["people"]) == ("sqlite", 3000, 300)
    assert len(scale["startups"]) == 2 and scale["startups"][0]["samples"] == 3000
    assert scale["latency"][0]["queries"] == 20 and scale["latency"][0]["exact_matches"] == 20
    assert data["passed"] is True and len(data["verdicts"]) == 2
    assert plot.stat().st_size > 10_000
    assert "PASS sqlite: start-up with 3,000 faces" in result.output
    assert "machine:" in result.output and "command: " in result.output


@pytest.mark.network
def test_cli_runs_part_two_on_a_given_postgres_database(postgres: ThrowawayPostgres, tmp_path: Path) -> None:
    url = postgres.new_database()
    out = tmp_path / "store.json"
    result = CliRunner().invoke(
        app,
        ["bench", "store", "--skip-enrol", "--faces", "2000", "--people", "200", "--queries", "10",
         "--postgres-url", url, "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [r["engine"] for r in data["scale"]] == ["sqlite", "postgresql"]
    assert data["scale"][1]["insert"]["method"] == "COPY"
    assert data["scale"][1]["latency"][0]["rank1_correct"] == 10
