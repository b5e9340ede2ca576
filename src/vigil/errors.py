"""One exception hierarchy for Vigil. Every error carries a sentence a person can act on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path


class VigilError(Exception):
    """Base of every error Vigil raises on purpose."""


class ConfigError(VigilError):
    """The configuration is wrong (unknown key, value out of bounds, unreadable file)."""


class ModelError(VigilError):
    """A model file is missing, corrupt, or does not match its expected hash."""


class SourceError(VigilError):
    """A video source cannot be opened or broke while reading."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class BadInput(VigilError):
    """An input file or value was rejected (not an image, too large, no face, several faces...)."""

    def __init__(self, what: str | Path, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = str(what)
        self.reason = reason


def check_period(since: datetime | None, until: datetime | None, empty: str = "time range") -> None:
    """Refuse a period bound without a time zone, or ``since`` not before ``until`` (either may be open).

    Raises:
        BadInput: naming ``since`` or ``until``; ``empty`` names the period in the message.
    """
    for name, at in (("since", since), ("until", until)):
        if at is not None and at.utcoffset() is None:
            raise BadInput(name, f"{at.isoformat()} has no time zone")
        if at is not None:
            try:
                at.astimezone(UTC)
            except OverflowError:
                raise BadInput(name, f"{at.isoformat()} is out of range in UTC") from None
    if since is not None and until is not None and since >= until:
        raise BadInput("since", f"the {empty} is empty: since must be before until")


class StoreError(VigilError):
    """The database is locked, gone, or refused a change; nothing was half-written."""


class StorageFull(StoreError):
    """The disk holding the data dir (or the database) is full: the write was refused, nothing half-written.
    Free space and send the same request again."""

    def __init__(self, where: str | Path) -> None:
        super().__init__(f"the disk is full: no space left for {where}; free space there and try again")
        self.where = str(where)


class StorageReadOnly(StoreError):
    """The data dir (or the database) is on a read-only file system: reads work, writes are refused."""

    def __init__(self, where: str | Path) -> None:
        super().__init__(f"the data dir is read-only: cannot write {where}; remount it read-write")
        self.where = str(where)


class NotFound(VigilError):
    """Something asked for by name or id does not exist."""


class Unauthorized(VigilError):
    """Who is asking is not known: no, a wrong, an expired or a revoked credential (sign in again)."""


class Forbidden(VigilError):
    """Who is asking is known, but their role does not allow this (ask an administrator)."""
