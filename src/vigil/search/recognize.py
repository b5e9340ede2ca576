"""Who is in this photo? Every face of one photo judged against the store's gallery, as a camera would.

Each face is decided by the rule of the live path: the closest enrolled person is named when the score
reaches the threshold of one of the lists they are on (each list's own or calibrated threshold, as its
alerts use) and leads the runner-up by ``match.min_margin``. The threshold reported for a face is the
lowest of its closest person's lists (below it, no list of theirs could name them); ``lists`` are those
whose threshold it passed. A face too poor to embed on a camera is reported with the reasons, not named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime

from vigil.config import BestShotConfig, MatchConfig
from vigil.embed.stills import StillFaces
from vigil.match.gallery import Candidate, Gallery
from vigil.match.photo import PhotoFace, judge_faces
from vigil.match.thresholds import ListRule
from vigil.types import IdentityScore, Image


@dataclass(frozen=True, slots=True)
class PersonScore:
    """An enrolled person a face resembles: how closely, and the lists they are on (names)."""

    person_id: int
    name: str
    score: float
    lists: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecognizedFace:
    """One face of the photo: the decision on it (:class:`PhotoFace`), with the people named.

    ``identity`` is the person it was identified as (None: unknown, or not judged), with ``lists`` the
    lists whose threshold it passed; ``candidate`` and ``runner_up`` are the two closest people whatever
    the decision.
    """

    face: PhotoFace
    identity: PersonScore | None
    lists: tuple[str, ...]
    candidate: PersonScore | None
    runner_up: PersonScore | None


@dataclass(frozen=True, slots=True)
class Recognition:
    audit_id: int
    probe_sha256: str
    model_id: str
    faces: list[RecognizedFace]


@dataclass(frozen=True, slots=True)
class Names:
    """What the answer names: people and lists by id, and each list's rule now."""

    people: Mapping[int, str]
    lists: Mapping[int, str]
    rules: Mapping[int, ListRule]


def candidates(gallery: Gallery, found: StillFaces, at: datetime) -> list[list[Candidate]]:
    """The two closest people with an active list entry, for each face."""
    if not len(found.detections):
        return []
    return gallery.search(found.embeddings.vectors, 2, at)


def recognize_faces(
    image: Image,
    found: StillFaces,
    ranked: Sequence[Sequence[Candidate]],
    names: Names,
    *,
    match: MatchConfig,
    shots: BestShotConfig,
) -> list[RecognizedFace]:
    """Decide every face of ``image`` from its closest people ``ranked`` (see the module docstring)."""

    def threshold_of(row: Sequence[Candidate]) -> float:
        rules = [names.rules[i] for i in row[0].list_ids if i in names.rules] if row else []
        return min((r.threshold for r in rules), default=match.threshold)

    by_identity = [[IdentityScore(str(c.person_id), c.score) for c in row] for row in ranked]
    thresholds = [threshold_of(row) for row in ranked]
    judged = judge_faces(image, found, by_identity, thresholds, min_margin=match.min_margin, shots=shots)
    out = []
    for face, row in zip(judged, ranked, strict=True):
        people = [_person(c, names) for c in row]
        d = face.decision
        passed: tuple[str, ...] = ()
        if d.identity is not None:
            passed = tuple(
                sorted(names.lists.get(i, str(i)) for i in row[0].list_ids
                       if i in names.rules and d.score >= names.rules[i].threshold)
            )  # fmt: skip
        identity = people[0] if d.identity is not None else None
        second = people[1] if len(people) > 1 else None
        out.append(RecognizedFace(face, identity, passed, people[0] if people else None, second))
    return out


def within_lists(faces: Sequence[RecognizedFace], shown: Set[str]) -> list[RecognizedFace]:
    """``faces`` as a user limited to the lists ``shown`` (names) sees them: a face is named only when it
    passed the threshold of one of those lists (else it is unknown to them), the closest people are shown
    only when on one of them, and only those lists are named."""

    def person(p: PersonScore | None) -> PersonScore | None:
        if p is None or shown.isdisjoint(p.lists):
            return None
        return replace(p, lists=tuple(n for n in p.lists if n in shown))

    out = []
    for f in faces:
        passed = tuple(n for n in f.lists if n in shown)
        identity = person(f.identity) if passed else None
        out.append(replace(f, identity=identity, lists=passed if identity else (),
                           candidate=person(f.candidate), runner_up=person(f.runner_up)))  # fmt: skip
    return out


def _person(c: Candidate, names: Names) -> PersonScore:
    lists = tuple(sorted(names.lists.get(i, str(i)) for i in c.list_ids))
    return PersonScore(c.person_id, names.people.get(c.person_id, "?"), round(c.score, 4), lists)
