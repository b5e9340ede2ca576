"""The gallery of enrolled people: their face vectors in a vector index, and which lists they are on.

It is an in-memory mirror of the store, rebuilt from the database at start and updated after each
enrolment or removal commits; the database stays the truth. A person counts for a list only while
their entry on it has not expired, so expired entries stop matching on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from vigil.errors import ModelError
from vigil.match.index import FlatIndex, VectorIndex
from vigil.types import FloatArray, IdentityScore, IntArray


@dataclass(frozen=True, slots=True)
class ListMembership:
    """A person's entry on one list."""

    list_id: int
    expires_at: datetime | None

    def active(self, at: datetime) -> bool:
        return self.expires_at is None or at < self.expires_at


@dataclass(frozen=True, slots=True)
class Candidate:
    """How close a probe is to one enrolled person (their best sample), and on which active lists."""

    person_id: int
    score: float
    sample_id: int
    list_ids: tuple[int, ...]


@dataclass
class Gallery:
    """Enrolled samples by id, their people, and the people's list entries."""

    model_id: str
    dim: int
    _index: VectorIndex = field(init=False, repr=False)
    _person_of: dict[int, int] = field(default_factory=dict, repr=False)
    _lists: dict[int, tuple[ListMembership, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = FlatIndex(self.dim)

    def __len__(self) -> int:
        return len(self._person_of)

    @property
    def people(self) -> set[int]:
        return set(self._person_of.values())

    def add_samples(
        self, sample_ids: IntArray, person_ids: IntArray, vectors: FloatArray, model_id: str
    ) -> None:
        if model_id != self.model_id:
            raise ModelError(f"samples embedded with {model_id}; this gallery holds {self.model_id}")
        fresh = np.array([s not in self._person_of for s in sample_ids.tolist()], dtype=bool)
        if not fresh.any():
            return
        self._index.add(sample_ids[fresh], vectors[fresh])
        self._person_of.update(zip(sample_ids[fresh].tolist(), person_ids[fresh].tolist(), strict=True))

    def set_lists(self, person_id: int, memberships: Iterable[ListMembership]) -> None:
        self._lists[person_id] = tuple(memberships)

    def remove_person(self, person_id: int) -> int:
        samples = [s for s, p in self._person_of.items() if p == person_id]
        if samples:
            self._index.remove(np.array(samples, np.int64))
        for s in samples:
            del self._person_of[s]
        self._lists.pop(person_id, None)
        return len(samples)

    def search(
        self,
        vectors: FloatArray,
        k: int,
        at: datetime,
        list_ids: set[int] | None = None,
        exclude_person: int | None = None,
    ) -> list[list[Candidate]]:
        """For each probe, up to ``k`` people (best first) with an active entry (on ``list_ids`` if given).

        ``at`` is the time of the sighting: an entry that has expired by then does not match.
        """
        if len(self) == 0:
            return [[] for _ in range(len(vectors))]
        fetch = min(len(self), max(4 * k, 64))
        out: list[list[Candidate]] = []
        scores, ids = self._index.search(vectors, fetch)
        for row_s, row_i in zip(scores, ids, strict=True):
            best: dict[int, Candidate] = {}
            for score, sample in zip(row_s.tolist(), row_i.tolist(), strict=True):
                person = self._person_of.get(sample)
                if person is None or person in best or person == exclude_person:
                    continue
                active = tuple(
                    m.list_id
                    for m in self._lists.get(person, ())
                    if m.active(at) and (list_ids is None or m.list_id in list_ids)
                )
                if active:
                    best[person] = Candidate(person, score, sample, active)
                if len(best) == k:
                    break
            out.append(list(best.values()))
        return out


class GalleryIdentities:
    """The gallery seen as identities (person ids as strings) for per-track decisions.

    Entries are judged active at the time of the search (``clock``); the gallery itself can be swapped
    for a freshly loaded one while cameras run (:meth:`replace`).
    """

    def __init__(self, gallery: Gallery, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gallery = gallery
        self._clock = clock

    @property
    def gallery(self) -> Gallery:
        return self._gallery

    def replace(self, gallery: Gallery) -> None:
        self._gallery = gallery

    def search(self, vectors: FloatArray, k: int) -> list[list[IdentityScore]]:
        found = self._gallery.search(vectors, k, self._clock())
        return [[IdentityScore(str(c.person_id), c.score) for c in row] for row in found]
