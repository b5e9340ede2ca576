"""The database schema: SQLAlchemy 2 typed models. Changed only together with a migration.

Times are timezone-aware UTC. Embeddings are stored as little-endian float32 bytes with their model id
and dimension, so vectors of another model are never compared with them. Photos and crops live as files
under the data dir (named by content hash); rows hold their relative paths.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false, text

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# SQLite's INTEGER PRIMARY KEY is its rowid (64-bit already); BIGINT elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NEVER_REUSED: dict[str, Any] = {"sqlite_autoincrement": True}
"""Table options of tables whose ids leave Vigil (payloads, links, URLs, audit details): SQLite must not
hand a deleted id to a new row (PostgreSQL's sequences never do). Migration 0009."""


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"
    AUDITOR = "auditor"  # reads the audit log and reports only (vigil.services.permissions)


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Review(StrEnum):
    """What an alert on a list needs from people before it counts."""

    NONE = "none"
    ACKNOWLEDGE = "acknowledge"
    TWO_PERSON = "two_person"


class EventStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class User(Base):
    __tablename__ = "users"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserWatchlist(Base):
    """A list whose alerts a user gets on the officer view (a user with none gets every list's)."""

    __tablename__ = "user_watchlists"
    __table_args__ = (UniqueConstraint("user_id", "watchlist_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"))


class UserScopeList(Base):
    """A list a user is limited to (migration 0013): they see and act on its people and alerts only.

    A user with none is not limited by list. Unlike ``UserWatchlist`` (what the officer view shows), this is
    enforced by the API on every route; admins are never limited.
    """

    __tablename__ = "user_scope_lists"
    __table_args__ = (UniqueConstraint("user_id", "watchlist_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"))


class UserCamera(Base):
    """A camera a user is limited to (migration 0013): they see its events, alerts and status only.

    A user with none is not limited by camera; admins are never limited.
    """

    __tablename__ = "user_cameras"
    __table_args__ = (UniqueConstraint("user_id", "camera_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))


class TokenKind(StrEnum):
    API = "api"  # for integrations: lives until revoked (or its expiry)
    SESSION = "session"  # a signed-in browser or phone: expires


class ApiToken(Base):
    """A bearer token of a user. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[TokenKind] = mapped_column(_enum(TokenKind, "token_kind"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Watchlist(Base):
    __tablename__ = "watchlists"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: calibrated for its size
    fpir: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: the configured match.fpir
    severity: Mapped[Severity] = mapped_column(_enum(Severity, "severity"), default=Severity.MEDIUM)
    colour: Mapped[str] = mapped_column(String(7), default="#d97706")
    review: Mapped[Review] = mapped_column(_enum(Review, "review"), default=Review.ACKNOWLEDGE)
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    entries: Mapped[list[WatchlistEntry]] = relationship(back_populates="watchlist", passive_deletes=True)


class Person(Base):
    __tablename__ = "people"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    entries: Mapped[list[WatchlistEntry]] = relationship(back_populates="person", passive_deletes=True)
    samples: Mapped[list[FaceSample]] = relationship(back_populates="person", passive_deletes=True)


class WatchlistEntry(Base):
    """A person on a list: why, on what source, who added and approved it, until when."""

    __tablename__ = "watchlist_entries"
    __table_args__ = (UniqueConstraint("watchlist_id", "person_id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    photo_source: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    watchlist: Mapped[Watchlist] = relationship(back_populates="entries")
    person: Mapped[Person] = relationship(back_populates="entries")


class FaceSample(Base):
    """One enrolled photo of a person: the files, the vector, and how good the face was."""

    __tablename__ = "face_samples"
    __table_args__ = (UniqueConstraint("person_id", "photo_sha256", "model_id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    photo_sha256: Mapped[str] = mapped_column(String(64))
    photo_path: Mapped[str] = mapped_column(String(255))
    crop_path: Mapped[str] = mapped_column(String(255))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    model_id: Mapped[str] = mapped_column(String(64), index=True)
    dim: Mapped[int] = mapped_column(Integer)
    quality: Mapped[dict[str, float]] = mapped_column(JSON)
    weak: Mapped[bool] = mapped_column(Boolean, default=False)  # kept with --force below the gate
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    person: Mapped[Person] = relationship(back_populates="samples")


class Camera(Base):
    """A live camera, or the virtual camera of recorded footage. Removing one marks it ``removed_at``: its
    history stays (under retention) and its name may be given to a new camera (migration 0010)."""

    __tablename__ = "cameras"
    __table_args__ = (
        Index(
            "uq_cameras_live_name",
            "name",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)  # may hold credentials: never logged, redacted in the API
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    virtual: Mapped[bool] = mapped_column(Boolean, default=False)  # recorded footage, not a live camera
    loop: Mapped[bool] = mapped_column(Boolean, default=False)  # a file camera starts again at its end
    max_fps: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: the configured default
    from_config: Mapped[bool] = mapped_column(Boolean, default=False)  # declared in the config file
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Where it is (WGS 84 degrees) and its named site, all optional: the impossible-travel rule
    # (vigil.alerts.travel) compares the places of two cameras that saw one person (migration 0015).
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CameraPlacement(Base):
    """Where the runtime placed a running camera: its node and camera actor (migration 0011)."""

    __tablename__ = "camera_placements"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64))
    node_address: Mapped[str] = mapped_column(String(255), default="")
    actor: Mapped[str] = mapped_column(String(128))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Event(Base):
    """One track of one camera and what Vigil decided about it."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_camera_start", "camera_id", "start_at"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    track_id: Mapped[int] = mapped_column(BigInteger)
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    watchlist_id: Mapped[int | None] = mapped_column(ForeignKey("watchlists.id", ondelete="SET NULL"))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    margin: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The rule the alert passed: its list's threshold then, the FPIR it was derived from and the list size
    # it was calibrated for (both None for a threshold set by hand).
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    fpir: Mapped[float | None] = mapped_column(Float, nullable=True)
    calibrated_for: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A sighting of a listed person in the cool-down of an earlier alert (that alert's id): not alerted,
    # but kept as who it was, under its list's retention.
    cooldown_of: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Every list whose rule the alert passed (its own, the most severe, first): a person is on several.
    list_ids: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    # Not named as its person because it is closer to one of their negatives (that negative's id).
    vetoed_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Impossible travel: an alert whose person was seen on another camera (that sighting's event id) too
    # shortly before or after to have gone between them; the distance and the least time the trip needed.
    travel_of: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    travel_distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    travel_needed_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_id: Mapped[str] = mapped_column(String(64))
    severity: Mapped[Severity | None] = mapped_column(_enum(Severity, "event_severity"), nullable=True)
    alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    frame_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The track's template (the mean of its embedded shots, float32 little-endian, of model_id): what
    # searches of the archive compare a photo with.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # When Vigil last wrote this track (its times are when it was filmed: for recorded footage, long
    # before). Retention counts from here.
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    # An alert raised later, when the person was put on a list and the archive searched for them.
    retro: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[EventStatus] = mapped_column(_enum(EventStatus, "event_status"), default=EventStatus.NEW)
    status_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    shots: Mapped[list[EventShot]] = relationship(back_populates="event", passive_deletes=True)
    reviews: Mapped[list[EventReview]] = relationship(back_populates="event", passive_deletes=True)


class EventTemplate(Base):
    """A track's template under another embedder than the one that recorded it: ``vigil db reembed``
    embeds the track's kept best shots again, and searches use it once that embedder is configured."""

    __tablename__ = "event_templates"
    __table_args__ = (UniqueConstraint("event_id", "model_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(String(64), index=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian, unit length
    shots: Mapped[int] = mapped_column(Integer)  # how many best shots it is the mean of
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClusterStatus(StrEnum):
    OPEN = "open"
    NAMED = "named"  # its person was enrolled from its best shots
    DISMISSED = "dismissed"  # an operator set it aside; it still expires with its tracks


class FaceCluster(Base):
    """A group of unknown tracks that look like one person (``vigil.services.clusters``); its size, times
    and cameras come from its members' events, and it goes when the last of them is purged."""

    __tablename__ = "face_clusters"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[ClusterStatus] = mapped_column(_enum(ClusterStatus, "cluster_status"), index=True)
    # Shaped by an operator (merged, split, named, dismissed): never merged with another automatically.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), nullable=True)
    changed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClusterMember(Base):
    """An unknown track in a cluster (one cluster per track); deleted with its event."""

    __tablename__ = "cluster_members"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("face_clusters.id", ondelete="CASCADE"), index=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)  # its best link when it joined
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NegativeTemplate(Base):
    """A track template an operator rejected as not this person: later faces closer to it than to the
    person are not named as them. Kept under the retention of the list the rejected alert was on."""

    __tablename__ = "negative_templates"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    watchlist_id: Mapped[int | None] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), nullable=True)
    model_id: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EventShot(Base):
    """A best shot of an event: the crop file, its vector (for search) and its quality."""

    __tablename__ = "event_shots"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    t_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    crop_path: Mapped[str] = mapped_column(String(255))
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    quality: Mapped[float] = mapped_column(Float)

    event: Mapped[Event] = relationship(back_populates="shots")


class EventReview(Base):
    """One person's acknowledgement, confirmation or rejection of an event."""

    __tablename__ = "event_reviews"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[EventStatus] = mapped_column(_enum(EventStatus, "review_action"))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    event: Mapped[Event] = relationship(back_populates="reviews")


class AuditEntry(Base):
    """Append-only: who did what, to what, why. Each row carries the hash of the one before it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON, hashed as written
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FootageJob(Base):
    """An uploaded video to be processed into the archive (a virtual camera), run by ``vigil serve``.

    ``done_ms`` is the video time processed so far: a job interrupted by a restart resumes from there.
    """

    __tablename__ = "footage_jobs"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    camera: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    file_path: Mapped[str | None] = mapped_column(String(255), nullable=True)  # media path; None once done
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # when the video was filmed
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"), index=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    frames_done: Mapped[int] = mapped_column(Integer, default=0)
    frames_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    done_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    tracks: Mapped[int] = mapped_column(Integer, default=0)
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboxMessage(Base):
    """An alert waiting for (or done with) delivery to one sink: a webhook or the MQTT broker.

    Written in the same transaction as the alert, so a delivery survives a restart: at least once,
    with ``key`` as the idempotency key a receiver can de-duplicate on.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("sink", "key"),
        Index("ix_outbox_pending", "sink", "delivered_at", "next_attempt_at"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sink: Mapped[str] = mapped_column(String(80))  # "webhook:<name>" or "mqtt"
    key: Mapped[str] = mapped_column(String(80))  # idempotency key, e.g. "alert-12"
    topic: Mapped[str] = mapped_column(String(255))  # the event type / topic suffix, e.g. "alert.created"
    payload: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # gave up
    last_error: Mapped[str] = mapped_column(Text, default="")
