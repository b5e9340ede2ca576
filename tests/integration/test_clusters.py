"""Clusters of unknown faces over a real store (SQLite and PostgreSQL) and real LFW embeddings: grouped
by who they are, merged, split, dismissed (audited), and gone with their tracks (retention)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.unknowns_kit import PEOPLE, STRANGERS, archive_unknowns, lfw_faces
from vigil.app import Engine, build_clusters, open_store
from vigil.config import RetentionConfig, StoreConfig, VigilConfig
from vigil.errors import BadInput, NotFound
from vigil.services.retention import RetentionPurge
from vigil.store.tables import AuditEntry, ClusterMember, FaceCluster


def _setup(db_url: str, tmp_path: Path, engine: Engine, lfw_images: Path, hours: float = 24.0):  # type: ignore[no-untyped-def]
    cfg = VigilConfig(
        store=StoreConfig(url=db_url, data_dir=tmp_path / "data"),
        retention=RetentionConfig(unmatched_hours=hours),
    )
    store = open_store(cfg)
    tracks = archive_unknowns(store.db, store.media, lfw_images, lfw_faces(engine, lfw_images),
                              model_id=engine.model_id)  # fmt: skip
    return cfg, store, build_clusters(cfg, store), tracks


def test_unknown_tracks_cluster_by_identity_and_expire_with_them(
    db_url: str, tmp_path: Path, engine: Engine, lfw_images: Path
) -> None:
    _cfg, store, clusters, tracks = _setup(db_url, tmp_path, engine, lfw_images)
    assert clusters.update() == len(tracks)
    total, infos = clusters.all(limit=200)
    # Pure (no cluster mixes two people) at the LFW-measured threshold; a person may still be split.
    assert len(PEOPLE) + len(STRANGERS) <= total < len(tracks)
    by_cluster: dict[int, set[str]] = {}
    for info in infos:
        detail = clusters.get(info.id)
        people = {t.face.person for t in tracks if t.event_id in detail.event_ids}
        assert len(people) == 1, f"cluster {info.id} mixes {people}"
        by_cluster[info.id] = people
        assert set(info.cameras) <= {"door", "hall"} and info.size == len(detail.event_ids)
    assert sum(info.size for info in infos) == len(tracks)
    assert max(info.size for info in infos) >= 3, "photos of one person do cluster"
    assert clusters.update() == 0, "nothing new"

    purge = RetentionPurge(store.db, store.media, RetentionConfig(unmatched_hours=1), forget=clusters.forget)
    assert purge.purge().unmatched_events == len(tracks)
    with store.db.read() as s:
        assert s.scalar(select(func.count()).select_from(FaceCluster)) == 0
        assert s.scalar(select(func.count()).select_from(ClusterMember)) == 0


def test_merge_split_dismiss_are_audited_and_refuse_bad_input(
    db_url: str, tmp_path: Path, engine: Engine, lfw_images: Path
) -> None:
    _cfg, store, clusters, tracks = _setup(db_url, tmp_path, engine, lfw_images)
    clusters.update()
    _, infos = clusters.all(min_size=2, limit=200)
    a, b = infos[0].id, infos[1].id
    merged = clusters.merge("alice", a, [b], "same person, seen by eye")
    assert merged.size == infos[0].size + infos[1].size and merged.pinned
    with pytest.raises(NotFound):
        clusters.merge("alice", a, [b], "again")  # b went
    moved = clusters.get(a).event_ids[:2]
    with pytest.raises(BadInput, match="not tracks of cluster"):
        clusters.split("alice", a, [moved[0], tracks[-1].event_id], "wrong")
    new = clusters.split("alice", a, moved, "two people")
    assert new.size == 2 and clusters.get(a).info.size == merged.size - 2
    assert clusters.dismiss("alice", new.id, "not of interest").status.value == "dismissed"
    with store.db.read() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("cluster.%"))))
    assert sorted(actions) == ["cluster.dismiss", "cluster.merge", "cluster.split"]


def test_no_clusters_when_unknown_faces_are_not_kept(
    db_url: str, tmp_path: Path, engine: Engine, lfw_images: Path
) -> None:
    _cfg, _store, clusters, _tracks = _setup(db_url, tmp_path, engine, lfw_images, hours=0)
    assert not clusters.enabled
    assert clusters.update() == 0 and clusters.all() == (0, [])


def test_a_merge_after_a_purge_finds_the_cluster_gone_and_writes_nothing(
    db_url: str, tmp_path: Path, engine: Engine, lfw_images: Path
) -> None:
    _cfg, store, clusters, tracks = _setup(db_url, tmp_path, engine, lfw_images)
    clusters.update()
    _, infos = clusters.all(min_size=2, limit=200)
    keep, doomed = infos[0].id, infos[1].id
    doomed_events = clusters.get(doomed).event_ids
    with store.db.write() as s:  # the doomed cluster's tracks age past retention
        from vigil.store.tables import Event  # noqa: PLC0415

        for e in s.scalars(select(Event).where(Event.id.in_(doomed_events))):
            e.recorded_at = e.recorded_at - timedelta(days=3)
    RetentionPurge(store.db, store.media, RetentionConfig(unmatched_hours=24)).purge()
    with pytest.raises(NotFound):
        clusters.merge("alice", keep, [doomed], "racing the purge")
    assert clusters.get(keep).info.size == infos[0].size
    with store.db.read() as s:
        assert s.scalar(select(func.count()).where(AuditEntry.action == "cluster.merge")) == 0
    assert len(tracks) > 0


def test_naming_enrols_the_person_from_the_best_shots_unless_the_cluster_expired_meanwhile(
    db_url: str, tmp_path: Path, engine: Engine, lfw_images: Path
) -> None:
    from vigil.services.clusters import NameRequest  # noqa: PLC0415
    from vigil.services.lists import ListSettings  # noqa: PLC0415
    from vigil.store.tables import Event, FaceSample, Person  # noqa: PLC0415

    _cfg, store, clusters, _tracks = _setup(db_url, tmp_path, engine, lfw_images)
    clusters.update()
    store.lists.create("test", "visitors", ListSettings(), "test")
    enrolment = store.enrolment(engine)
    _, infos = clusters.all(min_size=2, limit=200)
    big, other = infos[0], infos[1]
    req = NameRequest(watchlist="visitors", name="Visitor One", reason="case 2026/77, consent on file")
    result, named = clusters.name("alice", big.id, req, enrolment.enrol)
    assert named.status.value == "named" and named.person_id == result.person_id
    with store.db.read() as s:
        assert s.scalar(select(func.count()).where(FaceSample.person_id == result.person_id)) >= 1
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"person.enrol", "cluster.name"} <= actions

    def purge_then_enrol(actor, request):  # type: ignore[no-untyped-def]
        with store.db.write() as s:  # the cluster's tracks expire between the read and the enrolment
            for e in s.scalars(select(Event).where(Event.id.in_(clusters.get(other.id).event_ids))):
                e.recorded_at = e.recorded_at - timedelta(days=3)
        RetentionPurge(store.db, store.media, RetentionConfig(unmatched_hours=24)).purge()
        return enrolment.enrol(actor, request)

    with pytest.raises(NotFound, match="nobody was enrolled"):
        clusters.name("alice", other.id, NameRequest("visitors", "Visitor Two", "case 78"), purge_then_enrol)
    with store.db.read() as s:
        assert s.scalar(select(func.count()).where(Person.name == "Visitor Two")) == 0


def test_merges_racing_a_purge_leave_every_cluster_whole(
    db_url: str, tmp_path: Path, engine: Engine, lfw_images: Path
) -> None:
    """Merges in one thread while the retention purge deletes half the tracks in another, started at once:
    whichever lands first, no member points at a deleted track or cluster, no cluster is left empty, and
    each merge that answered is audited once (those that lost the race answer NotFound and write nothing)."""
    import threading  # noqa: PLC0415

    from vigil.store.tables import Event  # noqa: PLC0415

    _cfg, store, clusters, tracks = _setup(db_url, tmp_path, engine, lfw_images)
    clusters.update()
    _, infos = clusters.all(limit=200)
    ids = [i.id for i in infos]
    doomed = {e for i in ids[1::2] for e in clusters.get(i).event_ids}  # every other cluster's tracks
    with store.db.write() as s:
        for e in s.scalars(select(Event).where(Event.id.in_(doomed))):
            e.recorded_at = e.recorded_at - timedelta(days=3)
    purge = RetentionPurge(store.db, store.media, RetentionConfig(unmatched_hours=24), forget=clusters.forget)
    start = threading.Barrier(2)
    merged: list[int] = []
    refused: list[BaseException] = []

    def merge_pairs() -> None:
        start.wait()
        for keep, other in zip(ids[0::2], ids[1::2], strict=False):
            try:
                clusters.merge("alice", keep, [other], "same person")
                merged.append(keep)
            except NotFound as exc:
                refused.append(exc)

    failed: list[BaseException] = []

    def purge_once() -> None:
        start.wait()
        try:
            purge.purge()
        except Exception as exc:  # e.g. a deadlock between the two transactions
            failed.append(exc)

    threads = [threading.Thread(target=merge_pairs), threading.Thread(target=purge_once)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failed == [], "the purge does not fail for a merge at the same moment"
    assert len(merged) + len(refused) == len(ids) // 2

    with store.db.read() as s:
        members = s.execute(select(ClusterMember.cluster_id, ClusterMember.event_id)).all()
        events = set(s.scalars(select(Event.id)))
        kept = set(s.scalars(select(FaceCluster.id)))
        merges = s.scalar(select(func.count()).where(AuditEntry.action == "cluster.merge"))
    assert not doomed & events, "the purge deleted every aged track"
    assert {e for _, e in members} <= events, "no member of a deleted track"
    assert {c for c, _ in members} == kept, "no member of a deleted cluster, no empty cluster"
    counted: dict[int, int] = {}
    for c, _ in members:
        counted[c] = counted.get(c, 0) + 1
    assert counted == {c: clusters.get(c).info.size for c in kept}, "each cluster's size is its members"
    assert merges == len(merged), "a merge is audited iff it answered"
    assert sum(counted.values()) == len(tracks) - len(doomed)
