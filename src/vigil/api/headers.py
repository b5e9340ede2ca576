"""Security headers on every response (pure ASGI middleware: it also covers errors, static files and
streamed media, and leaves WebSockets alone)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),  # a served file is what its type says, never sniffed
    ("X-Frame-Options", "DENY"),  # the console is never framed (clickjacking)
    ("Content-Security-Policy", "frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),  # signed image links must not leak through Referer
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")


class SecurityHeaders:
    """Adds :data:`HEADERS` to every HTTP response, and HSTS when the request came over TLS (directly, or
    through a proxy that says so with ``X-Forwarded-Proto: https``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        forwarded = dict(scope.get("headers") or ()).get(b"x-forwarded-proto", b"").decode("latin-1")
        tls = scope.get("scheme") == "https" or forwarded.lower() == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in (*HEADERS, *((HSTS,) if tls else ())):
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
