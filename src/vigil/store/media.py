"""Photos and crops as files under the data dir, named by the sha256 of their content.

Content naming makes writes idempotent (the same photo enrolled twice is one file) and lets a crash
leave at worst an unreferenced file, never a row pointing at a half-written one: files are written to
a temporary name, flushed to disk, then renamed into place before the row that names them commits.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path, PurePath
from typing import BinaryIO

from vigil.errors import BadInput
from vigil.store.space import disk_errors


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_suffix(name: str, data: bytes) -> str:
    """The file suffix for an image's bytes (by its signature, else by its name; ``.img`` if unknown)."""
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    suffix = PurePath(name).suffix.lower()
    return suffix if suffix in {".bmp", ".webp", ".jpeg", ".jpg", ".png"} else ".img"


class MediaStore:
    """Files under ``root``, addressed by relative paths like ``photos/ab/abcdef….jpg``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, kind: str, data: bytes, suffix: str) -> str:
        """Store ``data`` (if not already there) and return its relative path.

        Raises:
            StorageFull: no space left on the data dir's disk (no partial file is left).
            StorageReadOnly: the data dir is on a read-only file system.
        """
        rel = self.rel_path(kind, data, suffix)
        with disk_errors(self.root / kind):
            self._write(self.root / rel, data)
        return rel

    def rel_path(self, kind: str, data: bytes, suffix: str) -> str:
        """The relative path :meth:`put` stores ``data`` under (named by its content)."""
        if not kind.isidentifier() or not suffix.startswith(".") or not suffix[1:].isalnum():
            raise BadInput(f"{kind}{suffix}", "invalid media kind or suffix")
        digest = sha256_hex(data)
        return f"{kind}/{digest[:2]}/{digest}{suffix.lower()}"

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.is_file() and path.stat().st_size == len(data):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_stream(self, kind: str, stream: BinaryIO, suffix: str, max_bytes: int) -> str:
        """Store a (large) upload read from ``stream`` in chunks; named by content like :meth:`put`.

        Raises:
            BadInput: more than ``max_bytes`` (nothing is kept).
            StorageFull: no space left on the data dir's disk (nothing is kept).
            StorageReadOnly: the data dir is on a read-only file system.
        """
        if not kind.isidentifier() or not suffix.startswith(".") or not suffix[1:].isalnum():
            raise BadInput(f"{kind}{suffix}", "invalid media kind or suffix")
        with disk_errors(self.root / kind):
            return self._write_stream(kind, stream, suffix, max_bytes)

    def _write_stream(self, kind: str, stream: BinaryIO, suffix: str, max_bytes: int) -> str:
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as f:
                while chunk := stream.read(1 << 20):
                    size += len(chunk)
                    if size > max_bytes:
                        raise BadInput(kind, f"the upload is larger than {max_bytes / 1e6:.0f} MB")
                    digest.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            hexd = digest.hexdigest()
            rel = f"{kind}/{hexd[:2]}/{hexd}{suffix.lower()}"
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            Path(tmp).replace(self.root / rel)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return rel

    def path(self, rel: str) -> Path:
        """The absolute path of a stored file; refuses paths that would leave the media root."""
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise BadInput(rel, "media path outside the media folder")
        return path

    def remove(self, rel: str) -> None:
        with disk_errors(self.root / rel):
            self.path(rel).unlink(missing_ok=True)

    def all_files(self, older_than_s: float = 0.0) -> set[str]:
        """Every stored file's relative path (temporary files excluded), optionally only older ones."""
        if not self.root.is_dir():
            return set()
        cutoff = time.time() - older_than_s
        return {
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-") and p.stat().st_mtime <= cutoff
        }
