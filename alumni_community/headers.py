"""Security headers on every HTTP response the library sends."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .paths import is_api_request

__all__ = ["CONTENT_SECURITY_POLICY", "SecurityHeadersMiddleware"]

#: Scripts and styles only from our own static files (no inline code, so an
#: injected ``<script>`` does not run even if sanitizing ever failed); no
#: plugins; no ``<base>`` that could redirect relative URLs; forms post only
#: back to us; pages cannot be framed by other sites.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)

_ALWAYS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    # Our URLs name rooms and threads; other sites need not learn them.
    "referrer-policy": "same-origin",
    "x-frame-options": "SAMEORIGIN",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeadersMiddleware:
    """Adds the headers above; API responses are also never cached.

    ``Cache-Control: no-store`` on ``/api/`` because every API answer is
    either private to the member or about a private community: a shared
    cache or the browser's disk must not keep it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = is_api_request(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS.items():
                    headers.setdefault(name, value)
                if is_api:
                    headers["cache-control"] = "no-store"
                else:
                    headers.setdefault("cache-control", "private, no-cache")
            await send(message)

        await self.app(scope, receive, send_with_headers)
