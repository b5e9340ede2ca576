"""The sign-in brake shared by every API process: counted from the audit log, which every process writes.

:class:`vigil.services.credentials.LoginThrottle` counts in one process's memory, so with several API
processes behind a proxy a guesser gets ``max_failures`` tries per process. This throttle reads the
name's failed sign-ins (``auth.login_failed``) since its last successful one (``auth.login``) from the
audit log and applies the same rule: ``max_failures`` failures within ``window`` lock the name for
``lockout``. The audit rows are written by the sign-in itself, so nothing else needs storing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from vigil.store.db import Database, as_utc
from vigil.store.tables import AuditEntry


class SharedLoginThrottle:
    def __init__(
        self,
        db: Database,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=15),
        lockout: timedelta = timedelta(minutes=15),
    ) -> None:
        self._db = db
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout

    def _failures(self, name: str, now: datetime) -> list[datetime]:
        subject = f"user:{name}"
        since = now - self.window - self.lockout  # older failures cannot lock the name now
        with self._db.read() as s:
            success = s.scalar(
                select(func.max(AuditEntry.at)).where(
                    AuditEntry.action == "auth.login", AuditEntry.subject == subject
                )
            )
            if success is not None:
                since = max(since, as_utc(success))
            of_name = (AuditEntry.action == "auth.login_failed", AuditEntry.subject == subject)
            query = select(AuditEntry.at).where(*of_name, AuditEntry.at > since).order_by(AuditEntry.at)
            times = s.scalars(query).all()
        return [as_utc(t) for t in times]

    def _lock_end(self, failures: list[datetime]) -> datetime | None:
        """Replay the rule over the failures in order: when the last lock they caused ends."""
        recent: list[datetime] = []
        until: datetime | None = None
        for t in failures:
            if until is not None and t < until:
                continue  # refused while locked (another process, at the same moment): not counted
            recent = [r for r in recent if t - r < self.window] + [t]
            if len(recent) >= self.max_failures:
                until, recent = t + self.lockout, []
        return until

    def locked_until(self, name: str, now: datetime) -> datetime | None:
        until = self._lock_end(self._failures(name, now))
        return until if until is not None and until > now else None

    def failed(self, name: str, now: datetime) -> bool:
        """Whether this failure (its audit row is written next, by the sign-in) locks the name."""
        until = self._lock_end([*self._failures(name, now), now])
        return until is not None and until > now and until - self.lockout == now

    def succeeded(self, name: str) -> None:
        """Nothing to do: the sign-in's own audit row (``auth.login``) ends the count."""
