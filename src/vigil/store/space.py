"""A full or read-only disk, said plainly: the OS and SQLite errors for both become typed Vigil errors.

``ENOSPC``/``EDQUOT`` and SQLite's "database or disk is full" become :class:`StorageFull`; ``EROFS`` and
SQLite's "attempt to write a readonly database" become :class:`StorageReadOnly`. Both name where the
write was going, so an operator knows which disk to look at.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vigil.errors import StorageFull, StorageReadOnly, StoreError

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = "database or disk is full"
SQLITE_READONLY = "attempt to write a readonly database"


def storage_error(exc: OSError, where: str | Path) -> StoreError | None:
    """The Vigil error for an OS error that means "no space" or "read-only", else None."""
    if exc.errno in FULL_ERRNOS:
        return StorageFull(where)
    if exc.errno == errno.EROFS:
        return StorageReadOnly(where)
    return None


@contextmanager
def disk_errors(where: str | Path) -> Iterator[None]:
    """Raise a full or read-only disk met inside the block as StorageFull / StorageReadOnly."""
    try:
        yield
    except OSError as exc:
        typed = storage_error(exc, where)
        if typed is None:
            raise
        raise typed from exc


def sqlite_storage_error(reason: str, where: str) -> StoreError | None:
    """The Vigil error for a SQLite message that means "no space" or "read-only", else None."""
    if SQLITE_FULL in reason:
        return StorageFull(where)
    if SQLITE_READONLY in reason:
        return StorageReadOnly(where)
    return None


def is_read_only(path: Path) -> bool:
    """Whether the file system holding ``path`` is mounted read-only."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
