"""Which lists' alerts each user gets on the officer view (none assigned: every list's), and the lists and
cameras a user is limited to (:class:`Scope`, enforced by the API; none: not limited). Both audited.

The officer view's lists are a preference inside the scope: what a user's phone rings for, not what they
may see. The scope is a limit (see :mod:`vigil.services.visibility` for what it hides).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Text, and_, cast, delete, false, func, or_, select, true
from sqlalchemy.orm import Session

from vigil.errors import NotFound
from vigil.services.visibility import Scope
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.tables import Camera, Event, Role, User, UserCamera, UserScopeList, UserWatchlist, Watchlist


@dataclass(frozen=True, slots=True)
class Limits:
    """A user's scope by name, as the API and ``vigil users`` show it (empty: not limited)."""

    lists: list[str]
    cameras: list[str]


class AlertScopes:
    def __init__(self, db: Database) -> None:
        self._db = db

    def lists_of(self, user_id: int) -> list[str]:
        """The names of the lists assigned to a user, sorted (empty: every list)."""
        with self._db.read() as s:
            return sorted(
                s.scalars(select(Watchlist.name).join(UserWatchlist).where(UserWatchlist.user_id == user_id))
            )

    def list_ids_of(self, user_id: int) -> frozenset[int] | None:
        """The ids of the lists whose alerts a user gets; None when every list's."""
        with self._db.read() as s:
            ids = frozenset(
                s.scalars(select(UserWatchlist.watchlist_id).where(UserWatchlist.user_id == user_id))
            )
        return ids or None

    def all(self) -> dict[int, list[str]]:
        """User id -> names of the lists assigned to them (users without any are left out)."""
        out: dict[int, list[str]] = defaultdict(list)
        with self._db.read() as s:
            rows = s.execute(
                select(UserWatchlist.user_id, Watchlist.name).join(Watchlist).order_by(Watchlist.name)
            )
            for user_id, name in rows:
                out[user_id].append(name)
        return dict(out)

    def check(self, names: list[str]) -> None:
        """Raises NotFound naming the lists of ``names`` that do not exist."""
        with self._db.read() as s:
            _list_ids(s, names)

    def assign(self, actor: str, username: str, names: list[str], reason: str = "") -> list[str]:
        """Give ``username`` exactly the lists ``names`` (an empty list: every list's alerts again).

        Raises:
            NotFound: no such user, or no list of one of the names.
        """
        wanted = sorted(set(names))
        with self._db.write() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"no user {username!r}")
            found = _list_ids(s, wanted)
            before = sorted(
                s.scalars(select(Watchlist.name).join(UserWatchlist).where(UserWatchlist.user_id == user.id))
            )
            if before == wanted:
                return wanted
            s.execute(delete(UserWatchlist).where(UserWatchlist.user_id == user.id))
            s.add_all(UserWatchlist(user_id=user.id, watchlist_id=found[n]) for n in wanted)
            audit.append(
                s, actor, "user.lists", f"user:{username}", reason=reason,
                details={"from": before, "to": wanted},
            )  # fmt: skip
        return wanted


class UserScopes:
    """The lists and cameras each user is limited to: read once per request, changed by administrators."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def scope_of(self, user_id: int, role: Role) -> Scope:
        """The scope of a user (admins: never limited)."""
        if role is Role.ADMIN:
            return Scope.EVERYTHING
        with self._db.read() as s:
            lists = frozenset(
                s.scalars(select(UserScopeList.watchlist_id).where(UserScopeList.user_id == user_id))
            )
            cameras = frozenset(s.scalars(select(UserCamera.camera_id).where(UserCamera.user_id == user_id)))
        return Scope(lists or None, cameras or None)

    def limits_of(self, user_id: int) -> Limits:
        return self.all().get(user_id, Limits([], []))

    def all(self) -> dict[int, Limits]:
        """User id -> their limits by name, sorted (users without any are left out)."""
        lists: dict[int, list[str]] = defaultdict(list)
        cameras: dict[int, list[str]] = defaultdict(list)
        with self._db.read() as s:
            for user_id, name in s.execute(
                select(UserScopeList.user_id, Watchlist.name).join(Watchlist).order_by(Watchlist.name)
            ):
                lists[user_id].append(name)
            for user_id, name in s.execute(
                select(UserCamera.user_id, Camera.name).join(Camera).order_by(Camera.name, Camera.id)
            ):
                cameras[user_id].append(name)
        return {u: Limits(lists.get(u, []), cameras.get(u, [])) for u in set(lists) | set(cameras)}

    def check(self, lists: list[str] | None, cameras: list[str] | None) -> None:
        """Raises NotFound naming the lists or cameras that do not exist."""
        with self._db.read() as s:
            if lists is not None:
                _list_ids(s, lists)
            if cameras is not None:
                _camera_ids(s, cameras)

    def limit(
        self,
        actor: str,
        username: str,
        *,
        lists: list[str] | None,
        cameras: list[str] | None,
        reason: str = "",
    ) -> Limits:
        """Limit ``username`` to exactly ``lists`` and/or ``cameras`` (None: leave as is; []: no limit).
        Audited (``user.scope``) when it changes anything.

        Raises:
            NotFound: no such user, or no list or (live or footage) camera of one of the names.
        """
        with self._db.write() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"no user {username!r}")
            before = _limits(s, user.id)
            if lists is not None:
                found = _list_ids(s, lists)
                s.execute(delete(UserScopeList).where(UserScopeList.user_id == user.id))
                s.add_all(UserScopeList(user_id=user.id, watchlist_id=i) for i in sorted(set(found.values())))
            if cameras is not None:
                ids = _camera_ids(s, cameras)
                s.execute(delete(UserCamera).where(UserCamera.user_id == user.id))
                s.add_all(UserCamera(user_id=user.id, camera_id=i) for i in sorted(set(ids.values())))
            s.flush()
            after = _limits(s, user.id)
            if after != before:
                audit.append(
                    s, actor, "user.scope", f"user:{username}", reason=reason,
                    details={"from": {"lists": before.lists, "cameras": before.cameras},
                             "to": {"lists": after.lists, "cameras": after.cameras}},
                )  # fmt: skip
        return after

    def refused(self, actor: str, action: str, subject: str) -> None:
        """Audit an attempt to act on something outside ``actor``'s scope (answered 404 or 403)."""
        with self._db.write() as s:
            audit.append(s, actor, "scope.refused", subject, details={"action": action})


def _limits(s: Session, user_id: int) -> Limits:
    lists = s.scalars(
        select(Watchlist.name)
        .join(UserScopeList)
        .where(UserScopeList.user_id == user_id)
        .order_by(Watchlist.name)
    )
    cameras = s.scalars(
        select(Camera.name).join(UserCamera).where(UserCamera.user_id == user_id).order_by(Camera.name)
    )
    return Limits(list(lists), list(cameras))


def event_in_scope(scope: Scope) -> ColumnElement[bool]:
    """SQL for :func:`vigil.services.visibility.event_visible` over ``events`` rows (the same rule, for
    filters and counts in the database)."""
    clause: ColumnElement[bool] = true()
    if scope.camera_ids is not None:
        clause = and_(clause, Event.camera_id.in_(sorted(scope.camera_ids)))
    if scope.list_ids is None:
        return clause
    ids = sorted(scope.list_ids)
    # The alert's lists as JSON text without spaces ("[3,5]"); none: '', 'null' or '[]'.
    text = func.replace(func.coalesce(cast(Event.list_ids, Text), ""), " ", "")
    has_lists = text.not_in(["", "null", "[]"])
    contains = [
        or_(text == f"[{i}]", text.like(f"[{i},%"), text.like(f"%,{i},%"), text.like(f"%,{i}]")) for i in ids
    ]
    in_lists = or_(
        and_(~has_lists, or_(Event.watchlist_id.is_(None), Event.watchlist_id.in_(ids))),
        and_(has_lists, or_(false(), *contains)),
    )
    return and_(clause, in_lists)


def _camera_ids(s: Session, names: list[str]) -> dict[str, int]:
    """Camera name -> id for ``names`` (cameras not removed, live or footage).

    Raises:
        NotFound: naming the cameras that do not exist.
    """
    query = select(Camera.name, Camera.id).where(Camera.name.in_(set(names)), Camera.removed_at.is_(None))
    found: dict[str, int] = dict(s.execute(query).all())
    missing = sorted(set(names) - set(found))
    if missing:
        raise NotFound(f"no camera named {', '.join(map(repr, missing))}")
    return found


def _list_ids(s: Session, names: list[str]) -> dict[str, int]:
    """List name -> id for ``names``.

    Raises:
        NotFound: naming the lists that do not exist.
    """
    query = select(Watchlist.name, Watchlist.id).where(Watchlist.name.in_(set(names)))
    found: dict[str, int] = dict(s.execute(query).all())
    missing = sorted(set(names) - set(found))
    if missing:
        raise NotFound(f"no list named {', '.join(map(repr, missing))}")
    return found
