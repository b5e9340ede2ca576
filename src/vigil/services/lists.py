"""Watchlists: create, change, list, remove. Each change is written with its audit row in one transaction.

A list's threshold is calibrated for its size from the false-alert rate it accepts (``fpir``); a
threshold set by hand below the calibrated one is refused unless forced, and stays flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from vigil.errors import BadInput, NotFound
from vigil.match.thresholds import ListRule, ThresholdPolicy
from vigil.services.rules import list_sizes, rule_of
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.tables import Review, Severity, Watchlist, WatchlistEntry

LIST_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ListSettings:
    """What a list decides: its threshold (None: calibrated for its size at ``fpir``), the false-alert
    rate it accepts (None: ``match.fpir``), severity, review, retention."""

    threshold: float | None = None
    fpir: float | None = None
    severity: Severity = Severity.MEDIUM
    colour: str = "#d97706"
    review: Review = Review.ACKNOWLEDGE
    retention_days: int = 30
    description: str = ""

    def check(self) -> None:
        if self.threshold is not None and not -1.0 <= self.threshold <= 1.0:
            raise BadInput("threshold", f"{self.threshold} is not a cosine similarity in [-1, 1]")
        if self.fpir is not None and not 0.0 < self.fpir < 1.0:
            raise BadInput("fpir", f"{self.fpir} is not a rate between 0 and 1 (0.001: 1 in 1,000 tracks)")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.colour):
            raise BadInput("colour", f"{self.colour!r} is not a #rrggbb colour")
        if not 0 <= self.retention_days <= 36_500:
            raise BadInput("retention_days", f"{self.retention_days} is not between 0 and 36500")


@dataclass(frozen=True, slots=True)
class ListInfo:
    id: int
    name: str
    settings: ListSettings
    people: int
    created_by: str
    created_at: datetime
    rule: ListRule  # the threshold it alerts at now, and why


def check_list_name(name: str) -> str:
    if not LIST_NAME.fullmatch(name):
        raise BadInput(
            name, "list names are 1-64 lowercase letters, digits, '-' or '_', starting alphanumeric"
        )
    return name


def _info(wl: Watchlist, people: int, rule: ListRule) -> ListInfo:
    settings = ListSettings(
        wl.threshold, wl.fpir, wl.severity, wl.colour, wl.review, wl.retention_days, wl.description
    )  # fmt: skip
    return ListInfo(wl.id, wl.name, settings, people, wl.created_by, as_utc(wl.created_at), rule)


def _refuse_below_calibrated(rule: ListRule, force: bool) -> None:
    if rule.below_calibrated and not force:
        raise BadInput(
            "threshold",
            f"{rule.threshold} is below the threshold calibrated for this list ({rule.calibrated:.3f} for "
            f"{rule.size:,} people): it would name more strangers than the list's false-alert rate allows. "
            "Leave the threshold unset to follow the calibration, or force it (--force) to accept that",
        )


class ListService:
    def __init__(self, db: Database, policy: ThresholdPolicy) -> None:
        self._db = db
        self._policy = policy

    def create(
        self, actor: str, name: str, settings: ListSettings, reason: str, *, force: bool = False
    ) -> ListInfo:
        check_list_name(name)
        settings.check()
        if not reason.strip():
            raise BadInput("reason", "creating a list needs a reason")
        rule = self._policy.rule(0, settings.threshold, settings.fpir)
        _refuse_below_calibrated(rule, force)
        try:
            with self._db.write() as s:
                wl = Watchlist(
                    name=name, description=settings.description, threshold=settings.threshold,
                    fpir=settings.fpir, severity=settings.severity, colour=settings.colour,
                    review=settings.review, retention_days=settings.retention_days, created_by=actor,
                    created_at=datetime.now(UTC),
                )  # fmt: skip
                s.add(wl)
                s.flush()
                audit.append(
                    s, actor, "list.create", f"list:{name}", reason=reason,
                    details={"threshold": settings.threshold, "fpir": settings.fpir,
                             "severity": settings.severity.value, "review": settings.review.value,
                             "retention_days": settings.retention_days, "forced": rule.below_calibrated},
                )  # fmt: skip
        except IntegrityError as exc:
            raise BadInput(name, "a list with this name already exists") from exc
        return _info(wl, 0, rule)

    def set_rule(
        self,
        actor: str,
        name: str,
        reason: str,
        *,
        threshold: float | None,
        fpir: float | None,
        force: bool = False,
    ) -> ListInfo:
        """Set (or with None, clear) a list's own threshold and false-alert rate."""
        ListSettings(threshold=threshold, fpir=fpir).check()
        if not reason.strip():
            raise BadInput("reason", "changing a list's threshold needs a reason")
        with self._db.write() as s:
            wl = s.scalar(select(Watchlist).where(Watchlist.name == name))
            if wl is None:
                raise NotFound(f"no list named {name!r}")
            size = list_sizes(s, datetime.now(UTC), [wl.id]).get(wl.id, 0)
            rule = self._policy.rule(size, threshold, fpir)
            _refuse_below_calibrated(rule, force)
            before = {"threshold": wl.threshold, "fpir": wl.fpir}
            wl.threshold, wl.fpir = threshold, fpir
            audit.append(
                s, actor, "list.rule", f"list:{name}", reason=reason,
                details={"before": before, "threshold": threshold, "fpir": fpir, "size": size,
                         "calibrated": rule.calibrated, "forced": rule.below_calibrated},
            )  # fmt: skip
            n = s.scalar(select(func.count()).where(WatchlistEntry.watchlist_id == wl.id)) or 0
            return _info(wl, n, rule)

    def all(self) -> list[ListInfo]:
        with self._db.read() as s:
            counts = dict(
                s.execute(
                    select(WatchlistEntry.watchlist_id, func.count()).group_by(WatchlistEntry.watchlist_id)
                ).all()
            )
            active = list_sizes(s, datetime.now(UTC))
            return [
                _info(wl, counts.get(wl.id, 0), rule_of(self._policy, wl, active.get(wl.id, 0)))
                for wl in s.scalars(select(Watchlist).order_by(Watchlist.name))
            ]

    def get(self, name: str) -> ListInfo:
        with self._db.read() as s:
            wl = s.scalar(select(Watchlist).where(Watchlist.name == name))
            if wl is None:
                raise NotFound(f"no list named {name!r}")
            n = s.scalar(select(func.count()).where(WatchlistEntry.watchlist_id == wl.id)) or 0
            active = list_sizes(s, datetime.now(UTC), [wl.id]).get(wl.id, 0)
            return _info(wl, n, rule_of(self._policy, wl, active))

    def remove(self, actor: str, name: str, reason: str) -> int:
        """Delete a list and its entries (people stay, with their other lists); returns entries removed."""
        if not reason.strip():
            raise BadInput("reason", "removing a list needs a reason")
        with self._db.write() as s:
            wl = s.scalar(select(Watchlist).where(Watchlist.name == name))
            if wl is None:
                raise NotFound(f"no list named {name!r}")
            n = s.scalar(select(func.count()).where(WatchlistEntry.watchlist_id == wl.id)) or 0
            s.delete(wl)
            audit.append(s, actor, "list.remove", f"list:{name}", reason=reason, details={"entries": n})
        return n
