"""Who is making this request: the session cookie, the host bridge, and CSRF.

``AuthMiddleware`` runs for every HTTP and WebSocket request inside the
community. It resolves the member from our session cookie or, when the
host says someone is logged in, from the host bridge, and leaves the answer
in the scope for ``current()``. For the JSON API it also refuses unsafe
methods whose CSRF token does not match the session.

Precedence, when both speak: the host's login wins. If the host says user A
is logged in, our session for anyone else ends and A's member is signed in;
if the host says nobody is, a session the bridge created ends too.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import AccountInactive, CsrfFailed, NotAuthenticated
from ..paths import is_api_request, mount_path
from ..problems import problem_response
from ..settings import Settings
from . import tokens
from .models import Member, Session

if TYPE_CHECKING:
    from .service import Accounts

__all__ = [
    "CSRF_HEADER",
    "AuthMiddleware",
    "AuthState",
    "client_address",
    "client_label",
    "cookie_name",
    "current",
    "require_member",
    "session_cookie_header",
]

logger = logging.getLogger("alumni_community.identity")

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SCOPE_KEY = "alumni_community.auth"


@dataclass
class AuthState:
    member: Member | None = None
    session: Session | None = None
    #: The host's user id when the host says someone is logged in; kept only
    #: in this request's scope, to let them claim a handle.
    host_user_id: str | None = None
    host_role: str | None = None
    #: Set-Cookie values to add to the response.
    cookies: list[str] = field(default_factory=list)
    #: A host-bridged member who may not sign in (suspended, banned), and
    #: why: every page needing a member shows the reason, and the appeal
    #: endpoint knows who is appealing without a password.
    inactive_member: Member | None = None
    refusal: AccountInactive | None = None


def current(conn: HTTPConnection | Scope) -> AuthState:
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    state = scope.get(SCOPE_KEY)
    return state if isinstance(state, AuthState) else AuthState()


def require_member(conn: HTTPConnection) -> tuple[Member, Session]:
    state = current(conn)
    if state.member is None or state.session is None:
        if state.refusal is not None:
            raise state.refusal
        raise NotAuthenticated("Sign in to do this.")
    return state.member, state.session


def cookie_name(settings: Settings) -> str:
    # The __Secure- prefix makes browsers refuse the cookie over plain http,
    # so a network attacker cannot plant one.
    return "__Secure-ac_session" if settings.secure_cookies else "ac_session"


def session_cookie_header(settings: Settings, scope: Scope, token: str | None) -> str:
    """A Set-Cookie value for our session, scoped to the mount; ``None`` deletes it."""
    cookie: SimpleCookie = SimpleCookie()
    name = cookie_name(settings)
    cookie[name] = token or ""
    morsel = cookie[name]
    morsel["path"] = mount_path(scope)
    morsel["httponly"] = True
    morsel["samesite"] = "Lax"
    morsel["max-age"] = str(settings.session_max_seconds if token else 0)
    if settings.secure_cookies:
        morsel["secure"] = True
    return morsel.OutputString()


def client_address(conn: HTTPConnection) -> str:
    """The client's address for throttling only (as the ASGI server resolved it)."""
    return conn.client.host if conn.client else ""


def client_label(user_agent: str) -> str:
    """A coarse, recognisable device label: 'Firefox on Linux'. Never the raw header."""
    ua = user_agent.lower()
    browser = next(
        (name for key, name in _BROWSERS if key in ua),
        "A browser" if "mozilla" in ua else "An app",
    )
    system = next((name for key, name in _SYSTEMS if key in ua), "")
    return f"{browser} on {system}" if system else browser


_BROWSERS = [
    ("edg/", "Edge"),
    ("firefox/", "Firefox"),
    ("chrome/", "Chrome"),
    ("chromium/", "Chromium"),
    ("safari/", "Safari"),
    ("python-httpx", "httpx"),
    ("curl/", "curl"),
]
_SYSTEMS = [
    ("android", "Android"),
    ("iphone", "iOS"),
    ("ipad", "iPadOS"),
    ("windows", "Windows"),
    ("mac os", "macOS"),
    ("linux", "Linux"),
]


def _is_static(scope: Scope) -> bool:
    root: str = scope.get("app_root_path", scope.get("root_path", ""))
    return str(scope.get("path", "")).startswith(root + "/static/")


async def _call(func: Any, conn: HTTPConnection) -> str | None:
    value = func(conn)
    if inspect.isawaitable(value):
        value = await value
    return None if value is None else str(value)


def _default_host_identity(conn: HTTPConnection) -> str | None:
    """Starlette's AuthenticationMiddleware user, when the host installed it."""
    user = conn.scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        return str(user.identity)
    except NotImplementedError:
        return None


class AuthMiddleware:
    def __init__(self, app: ASGIApp, accounts: Accounts) -> None:
        self.app = app
        self.accounts = accounts
        self.settings = accounts.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or _is_static(scope):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        state = await self._resolve(conn)
        scope[SCOPE_KEY] = state

        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and state.session is not None
            and is_api_request(scope)
            and not tokens.csrf_matches(
                self._secret, state.session.token_hash, conn.headers.get(CSRF_HEADER)
            )
        ):
            response = problem_response(
                CsrfFailed(f"Send the session's CSRF token in the {CSRF_HEADER} header.")
            )
            await response(scope, receive, self._with_cookies(scope, send))
            return
        if scope["type"] == "websocket":
            # A socket sets no cookies: its frames go straight through.
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._with_cookies(scope, send))

    @property
    def _secret(self) -> str:
        assert self.settings.secret_key is not None
        return self.settings.secret_key

    def _with_cookies(self, scope: Scope, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = current(scope)
                if state.cookies:
                    headers = MutableHeaders(scope=message)
                    # An endpoint that set our cookie itself (a new login)
                    # has the last word: browsers apply Set-Cookie in order.
                    ours = cookie_name(self.settings) + "="
                    if not any(v.startswith(ours) for v in headers.getlist("set-cookie")):
                        for value in state.cookies:
                            headers.append("set-cookie", value)
            await send(message)

        return sending

    async def _resolve(self, conn: HTTPConnection) -> AuthState:
        state = AuthState()
        token = conn.cookies.get(cookie_name(self.settings))
        auth = await self.accounts.authenticate(token) if token else None
        if auth is not None:
            state.member, state.session = auth.member, auth.session

        host_id = await self._host_identity(conn)
        if host_id is not None:
            role = await self._host_role(conn)
            state.host_user_id = host_id
            key = tokens.host_key(self._secret, host_id)
            if state.member is None or state.member.host_key != key:
                if state.session is not None:
                    # Someone else is logged in on the host now.
                    await self.accounts.log_out(state.session)
                    state.member = state.session = None
                member = await self.accounts.host_member(host_id)
                # A WebSocket cannot set a cookie: a session made for it would
                # be unreachable. Pages sign the member in first.
                if member is not None and conn.scope["type"] != "websocket":
                    try:
                        signed = await self.accounts.host_sign_in(
                            member, role, client=client_label(conn.headers.get("user-agent", ""))
                        )
                    except AccountInactive as refusal:
                        state.inactive_member, state.refusal = member, refusal
                    else:
                        state.member, state.session = signed.member, signed.session
                        state.cookies.append(
                            session_cookie_header(self.settings, conn.scope, signed.token)
                        )
            elif role is not None:
                # The host's word on roles holds on every request, so a role
                # taken away on the host is taken away here at once.
                await self.accounts.apply_host_role(state.member, role)
            state.host_role = role
        elif state.session is not None and state.session.via_host:
            # The host logged this person out: so do we.
            await self.accounts.log_out(state.session)
            state.member = state.session = None

        if token and state.session is None and not state.cookies:
            state.cookies.append(session_cookie_header(self.settings, conn.scope, None))
        return state

    async def _host_identity(self, conn: HTTPConnection) -> str | None:
        func = self.settings.host_identity or _default_host_identity
        # An empty id is nobody: otherwise every such user would share one member.
        return await _call(func, conn) or None

    async def _host_role(self, conn: HTTPConnection) -> str | None:
        if self.settings.host_role is None:
            return None
        return await _call(self.settings.host_role, conn)
