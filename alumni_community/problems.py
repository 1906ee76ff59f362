"""Errors out: RFC 9457 problem documents and the middleware that sends them.

Every error leaves the library through this module. ``ErrorMiddleware``
turns a ``CommunityError`` into its problem document and any other exception
into a generic 500 that carries only a reference id; the traceback goes to
the ``alumni_community`` logger under the same id, so an operator can find
it and a client learns nothing internal.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .db import outage_name, unavailable
from .errors import BadRequest, CommunityError, MethodNotAllowed, NotFound, PayloadTooLarge
from .paths import allowed_methods, is_api_request

__all__ = [
    "CLOSE_TRY_AGAIN",
    "TRY_AGAIN",
    "ErrorMiddleware",
    "ProblemResponse",
    "community_error_handler",
    "http_exception_handler",
    "problem_response",
]

logger = logging.getLogger("alumni_community")

PROBLEM_JSON = "application/problem+json"
#: WebSocket close code and reason when the database cannot serve right now.
CLOSE_TRY_AGAIN = 1013
TRY_AGAIN = "try again later"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem_response(error: CommunityError, *, ref: str | None = None) -> Response:
    body: dict[str, Any] = error.problem()
    if ref is not None:
        body["ref"] = ref
    return ProblemResponse(body, status_code=error.status, headers=error.headers())


def _wants_html(scope: Scope) -> bool:
    """Browsers asking for a page get an HTML error page; API clients never do."""
    if scope["type"] != "http" or is_api_request(scope):
        return False
    accept = Headers(scope=scope).get("accept", "")
    return "text/html" in accept


def _error_response(scope: Scope, error: CommunityError, ref: str | None = None) -> Response:
    if _wants_html(scope):
        from .web.templating import render_error_page  # the web edge is optional here

        return render_error_page(scope, error, ref)
    return problem_response(error, ref=ref)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Starlette's router raises HTTPException for 404 and 405; speak problem+json."""
    assert isinstance(exc, HTTPException)
    error: CommunityError
    if exc.status_code == 404:
        error = NotFound("Nothing is at this address.")
    elif exc.status_code == 405:
        allowed = {m.strip() for m in (exc.headers or {}).get("Allow", "").split(",")}
        router = request.scope.get("router")
        if router is not None:
            # Matched again from our root: the scope here is the inner route's.
            root = request.scope.get("app_root_path", "")
            scope = {**request.scope, "root_path": root, "method": "\0"}
            allowed |= allowed_methods(router.routes, scope)
        error = MethodNotAllowed(sorted(m for m in allowed if m))
    elif exc.status_code == 413:
        error = PayloadTooLarge()
    else:
        error = BadRequest()
    return _error_response(request.scope, error)


async def community_error_handler(request: Request, exc: Exception) -> Response:
    """Errors raised by endpoints become responses inside the middleware stack,
    so what middleware adds on the way out (cookies, headers) is still added."""
    assert isinstance(exc, CommunityError)
    return _error_response(request.scope, exc)


class ErrorMiddleware:
    """Sends a problem document for every error that reaches it; re-raises nothing.

    A ``CommunityError`` becomes its own status and code. Anything else is a
    bug: it is logged with a traceback and a short reference id, and the
    client gets ``500 internal_error`` with that id and nothing more.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except CommunityError as error:
            if started:
                raise
            await _error_response(scope, error)(scope, receive, send)
        except Exception as exc:
            refusal = unavailable(exc)
            if refusal is not None:
                _log_outage(refusal, scope)
                if not started:
                    await _error_response(scope, refusal)(scope, receive, send)
                return
            ref = secrets.token_hex(6)
            # The path template, not the URL: no query string reaches the log.
            logger.exception(
                "unexpected error, ref %s, in %s %s", ref, scope.get("method"), _route_of(scope)
            )
            if not started:
                await _error_response(scope, CommunityError(), ref)(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A handshake the database cannot serve: accepted, then closed with 1013.

        1013 is "try again later": clients reconnect with backoff, as after
        any drop, where a refused handshake (a bare 500, or an HTTP denial a
        browser cannot read) would look like a fault of theirs. Once the
        socket is accepted, the endpoint answers frames itself.
        """
        answered = False

        async def tracking_send(message: Message) -> None:
            nonlocal answered
            if message["type"] in (
                "websocket.accept",
                "websocket.close",
                "websocket.http.response.start",
            ):
                answered = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            refusal = unavailable(exc)
            if refusal is None or answered:
                raise
            _log_outage(refusal, scope)
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN, "reason": TRY_AGAIN})


def _log_outage(refusal: CommunityError, scope: Scope) -> None:
    logger.warning(
        "database unavailable (%s): %s in %s %s answered %s",
        outage_name(refusal),
        refusal.code,
        scope.get("method", "WEBSOCKET"),
        _route_of(scope),
        refusal.status,
    )


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "(unrouted)"
