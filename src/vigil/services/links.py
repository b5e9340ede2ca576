"""Signed, expiring links to best-shot images, for channels that cannot send a token (MQTT, webhooks).

A link carries its expiry and an HMAC of the event id and expiry under a key kept in the data dir
(created on first use, readable only by Vigil), so it cannot be forged or extended.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path


def load_or_create_key(path: Path) -> bytes:
    """The link-signing key at ``path``, created (32 random bytes, mode 0600) when missing."""
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class MediaLinks:
    def __init__(self, key: bytes, base_url: str, ttl_s: float) -> None:
        self._key = key
        self._base = base_url.rstrip("/")
        self._ttl_s = ttl_s

    def event_image(self, event_id: int, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self._ttl_s)
        return (
            f"{self._base}/media/events/{event_id}/best.jpg?exp={expires}&sig={self._sign(event_id, expires)}"
        )

    def verify(self, event_id: int, expires: int, signature: str, now: float | None = None) -> bool:
        if expires < (time.time() if now is None else now):
            return False
        # bytes, not str: compare_digest refuses a str with non-ASCII characters (a forged link's signature)
        presented = signature.encode("utf-8", errors="replace")
        return hmac.compare_digest(self._sign(event_id, expires).encode("ascii"), presented)

    def _sign(self, event_id: int, expires: int) -> str:
        msg = f"event-image:{event_id}:{expires}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:32]
