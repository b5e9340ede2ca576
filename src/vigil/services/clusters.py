"""Clusters of unknown faces: the archived tracks that matched no list, grouped by who they look like.

The store is the truth (``face_clusters``, ``cluster_members``). :meth:`ClusterService.update` (run by
the leading ``vigil serve`` every ``clusters.every_s``) takes the unknown tracks not clustered yet whose
rows have settled (nothing written for ``clusters.settle_s``: the track ended) and links each to its
above-threshold nearest clustered neighbours (:mod:`vigil.search.clusters`): no link makes a new
cluster; links join the best-linked cluster, and other clusters linked that no operator shaped are merged
into it (the connected components of the neighbour graph). Clusters an operator shaped (merged, split,
named, dismissed: ``pinned``) are never merged automatically.

Operators look at a cluster's best shots, name it (its person enrolled from those shots through the
enrolment service, with a reason and legal basis, in the same transaction as the cluster's new status),
merge, split and dismiss, each audited. Retention: a member goes with its event, and the purge deletes
the clusters it leaves empty in the same transaction (:func:`drop_members`); with
``retention.unmatched_hours`` 0 no template of an unknown face is kept, so there are no clusters.

Changes lock the clusters they touch (``FOR UPDATE`` on PostgreSQL; SQLite's write transactions are
serial), so a merge racing a purge either sees the purged cluster gone (404, nothing written) or moves
its members first (and the purge then finds the cluster not empty).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.config import ClustersConfig, RetentionConfig
from vigil.errors import BadInput, NotFound
from vigil.search.clusters import DEFAULT_K, neighbour_links
from vigil.search.index import ArchiveIndex, IvfSettings
from vigil.services.enrol import EnrolRequest, EnrolResult, Photo
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.media import MediaStore
from vigil.store.tables import (
    Camera,
    ClusterMember,
    ClusterStatus,
    Event,
    EventShot,
    FaceCluster,
    Person,
)
from vigil.types import FloatArray, IntArray

log = logging.getLogger(__name__)

BATCH = 1000  # unknown tracks clustered per transaction
_IN = 5000  # ids per IN (...)
MAX_PAGE = 200
LFW_THRESHOLDS: dict[str, float] = {"fused-fr512-mfn192": 0.65, "faceplugin-fr512": 0.60}
"""The least link score per embedder (catalogue name): the lowest at which clusters of LFW's 13,233
photos kept a pairwise precision of 0.99 or more (``vigil bench clusters``, docs/benchmarks.md)."""


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    id: int
    status: ClusterStatus
    pinned: bool
    size: int
    first_seen: datetime
    last_seen: datetime
    cameras: tuple[str, ...]
    person_id: int | None
    person: str | None
    changed_by: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ClusterShot:
    """The best shot of one track of a cluster."""

    event_id: int
    camera: str
    seen_at: datetime
    quality: float


@dataclass(frozen=True, slots=True)
class ClusterDetail:
    info: ClusterInfo
    shots: list[ClusterShot]  # the best first, one per track
    event_ids: list[int]  # every track, newest first


@dataclass(frozen=True, slots=True)
class NameRequest:
    """Enrol a cluster's person on a list from its best shots: the same fields as any enrolment."""

    watchlist: str
    name: str
    reason: str
    photo_source: str = ""
    approved_by: str | None = None
    expires_at: datetime | None = None
    notes: str = ""
    force: bool = False


def threshold_for(config: ClustersConfig, embedder: str) -> float:
    """The link threshold: the configured one, else the one measured for the embedder.

    Raises:
        BadInput: none is configured and none was measured for this embedder.
    """
    if config.threshold is not None:
        return config.threshold
    if embedder not in LFW_THRESHOLDS:
        raise BadInput("clusters.threshold", f"no threshold was measured for {embedder}: set one")
    return LFW_THRESHOLDS[embedder]


def _recorded() -> object:
    return func.coalesce(Event.recorded_at, Event.end_at)


def lock_clusters_of(s: Session, event_ids: Sequence[int]) -> None:
    """In the purge's transaction, before it deletes anything: lock the clusters of ``event_ids`` in id
    order, as merges and splits do before they move members. Taking the members first (the delete) and the
    clusters after would be the opposite order, and a merge at the same moment a deadlock (PostgreSQL)."""
    ids: set[int] = set()
    for lo in range(0, len(event_ids), _IN):
        part = list(event_ids[lo : lo + _IN])
        ids.update(s.scalars(select(ClusterMember.cluster_id).where(ClusterMember.event_id.in_(part))))
    _lock(s, sorted(ids))


def drop_members(s: Session, event_ids: Sequence[int]) -> int:
    """In the purge's transaction (after :func:`lock_clusters_of`): take ``event_ids`` out of their
    clusters and delete the clusters left without members; returns how many clusters went. The clusters
    are read again here: a merge that committed while the lock waited moved members into another."""
    touched: set[int] = set()
    for lo in range(0, len(event_ids), _IN):
        part = list(event_ids[lo : lo + _IN])
        touched.update(s.scalars(select(ClusterMember.cluster_id).where(ClusterMember.event_id.in_(part))))
        s.execute(delete(ClusterMember).where(ClusterMember.event_id.in_(part)))
    return _delete_empty(s, touched)


def _delete_empty(s: Session, cluster_ids: Iterable[int]) -> int:
    ids = sorted(cluster_ids)
    if not ids:
        return 0
    _lock(s, ids)  # a merge moving members in commits first; then they are seen below
    kept = set(
        s.scalars(select(ClusterMember.cluster_id).where(ClusterMember.cluster_id.in_(ids)).distinct())
    )
    empty = [i for i in ids if i not in kept]
    if empty:
        s.execute(delete(FaceCluster).where(FaceCluster.id.in_(empty)))
    return len(empty)


def _lock(s: Session, ids: Sequence[int]) -> dict[int, FaceCluster]:
    rows = s.scalars(
        select(FaceCluster).where(FaceCluster.id.in_(ids)).order_by(FaceCluster.id).with_for_update()
    )
    return {c.id: c for c in rows}


class ClusterService:
    """Keeps the clusters of unknown tracks (``update``) and the operators' changes to them."""

    def __init__(
        self,
        db: Database,
        media: MediaStore,
        config: ClustersConfig,
        retention: RetentionConfig,
        *,
        model_id: str,
        dim: int,
        threshold: float,
    ) -> None:
        self._db = db
        self._media = media
        self.config = config
        self._retention = retention
        self.model_id = model_id
        self.dim = dim
        self.threshold = threshold
        self._index: ArchiveIndex | None = None
        self._lock = threading.Lock()  # one pass at a time; the index is not safe to change while read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """Off by config, or when unknown faces leave no template (``retention.unmatched_hours`` 0)."""
        return self.config.enabled and self._retention.unmatched_hours > 0

    # --- the incremental pass ---------------------------------------------------------------------

    def update(self, now: datetime | None = None) -> int:
        """Cluster the settled unknown tracks not clustered yet; returns how many joined a cluster."""
        if not self.enabled:
            return 0
        now = now or datetime.now(UTC)
        done = 0
        with self._lock:
            index = self._loaded()
            with self._db.read() as s:
                members = int(s.scalar(select(func.count()).select_from(ClusterMember)) or 0)
            if len(index) > members:  # tracks purged (here or by another process) since: read again
                self._index = None
                index = self._loaded()
            while True:
                n = self._one_batch(index, now)
                done += n
                if n < BATCH:
                    return done

    def _loaded(self) -> ArchiveIndex:
        if self._index is None:
            index = ArchiveIndex(self.dim, IvfSettings())
            with self._db.read() as s:
                rows = s.execute(
                    select(Event.id, Event.embedding)
                    .join(ClusterMember, ClusterMember.event_id == Event.id)
                    .where(Event.model_id == self.model_id, Event.embedding.is_not(None))
                ).all()
            if rows:
                index.add(np.array([r[0] for r in rows], np.int64), _vectors([r[1] for r in rows], self.dim))
            self._index = index
        return self._index

    def _one_batch(self, index: ArchiveIndex, now: datetime) -> int:
        settled = now - timedelta(seconds=self.config.settle_s)
        with self._db.write() as s:
            rows = s.execute(
                select(Event.id, Event.embedding)
                .outerjoin(ClusterMember, ClusterMember.event_id == Event.id)
                .where(
                    ClusterMember.event_id.is_(None), Event.person_id.is_(None), Event.watchlist_id.is_(None),
                    Event.embedding.is_not(None), Event.model_id == self.model_id,
                    func.coalesce(Event.recorded_at, Event.end_at) < settled,
                )
                .order_by(Event.id)
                .limit(BATCH)
            ).all()  # fmt: skip
            if not rows:
                return 0
            ids = np.array([r[0] for r in rows], np.int64)
            vectors = _vectors([r[1] for r in rows], self.dim)
            index.add(ids, vectors)
            try:
                self._assign(s, index, ids, vectors, now)
                s.flush()
            except BaseException:
                index.remove(ids)
                raise
        return len(rows)

    def _assign(
        self, s: Session, index: ArchiveIndex, ids: IntArray, vectors: FloatArray, now: datetime
    ) -> None:
        links = neighbour_links(index, ids, vectors, self.threshold, self.config.neighbours or DEFAULT_K)
        new = set(ids.tolist())
        near: dict[int, list[tuple[int, float]]] = {i: [] for i in new}
        for a, b, score in zip(links.a.tolist(), links.b.tolist(), links.score.tolist(), strict=True):
            if a in new:
                near[a].append((b, score))
            if b in new:
                near[b].append((a, score))
        old = sorted({o for pairs in near.values() for o, _ in pairs} - new)
        cluster_of: dict[int, int] = {}
        for lo in range(0, len(old), _IN):
            part = old[lo : lo + _IN]
            cluster_of.update(
                s.execute(
                    select(ClusterMember.event_id, ClusterMember.cluster_id).where(
                        ClusterMember.event_id.in_(part)
                    )
                ).all()
            )
        stale = [o for o in old if o not in cluster_of]  # purged since (by another process, too)
        if stale:
            index.remove(np.array(stale, np.int64))
        pinned = dict(
            s.execute(
                select(FaceCluster.id, FaceCluster.pinned).where(FaceCluster.id.in_(set(cluster_of.values())))
            ).all()
        )
        for e in sorted(new):
            linked: dict[int, float] = {}
            for o, score in near[e]:
                c = cluster_of.get(o)
                if c is not None:
                    linked[c] = max(linked.get(c, -2.0), score)
            if not linked:
                cluster = FaceCluster(
                    model_id=self.model_id,
                    status=ClusterStatus.OPEN,
                    pinned=False,
                    created_at=now,
                    updated_at=now,
                )
                s.add(cluster)
                s.flush()
                pinned[cluster.id] = False
                target, score_in = cluster.id, None
            else:
                target = max(linked, key=lambda c: (linked[c], -c))
                score_in = linked[target]
                for c in sorted(linked):
                    if c != target and not pinned.get(c, True):
                        s.execute(
                            update(ClusterMember)
                            .where(ClusterMember.cluster_id == c)
                            .values(cluster_id=target)
                        )
                        s.execute(delete(FaceCluster).where(FaceCluster.id == c))
                        cluster_of = {k: (target if v == c else v) for k, v in cluster_of.items()}
                        pinned.pop(c, None)
                s.execute(update(FaceCluster).where(FaceCluster.id == target).values(updated_at=now))
            s.add(ClusterMember(event_id=e, cluster_id=target, score=score_in, added_at=now))
            cluster_of[e] = target

    def forget(self, event_ids: IntArray) -> None:
        """Purged tracks leave the neighbour index (their rows went with the purge)."""
        with self._lock:
            if self._index is not None:
                self._index.remove(np.asarray(event_ids, np.int64))

    # --- the background pass of a leading server --------------------------------------------------

    def start(self, leading: Callable[[], bool] = lambda: True) -> None:
        """Run ``update`` every ``clusters.every_s`` while ``leading()`` (of several servers on one
        store, the one that runs the cameras clusters)."""
        if not self.enabled or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(leading,), name="vigil-clusters", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10.0)
            self._thread = None

    def _run(self, leading: Callable[[], bool]) -> None:
        while not self._stop.wait(self.config.every_s):
            if not leading():
                continue
            try:
                n = self.update()
                if n:
                    log.info("clusters: %d unknown tracks clustered", n)
            except IntegrityError:  # a track purged (or clustered elsewhere) meanwhile: next time
                log.info("clusters: the store changed during the pass; again in %.0f s", self.config.every_s)
            except Exception:
                log.exception("clustering unknown tracks failed")

    # --- reading ------------------------------------------------------------------------------------

    def all(
        self, status: ClusterStatus | None = None, *, min_size: int = 1, limit: int = 50, offset: int = 0
    ) -> tuple[int, list[ClusterInfo]]:
        """Clusters (of at least ``min_size`` tracks), the most recently seen first, and how many match."""
        if not 1 <= limit <= MAX_PAGE:
            raise BadInput("limit", f"{limit}: a page holds 1 to {MAX_PAGE} clusters")
        if not self.enabled:
            return 0, []
        size = func.count(ClusterMember.event_id)
        query = (
            select(FaceCluster.id, size, func.min(Event.start_at), func.max(Event.end_at))
            .join(ClusterMember, ClusterMember.cluster_id == FaceCluster.id)
            .join(Event, Event.id == ClusterMember.event_id)
            .where(FaceCluster.model_id == self.model_id)
            .group_by(FaceCluster.id)
            .having(size >= min_size)
        )
        if status is not None:
            query = query.where(FaceCluster.status == status)
        with self._db.read() as s:
            total = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
            rows = s.execute(
                query.order_by(func.max(Event.end_at).desc(), FaceCluster.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            infos = self._infos(s, [(int(r[0]), int(r[1]), r[2], r[3]) for r in rows])
        return total, infos

    def _infos(self, s: Session, rows: list[tuple[int, int, datetime, datetime]]) -> list[ClusterInfo]:
        ids = [r[0] for r in rows]
        cameras: dict[int, set[str]] = {i: set() for i in ids}
        for cid, name in s.execute(
            select(ClusterMember.cluster_id, Camera.name)
            .join(Event, Event.id == ClusterMember.event_id)
            .join(Camera, Camera.id == Event.camera_id)
            .where(ClusterMember.cluster_id.in_(ids))
            .distinct()
        ).all():
            cameras[cid].add(name)
        clusters = {
            c.id: (c, name)
            for c, name in s.execute(
                select(FaceCluster, Person.name)
                .outerjoin(Person, Person.id == FaceCluster.person_id)
                .where(FaceCluster.id.in_(ids))
            ).all()
        }
        out = []
        for cid, n, first, last in rows:
            c, person = clusters[cid]
            out.append(
                ClusterInfo(
                    id=cid, status=c.status, pinned=c.pinned, size=n, first_seen=as_utc(first),
                    last_seen=as_utc(last),
                    cameras=tuple(sorted(cameras[cid])), person_id=c.person_id, person=person,
                    changed_by=c.changed_by, updated_at=as_utc(c.updated_at),
                )
            )  # fmt: skip
        return out

    def _info(self, s: Session, cluster_id: int) -> ClusterInfo:
        row = s.execute(
            select(func.count(ClusterMember.event_id), func.min(Event.start_at), func.max(Event.end_at))
            .join(Event, Event.id == ClusterMember.event_id)
            .where(ClusterMember.cluster_id == cluster_id)
        ).one()
        if not row[0] or s.get(FaceCluster, cluster_id) is None:
            raise NotFound(f"no cluster {cluster_id} (its tracks may have expired)")
        return self._infos(s, [(cluster_id, int(row[0]), row[1], row[2])])[0]

    def get(self, cluster_id: int) -> ClusterDetail:
        """A cluster with its best shots (one per track, the best first) and every track."""
        with self._db.read() as s:
            info = self._info(s, cluster_id)
            shots = self._best_shots(s, cluster_id, self.config.shots)
            events = list(
                s.scalars(
                    select(ClusterMember.event_id).join(Event, Event.id == ClusterMember.event_id)
                    .where(ClusterMember.cluster_id == cluster_id)
                    .order_by(Event.end_at.desc(), Event.id.desc())
                )
            )  # fmt: skip
        return ClusterDetail(info, [shot for shot, _ in shots], events)

    @staticmethod
    def _best_shots(s: Session, cluster_id: int, n: int) -> list[tuple[ClusterShot, str]]:
        best = (
            select(EventShot.event_id, func.max(EventShot.quality).label("q"))
            .join(ClusterMember, ClusterMember.event_id == EventShot.event_id)
            .where(ClusterMember.cluster_id == cluster_id)
            .group_by(EventShot.event_id)
            .subquery()
        )
        rows = s.execute(
            select(EventShot.event_id, EventShot.crop_path, EventShot.t_at, EventShot.quality, Camera.name)
            .join(best, (best.c.event_id == EventShot.event_id) & (best.c.q == EventShot.quality))
            .join(Event, Event.id == EventShot.event_id)
            .join(Camera, Camera.id == Event.camera_id)
            .order_by(EventShot.quality.desc(), EventShot.event_id)
        ).all()
        out: list[tuple[ClusterShot, str]] = []
        seen: set[int] = set()
        for event_id, crop, t_at, quality, camera in rows:
            if event_id not in seen and len(out) < n:
                seen.add(event_id)
                out.append((ClusterShot(event_id, camera, as_utc(t_at), float(quality)), crop))
        return out

    # --- operators' changes ---------------------------------------------------------------------------

    def _changed(self, s: Session, cluster: FaceCluster, actor: str, now: datetime) -> None:
        cluster.pinned, cluster.changed_by, cluster.updated_at = True, actor, now

    def merge(self, actor: str, into: int, others: Sequence[int], reason: str) -> ClusterInfo:
        """Move every track of ``others`` into cluster ``into``; the others go."""
        _reason(reason)
        sources = sorted(set(others) - {into})
        if not sources:
            raise BadInput("clusters", "name at least one other cluster to merge into this one")
        now = datetime.now(UTC)
        with self._db.write() as s:
            found = _lock(s, [into, *sources])
            missing = [c for c in [into, *sources] if c not in found]
            if missing:
                raise NotFound(f"no cluster {', '.join(map(str, missing))} (its tracks may have expired)")
            moved = s.execute(
                update(ClusterMember).where(ClusterMember.cluster_id.in_(sources)).values(cluster_id=into)
            ).rowcount  # type: ignore[attr-defined]
            s.execute(delete(FaceCluster).where(FaceCluster.id.in_(sources)))
            self._changed(s, found[into], actor, now)
            info = self._info(s, into)
            audit.append(
                s, actor, "cluster.merge", f"cluster:{into}", reason=reason,
                details={"merged": sources, "tracks_moved": int(moved or 0), "size": info.size},
            )  # fmt: skip
        return info

    def split(self, actor: str, cluster_id: int, event_ids: Sequence[int], reason: str) -> ClusterInfo:
        """Move the tracks ``event_ids`` of a cluster into a new one (returned)."""
        _reason(reason)
        chosen = sorted(set(event_ids))
        if not chosen:
            raise BadInput("event_ids", "choose the tracks to split off")
        now = datetime.now(UTC)
        with self._db.write() as s:
            found = _lock(s, [cluster_id])
            if cluster_id not in found:
                raise NotFound(f"no cluster {cluster_id} (its tracks may have expired)")
            members = set(
                s.scalars(select(ClusterMember.event_id).where(ClusterMember.cluster_id == cluster_id))
            )
            strangers = [e for e in chosen if e not in members]
            if strangers:
                raise BadInput(
                    "event_ids", f"not tracks of cluster {cluster_id}: {', '.join(map(str, strangers))}"
                )
            if len(chosen) == len(members):
                raise BadInput("event_ids", "these are all its tracks: split off fewer (or dismiss it)")
            new = FaceCluster(
                model_id=found[cluster_id].model_id, status=ClusterStatus.OPEN, pinned=True, changed_by=actor,
                created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(new)
            s.flush()
            s.execute(
                update(ClusterMember).where(ClusterMember.event_id.in_(chosen)).values(cluster_id=new.id)
            )
            self._changed(s, found[cluster_id], actor, now)
            audit.append(
                s, actor, "cluster.split", f"cluster:{cluster_id}", reason=reason,
                details={"new_cluster": new.id, "tracks": chosen},
            )  # fmt: skip
            return self._info(s, new.id)

    def dismiss(self, actor: str, cluster_id: int, reason: str) -> ClusterInfo:
        """Set a cluster aside: listed as dismissed, it still expires with its tracks."""
        _reason(reason)
        now = datetime.now(UTC)
        with self._db.write() as s:
            found = _lock(s, [cluster_id])
            if cluster_id not in found:
                raise NotFound(f"no cluster {cluster_id} (its tracks may have expired)")
            cluster = found[cluster_id]
            before = cluster.status
            cluster.status = ClusterStatus.DISMISSED
            self._changed(s, cluster, actor, now)
            info = self._info(s, cluster_id)
            audit.append(
                s, actor, "cluster.dismiss", f"cluster:{cluster_id}", reason=reason,
                details={"was": before.value, "size": info.size},
            )  # fmt: skip
        return info

    def name(
        self, actor: str, cluster_id: int, req: NameRequest, enrol: Callable[[str, EnrolRequest], EnrolResult]
    ) -> tuple[EnrolResult, ClusterInfo]:
        """Enrol the cluster's person on a list from its best shots (through ``enrol``, the enrolment
        service: the quality gate, the reason, the audit), and mark the cluster named in the same
        transaction: if the cluster expired meanwhile, nobody is enrolled."""
        _reason(req.reason)
        with self._db.read() as s:
            self._info(s, cluster_id)
            shots = self._best_shots(s, cluster_id, self.config.shots)
        photos = []
        for shot, rel in shots:
            try:
                photos.append(
                    Photo(
                        f"cluster {cluster_id} track {shot.event_id}.jpg", self._media.path(rel).read_bytes()
                    )
                )
            except OSError:
                continue  # purged meanwhile: the others may do
        if not photos:
            raise NotFound(f"cluster {cluster_id} has no best shot left to enrol from")
        tracks = [shot.event_id for shot, _ in shots]

        def mark(s: Session, person_id: int) -> None:
            found = _lock(s, [cluster_id])
            if (
                cluster_id not in found
                or s.scalar(select(func.count()).where(ClusterMember.cluster_id == cluster_id)) == 0
            ):
                raise NotFound(f"no cluster {cluster_id} (its tracks expired meanwhile): nobody was enrolled")
            cluster = found[cluster_id]
            cluster.status, cluster.person_id = ClusterStatus.NAMED, person_id
            self._changed(s, cluster, actor, datetime.now(UTC))
            audit.append(
                s, actor, "cluster.name", f"cluster:{cluster_id}", reason=req.reason,
                details={"person_id": person_id, "name": req.name, "list": req.watchlist, "tracks": tracks},
            )  # fmt: skip

        source = (
            req.photo_source or f"best shots of cluster {cluster_id} (tracks {', '.join(map(str, tracks))})"
        )
        result = enrol(
            actor,
            EnrolRequest(
                list_name=req.watchlist, name=req.name, reason=req.reason, photos=photos, photo_source=source,
                approved_by=req.approved_by, expires_at=req.expires_at, notes=req.notes, force=req.force,
                within=mark,
            ),
        )  # fmt: skip
        with self._db.read() as s:
            return result, self._info(s, cluster_id)


def _reason(reason: str) -> None:
    if not reason.strip():
        raise BadInput("reason", "a change to a cluster needs a reason (it is audited)")


def _vectors(raw: list[bytes | None], dim: int) -> FloatArray:
    return np.frombuffer(b"".join(r or b"" for r in raw), "<f4").reshape(len(raw), dim).astype(np.float32)
