"""Stream URLs: which schemes Vigil reads, and how to print a URL without its secrets."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
"""URL schemes opened as network streams (RTSP cameras, MJPEG over HTTP, HLS playlists)."""

MASK = "***"

_SECRET_QUERY_KEYS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "token",
        "access_token",
        "auth",
        "key",
        "apikey",
        "api_key",
        "secret",
    }
)
# scheme://userinfo@ anywhere in a text (an error message from FFmpeg, a log line).
_USERINFO_IN_TEXT = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"]+)@")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(spec: str) -> str | None:
    """The lower-cased scheme of ``spec`` if it is written as ``scheme://...``, else None.

    Example:
        >>> url_scheme("RTSP://cam.local/stream"), url_scheme("/videos/a.mp4")
        ('rtsp', None)
    """
    match = _SCHEME.match(spec)
    return match.group("scheme").lower() if match else None


def redact_url(url: str) -> str:
    """``url`` with its user name, password and secret query values replaced by ``***``.

    Safe to use on any string: text that is not a URL comes back unchanged, and credentials embedded in
    a longer text (an error message) are masked too.

    Args:
        url: a stream URL such as ``rtsp://admin:secret@10.0.0.5:554/stream1``.

    Returns:
        The URL fit for ids, logs and error messages.

    Example:
        >>> redact_url("rtsp://admin:secret@10.0.0.5:554/stream1")
        'rtsp://***:***@10.0.0.5:554/stream1'
        >>> redact_url("http://cam/snapshot.cgi?user=admin&pwd=secret")
        'http://cam/snapshot.cgi?user=admin&pwd=***'
    """
    if url_scheme(url) is None:
        return _USERINFO_IN_TEXT.sub(_mask_userinfo, url)
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host: mask what the regex can find
        return _USERINFO_IN_TEXT.sub(_mask_userinfo, url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{_masked(userinfo)}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode(
                [(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _masked(userinfo: str) -> str:
    return f"{MASK}:{MASK}" if ":" in userinfo else MASK


def _mask_userinfo(match: re.Match[str]) -> str:
    return f"{match.group('scheme')}{_masked(match.group('userinfo'))}@"
