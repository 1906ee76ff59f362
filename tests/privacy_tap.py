"""Planted values, and the tap that looks for them in everything the community sends.

Tests plant values where the library could see them: every request the
community serves, in-process or in a server process of the suite, arrives
from :data:`PLANTED_IP` (the tap rewrites the ASGI ``client``, which is where
an ASGI server puts the peer's address), and host-bridge tests sign in host
users whose id and e-mail are :data:`PLANTED_HOST_ID` and
:data:`PLANTED_EMAIL`. None of them may appear in any response header or
body, page, WebSocket frame or close reason, or log record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = [
    "PLANTED",
    "PLANTED_EMAIL",
    "PLANTED_HOST_ID",
    "PLANTED_IP",
    "LogScan",
    "leaks_in_message",
    "tapped",
]

PLANTED_IP = "203.0.113.77"
PLANTED_HOST_ID = "host-user-planted-7781"
PLANTED_EMAIL = "planted.person@example.org"
PLANTED = (PLANTED_IP, PLANTED_HOST_ID, PLANTED_EMAIL)
_PLANTED_BYTES = tuple(value.encode() for value in PLANTED)


def _found(data: bytes) -> list[str]:
    return [value for value, raw in zip(PLANTED, _PLANTED_BYTES, strict=True) if raw in data]


def leaks_in_message(message: dict[str, Any]) -> list[str]:
    """Planted values in one ASGI message sent back to the client, with where they were."""
    parts: list[bytes] = []
    for name, value in message.get("headers", ()) or ():
        parts += [bytes(name), bytes(value)]
    for key in ("body", "bytes"):
        if message.get(key):
            parts.append(bytes(message[key]))
    for key in ("text", "reason"):
        if message.get(key):
            parts.append(str(message[key]).encode("utf-8", "surrogatepass"))
    return [f"{value} in {message['type']}" for value in _found(b"\n".join(parts))]


def tapped(
    app: Callable[..., Any], on_leak: Callable[[str], None]
) -> Callable[[Any, Any, Any, Any], Any]:
    """Wrap an ASGI ``__call__`` (bound method style: ``(self, scope, receive, send)``).

    HTTP and WebSocket connections are made to come from :data:`PLANTED_IP`,
    and every message sent back is searched for planted values; each one
    found is reported to ``on_leak`` (the message still goes out, so the test
    fails on the leak, not on a broken connection).
    """

    async def call(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(self, scope, receive, send)
            return
        port = scope["client"][1] if scope.get("client") else 0
        scope = {**scope, "client": (PLANTED_IP, port)}

        async def watched(message: Any) -> None:
            for leak in leaks_in_message(message):
                on_leak(f"{leak} of {scope.get('path', '?')}")
            await send(message)

        await app(self, scope, receive, watched)

    return call


class LogScan(logging.Handler):
    """Collects log records, formatted with their tracebacks, that name a planted value."""

    def __init__(self, on_leak: Callable[[str], None] | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []
        self.on_leak = on_leak

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = record.getMessage()
        except Exception:
            line = str(record.msg)
        if record.exc_info:
            line += "\n" + logging.Formatter().formatException(record.exc_info)
        for value in PLANTED:
            if value in line:
                leak = f"{value} in a log record of {record.name}: {line[:200]}"
                self.leaks.append(leak)
                if self.on_leak is not None:
                    self.on_leak(leak)
