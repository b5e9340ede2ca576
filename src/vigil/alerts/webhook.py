"""Webhook delivery: an HTTP POST of the alert JSON, signed per Standard Webhooks.

Headers (https://www.standardwebhooks.com): ``webhook-id`` is the outbox key (identical on every retry,
so a receiver de-duplicates on it; also sent as ``Idempotency-Key``), ``webhook-timestamp`` the unix
seconds of this attempt, and ``webhook-signature`` ``v1,`` + base64(HMAC-SHA256(secret,
"{id}.{timestamp}.{body}")). A secret ``whsec_<base64>`` is used base64-decoded, any other string as its
UTF-8 bytes. :func:`verify` is what a receiver runs.

Example:
    The specification's test vector:

    >>> secret, msg_id = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek"
    >>> body = b'{"test": 2432232314}'
    >>> sign(secret, msg_id, 1614265330, body)
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
    >>> headers = {"webhook-id": msg_id, "webhook-timestamp": "1614265330",
    ...            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    >>> verify(secret, headers, body, now=1614265330 + 10)
    True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable, Mapping

import httpx

from vigil.alerts.outbox import Pending
from vigil.alerts.sink import DeliveryFailed
from vigil.config.schema import WebhookConfig
from vigil.errors import BadInput, ConfigError
from vigil.ingest.netpolicy import OPEN, NetPolicy

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 300  # how far a receiver accepts a timestamp from its own clock (Standard Webhooks' 5 min)
_RETRY_AFTER_CODES = frozenset({429, 503})


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a configured secret: ``whsec_`` + base64 decoded, anything else as UTF-8.

    Raises:
        ConfigError: the secret starts with ``whsec_`` but the rest is not base64.
    """
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except binascii.Error as exc:
            raise ConfigError("a webhook secret starting with 'whsec_' must continue in base64") from exc
    return secret.encode("utf-8")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,`` + base64(HMAC-SHA256(key, "id.timestamp.body"))."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """What a receiver runs: is this request signed with ``secret``, and recent?

    Args:
        secret: The shared secret, as configured on the sender.
        headers: The request headers (any letter case).
        body: The raw request body, exactly as received.
        now: The receiver's clock, unix seconds [time.time()].
        tolerance_s: Largest accepted difference between the timestamp and ``now`` (replay window).

    Returns:
        True when one of the ``v1`` signatures matches and the timestamp is within the tolerance.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = (
        lower.get(h, "") for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    try:
        timestamp = int(stamp)
    except ValueError:
        return False
    if not msg_id or abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    want = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(want, candidate) for candidate in signatures.split())


def redact_url(url: str) -> str:
    """``url`` safe for logs: scheme, host, port and path; no user info, no query, no fragment."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "<invalid url>"
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the delta-seconds form; an HTTP date is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class _RedactUrls(logging.Filter):
    """Takes user info and query strings out of the URLs httpx logs ("HTTP Request: POST <url> ...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _redact_httpx_log() -> None:
    """Install the filter on httpx's logger (once), which logs every request's full URL at INFO."""
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactUrls) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactUrls())


def sink_name(config: WebhookConfig) -> str:
    """The webhook's name in the outbox (its rows are keyed by sink)."""
    return f"webhook:{config.name}"


class WebhookSink:
    """Delivers outbox messages to one webhook receiver; 2xx is delivered, anything else is retried.

    Redirects are not followed (a redirect is a failure: the configured URL should be the final one).
    The secret and the URL's query string are never logged.
    """

    def __init__(
        self,
        config: WebhookConfig,
        timeout_s: float,
        *,
        clock: Callable[[], float] = time.time,
        network: NetPolicy = OPEN,
    ) -> None:
        """A sink for one receiver (no connection is made until the first delivery).

        Args:
            config: The receiver.
            timeout_s: Time-out of each phase of an attempt (connect, send, wait for the answer), seconds.
            clock: Unix seconds for ``webhook-timestamp`` (tests inject one).

        Raises:
            ConfigError: a ``whsec_`` secret that is not base64, or a URL the network policy refuses.
        """
        self.name = sink_name(config)
        self._url = config.url
        self._secret = config.secret
        secret_bytes(self._secret)  # a malformed whsec_ secret fails now, not at the first alert
        self._network = network
        try:
            network.check(config.url, f"alerts.webhooks[{config.name}].url")
        except BadInput as exc:
            raise ConfigError(str(exc)) from exc
        self._where = redact_url(config.url)
        self._clock = clock
        _redact_httpx_log()
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, headers={"user-agent": "vigil"}
        )

    def deliver(self, message: Pending) -> None:
        """POST ``message.payload`` with Standard Webhooks headers.

        Raises:
            DeliveryFailed: connection error, time-out, or a status other than 2xx (with the server's
                Retry-After on 429/503).
        """
        try:  # the name may resolve elsewhere than when it was configured
            self._network.check(self._url, self.name)
        except BadInput as exc:
            raise DeliveryFailed(str(exc)) from exc
        body = message.payload.encode("utf-8")
        timestamp = int(self._clock())
        headers = {
            "content-type": "application/json",
            "webhook-id": message.key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._secret, message.key, timestamp, body),
            "idempotency-key": message.key,
        }
        try:
            with self._client.stream("POST", self._url, content=body, headers=headers) as response:
                status = response.status_code  # the body is not read: nothing in it matters
                retry_after = response.headers.get("retry-after")
        except httpx.TimeoutException as exc:
            raise DeliveryFailed(f"{self._where}: timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            reason = str(exc).replace(self._url, self._where)
            raise DeliveryFailed(f"{self._where}: {type(exc).__name__}: {reason}") from exc
        if 200 <= status < 300:
            log.debug("%s: delivered %s to %s (HTTP %d)", self.name, message.key, self._where, status)
            return
        wait = _retry_after(retry_after) if status in _RETRY_AFTER_CODES else None
        hint = " (redirects are not followed)" if 300 <= status < 400 else ""
        raise DeliveryFailed(f"{self._where}: HTTP {status}{hint}", retry_after_s=wait)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()
