"""Reading the audit log: pages of rows, newest first, filtered by actor, action, time and list, each row
with its own verdict in the hash chain. Reading is itself audited (``audit.read``): who read what.

A row's verdict: ``ok`` when its hash covers its content and its ``prev_hash`` is the hash of the row
before it; ``altered`` when its content no longer matches its hash; ``unlinked`` when the row before it is
not the one it was chained to (a row was removed or reordered). ``verify`` walks the whole chain.

Example:
    >>> log = AuditLog(db)  # doctest: +SKIP
    >>> page = log.page("ann", AuditFilter(action="alert.confirm"), limit=50)
    >>> page.rows[0].chain, page.next_cursor
    ('ok', 1183)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, aliased

from vigil.errors import BadInput, check_period
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.tables import AuditEntry, Event, Watchlist

MAX_PAGE = 500
_BATCH = 500  # rows read at a time while a list filter, checked in Python, skips rows
READ_ACTION = "audit.read"


class ChainStatus(StrEnum):
    OK = "ok"
    ALTERED = "altered"  # the row's content does not match its hash
    UNLINKED = "unlinked"  # the row before it is not the one it was chained to


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which rows: ``action`` is exact, or a prefix when it ends with ``.`` or ``*`` ("alert." or
    "alert.*"); ``since`` inclusive, ``until`` exclusive; ``watchlist`` a list's name or id, matched in
    the row's subject and details (and, for alert reviews, the lists the alert was on)."""

    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    watchlist: str | None = None

    def check(self) -> None:
        check_period(self.since, self.until)
        for name, value in (("actor", self.actor), ("action", self.action), ("list", self.watchlist)):
            if value is not None and not value.strip():
                raise BadInput(name, "is empty: leave it out to match every row")

    def as_audit(self) -> dict[str, object]:
        return {
            "actor": self.actor, "action": self.action, "list": self.watchlist,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str
    details: dict[str, object]
    prev_hash: str
    hash: str
    chain: ChainStatus


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditRow]
    next_cursor: int | None  # pass as ``cursor`` for the next (older) page; None: this was the last


@dataclass(frozen=True, slots=True)
class AuditFacets:
    """What the filters can choose from: every actor and action in the log, sorted."""

    actors: list[str]
    actions: list[str]


@dataclass(frozen=True, slots=True)
class _ListKey:
    """A list as a filter: its name and id, whichever are known."""

    name: str | None
    id: int | None


def chain_status(row: AuditEntry, prev_hash: str | None) -> ChainStatus:
    """The verdict of one row given the hash of the row stored before it (None: it is the first)."""
    want = audit.entry_hash(
        row.prev_hash, at=row.at, actor=row.actor, action=row.action, subject=row.subject,
        reason=row.reason, details=row.details,
    )  # fmt: skip
    if want != row.hash:
        return ChainStatus.ALTERED
    if row.prev_hash != (prev_hash or audit.GENESIS):
        return ChainStatus.UNLINKED
    return ChainStatus.OK


def _details(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"unreadable": text}
    return value if isinstance(value, dict) else {"value": value}


def _row(entry: AuditEntry, prev_hash: str | None) -> AuditRow:
    return AuditRow(
        entry.id, as_utc(entry.at), entry.actor, entry.action, entry.subject, entry.reason,
        _details(entry.details), entry.prev_hash, entry.hash, chain_status(entry, prev_hash),
    )  # fmt: skip


def _names_in(details: dict[str, object]) -> set[str]:
    """The list names a row's details mention (``list``, ``lists``, ``from``/``to`` of user.lists)."""
    found: set[str] = set()
    for key in ("list", "lists", "from", "to"):
        value = details.get(key)
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))
    return found


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def page(
        self, reader: str, f: AuditFilter, *, limit: int = 100, cursor: int | None = None, record: bool = True
    ) -> AuditPage:
        """Rows matching ``f`` older than ``cursor`` (a row id), newest first; recorded as ``audit.read``
        by ``reader`` unless ``record`` is False.

        Raises:
            BadInput: a bad filter, limit or cursor.
        """
        f.check()
        if not 1 <= limit <= MAX_PAGE:
            raise BadInput("limit", f"{limit} is not between 1 and {MAX_PAGE}")
        if cursor is not None and cursor < 1:
            raise BadInput("cursor", f"{cursor} is not a row id")
        with self._db.read() as s:
            key = _list_key(s, f.watchlist) if f.watchlist is not None else None
            rows = self._collect(s, f, key, limit + 1, cursor)
        more = len(rows) > limit
        rows = rows[:limit]
        page = AuditPage(rows, rows[-1].id if more else None)
        if record:
            with self._db.write() as s:
                audit.append(
                    s, reader, READ_ACTION, "audit", details={"filter": f.as_audit(), "cursor": cursor,
                    "limit": limit, "rows": len(rows), "first": rows[0].id if rows else None,
                    "last": rows[-1].id if rows else None},
                )  # fmt: skip
        return page

    def facets(self) -> AuditFacets:
        with self._db.read() as s:
            actors = sorted(s.scalars(select(AuditEntry.actor).distinct()))
            actions = sorted(s.scalars(select(AuditEntry.action).distinct()))
        return AuditFacets(actors, actions)

    def verify(self) -> audit.ChainCheck:
        with self._db.read() as s:
            return audit.verify(s)

    def _collect(
        self, s: Session, f: AuditFilter, key: _ListKey | None, want: int, cursor: int | None
    ) -> list[AuditRow]:
        out: list[AuditRow] = []
        below = cursor
        while len(out) < want:
            query = _query(f, key, below).limit(_BATCH if key else want - len(out))
            batch: list[tuple[AuditEntry, str | None]] = [(r[0], r[1]) for r in s.execute(query)]
            if not batch:
                break
            entries = [entry for entry, _ in batch]
            alert_lists = _alert_lists(s, entries) if key else {}
            for entry, prev in batch:
                if key is None or _mentions(entry, key, alert_lists):
                    out.append(_row(entry, prev))
                    if len(out) == want:
                        break
            below = entries[-1].id
            if key is None:
                break
        return out


def _query(f: AuditFilter, key: _ListKey | None, below: int | None) -> Select[AuditEntry, str | None]:
    before = aliased(AuditEntry)
    prev = (
        select(before.hash).where(before.id < AuditEntry.id).order_by(before.id.desc()).limit(1)
    ).scalar_subquery()
    q = select(AuditEntry, prev).order_by(AuditEntry.id.desc())
    if below is not None:
        q = q.where(AuditEntry.id < below)
    if f.actor is not None:
        q = q.where(AuditEntry.actor == f.actor)
    if f.action is not None:
        stem = f.action.rstrip("*")
        q = q.where(
            AuditEntry.action.startswith(stem, autoescape=True)
            if stem.endswith(".")
            else AuditEntry.action == stem
        )
    if f.since is not None:
        q = q.where(AuditEntry.at >= f.since.astimezone(UTC))
    if f.until is not None:
        q = q.where(AuditEntry.at < f.until.astimezone(UTC))
    if key is not None:  # a coarse filter in SQL; _mentions decides
        terms = [AuditEntry.subject.startswith("alert:")]
        if key.name is not None:
            terms += [AuditEntry.subject == f"list:{key.name}", AuditEntry.details.contains(key.name)]
        if key.id is not None:
            terms.append(AuditEntry.details.contains(str(key.id)))
        q = q.where(or_(*terms))
    return q


def _list_key(s: Session, given: str) -> _ListKey:
    """A list filter as name and id: an id names the list it is (if it still exists), a name the id."""
    text = given.strip()
    if text.isdigit():
        list_id = int(text)
        return _ListKey(s.scalar(select(Watchlist.name).where(Watchlist.id == list_id)), list_id)
    return _ListKey(text, s.scalar(select(Watchlist.id).where(Watchlist.name == text)))


def _alert_lists(s: Session, entries: Iterable[AuditEntry]) -> dict[int, set[int]]:
    """Alert id -> the ids of every list it was on, for the ``alert:<id>`` rows among ``entries``."""
    ids = {int(e.subject[6:]) for e in entries if e.subject.startswith("alert:") and e.subject[6:].isdigit()}
    if not ids:
        return {}
    out: dict[int, set[int]] = {}
    for event_id, own, lists in s.execute(
        select(Event.id, Event.watchlist_id, Event.list_ids).where(Event.id.in_(sorted(ids)))
    ):
        out[event_id] = {*(lists or ()), *((own,) if own is not None else ())}
    return out


def _mentions(entry: AuditEntry, key: _ListKey, alert_lists: dict[int, set[int]]) -> bool:
    if key.name is not None and entry.subject == f"list:{key.name}":
        return True
    if entry.subject.startswith("alert:") and entry.subject[6:].isdigit():
        return key.id is not None and key.id in alert_lists.get(int(entry.subject[6:]), set())
    details = _details(entry.details)
    if key.name is not None and key.name in _names_in(details):
        return True
    return key.id is not None and key.id in _ids_in(details)


def _ids_in(details: dict[str, object]) -> set[int]:
    found: set[int] = set()
    for key in ("watchlist_id", "list_id"):
        value = details.get(key)
        if isinstance(value, int):
            found.add(value)
    filt = details.get("filter")
    if isinstance(filt, dict):
        lists = filt.get("lists")
        if isinstance(lists, Sequence) and not isinstance(lists, str):
            found.update(v for v in lists if isinstance(v, int))
    return found
