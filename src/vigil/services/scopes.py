"""Which lists' alerts each user gets on the officer view (none assigned: every list's). Audited."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil.errors import NotFound
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.tables import User, UserWatchlist, Watchlist


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
