"""The composition root: every long-lived object is built here from a config, nowhere else."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import faiss

from vigil.bestshot import BestShotSelector
from vigil.config import VigilConfig
from vigil.detect import Detector, build_detector
from vigil.detect.align import BOX_SHAPES, FaceAligner, Landmarker
from vigil.embed.base import Embedder
from vigil.embed.dlib_resnet import DlibResNetEmbedder
from vigil.embed.stills import StillEncoder
from vigil.errors import StoreError
from vigil.match.track import TrackIdentifier
from vigil.match.watchlist import Watchlist
from vigil.models import dlib_model_paths
from vigil.runtime.pipeline import SourcePipeline
from vigil.services.enrol import EnrolmentService
from vigil.services.gallery import load_gallery
from vigil.services.lists import ListService
from vigil.services.people import PeopleService
from vigil.store.db import Database
from vigil.store.media import MediaStore
from vigil.store.migrate import ensure_schema
from vigil.store.paths import data_dir, database_url
from vigil.track import IouTracker
from vigil.track.cuts import SceneCutDetector


def configure_libraries() -> None:
    """Process-wide settings of the native libraries, made here rather than at import.

    - OpenCV's DNN warns about compute targets on every net it loads; Vigil logs what matters itself.
    - FAISS searches on one thread: Vigil searches one probe at a time (a track, a photo), and on a
      2-core machine OpenMP's hand-off costs more than it saves: p99 of one 1:N search over 10^6 faces
      is 31 ms on one thread against 83 ms on two (docs/benchmarks.md). Parallelism comes from
      processing cameras in separate processes.
    """
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    faiss.omp_set_num_threads(1)


@dataclass(frozen=True)
class Engine:
    """The recognition engine's shared, stateless-per-frame parts (models are loaded once)."""

    config: VigilConfig
    detector: Detector
    aligner: FaceAligner
    embedder: Embedder
    stills: StillEncoder

    def new_watchlist(self) -> Watchlist:
        return Watchlist(model_id=self.embedder.model_id, dim=self.embedder.dim)

    def pipeline(self, source_id: str, watchlist: Watchlist) -> SourcePipeline:
        """Fresh per-source state (tracker, selector, track decisions) over the shared models."""
        cfg = self.config
        return SourcePipeline(
            source_id=source_id,
            detector=self.detector,
            aligner=self.aligner,
            embedder=self.embedder,
            tracker=IouTracker(cfg.tracker),
            selector=BestShotSelector(cfg.bestshot),
            identifier=TrackIdentifier(watchlist, cfg.match),
            detect_every=cfg.pipeline.detect_every,
            cuts=SceneCutDetector(cfg.pipeline.scene_cut_diff),
        )


def build_engine(config: VigilConfig) -> Engine:
    """Load the models named by ``config`` and wire the stages."""
    configure_libraries()
    detector = build_detector(config.detector, config.model_dir)
    dlib_models = dlib_model_paths()
    aligner = FaceAligner(Landmarker(dlib_models.shape_predictor_5), BOX_SHAPES[detector.name])
    embedder = DlibResNetEmbedder(dlib_models.resnet, flip=config.embed.flip)
    return Engine(config, detector, aligner, embedder, StillEncoder(detector, aligner, embedder))


@dataclass(frozen=True)
class Store:
    """The database and media folder, and the services that need no models."""

    config: VigilConfig
    db: Database
    media: MediaStore
    lists: ListService
    people: PeopleService

    def enrolment(self, engine: Engine) -> EnrolmentService:
        """Enrolment over ``engine``'s models, its gallery rebuilt from the database (the truth)."""
        gallery = load_gallery(self.db, engine.embedder.model_id, engine.embedder.dim)
        cfg = self.config
        return EnrolmentService(
            self.db, self.media, engine.stills, gallery,
            ingest=cfg.ingest, gate=cfg.enrol, duplicate_threshold=cfg.match.threshold,
        )  # fmt: skip


def open_store(config: VigilConfig, *, create: bool = True) -> Store:
    """Connect to the configured database (SQLite in the data dir by default) and check its schema."""
    configure_libraries()
    root = data_dir(config.store)
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StoreError(f"cannot use the data dir {root}: {exc.strerror or exc}") from exc
    db = Database.from_url(database_url(config.store))
    if create:
        ensure_schema(db.engine)
    media = MediaStore(root / "media")
    return Store(config, db, media, ListService(db), PeopleService(db, media))
