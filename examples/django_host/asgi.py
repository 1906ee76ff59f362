"""A Django site with the community mounted at ``/community``, as one ASGI app.

One path router sits in front: requests under ``/community`` go to the
community, everything else to Django. Who is logged in comes from Django's
own session, so a user signed in on the site walks into the community
without a second login (they choose a handle on their first visit).

Run it (from the repository root)::

    export ALUMNI_COMMUNITY_SECRET_KEY=...  ALUMNI_COMMUNITY_COOKIE_SECURE=false
    alumni-community migrate
    DJANGO_SETTINGS_MODULE=examples.django_host.settings python -m django migrate
    DJANGO_SETTINGS_MODULE=examples.django_host.settings python -m django createsuperuser
    uvicorn examples.django_host.asgi:app

See docs/howto/django.md.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.core.asgi import get_asgi_application
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route

from alumni_community import Community, Settings

__all__ = ["create_app", "django_host_identity", "django_host_role"]

# Before anything reads Django's settings or imports its models (none of the
# imports above do): Django's settings are this package's settings module.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_host.settings")


@dataclass(frozen=True)
class _HostUser:
    """What the bridge keeps of a Django user: the id and a role. Never a name or e-mail."""

    id: str
    role: str | None


# The lookup is made once per request and shared by host_identity and host_role.
_SCOPE_KEY = "examples.django_host.user"
_MISSING = object()


async def django_host_identity(conn: HTTPConnection) -> str | None:
    """The Django user id behind this request's session cookie, or None."""
    user = await _django_user(conn)
    return None if user is None else user.id


async def django_host_role(conn: HTTPConnection) -> str | None:
    """Django superusers are community admins, staff are moderators; others keep their role."""
    user = await _django_user(conn)
    return None if user is None else user.role


async def _django_user(conn: HTTPConnection) -> _HostUser | None:
    found = conn.scope.get(_SCOPE_KEY, _MISSING)
    if found is _MISSING:
        session_key = conn.cookies.get(django_settings.SESSION_COOKIE_NAME)
        found = await _user_for_session(session_key) if session_key else None
        conn.scope[_SCOPE_KEY] = found
    assert found is None or isinstance(found, _HostUser)
    return found


# Django 5.1+ also has an async session API (``await session.aget(...)``), but
# each of its calls is a thread hop of its own, and outside Django's request
# cycle nobody opens and closes the database connection it uses. One sync
# function does the session read, the user lookup and the connection
# bookkeeping of a Django request in one hop. thread_sensitive=False lets
# lookups of concurrent requests run side by side in the thread pool; each
# thread has its own Django connection, closed below as at the end of a
# Django request (or kept, if CONN_MAX_AGE says so).
@sync_to_async(thread_sensitive=False)
def _user_for_session(session_key: str) -> _HostUser | None:
    from django.contrib import auth
    from django.core.exceptions import ValidationError
    from django.db import close_old_connections

    close_old_connections()
    try:
        # Read-only, unlike django.contrib.auth.get_user(): a stale session is
        # not flushed or rotated here, so the browser's Django cookie keeps
        # working exactly as Django decides on its own next request.
        session = import_module(django_settings.SESSION_ENGINE).SessionStore(session_key)
        raw_id = session.get(auth.SESSION_KEY)
        backend_path = session.get(auth.BACKEND_SESSION_KEY)
        if raw_id is None or backend_path not in django_settings.AUTHENTICATION_BACKENDS:
            return None
        try:
            user_id = auth.get_user_model()._meta.pk.to_python(raw_id)
        except ValidationError:
            return None
        user = auth.load_backend(backend_path).get_user(user_id)
        if user is None or not getattr(user, "is_active", False):
            return None
        if not _session_hash_matches(session.get(auth.HASH_SESSION_KEY), user):
            # The password changed since this session signed in (Django's
            # "log out other sessions"): Django will refuse it too.
            return None
        if getattr(user, "is_superuser", False):
            role: str | None = "admin"
        else:
            role = "moderator" if getattr(user, "is_staff", False) else None
        return _HostUser(id=str(user.pk), role=role)
    finally:
        close_old_connections()


def _session_hash_matches(session_hash: Any, user: Any) -> bool:
    if not hasattr(user, "get_session_auth_hash"):
        return True
    if not isinstance(session_hash, str) or not session_hash:
        return False
    # SECRET_KEY_FALLBACKS: a session signed before a key rotation still counts.
    expected = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(hmac.compare_digest(session_hash, value) for value in expected)


async def _to_community(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url.replace(path=request.url.path + "/"))


def create_app(settings: Settings | None = None) -> Starlette:
    """Django at ``/`` and the community at ``/community``, behind one router.

    ``settings`` without a ``host_identity`` (or ``host_role``) gets the
    Django bridge of this module.
    """
    settings = settings or Settings.from_env()
    bridge: dict[str, Any] = {}
    if settings.host_identity is None:
        bridge["host_identity"] = django_host_identity
    if settings.host_role is None:
        bridge["host_role"] = django_host_role
    community = Community(settings.replace(**bridge) if bridge else settings)
    # Sets Django up (apps, models, logging); Django itself has no lifespan.
    django_app = get_asgi_application()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The host's own start-up and shutdown go around this.
        async with community.lifespan(app):
            yield

    app = Starlette(
        routes=[
            # Django would answer /community (no slash) with its 404: the
            # catch-all mount below stops Starlette's own slash redirect.
            Route("/community", _to_community),
            Mount("/community", app=community),
            Mount("/", app=django_app),
        ],
        lifespan=lifespan,
    )
    app.state.community = community
    return app


def __getattr__(name: str) -> Starlette:
    # `uvicorn examples.django_host.asgi:app` reads `app`; it is built on first
    # use so that importing this module needs no configuration.
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)
