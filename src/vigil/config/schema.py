"""Vigil's configuration: pydantic models only, strict, every field documented with its bounds."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.model_catalogue import DEFAULT_ONNX_MODEL, ONNX_EMBEDDERS, spec_for

DEFAULT_THRESHOLD = ONNX_EMBEDDERS[DEFAULT_ONNX_MODEL].threshold
"""The default embedder's 1:1 threshold (each embedder brings its own: see ``_calibrated_defaults``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class IngestConfig(_Strict):
    """Limits on what Vigil agrees to decode."""

    max_image_pixels: int = Field(
        40_000_000, ge=1, description="Largest still image accepted, in pixels (decompression-bomb guard)."
    )
    max_image_bytes: int = Field(50_000_000, ge=1, description="Largest still image file accepted, in bytes.")
    open_timeout_s: float = Field(10.0, gt=0, le=300, description="Time-out for opening a stream, seconds.")
    read_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Time-out for one read on a stream, seconds."
    )


class YuNetConfig(_Strict):
    """YuNet (OpenCV Zoo), the default detector: boxes plus 5 landmarks."""

    type: Literal["yunet"] = Field("yunet", description="Chooses this detector.")
    score_threshold: float = Field(0.7, ge=0.0, le=1.0, description="Minimum detector score to keep a face.")
    nms_threshold: float = Field(0.3, ge=0.0, le=1.0, description="IoU above which overlapping boxes merge.")
    min_face_px: int = Field(
        20, ge=8, le=4096, description="Faces whose shorter side is smaller are dropped."
    )
    max_input_side: int = Field(
        1280, ge=160, le=4096, description="Frames are downscaled so their longer side is at most this."
    )


class HogConfig(_Strict):
    """dlib's HOG detector: slower, frontal faces only, no model file needed (the fallback)."""

    type: Literal["hog"] = Field("hog", description="Chooses this detector.")
    upsample: int = Field(1, ge=0, le=3, description="Times the image is upsampled to find small faces.")
    score_threshold: float = Field(0.0, ge=-1.0, le=3.0, description="Minimum HOG SVM score to keep a face.")
    min_face_px: int = Field(
        20, ge=8, le=4096, description="Faces whose shorter side is smaller are dropped."
    )


DetectorConfig = Annotated[YuNetConfig | HogConfig, Field(discriminator="type")]


class TrackerConfig(_Strict):
    """The multi-face tracker (identity over time inside one camera)."""

    iou_threshold: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Least IoU between a predicted track box and a detection to link them.",
    )
    max_missed_ms: int = Field(
        800, ge=0, le=60_000, description="A track unseen for longer than this ends (the person left)."
    )
    min_hits: int = Field(2, ge=1, le=50, description="Detections needed before a track is reported.")
    centre_gate: float = Field(
        0.75,
        ge=0.0,
        le=5.0,
        description="Also link a detection to a track when their IoU is too low but the centres are within "
        "this many face sizes and the sizes agree (fast faces); 0 links by IoU only. Neighbours in a crowd "
        "sit about one face size apart, so 0.75 does not reach them.",
    )


class BestShotConfig(_Strict):
    """Which crops of a track are worth embedding."""

    max_shots: int = Field(3, ge=1, le=50, description="At most this many shots are embedded per track (K).")
    min_quality: float = Field(
        0.35, ge=0.0, le=1.0, description="Shots below this total quality are ignored."
    )
    improve_by: float = Field(
        0.08, ge=0.0, le=1.0, description="A later shot is embedded only if it beats the best so far by this."
    )
    min_face_px: int = Field(32, ge=8, le=4096, description="Shots smaller than this are never embedded.")
    min_sharpness: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Shots blurrier or darker than this are never embedded (see quality).",
    )
    refresh_ms: int = Field(
        1000,
        ge=0,
        le=600_000,
        description="Once this long after the last embedded shot, a shot nearly as good (within improve_by "
        "of the best) is embedded too, so a long track is judged on views spread over time.",
    )


class OnnxEmbedConfig(_Strict):
    """A face embedder in ONNX (onnxruntime), chips aligned to the ArcFace template from the detector's
    landmarks: the default. The model file is found like YuNet's and accepted only with its sha256."""

    type: Literal["onnx"] = Field("onnx", description="Chooses an ONNX embedder.")
    model: Literal["fused-fr512-mfn192", "faceplugin-fr512", "mobilefacenet-sirius"] = Field(
        "fused-fr512-mfn192",
        description="Which network: fused-fr512-mfn192 runs faceplugin-fr512 and mobilefacenet-sirius on "
        "the same chip and averages their scores (`vigil models ls` shows each with its files, licence "
        "and accuracy).",
    )
    flip: bool = Field(
        False,
        description="Average the vector with that of the mirrored chip (a second pass; no gain measured "
        "for the default model, see docs/accuracy.md).",
    )
    threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Threads per inference [the worker's share of the cores: cameras run in parallel "
        "processes].",
    )


class DlibEmbedConfig(_Strict):
    """dlib's ResNet (128-d, from face_recognition_models), the original embedder."""

    type: Literal["dlib"] = Field("dlib", description="Chooses dlib's ResNet embedder.")
    flip: bool = Field(
        True, description="Average the vector with that of the mirrored crop (test-time augmentation)."
    )


EmbedConfig = Annotated[OnnxEmbedConfig | DlibEmbedConfig, Field(discriminator="type")]


def embed_config_for(name: str) -> OnnxEmbedConfig | DlibEmbedConfig:
    """The default ``embed`` section for an embedder named as in the catalogue."""
    return DlibEmbedConfig() if name == "dlib-resnet-v1" else OnnxEmbedConfig(model=name)


class MatchConfig(_Strict):
    """Open-set identification against watchlists: how close a face must be to a listed person."""

    fpir: float | None = Field(
        0.001,
        gt=0.0,
        lt=1.0,
        description="False alerts accepted per unknown track (0.001: 1 in 1,000), for lists without their "
        "own: each list's threshold is the one calibrated for this rate at the list's size, recomputed as "
        "it grows (`vigil calibrate show`). Null: match.threshold for every list. Giving match.threshold "
        "without match.fpir sets it null.",
    )
    threshold: float = Field(
        DEFAULT_THRESHOLD,
        ge=-1.0,
        le=1.0,
        description="Least cosine similarity for an identification: the floor of every calibrated "
        "threshold, and the threshold itself when match.fpir is null [the embedder's 1:1 threshold at FAR "
        "0.1% on LFW: 0.36 for the default fusion, 0.30 for faceplugin-fr512, 0.92 for dlib; see "
        "docs/accuracy.md]. Scores of different "
        "embedders are not comparable: set it again when changing embed.",
    )
    min_margin: float = Field(
        0.0, ge=0.0, le=2.0, description="Least lead over the runner-up identity for an identification."
    )
    calibration: Path | None = Field(
        None,
        description="A calibration file of the configured embedder (`vigil calibrate build`, e.g. with "
        "`--strangers store` on the site's own unknown tracks) [the one Vigil ships for the embedder, made "
        "from LFW].",
    )


class StoreConfig(_Strict):
    """Where Vigil keeps what it must remember."""

    data_dir: Path | None = Field(
        None, description="Database file (SQLite), photos and crops live here [the user data dir]."
    )
    url: str | None = Field(
        None,
        description="Database URL: postgresql+psycopg://user@host/db for a cluster; unset means SQLite in "
        "data_dir. Prefer the VIGIL_DATABASE_URL environment variable for URLs holding a password.",
    )


class EnrolConfig(_Strict):
    """The quality gate for watchlist photos: exactly one face, large, sharp and roughly frontal."""

    min_face_px: int = Field(80, ge=20, le=4096, description="Least shorter side of the face box, pixels.")
    min_sharpness: float = Field(0.3, ge=0.0, le=1.0, description="Least sharpness (see bestshot.quality).")
    min_frontal: float = Field(
        0.5, ge=0.0, le=1.0, description="Least frontal score: 0.5 is about 30 degrees of yaw."
    )


class PipelineConfig(_Strict):
    """How the stages are run over a stream."""

    detect_every: int = Field(
        3, ge=1, le=60, description="Run the detector on every Nth frame; the tracker predicts in between."
    )
    scene_cut_diff: float = Field(
        20.0,
        ge=0.0,
        le=255.0,
        description="Mean grey-level change between consecutive frames (on a 32×18 thumbnail) taken as a "
        "cut in edited video: every track ends there. 0 turns cut detection off.",
    )


class ServerConfig(_Strict):
    """The HTTP API of ``vigil serve``."""

    host: str = Field("127.0.0.1", description="Address to listen on (loopback unless you mean otherwise).")
    port: int = Field(8470, ge=0, le=65535, description="Port to listen on (0: any free port).")
    public_url: str | None = Field(
        None,
        description="How others reach this server, e.g. https://vigil.example.org; used in the image links "
        "of webhook and MQTT alerts [http://host:port].",
    )
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="How long a sign-in session lasts.")
    image_link_hours: float = Field(
        24.0, gt=0, le=24 * 30, description="How long a signed best-shot image link in an alert stays valid."
    )
    max_upload_mb: float = Field(
        4096.0, gt=0, le=1 << 20, description="Largest video accepted by POST /footage, in MB."
    )


class LiveConfig(_Strict):
    """How live cameras are run: worker processes, queues, time-outs, reconnects."""

    workers: int | None = Field(
        None, ge=1, le=64, description="Worker processes running cameras (detect + embed) [one per core]."
    )
    queue_frames: int = Field(
        2, ge=1, le=100, description="Decoded frames waiting per camera; when full the oldest is dropped."
    )
    max_fps: float = Field(
        10.0, gt=0, le=120, description="Most frames per second processed per camera; others are skipped."
    )
    watchdog_s: float = Field(
        10.0, gt=0, le=600, description="A camera that delivers no frame this long is restarted."
    )
    reconnect_initial_s: float = Field(0.5, gt=0, le=60, description="First wait before reconnecting.")
    reconnect_max_s: float = Field(
        30.0, gt=0, le=3600, description="Longest wait between reconnects (the wait doubles, with jitter)."
    )
    stats_interval_s: float = Field(1.0, gt=0, le=60, description="How often workers report camera status.")
    snapshot_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="How often a camera's latest frame is kept for the console (0: never).",
    )
    gallery_poll_s: float = Field(
        2.0, gt=0, le=3600, description="How often workers look for watchlist changes made elsewhere."
    )
    file_roots: tuple[Path, ...] = Field(
        (),
        description="Folders whose video files may be added as cameras through the API or console (a file "
        "elsewhere is refused, symlinks followed); empty: file cameras only from the config file's "
        "`cameras`. Only who writes the config can change it.",
    )


class RayConfig(_Strict):
    """The Ray cluster the cameras run on (``runtime.type: ray``; install ``vigil[cluster]``)."""

    address: str = Field(
        "auto",
        min_length=1,
        max_length=255,
        description="The cluster to join: `auto` (the cluster this machine is a node of, started with "
        "`ray start`), the head's `HOST:PORT` (6379 by default), or `ray://HOST:10001` (Ray Client).",
    )
    namespace: str = Field(
        "vigil", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="The Ray namespace of Vigil's actors."
    )
    actors_per_node: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Camera actors per node, each owning a group of cameras [one per CPU of the node].",
    )
    max_restarts: int = Field(
        3, ge=0, le=100, description="How often Ray starts a camera actor again after its process dies."
    )
    lost_after_s: float = Field(
        4.0,
        gt=0,
        le=300,
        description="A camera actor that does not answer this long is given up (with its node): its "
        "cameras start on the other actors.",
    )
    connect_timeout_s: float = Field(
        20.0, gt=0, le=600, description="How long `vigil serve` waits for the cluster at start."
    )
    archive_shards: int = Field(
        0,
        ge=0,
        le=1024,
        description="Shards of the archive's search index, each a Ray actor (spread over the nodes) that "
        "loads its share of the track templates from the database; a search fans out and merges. 0: "
        "the index lives in each `vigil serve` process.",
    )


class RuntimeConfig(_Strict):
    """Where camera workers run: processes on this machine, or actors on a Ray cluster."""

    type: Literal["local", "ray"] = Field(
        "local",
        description="`local`: worker processes on this machine (`live.workers`); `ray`: camera actors "
        "spread over a Ray cluster's nodes (the same stages; shared state in the database, so use "
        "PostgreSQL).",
    )
    ray: RayConfig = RayConfig()
    leader_check_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often a standby `vigil serve` tries to become the one that runs cameras and "
        "deliveries (and the leader checks it still is).",
    )


class CameraConfig(_Strict):
    """A camera declared in the config file (cameras can also be added through the API)."""

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$",
        description="Unique camera name (letters, digits, space, '.', '_', '-'); the config file owns it.",
    )
    url: str = Field(
        min_length=1,
        description="rtsp://, http(s):// (MJPEG, HLS), a video file path, or webcam:N. Credentials in the "
        "URL are never logged.",
    )
    loop: bool = Field(False, description="For a file: start again at its end.")
    enabled: bool = Field(True, description="False: declared but paused.")
    max_fps: float | None = Field(None, gt=0, le=120, description="Overrides live.max_fps for this camera.")
    latitude: float | None = Field(
        None, ge=-90, le=90, description="Where the camera is: WGS 84 latitude, degrees (with longitude)."
    )
    longitude: float | None = Field(
        None, ge=-180, le=180, description="WGS 84 longitude, degrees (with latitude)."
    )
    site: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The named site the camera is at (alerts.travel: cameras of one site are never judged "
        "by distance; a pair may name sites).",
    )

    @model_validator(mode="after")
    def _both_coordinates(self) -> CameraConfig:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


class WebhookConfig(_Strict):
    """An HTTP receiver of alerts, signed per Standard Webhooks (webhook-id, -timestamp, -signature)."""

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Names the receiver in logs and metrics (sink webhook:<name>).",
    )
    url: str = Field(pattern=r"^https?://", description="Where alerts are POSTed.")
    secret: str = Field(
        min_length=16,
        description="HMAC-SHA256 signing secret: 'whsec_' + base64 (Standard Webhooks), or any string of "
        "16+ characters used as it is. Keep the config file readable only by Vigil.",
    )
    lists: tuple[str, ...] = Field((), description="Only alerts on these watchlists [all lists].")


class MqttConfig(_Strict):
    """An MQTT broker that alerts are published to (Home Assistant friendly JSON)."""

    host: str = Field(min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    topic_prefix: str = Field(
        "vigil", min_length=1, max_length=128, pattern=r"^[^#+]+$", description="Topics are <prefix>/..."
    )
    username: str | None = Field(None, description="Broker user name, if the broker wants one.")
    password: str | None = Field(None, description="Broker password (VIGIL__ALERTS__MQTT__PASSWORD).")
    tls: bool = Field(False, description="Connect with TLS (system CA certificates).")
    client_id: str = Field("vigil", min_length=1, max_length=64, description="MQTT client id.")
    qos: Literal[0, 1, 2] = Field(1, description="Quality of service of alert messages.")
    discovery: bool = Field(
        True,
        description="Announce each camera to Home Assistant (MQTT discovery, retained): a sensor of the last "
        "person alerted on and an event entity of its alerts; removed with the camera.",
    )
    discovery_prefix: str = Field(
        "homeassistant", min_length=1, max_length=128, pattern=r"^[^#+]+$",
        description="Home Assistant's discovery prefix (its MQTT integration's setting).",
    )  # fmt: skip


class DeliveryConfig(_Strict):
    """Retries of webhook and MQTT deliveries (from the durable outbox)."""

    initial_backoff_s: float = Field(1.0, gt=0, le=3600, description="Wait after the first failure.")
    max_backoff_s: float = Field(300.0, gt=0, le=86400, description="Longest wait between attempts.")
    give_up_after_h: float = Field(
        24.0, gt=0, le=24 * 30, description="Give up on a message undelivered this long after the alert."
    )
    timeout_s: float = Field(10.0, gt=0, le=300, description="Time-out of one delivery attempt.")


class TravelPairConfig(_Strict):
    """The least time between two places, by name: for trips a straight line misjudges."""

    between: tuple[str, str] = Field(
        description="Two camera names or site names (or one of each), in either order."
    )
    min_s: float = Field(gt=0, le=30 * 86400, description="The least time the trip takes, seconds.")

    @model_validator(mode="after")
    def _two_places(self) -> TravelPairConfig:
        if self.between[0] == self.between[1]:
            raise ValueError(f"between names {self.between[0]!r} twice: a pair joins two places")
        return self


class TravelConfig(_Strict):
    """Impossible travel: a person seen on two cameras in less time than the trip between them takes
    raises the alert flagged `impossible_travel` (a look-alike, or two people sharing one identity).
    Cameras need a location (latitude/longitude, site) or a pair here."""

    enabled: bool = Field(True, description="Check each alert against the person's other recent sightings.")
    speed_kmh: float = Field(
        100.0,
        gt=0,
        le=1200,
        description="The fastest plausible trip in a straight line, km/h [100: by road between sites; "
        "a campus on foot: about 6].",
    )
    min_distance_m: float = Field(
        500.0,
        ge=0,
        le=1_000_000,
        description="Cameras closer than this are never judged by distance (location error, neighbouring "
        "doors).",
    )
    lookback_h: float = Field(
        24.0, gt=0, le=24 * 30, description="Sightings this far apart in time are not compared."
    )
    pairs: tuple[TravelPairConfig, ...] = Field(
        (), description="Explicit least trip times between cameras or sites (they win over the distance)."
    )


class AlertsConfig(_Strict):
    """Turning identifications into alerts, and where alerts go."""

    cooldown_s: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="After an alert for a person on a camera, further sightings there raise no new alert "
        "for this long (they are still recorded as events).",
    )
    webhooks: tuple[WebhookConfig, ...] = ()
    mqtt: MqttConfig | None = None
    delivery: DeliveryConfig = DeliveryConfig()
    travel: TravelConfig = TravelConfig()


class RetentionConfig(_Strict):
    """How long Vigil keeps what it saw. Faces that matched no list go first; alerts follow their list's
    ``retention_days``."""

    unmatched_hours: float = Field(
        24.0,
        ge=0,
        le=24 * 3650,
        description="Events of faces that matched no list are deleted after this many hours; 0: their crops "
        "and embeddings are never written to disk (and their rows go at the next purge).",
    )
    probe_days: float = Field(
        30.0,
        ge=0,
        le=3650,
        description="Photos searched with are kept this many days (their hash stays in the audit).",
    )
    purge_every_s: float = Field(
        3600.0,
        gt=0,
        le=7 * 86400,
        description="How often `vigil serve` runs the purge (`vigil purge` runs it now).",
    )


class SearchConfig(_Strict):
    """Search by photo over the watchlists and the archive of past detections."""

    min_score: float = Field(
        DEFAULT_THRESHOLD,
        ge=-1,
        le=1,
        description="Candidates scoring below this are not shown unless a search asks (default: the "
        "calibrated match threshold; lower it to see weaker candidates, with more strangers among them).",
    )
    retro_days: float = Field(
        7.0,
        ge=0,
        le=3650,
        description="When a person is put on a list, the archive of this many past days is searched and "
        "their earlier sightings raise retro-alerts (marked as such); 0: off.",
    )
    ivf_min_faces: int = Field(
        200_000, ge=1_000, description="Exact search of the archive below this many faces, FAISS IVF above."
    )
    ivf_nlist: int | None = Field(
        None, ge=16, le=1 << 20, description="IVF cells (k-means centroids); null: 4·√N when built."
    )
    ivf_nprobe: int = Field(
        128, ge=1, le=1 << 20, description="IVF cells compared with each query: recall against speed."
    )


class ClustersConfig(_Strict):
    """Clusters of unknown faces: archived tracks that matched no list, grouped by who they look like
    (``vigil serve`` keeps them; they expire with their tracks, and there are none when
    ``retention.unmatched_hours`` is 0)."""

    enabled: bool = Field(True, description="Group unknown tracks into clusters in `vigil serve`.")
    threshold: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Least cosine similarity linking two tracks (a cluster is a connected group of links) "
        "[null: the embedder's, measured on LFW (docs/benchmarks.md): 0.65 for the default fusion, 0.60 "
        "for faceplugin-fr512]. "
        "Lower joins more tracks of one person and chains strangers together sooner.",
    )
    neighbours: int = Field(10, ge=1, le=200, description="Nearest tracks examined for links per track.")
    every_s: float = Field(30.0, gt=0, le=86400, description="How often new unknown tracks are clustered.")
    settle_s: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="A track is clustered once nothing was written to it for this long (it has ended).",
    )
    shots: int = Field(
        6, ge=1, le=10, description="Best shots shown for a cluster, and the photos enrolled when naming it."
    )


DEFAULT_DENY: tuple[str, ...] = (
    "169.254.0.0/16",  # IPv4 link-local, where cloud metadata services answer (169.254.169.254)
    "fe80::/10",  # IPv6 link-local
    "fd00:ec2::254/128",  # AWS's IPv6 metadata address
    "100.100.100.200/32",  # Alibaba Cloud's metadata address
    "0.0.0.0/8",  # "this host" (reaches local services on some systems)
    "::/128",
    "224.0.0.0/4",  # multicast
    "ff00::/8",
)
"""Refused by default: where a URL could make the server reach its own cloud metadata or local links."""


class NetworkConfig(_Strict):
    """Which addresses cameras and webhooks may reach (checked when a URL is added, and again before each
    webhook delivery and each opening of a camera stream)."""

    deny: tuple[str, ...] = Field(
        DEFAULT_DENY,
        description="Networks (CIDR) a camera or webhook URL may not name or resolve to [link-local, cloud "
        "metadata, unspecified and multicast addresses].",
    )
    allow: tuple[str, ...] = Field(
        (), description="Networks allowed even inside deny (e.g. a link-local camera segment)."
    )

    @model_validator(mode="after")
    def _parse(self) -> NetworkConfig:
        for spec in (*self.deny, *self.allow):
            try:
                ip_network(spec, strict=False)
            except ValueError as exc:
                raise ValueError(f"{spec!r} is not a network (CIDR, e.g. 10.0.0.0/8)") from exc
        return self


class VigilConfig(_Strict):
    """Everything Vigil needs to run, with embedded defaults that work on one machine."""

    @model_validator(mode="before")
    @classmethod
    def _calibrated_defaults(cls, data: Any) -> Any:
        """Thresholds not given are the chosen embedder's calibrated one (scores differ per model)."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        embed = data.get("embed", {})
        if isinstance(embed, BaseModel):
            embed = embed.model_dump()
        if not isinstance(embed, dict):
            return data
        if "type" not in embed:  # a partial section (or one environment variable) means the default
            embed = out["embed"] = {"type": "onnx", **embed}
        spec = spec_for(str(embed.get("type", "onnx")), embed.get("model"))
        if spec is None:
            return data  # the union's own validation names what is wrong
        for section, key in (("match", "threshold"), ("search", "min_score")):
            given = out.get(section)
            if isinstance(given, BaseModel):
                given = given.model_dump(exclude_unset=True)
            given = dict(given) if isinstance(given, dict) else {}
            if key not in given:
                given[key] = spec.threshold
            elif section == "match" and "fpir" not in given:
                given["fpir"] = None  # a threshold given by hand is the rule, not a floor
            out[section] = given
        return out

    model_dir: Path | None = Field(None, description="Where model files are looked for first.")
    ingest: IngestConfig = IngestConfig()
    detector: DetectorConfig = YuNetConfig()
    tracker: TrackerConfig = TrackerConfig()
    bestshot: BestShotConfig = BestShotConfig()
    embed: EmbedConfig = OnnxEmbedConfig()
    match: MatchConfig = MatchConfig()
    pipeline: PipelineConfig = PipelineConfig()
    store: StoreConfig = StoreConfig()
    enrol: EnrolConfig = EnrolConfig()
    server: ServerConfig = ServerConfig()
    live: LiveConfig = LiveConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    cameras: tuple[CameraConfig, ...] = ()
    alerts: AlertsConfig = AlertsConfig()
    search: SearchConfig = SearchConfig()
    retention: RetentionConfig = RetentionConfig()
    clusters: ClustersConfig = ClustersConfig()
    network: NetworkConfig = NetworkConfig()
