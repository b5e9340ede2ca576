"""The composition root: every long-lived object is built here from a config, nowhere else."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.queues import Queue

import cv2
import faiss
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from vigil.alerts.dispatch import Dispatcher
from vigil.alerts.hub import AlertHub
from vigil.alerts.mqtt import MqttSink
from vigil.alerts.outbox import Outbox
from vigil.alerts.relay import AlertRelay
from vigil.alerts.router import AlertRouter
from vigil.alerts.sink import Sink
from vigil.alerts.webhook import WebhookSink
from vigil.alerts.webhook import sink_name as webhook_sink_name
from vigil.api.app import create_app
from vigil.api.state import ApiState
from vigil.bestshot import BestShotSelector
from vigil.config import MatchConfig, SearchConfig, VigilConfig, YuNetConfig
from vigil.detect import Detector, build_detector
from vigil.embed import build_face_model, default_threads
from vigil.embed.base import Aligner, Embedder, FaceModel
from vigil.embed.stills import StillEncoder
from vigil.errors import BadInput, ConfigError, StoreError
from vigil.ingest.netpolicy import NetPolicy
from vigil.match.calibration import load_calibration, shipped_calibration
from vigil.match.gallery import Gallery
from vigil.match.thresholds import ListRule, ThresholdPolicy
from vigil.match.track import IdentitySearch, TrackIdentifier
from vigil.match.watchlist import Watchlist
from vigil.model_catalogue import EmbedderSpec, model_id, spec_for
from vigil.runtime.book import CameraRuntime
from vigil.runtime.messages import Control, Report
from vigil.runtime.metrics import LiveCollector
from vigil.runtime.pipeline import SourcePipeline
from vigil.runtime.ray_supervisor import RaySupervisor
from vigil.runtime.ray_supervisor import connect as connect_ray
from vigil.runtime.service import LeaderRunner, LiveService
from vigil.runtime.supervisor import CameraSupervisor
from vigil.runtime.worker import CameraWorker, ControlInbox, ReportSink
from vigil.search.archive import Archive, LiveArchive, SearchableArchive, recorded_since
from vigil.search.index import IvfSettings
from vigil.search.retro import RetroSearch
from vigil.search.service import PhotoSearch
from vigil.services.alert_feed import AlertFeed
from vigil.services.alerts import AlertService
from vigil.services.audit_log import AuditLog
from vigil.services.cameras import CameraService
from vigil.services.clusters import ClusterService, threshold_for
from vigil.services.enrol import EnrolmentDesk, EnrolmentService
from vigil.services.events import EventRecorder
from vigil.services.evidence import EvidenceDesk
from vigil.services.evidence_archive import load_or_create_signing_key
from vigil.services.evidence_video import FaceRedactor
from vigil.services.footage import FootageImport
from vigil.services.footage_jobs import FootageJobs
from vigil.services.gallery import FreshGallery, gallery_fingerprint, load_gallery
from vigil.services.history import EventHistory
from vigil.services.links import MediaLinks, load_or_create_key
from vigil.services.lists import ListService
from vigil.services.login_throttle import SharedLoginThrottle
from vigil.services.people import PeopleService
from vigil.services.placements import PlacementStore
from vigil.services.reembed import check_gallery_model
from vigil.services.report import ReportService
from vigil.services.retention import RetentionPurge
from vigil.services.scopes import AlertScopes, UserScopes
from vigil.services.users import Bootstrap, UserService
from vigil.store.db import Database
from vigil.store.lease import Lease, LeaseKeeper
from vigil.store.media import MediaStore
from vigil.store.migrate import ensure_schema
from vigil.store.notify import ALERTED, GALLERY, OUTBOX, ChangeListener
from vigil.store.paths import data_dir, database_url
from vigil.track import IouTracker
from vigil.track.cuts import SceneCutDetector
from vigil.types import FloatArray, IntArray

log = logging.getLogger(__name__)


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
    face_model: FaceModel
    stills: StillEncoder

    @property
    def aligner(self) -> Aligner:
        return self.face_model.aligner

    @property
    def embedder(self) -> Embedder:
        return self.face_model.embedder

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def new_watchlist(self) -> Watchlist:
        return Watchlist(model_id=self.embedder.model_id, dim=self.embedder.dim)

    def pipeline(
        self, source_id: str, watchlist: IdentitySearch, match: MatchConfig | None = None
    ) -> SourcePipeline:
        """Fresh per-source state (tracker, selector, track decisions) over the shared models.

        ``match`` overrides the configured decision rule (the live service decides at the lowest list
        threshold and lets each list's own threshold pick its alerts).
        """
        cfg = self.config
        return SourcePipeline(
            source_id=source_id,
            detector=self.detector,
            aligner=self.aligner,
            embedder=self.embedder,
            tracker=IouTracker(cfg.tracker),
            selector=BestShotSelector(cfg.bestshot),
            identifier=TrackIdentifier(watchlist, match or cfg.match),
            detect_every=cfg.pipeline.detect_every,
            cuts=SceneCutDetector(cfg.pipeline.scene_cut_diff),
        )


def build_engine(config: VigilConfig, threads: int | None = None) -> Engine:
    """Load the models named by ``config`` and wire the stages (inference on ``threads`` threads, by
    default every core)."""
    configure_libraries()
    detector = build_detector(config.detector, config.model_dir)
    face = build_face_model(config.embed, config.model_dir, detector.name, threads or default_threads(1))
    return Engine(config, detector, face, StillEncoder(detector, face.aligner, face.embedder))


def _embedder_spec(config: VigilConfig) -> EmbedderSpec:
    spec = spec_for(config.embed.type, getattr(config.embed, "model", None))
    if spec is None:
        raise ConfigError(f"embed: unknown embedder {config.embed.type}")
    return spec


def embedder_identity(config: VigilConfig) -> tuple[str, int]:
    """The model id and dimension of the configured embedder's vectors, without loading it."""
    spec = _embedder_spec(config)
    return model_id(spec, config.embed.flip), spec.dim


def embedder_name(config: VigilConfig) -> str:
    """The configured embedder's catalogue name (what ``vigil db reembed --model`` takes)."""
    return _embedder_spec(config).name


def threshold_policy(config: VigilConfig) -> ThresholdPolicy:
    """Each list's rule from ``match`` and the embedder's calibration (the configured file, else the one
    Vigil ships for the model).

    Raises:
        ConfigError: the calibration file is unreadable or belongs to another model.
    """
    model, _ = embedder_identity(config)
    path = config.match.calibration
    try:
        calibration = load_calibration(path) if path is not None else shipped_calibration(model)
    except BadInput as exc:
        raise ConfigError(f"match.calibration: {exc}") from exc
    if calibration is not None and calibration.model_id != model:
        raise ConfigError(
            f"match.calibration: {path} calibrates {calibration.model_id}, but the embedder is {model} "
            "(scores of different models are not comparable: make one with `vigil calibrate build`)"
        )
    if calibration is None and config.match.fpir is not None:
        log.warning(
            "no calibration for %s: every list uses match.threshold %.3f", model, config.match.threshold
        )
    return ThresholdPolicy(config.match, calibration)


def folder_rule(config: VigilConfig, watchlist: Watchlist) -> tuple[MatchConfig, ListRule]:
    """The decision rule for a watchlist enrolled from a folder (``vigil scan``): the threshold calibrated
    for its number of people, as a stored list of that size would have."""
    rule = threshold_policy(config).rule(len(watchlist.identities))
    return config.match.model_copy(update={"threshold": rule.threshold}), rule


@dataclass(frozen=True)
class Store:
    """The database and media folder, and the services that need no models."""

    config: VigilConfig
    db: Database
    media: MediaStore
    lists: ListService
    people: PeopleService
    policy: ThresholdPolicy

    def enrolment(self, engine: Engine) -> EnrolmentService:
        """Enrolment over ``engine``'s models, its gallery rebuilt from the database (the truth).

        Raises:
            StoreError: people enrolled with another embedder have no vector of this one yet.
        """
        check_gallery_model(self.db, engine.model_id, engine.face_model.spec.name)
        gallery = load_gallery(self.db, engine.embedder.model_id, engine.embedder.dim)
        cfg = self.config
        return EnrolmentService(
            self.db, self.media, engine.stills, gallery,
            ingest=cfg.ingest, gate=cfg.enrol, duplicate_threshold=cfg.match.threshold,
        )  # fmt: skip

    def photo_search(
        self,
        stills: Callable[[], StillEncoder],
        gallery: Callable[[], Gallery],
        archive: Callable[[], SearchableArchive],
    ) -> PhotoSearch:
        """Search by photo (and recognition of every face of a photo) over the face models, gallery and
        archive given (each asked for per search), lists judged by the store's threshold policy."""
        cfg = self.config
        return PhotoSearch(
            self.db, self.media, stills=stills, gallery=gallery, archive=archive, ingest=cfg.ingest,
            min_score=cfg.search.min_score, policy=self.policy, shots=cfg.bestshot,
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
    policy = threshold_policy(config)
    return Store(config, db, media, ListService(db, policy), PeopleService(db, media), policy)


def media_links(config: VigilConfig) -> MediaLinks:
    """Signed best-shot links (the key lives in the data dir, shared by every process of this store)."""
    server = config.server
    return MediaLinks(
        load_or_create_key(data_dir(config.store) / "link.key"),
        server.public_url or f"http://{server.host}:{server.port}",
        server.image_link_hours * 3600,
    )


def network_policy(config: VigilConfig) -> NetPolicy:
    """The addresses cameras and webhooks may reach (``network``)."""
    return NetPolicy(config.network.deny, config.network.allow)


def build_sinks(config: VigilConfig) -> list[Sink]:
    """The alert channels besides the WebSocket: the configured webhooks, and MQTT."""
    timeout = config.alerts.delivery.timeout_s
    network = network_policy(config)
    sinks: list[Sink] = [WebhookSink(w, timeout, network=network) for w in config.alerts.webhooks]
    if config.alerts.mqtt is not None:
        sinks.append(MqttSink(config.alerts.mqtt, timeout))
    return sinks


def sink_names(config: VigilConfig) -> list[str]:
    """The configured channels' names, without connecting to them (outbox rows are keyed by them)."""
    names = [webhook_sink_name(w) for w in config.alerts.webhooks]
    return names + ([MqttSink.name] if config.alerts.mqtt is not None else [])


def build_footage(
    config: VigilConfig,
    store: Store,
    engine: Engine,
    on_archived: Callable[[IntArray, FloatArray], None] | None = None,
) -> FootageImport:
    """Recorded footage into ``store``: its alerts wait in the outbox for a running ``vigil serve``;
    ``on_archived`` gets the tracks it records (a server's live archive)."""
    check_gallery_model(store.db, engine.model_id, engine.face_model.spec.name)
    names = sink_names(config)
    router = AlertRouter(
        config.alerts, store.policy, Outbox(store.db), names, media_links(config).event_image
    )
    keep = config.retention.unmatched_hours > 0
    recorder = EventRecorder(store.db, store.media, router, engine.model_id, keep_unmatched=keep)
    if on_archived is not None:
        recorder.on_archived(on_archived)
    return FootageImport(store.db, engine, recorder, policy=store.policy)


def build_live(config: VigilConfig, store: Store, workers: int | None = None) -> LiveService:
    """The live service over ``store``: camera workers, recorder, alert router, deliveries, metrics.

    The models are loaded in the worker processes, not here.
    """
    cfg = config
    model_id, dim = embedder_identity(cfg)
    links = media_links(cfg)
    outbox = Outbox(store.db)
    sinks = build_sinks(cfg)
    router = AlertRouter(cfg.alerts, store.policy, outbox, [s.name for s in sinks], links.event_image)
    n_workers = workers or cfg.live.workers or os.cpu_count() or 1
    cfg = cfg.model_copy(update={"live": cfg.live.model_copy(update={"workers": n_workers})})
    supervisor = camera_runtime(cfg, store, n_workers)
    dispatcher = Dispatcher(outbox, sinks, cfg.alerts.delivery)
    hub = AlertHub()
    runner = LeaderRunner(supervisor)
    cameras = CameraService(store.db, runner, cfg.live.file_roots, network_policy(cfg))
    for sink in sinks:
        if isinstance(sink, MqttSink):  # Home Assistant discovery of the cameras (when configured)
            sink.follow_cameras(lambda: [c.name for c in cameras.all()])
            cameras.on_change(sink.refresh)
    alerts = AlertService(store.db, router, links.event_image)
    registry = CollectorRegistry()
    keep = cfg.retention.unmatched_hours > 0
    recorder = EventRecorder(store.db, store.media, router, model_id, keep_unmatched=keep)
    # Whichever process records a track (these cameras, `vigil scan --store`, another server), the archive
    # reads it from the store before the next search.
    archive = LiveArchive(
        archive_loader(cfg, store, model_id, dim), lambda cursor: recorded_since(store.db, model_id, cursor)
    )
    feed = AlertFeed(store.db, links.event_image)  # and its alerts reach this server's WebSocket
    gallery = FreshGallery(store.db, model_id, dim)
    retro = RetroSearch(
        store.db, router, archive=archive.get, gallery=gallery.get, days=cfg.search.retro_days,
        policy=store.policy,
    )  # fmt: skip
    live = LiveService(
        config=cfg, supervisor=supervisor, recorder=recorder, dispatcher=dispatcher, hub=hub, cameras=cameras,
        alerts=alerts, registry=registry, links=links, archive=archive, gallery=gallery, retro=retro,
        retention=RetentionPurge(store.db, store.media, cfg.retention, forget=archive.remove),
        relay=AlertRelay(store.db, hub, feed.admit), feed=feed,
        changes=ChangeListener(store.db, [ALERTED, OUTBOX]),
    )  # fmt: skip
    registry.register(LiveCollector(supervisor, dispatcher, outbox, hub, cameras.names))
    check_s = cfg.runtime.leader_check_s
    lease = Lease(store.db, "live", data_dir(cfg.store))
    live.leader = LeaseKeeper(lease, live.lead, live.lost_lead, retry_s=check_s, check_s=check_s)
    runner.leading = lambda: live.leading
    return live


def archive_loader(
    config: VigilConfig, store: Store, model_id: str, dim: int
) -> Callable[[], SearchableArchive]:
    """How a server loads its archive index: in this process, or sharded over the Ray cluster's actors
    (``runtime.ray.archive_shards``)."""
    ivf = ivf_settings(config.search)
    shards = config.runtime.ray.archive_shards if config.runtime.type == "ray" else 0
    if not shards:
        return lambda: Archive.load(store.db, model_id, dim, ivf)

    def sharded() -> SearchableArchive:
        from vigil.runtime.ray_archive import ShardedArchive  # noqa: PLC0415 (the optional extra)

        ray = connect_ray(config.runtime.ray)
        return ShardedArchive.load(ray, config.store, model_id, dim, shards, ivf=ivf)

    return sharded


def camera_runtime(config: VigilConfig, store: Store, workers: int) -> CameraRuntime:
    """The configured runtime: ``workers`` local processes, or camera actors on a Ray cluster (joined
    here: an unreachable cluster stops the start with one clear error)."""
    placements = PlacementStore(store.db)
    runtime: CameraRuntime
    if config.runtime.type == "ray":
        ray = connect_ray(config.runtime.ray)
        runtime = RaySupervisor(config, ray, actor_camera_worker, previous=placements.all())
    else:
        runtime = CameraSupervisor(config, workers, camera_worker_main)
    runtime.attach_placements(placements.record, reset=placements.clear)
    return runtime


def actor_camera_worker(
    index: int, config: VigilConfig, threads: int, control: ControlInbox, out: ReportSink
) -> CameraWorker:
    """The composition root of a camera actor's worker (in the actor's process, on its node)."""
    return build_camera_worker(index, config, threads, control=control, out=out)


def camera_worker_main(
    worker_id: int, config: VigilConfig, control: Queue[Control], out: Queue[Report]
) -> None:
    """The composition root of a camera worker process (spawned: it builds its own models and store)."""
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s worker-{worker_id} %(levelname)s %(name)s: %(message)s"
    )
    parent = mp.parent_process()

    def service_alive() -> bool:
        return parent is None or parent.is_alive()

    def orphaned() -> None:
        # Exit without waiting to flush the reports: the queue's pipe may be full, and its read end is
        # still open in the other workers.
        out.cancel_join_thread()

    build_camera_worker(
        worker_id, config, default_threads(config.live.workers), control=control, out=out,
        service_alive=service_alive, on_orphaned=orphaned,
    ).run()  # fmt: skip


def build_camera_worker(
    worker_id: int,
    config: VigilConfig,
    threads: int,
    *,
    control: ControlInbox,
    out: ReportSink,
    service_alive: Callable[[], bool] = lambda: True,
    on_orphaned: Callable[[], None] = lambda: None,
) -> CameraWorker:
    """A camera worker's models, store and loop, whatever hosts it (a worker process, a Ray actor):
    inference on ``threads`` threads (its share of the cores: cameras run in parallel workers, whose
    OpenCV and onnxruntime threads would only compete for the same cores)."""
    engine = build_engine(config, threads)
    cv2.setNumThreads(threads)
    store = open_store(config, create=False)
    changes = ChangeListener(store.db, [GALLERY])  # PostgreSQL: list changes arrive at once (SQLite: poll)
    changes.start()
    return CameraWorker(
        worker_id, config, pipelines=engine, db=store.db, policy=store.policy, control=control, out=out,
        network=network_policy(config), service_alive=service_alive, on_orphaned=on_orphaned,
        gallery_changed=lambda: changes.changed(GALLERY),
    )  # fmt: skip


@dataclass(frozen=True)
class Server:
    """``vigil serve``'s parts: the HTTP app, the live service, and the first start's credentials."""

    app: FastAPI
    live: LiveService
    jobs: FootageJobs
    bootstrap: Bootstrap | None
    clusters: ClusterService


class LazyEngine:
    """The face models of a process that needs them only now and then (the API: enrolment and search),
    loaded at first use, once (the camera workers have their own)."""

    def __init__(self, config: VigilConfig) -> None:
        self._config = config
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = build_engine(self._config)
            return self._engine


def ivf_settings(config: SearchConfig) -> IvfSettings:
    return IvfSettings(config.ivf_min_faces, config.ivf_nlist, config.ivf_nprobe)


def redaction_detector(config: VigilConfig) -> Detector:
    """A detector more sensitive than the cameras' (YuNet: score 0.5 or less, faces from 10 px), for the
    faces to blur in exported video: a face too faint for the cameras to judge is blurred all the same."""
    det = config.detector
    if isinstance(det, YuNetConfig):
        det = det.model_copy(update={"score_threshold": min(det.score_threshold, 0.5), "min_face_px": 10})
    return build_detector(det, config.model_dir)


def build_evidence(config: VigilConfig, store: Store, engine: Callable[[], Engine]) -> EvidenceDesk:
    """Evidence exports signed with the store's key (``evidence.key`` in the data dir, made at first use);
    the face models are loaded only for an export with a video segment."""
    key_path = data_dir(config.store) / "evidence.key"

    def redactor() -> tuple[FaceRedactor, str]:
        models = engine()
        return FaceRedactor(redaction_detector(config), models.stills), models.model_id

    return EvidenceDesk(store.db, store.media, config, lambda: load_or_create_signing_key(key_path), redactor)


def build_api_state(config: VigilConfig, store: Store, users: UserService, live: LiveService) -> ApiState:
    """The services the API routes use. The face models are loaded at the first enrolment or search (the
    live service's archive at the first search)."""
    engine = LazyEngine(config)
    search = store.photo_search(lambda: engine().stills, live.gallery.get, live.archive.get)
    jobs = FootageJobs(
        store.db, store.media, lambda: build_footage(config, store, engine(), live.archive.add),
        config.ingest,
        max_upload_bytes=int(config.server.max_upload_mb * 1e6),
    )  # fmt: skip
    return ApiState(
        config=config, db=store.db, media=store.media, users=users, live=live, lists=store.lists,
        people=store.people, history=EventHistory(store.db), scopes=AlertScopes(store.db), search=search,
        footage=jobs, limits=UserScopes(store.db), evidence=build_evidence(config, store, engine),
        audit=AuditLog(store.db), reports=ReportService(store.db, store.lists),
        enrolment=EnrolmentDesk(lambda: store.enrolment(engine()), lambda: gallery_fingerprint(store.db)),
        clusters=build_clusters(config, store),
    )  # fmt: skip


def build_clusters(config: VigilConfig, store: Store) -> ClusterService:
    """The clusters of unknown tracks of the configured embedder (``clusters``)."""
    model_id, dim = embedder_identity(config)
    try:
        threshold = threshold_for(config.clusters, embedder_name(config))
    except BadInput as exc:
        raise ConfigError(str(exc)) from exc
    return ClusterService(
        store.db, store.media, config.clusters, config.retention, model_id=model_id, dim=dim,
        threshold=threshold,
    )  # fmt: skip


def build_server(config: VigilConfig, workers: int | None = None) -> Server:
    """The store, users (the first start creates the administrator), the live service and the API."""
    store = open_store(config)
    model, _ = embedder_identity(config)
    check_gallery_model(store.db, model, embedder_name(config))
    # Several API processes may share a PostgreSQL store: the brake on guessing counts across them.
    throttle = SharedLoginThrottle(store.db) if store.db.engine.dialect.name == "postgresql" else None
    users = UserService(store.db, config.server.session_hours, throttle=throttle)
    bootstrap = users.bootstrap_admin()
    live = build_live(config, store, workers)
    state = build_api_state(config, store, users, live)
    return Server(create_app(state), live, state.footage, bootstrap, state.clusters)
