"""The accountability report of a period: what was searched and why, what alerted on which list, who
confirmed and rejected what and how fast, the thresholds and their calibration, the changes to the
watchlists with their legal basis, the purges, and whether the audit chain holds.

``ReportService.build(since, until)`` gathers the figures into a typed :class:`Report` (no I/O beyond the
database); ``vigil.services.report_render`` turns one into HTML (or PDF). A period with nothing in it is
an empty report, not an error. Times are ``since`` inclusive, ``until`` exclusive.

Example:
    >>> report = ReportService(db, lists).build(since, until)  # doctest: +SKIP
    >>> report.alerts_total, report.review_times.median_s
    (12, 95.0)
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.errors import check_period
from vigil.services.audit_log import _details
from vigil.services.lists import ListService
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.tables import AuditEntry, Event, EventReview, EventStatus, Watchlist

SEARCH_ACTIONS = ("search.photo", "recognize.photo")
LIST_ACTIONS = (
    "list.create", "list.remove", "list.rule", "person.enrol", "person.list.add", "person.list.remove",
    "person.remove",
)  # fmt: skip
PURGE_ACTION = "retention.purge"
REMOVED_LIST = "(removed list)"


@dataclass(frozen=True, slots=True)
class SearchLine:
    at: datetime
    actor: str
    action: str  # search.photo or recognize.photo
    reason: str
    found: int  # people and sightings found (a search), faces named (a recognition)


@dataclass(frozen=True, slots=True)
class ListAlerts:
    watchlist: str
    alerts: int
    confirmed: int
    rejected: int
    acknowledged: int
    open: int  # not reviewed yet


@dataclass(frozen=True, slots=True)
class ReviewerLine:
    username: str
    acknowledged: int
    confirmed: int
    rejected: int
    median_s: float | None  # from the alert to this reviewer's review


@dataclass(frozen=True, slots=True)
class ReviewTimes:
    """Time from an alert (raised in the period) to its first review."""

    reviewed: int
    unreviewed: int
    median_s: float | None
    p90_s: float | None
    max_s: float | None
    delays_s: tuple[float, ...] = ()  # every alert's, for the plot


@dataclass(frozen=True, slots=True)
class ThresholdLine:
    """A list's rule now, and the thresholds its alerts of the period passed."""

    watchlist: str
    threshold: float
    fixed: bool
    fpir: float | None
    calibrated: float | None
    size: int
    below_calibrated: bool
    passed_min: float | None
    passed_max: float | None


@dataclass(frozen=True, slots=True)
class AuditLine:
    """An audit row of the period, as the report shows it."""

    at: datetime
    actor: str
    action: str
    subject: str
    watchlist: str
    reason: str  # the legal basis, case reference or why
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PurgeLine:
    at: datetime
    events: int
    files: int
    probes: int
    negatives: int


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    rows: int
    ok: bool
    broken_at: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Report:
    since: datetime
    until: datetime
    generated_at: datetime
    searches: list[SearchLine]
    alerts_per_list: list[ListAlerts]
    alerts_per_day: dict[date, dict[str, int]]  # day (UTC) -> list -> alerts
    reviewers: list[ReviewerLine]
    review_times: ReviewTimes
    thresholds: list[ThresholdLine]
    rule_changes: list[AuditLine]
    list_changes: list[AuditLine]
    purges: list[PurgeLine]
    chain: ChainVerdict

    @property
    def alerts_total(self) -> int:
        return sum(a.alerts for a in self.alerts_per_list)

    @property
    def searches_per_actor(self) -> dict[str, int]:
        return dict(sorted(Counter(s.actor for s in self.searches).items()))

    @property
    def empty(self) -> bool:
        """Nothing happened in the period (the thresholds and the chain are stated anyway)."""
        return not (
            self.searches or self.alerts_per_list or self.reviewers or self.list_changes or self.purges
            or self.rule_changes
        )  # fmt: skip


def _percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class ReportService:
    def __init__(self, db: Database, lists: ListService) -> None:
        self._db = db
        self._lists = lists

    def build(self, since: datetime, until: datetime, *, now: datetime | None = None) -> Report:
        """The figures of ``[since, until)``.

        Raises:
            BadInput: a time without a zone, or ``since`` not before ``until``.
        """
        check_period(since, until, "period")
        since, until = since.astimezone(UTC), until.astimezone(UTC)
        with self._db.read() as s:
            names = dict(s.execute(select(Watchlist.id, Watchlist.name)).all())
            rows = list(
                s.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.at >= since, AuditEntry.at < until)
                    .order_by(AuditEntry.id)
                )
            )
            alerts = list(
                s.scalars(
                    select(Event).where(
                        Event.alerted_at.is_not(None), Event.alerted_at >= since, Event.alerted_at < until
                    )
                )
            )
            reviews = _reviews(s, since, until)
            first_review = _first_reviews(s, [e.id for e in alerts])
            chain = audit.verify(s)
        per_list, per_day, passed = _alerts(alerts, names)
        return Report(
            since=since, until=until, generated_at=now or datetime.now(UTC),
            searches=[_search(r) for r in rows if r.action in SEARCH_ACTIONS],
            alerts_per_list=per_list, alerts_per_day=per_day,
            reviewers=_reviewers(reviews),
            review_times=_review_times(alerts, first_review),
            thresholds=self._thresholds(passed),
            rule_changes=[_line(r) for r in rows if r.action == "list.rule"],
            list_changes=[_line(r) for r in rows if r.action in LIST_ACTIONS and r.action != "list.rule"],
            purges=[_purge(r) for r in rows if r.action == PURGE_ACTION],
            chain=ChainVerdict(chain.rows, chain.ok, chain.broken_at, chain.reason),
        )  # fmt: skip

    def _thresholds(self, passed: dict[str, list[float]]) -> list[ThresholdLine]:
        out = []
        for info in self._lists.all():
            rule, seen = info.rule, passed.get(info.name, [])
            out.append(
                ThresholdLine(
                    info.name,
                    rule.threshold,
                    rule.fixed,
                    rule.fpir,
                    rule.calibrated,
                    rule.size,
                    rule.below_calibrated,
                    min(seen) if seen else None,
                    max(seen) if seen else None,
                )
            )
        return out


def _reviews(s: Session, since: datetime, until: datetime) -> list[tuple[EventReview, datetime]]:
    """Reviews made in the period, each with its alert's time."""
    q = (
        select(EventReview, Event.alerted_at)
        .join(Event, Event.id == EventReview.event_id)
        .where(EventReview.at >= since, EventReview.at < until, Event.alerted_at.is_not(None))
        .order_by(EventReview.id)
    )
    return [(r, as_utc(at)) for r, at in s.execute(q) if at is not None]


def _first_reviews(s: Session, alert_ids: list[int]) -> dict[int, datetime]:
    out: dict[int, datetime] = {}
    for lo in range(0, len(alert_ids), 500):
        q = select(EventReview.event_id, EventReview.at).where(
            EventReview.event_id.in_(alert_ids[lo : lo + 500])
        )
        for event_id, stored in s.execute(q):
            at = as_utc(stored)
            if event_id not in out or at < out[event_id]:
                out[event_id] = at
    return out


def _alerts(
    alerts: list[Event], names: dict[int, str]
) -> tuple[list[ListAlerts], dict[date, dict[str, int]], dict[str, list[float]]]:
    counts: dict[str, Counter[EventStatus]] = defaultdict(Counter)
    per_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    passed: dict[str, list[float]] = defaultdict(list)
    for e in alerts:
        name = names.get(e.watchlist_id, REMOVED_LIST) if e.watchlist_id is not None else REMOVED_LIST
        counts[name][e.status] += 1
        per_day[as_utc(e.alerted_at or e.start_at).date()][name] += 1
        if e.threshold is not None:
            passed[name].append(e.threshold)
    per_list = [
        ListAlerts(
            name,
            sum(c.values()),
            c[EventStatus.CONFIRMED],
            c[EventStatus.REJECTED],
            c[EventStatus.ACKNOWLEDGED],
            c[EventStatus.NEW],
        )
        for name, c in sorted(counts.items())
    ]
    return per_list, {d: dict(v) for d, v in sorted(per_day.items())}, dict(passed)


def _reviewers(reviews: list[tuple[EventReview, datetime]]) -> list[ReviewerLine]:
    actions: dict[str, Counter[EventStatus]] = defaultdict(Counter)
    delays: dict[str, list[float]] = defaultdict(list)
    for r, alerted_at in reviews:
        actions[r.username][r.action] += 1
        delays[r.username].append((as_utc(r.at) - alerted_at).total_seconds())
    return [
        ReviewerLine(
            name,
            c[EventStatus.ACKNOWLEDGED],
            c[EventStatus.CONFIRMED],
            c[EventStatus.REJECTED],
            statistics.median(delays[name]) if delays[name] else None,
        )
        for name, c in sorted(actions.items())
    ]


def _review_times(alerts: list[Event], first: dict[int, datetime]) -> ReviewTimes:
    delays = [
        (first[e.id] - as_utc(e.alerted_at)).total_seconds()  # type: ignore[operator]
        for e in alerts
        if e.id in first
    ]
    return ReviewTimes(
        len(delays), len(alerts) - len(delays), _percentile(delays, 0.5), _percentile(delays, 0.9),
        max(delays) if delays else None, tuple(sorted(delays)),
    )  # fmt: skip


def _search(r: AuditEntry) -> SearchLine:
    d = _details(r.details)
    if r.action == "search.photo":
        found = len(_list(d.get("people"))) + len(_list(d.get("events")))
    else:
        found = sum(1 for a in _list(d.get("answers")) if isinstance(a, dict) and a.get("person") is not None)
    return SearchLine(as_utc(r.at), r.actor, r.action, r.reason, found)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _line(r: AuditEntry) -> AuditLine:
    d = _details(r.details)
    if r.subject.startswith("list:"):
        watchlist = r.subject[5:]
    elif isinstance(d.get("list"), str):
        watchlist = str(d["list"])
    else:
        watchlist = ", ".join(str(n) for n in _list(d.get("lists")))
    return AuditLine(as_utc(r.at), r.actor, r.action, r.subject, watchlist, r.reason, d)


def _purge(r: AuditEntry) -> PurgeLine:
    d = _details(r.details)

    def n(key: str) -> int:
        value = d.get(key)
        return value if isinstance(value, int) else 0

    return PurgeLine(
        as_utc(r.at), n("unmatched_events") + n("alert_events"), n("files"), n("probes"), n("negatives")
    )
