"""Reading what every writer of the store changed since the last look: a cursor over a time column.

Several processes write one store (``vigil serve``, ``vigil scan --store``, another host's ``vigil serve``)
and each stamps the rows it writes: ``events.recorded_at`` when it records a track, ``events.alerted_at``
when it raises an alert. A reader asks for the rows stamped after its watermark. Stamps are taken before
their transaction commits and by different clocks, so a row may become visible with a stamp a little older
than rows already read: the cursor therefore reads again an overlap of ``overlap_s`` behind its watermark and
remembers which (row, stamp) pairs it handed out in that window, so each change is handed out once.

A change whose transaction took longer than the overlap to commit (or a writer whose clock is behind by
more) is missed until the reader reloads; Vigil's write transactions take milliseconds.

Example:
    >>> cursor = FeedCursor(overlap_s=60.0)
    >>> rows = [(1, datetime.fromisoformat("2026-12-07T13:00:00+00:00"))]
    >>> cursor.fresh(rows), cursor.fresh(rows)
    ([1], [])
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from vigil.store.db import as_utc

OVERLAP_S = 60.0
PRUNE_AT = 1024


class FeedCursor:
    """A watermark over one stamp column, with the (id, stamp) pairs handed out inside the overlap."""

    def __init__(
        self,
        overlap_s: float = OVERLAP_S,
        *,
        mark: datetime | None = None,
        floor: datetime | None = None,
        once: bool = False,
    ) -> None:
        """A cursor whose first read starts an overlap behind ``mark`` (None: from the first row); it hands
        out nothing stamped before ``floor`` (None: no limit). ``once``: a row is handed out once, even if
        stamped again (an alert is raised once), else once per stamp (a track recorded again)."""
        if overlap_s < 0:
            raise ValueError(f"overlap_s must be >= 0, got {overlap_s}")
        self._overlap = timedelta(seconds=overlap_s)
        self._floor = None if floor is None else as_utc(floor)
        self._mark: datetime | None = as_utc(mark) if mark is not None else self._floor
        self._once = once
        self._seen: dict[int, datetime] = {}
        self._prune_at = PRUNE_AT
        self._lock = threading.Lock()

    def since(self) -> datetime | None:
        """Read the rows stamped after this (None: all of them)."""
        with self._lock:
            if self._mark is None:
                return None
            since = self._mark - self._overlap
            return since if self._floor is None else max(since, self._floor)

    def fresh(self, rows: Iterable[tuple[int, datetime]]) -> list[int]:
        """The ids of ``rows`` (id, stamp) not handed out yet with that stamp; they count as handed out."""
        out: list[int] = []
        with self._lock:
            for row_id, raw in rows:
                at = as_utc(raw)
                if self._floor is not None and at < self._floor:
                    continue
                before = self._seen.get(row_id)
                if before is not None and (self._once or before == at):
                    continue
                self._seen[row_id] = at
                out.append(row_id)
                if self._mark is None or at > self._mark:
                    self._mark = at
            self._prune()
        return out

    def note(self, row_id: int, at: datetime) -> bool:
        """Count one change as handed out (this process made it, whatever the floor); False if it was
        already."""
        stamp = as_utc(at)
        with self._lock:
            before = self._seen.get(row_id)
            if before is not None and (self._once or before == stamp):
                return False
            self._seen[row_id] = stamp
            if self._mark is None or stamp > self._mark:
                self._mark = stamp
            self._prune()
        return True

    def _prune(self) -> None:
        """Forget what lies well behind the overlap (amortised: when the memory doubled)."""
        if self._mark is None or len(self._seen) < self._prune_at:
            return
        old = self._mark - 2 * self._overlap
        self._seen = {i: at for i, at in self._seen.items() if at >= old}
        self._prune_at = max(PRUNE_AT, 2 * len(self._seen))
