"""Helpers for the store tests: a store over a test database, what it holds, and whether it agrees.

The store tests run against real databases (``db_url``: SQLite and PostgreSQL) and the real face engine.
Embedding a photo is the slow part, so :class:`CachedStills` remembers each distinct image's faces for the
session: the first enrolment of a photo runs detect, align and embed for real, later ones reuse them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import yaml
from sqlalchemy import func, select, text
from typer.testing import CliRunner, Result

from tests.helpers import read_bgr
from vigil.app import Engine, threshold_policy
from vigil.cli import app
from vigil.config import VigilConfig
from vigil.embed.stills import StillEncoder, StillFaces
from vigil.errors import BadInput
from vigil.match.gallery import Gallery
from vigil.model_catalogue import EMBEDDERS, model_id, spec_for
from vigil.services.enrol import EnrolmentService, Photo
from vigil.services.gallery import load_gallery
from vigil.services.lists import ListService, ListSettings
from vigil.services.people import PeopleService
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.migrate import ensure_schema
from vigil.store.tables import AuditEntry, Base, FaceSample, Person, WatchlistEntry
from vigil.types import FloatArray, Image

ACTOR = "test:alice"
OBAMA, OBAMA2, BIDEN, MIRANDA, TWO_PEOPLE = (
    "ageitgey_obama.jpg",
    "ageitgey_obama2.jpg",
    "ageitgey_biden.jpg",
    "ageitgey_lin-manuel-miranda.png",
    "ageitgey_two_people.jpg",
)


class CachedStills(StillEncoder):
    """The engine's still encoder, remembering the faces (or the refusal) of every image it has seen.

    The memory is shared by every instance (for the whole session), keyed by model and pixels.
    """

    _faces: ClassVar[dict[tuple[str, tuple[int, ...], str], StillFaces | str]] = {}

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine.detector, engine.aligner, engine.embedder)

    def encode_single(self, image: Image, name: str) -> StillFaces:
        key = (self.model_id, image.shape, hashlib.sha256(image.tobytes()).hexdigest())
        if key not in self._faces:
            try:
                self._faces[key] = super().encode_single(image, name)
            except BadInput as exc:
                self._faces[key] = exc.reason
        found = self._faces[key]
        if isinstance(found, str):
            raise BadInput(name, found)
        return found


def open_db(url: str) -> Database:
    """A database at ``url`` with Vigil's schema (created when empty)."""
    db = Database.from_url(url)
    ensure_schema(db.engine)
    return db


@dataclass
class Kit:
    """A store over one test database with its services, as ``vigil.app`` wires them."""

    config: VigilConfig
    db: Database
    media: MediaStore
    lists: ListService
    people: PeopleService
    gallery: Gallery
    enrol: EnrolmentService
    list_id: int  # the list "wanted", created with the kit

    def photo(self, refs: Path, name: str) -> Photo:
        return Photo(name, (refs / name).read_bytes())


def make_kit(url: str, root: Path, engine: Engine, config: VigilConfig | None = None) -> Kit:
    """Services over a fresh store at ``url`` (media under ``root``) and a list named ``wanted``."""
    config = config or VigilConfig()
    db = open_db(url)
    media = MediaStore(root / "media")
    gallery = load_gallery(db, engine.embedder.model_id, engine.embedder.dim)
    stills = CachedStills(engine)
    lists = ListService(db, threshold_policy(config))
    wanted = lists.create(ACTOR, "wanted", ListSettings(), "case 2024/17")
    enrol = EnrolmentService(
        db, media, stills, gallery, ingest=config.ingest, gate=config.enrol,
        duplicate_threshold=config.match.threshold,
    )  # fmt: skip
    return Kit(config, db, media, lists, PeopleService(db, media, gallery), gallery, enrol, wanted.id)


def counts(db: Database) -> dict[str, int]:
    """Rows per table."""
    with db.read() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables
        }


def snapshot(db: Database, media: MediaStore) -> tuple[dict[str, int], set[str]]:
    """What the store holds: rows per table and the media files (to show that nothing was written)."""
    return counts(db), media.all_files()


def audit_rows(db: Database) -> list[AuditEntry]:
    with db.read() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def drop_audit_guard(db: Database) -> None:
    """Remove the triggers that keep audit_log append-only: how a tamperer with DDL rights would start."""
    with db.engine.begin() as conn:
        if db.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))


def vector(sample: FaceSample) -> FloatArray:
    return np.frombuffer(sample.embedding, dtype="<f4").astype(np.float32)


def samples(db: Database) -> list[FaceSample]:
    with db.read() as s:
        return list(s.scalars(select(FaceSample).order_by(FaceSample.id)))


def assert_consistent(db: Database, media: MediaStore, gallery: Gallery) -> None:
    """The database is whole and the gallery mirrors it.

    Every sample has its vector, its files and its person; every person is on a list, has samples and
    the audit row of their enrolment; the audit chain holds; the gallery holds exactly the database's samples,
    each under its person.
    """
    rows = samples(db)
    with db.read() as s:
        people = set(s.scalars(select(Person.id)).all())
        entry_people = set(s.scalars(select(WatchlistEntry.person_id)).all())
        enrolled = {
            int(a.subject.removeprefix("person:"))
            for a in s.scalars(select(AuditEntry).where(AuditEntry.action == "person.enrol"))
        }
        chain = audit.verify(s)
    assert chain.ok, chain
    assert entry_people == people, "a person without a list entry, or an entry without its person"
    assert {x.person_id for x in rows} == people, "a person without samples, or a sample without its person"
    assert people <= enrolled, "a person without the audit row of their enrolment"
    for x in rows:
        assert x.dim == EMBEDDERS[x.model_id.removesuffix("+flip")].dim
        assert len(x.embedding) == 4 * x.dim
        assert abs(float(np.linalg.norm(vector(x))) - 1.0) < 1e-3
        assert media.path(x.photo_path).is_file(), x.photo_path
        assert media.path(x.crop_path).is_file(), x.crop_path
    assert len(gallery) == len(rows)
    assert gallery.people == people
    now = datetime.now(UTC)
    for x in rows:  # the same photo may be enrolled for several people: look at every person's best
        found = {c.person_id: c for c in gallery.search(vector(x)[None], len(people), now)[0]}
        assert found[x.person_id].sample_id == x.id
        assert found[x.person_id].score > 0.999


def shrunk_jpeg(path: Path, scale: float) -> bytes:
    """A real photo scaled down by ``scale`` (to make its face small), as JPEG bytes."""
    small = cv2.resize(read_bgr(path), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError(f"could not encode {path}")
    return buf.tobytes()


def write_config(path: Path, data_dir: Path, url: str, model_dir: Path) -> Path:
    """A Vigil YAML config putting the store (data dir and database) where a test wants it."""
    path.write_text(
        yaml.safe_dump({"model_dir": str(model_dir), "store": {"data_dir": str(data_dir), "url": url}}),
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class Cli:
    """``vigil …`` in-process with a config file, its output with line wrapping undone."""

    config: Path

    def __call__(self, *args: str) -> CliOutcome:
        result = CliRunner().invoke(app, [*args, "--config", str(self.config)], env={"COLUMNS": "200"})
        return CliOutcome(result.exit_code, flat(result.stdout), flat(result.stderr), result)


@dataclass(frozen=True)
class CliOutcome:
    code: int
    out: str
    err: str
    result: Result

    def table(self) -> list[list[str]]:
        """The body rows of a Rich table printed on stdout, as cell texts."""
        return [
            [cell.strip() for cell in line.strip().strip("│").split("│")]
            for line in self.result.stdout.splitlines()
            if line.startswith("│")
        ]

    def __str__(self) -> str:  # what a failed assertion shows
        return f"exit {self.code}\nstdout: {self.out}\nstderr: {self.err}\n{self.result.exception!r}"


def flat(text: str) -> str:
    """Text with every run of whitespace made one space (Rich wraps at 80 columns under test)."""
    return " ".join(text.split())


def configured_vector(config: VigilConfig) -> tuple[str, int, bytes]:
    """A unit vector stamped with ``config``'s embedder (model id, dimension, bytes): what a seeded
    enrolment photo needs so that the gallery loads and the server does not ask for a re-embedding."""
    embed = config.embed
    spec = spec_for(embed.type, getattr(embed, "model", None))
    assert spec is not None, embed
    return model_id(spec, embed.flip), spec.dim, np.full(spec.dim, spec.dim**-0.5, np.float32).tobytes()
