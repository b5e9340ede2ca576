"""What a scoped user may see: one typed :class:`Scope` and the pure predicates every route applies.

A user may be limited to some lists and/or some cameras (``vigil users scope``); a limit left empty is no
limit, and administrators are never limited. The rules, in one place:

- a **camera** is visible iff the scope has no camera limit or names it;
- a **list** is visible iff the scope has no list limit or names it;
- a **person** is visible iff the scope has no list limit or they are on one of its lists (a person on no
  list at all is visible to users without a list limit only);
- an **alert** is visible iff its camera is visible and one of the lists it passed is (an alert on lists
  A and B is visible to a user limited to B);
- an **event** (a recorded track) is visible iff its camera is visible and, when it was identified (an
  alert, or a sighting in an alert's cool-down), one of its lists is: an unknown face seen by an in-scope
  camera is visible; a track identified under out-of-scope lists only is not shown at all (not even as
  unknown);
- a **footage job** is visible iff the camera it records into is.

Routes answer an item the user may not see with 404 (its existence is not revealed, whatever the
method); an attempt to act on it is audited (``scope.refused``). An action on visible items that would
reach beyond the scope (enrolling someone who is also on another list is fine, removing them from every
list is not; adding a camera when limited to cameras) is refused with 403.

Example:
    >>> a_only = Scope(list_ids=frozenset({1}), camera_ids=None)
    >>> alert_visible(a_only, camera_id=7, list_ids=[2, 1])
    True
    >>> event_visible(a_only, camera_id=7, list_ids=[2])
    False
    >>> event_visible(a_only, camera_id=7, list_ids=None)  # an unknown face
    True
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Scope:
    """The lists and cameras a user is limited to, by id; None: not limited by that."""

    list_ids: frozenset[int] | None = None
    camera_ids: frozenset[int] | None = None

    EVERYTHING: ClassVar[Scope]

    @property
    def unlimited(self) -> bool:
        return self.list_ids is None and self.camera_ids is None

    def lists_within(self, wanted: frozenset[int] | None) -> frozenset[int] | None:
        """A filter of list ids narrowed to the scope (None: no filter at all)."""
        if self.list_ids is None:
            return wanted
        return self.list_ids if wanted is None else wanted & self.list_ids

    def cameras_within(self, wanted: frozenset[int] | None) -> frozenset[int] | None:
        """A filter of camera ids narrowed to the scope (None: no filter at all)."""
        if self.camera_ids is None:
            return wanted
        return self.camera_ids if wanted is None else wanted & self.camera_ids


Scope.EVERYTHING = Scope()


def camera_visible(scope: Scope, camera_id: int) -> bool:
    return scope.camera_ids is None or camera_id in scope.camera_ids


def list_visible(scope: Scope, list_id: int) -> bool:
    return scope.list_ids is None or list_id in scope.list_ids


def person_visible(scope: Scope, list_ids: Iterable[int]) -> bool:
    """A person on the lists ``list_ids`` (ids of their entries)."""
    return scope.list_ids is None or not scope.list_ids.isdisjoint(list_ids)


def alert_visible(scope: Scope, camera_id: int, list_ids: Collection[int]) -> bool:
    """An alert of ``camera_id`` that passed the lists ``list_ids``."""
    return camera_visible(scope, camera_id) and person_visible(scope, list_ids)


def event_visible(scope: Scope, camera_id: int, list_ids: Collection[int] | None) -> bool:
    """A track of ``camera_id``; ``list_ids`` the lists it was identified under, None: an unknown face."""
    if list_ids is None:
        return camera_visible(scope, camera_id)
    return alert_visible(scope, camera_id, list_ids)


def event_lists(watchlist_id: int | None, list_ids: list[int] | None) -> list[int] | None:
    """The lists an event row was identified under (its alert's, or a cool-down sighting's list), None
    for an unknown face: what :func:`event_visible` takes."""
    if list_ids:
        return list(list_ids)
    return None if watchlist_id is None else [watchlist_id]
