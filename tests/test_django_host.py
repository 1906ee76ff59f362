"""A Django host: its users walk into the community through Django's own login.

Real uvicorn, Django's real login form and session, the community behind
the same router. Django's settings are process-global, so they are set up
once for the test session, on a SQLite file of its own.
"""

from __future__ import annotations

import functools
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio import to_thread

from alumni_community import Community, Settings
from alumni_community.db import migrate
from alumni_community.identity import tokens
from alumni_community.identity.models import Member

from .conftest import PLANTED_EMAIL, SECRET, LeakWatch, make_settings, serve

pytestmark = pytest.mark.anyio

DJANGO_ENV = ("DJANGO_SETTINGS_MODULE", "DJANGO_DATABASE_PATH")


@pytest.fixture(scope="session")
def django_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Django set up once, on a migrated SQLite file; the environment is left as found."""
    import django
    from django.conf import settings as django_settings

    path = tmp_path_factory.mktemp("django") / "host.sqlite3"
    saved = {name: os.environ.get(name) for name in DJANGO_ENV}
    os.environ["DJANGO_DATABASE_PATH"] = str(path)
    try:
        from examples.django_host import asgi  # noqa: F401  (sets DJANGO_SETTINGS_MODULE)

        django.setup()
        configured = Path(django_settings.DATABASES["default"]["NAME"])
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert configured == path, (
        f"Django was configured before this test module (database {configured}); "
        "its settings are process-global"
    )
    _django(_migrate)
    yield path


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)


def _django(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run Django ORM code and close this thread's connection after it."""
    from django.db import connections

    try:
        return func(*args, **kwargs)
    finally:
        connections.close_all()


async def in_django(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Django's ORM refuses to run on the event loop's thread: run it in a worker thread."""
    return await to_thread.run_sync(functools.partial(_django, func, *args, **kwargs))


@dataclass
class DjangoUser:
    pk: int
    username: str
    password: str


def _create_user(superuser: bool) -> DjangoUser:
    from django.contrib.auth import get_user_model

    model = get_user_model()
    username = "guest-" + uuid.uuid4().hex[:10]
    password = secrets.token_urlsafe(16)
    # A primary key nobody would guess, long enough never to turn up by chance
    # inside a random token.
    pk = 10**11 + secrets.randbelow(10**11)
    create = model.objects.create_superuser if superuser else model.objects.create_user
    user = create(username=username, email=PLANTED_EMAIL, password=password, pk=pk)
    return DjangoUser(pk=user.pk, username=username, password=password)


async def create_user(*, superuser: bool = False) -> DjangoUser:
    user: DjangoUser = await in_django(_create_user, superuser)
    return user


def _update_user(pk: int, **changes: Any) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=pk)
    password = changes.pop("password", None)
    if password is not None:
        user.set_password(password)
    for name, value in changes.items():
        setattr(user, name, value)
    user.save()


@dataclass
class Site:
    base: str
    app: Any
    watch: LeakWatch
    settings: Settings


@pytest.fixture
async def site(django_db: Path, sqlite_url: str) -> Any:
    from examples.django_host.asgi import create_app

    settings = make_settings(sqlite_url)
    await migrate(settings)
    app = create_app(settings)
    watch = LeakWatch(app)
    with serve(watch) as base:
        yield Site(base=base, app=app, watch=watch, settings=settings)
    watch.assert_clean()
    everything = b"\n".join(watch.sent)
    assert PLANTED_EMAIL.encode() not in everything


def browser(site: Site) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=site.base, timeout=30)


async def log_in(client: httpx.AsyncClient, user: DjangoUser) -> None:
    """Through Django's own login form, as a browser does."""
    form = await client.get("/accounts/login/")
    assert form.status_code == 200
    response = await client.post(
        "/accounts/login/",
        data={
            "username": user.username,
            "password": user.password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/"
    assert "sessionid" in client.cookies


async def log_out(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/accounts/logout/", data={"csrfmiddlewaretoken": client.cookies["csrftoken"]}
    )
    assert response.status_code == 302, response.text


async def claim(client: httpx.AsyncClient, handle: str) -> httpx.Response:
    return await client.post("/community/api/v1/accounts/host", json={"handle": handle})


async def member_for(site: Site, user: DjangoUser) -> Member | None:
    # The served community's connection belongs to uvicorn's event loop: read
    # the same database through a community of the test's own.
    reader = Community(site.settings)
    async with reader.lifespan():
        with reader.database.activate():
            found: Member | None = await Member.get_or_none(
                host_key=tokens.host_key(SECRET, str(user.pk))
            )
            return found


def assert_not_leaked(site: Site, *values: str) -> None:
    everything = b"\n".join(site.watch.sent)
    for value in values:
        assert value.encode() not in everything, f"{value!r} leaked into a response"


async def test_django_user_claims_a_handle_and_comes_back_as_the_same_member(site: Site) -> None:
    user = await create_user()
    async with browser(site) as client:
        home = await client.get("/")
        assert home.status_code == 200 and "not signed in" in home.text
        assert (await client.get("/community/api/v1/session")).status_code == 401

        await log_in(client, user)
        home = await client.get("/")
        assert "You are signed in" in home.text and 'href="/community/"' in home.text

        needed = await client.get("/community/api/v1/session")
        assert needed.status_code == 401
        assert needed.json()["code"] == "handle_needed"

        claimed = await claim(client, "morning_light")
        assert claimed.status_code == 201, claimed.text
        assert claimed.json()["member"]["handle"] == "morning_light"
        assert claimed.json()["member"]["role"] == "member"
        # Our cookie is scoped to the mount, Django's to the whole site.
        cookie = claimed.headers["set-cookie"]
        assert "ac_session=" in cookie and "Path=/community" in cookie

        session = await client.get("/community/api/v1/session")
        assert session.status_code == 200
        assert session.json()["member"]["handle"] == "morning_light"
        # The community's pages see the same member.
        assert (await client.get("/community/")).status_code == 200
        assert (await client.get("/community", follow_redirects=True)).status_code == 200

    member = await member_for(site, user)
    assert member is not None and member.handle == "morning_light"
    assert member.host_key == tokens.host_key(SECRET, str(user.pk))
    assert member.host_key != str(user.pk) and str(user.pk) not in member.host_key
    for name in member._meta.db_fields:
        value = getattr(member, name)
        assert value not in (user.pk, str(user.pk), user.username, PLANTED_EMAIL), name

    # Another browser, a new Django login: the same member, no handle to choose.
    async with browser(site) as client:
        await log_in(client, user)
        again = await client.get("/community/api/v1/session")
        assert again.status_code == 200
        assert again.json()["member"]["handle"] == "morning_light"
        taken = await client.post(
            "/community/api/v1/accounts/host",
            json={"handle": "second_name"},
            headers={"x-csrf-token": again.json()["csrf_token"]},
        )
        assert taken.status_code == 422

    assert_not_leaked(site, PLANTED_EMAIL, user.username, str(user.pk))


async def test_logging_out_of_django_ends_the_community_session(site: Site) -> None:
    user = await create_user()
    async with browser(site) as client:
        await log_in(client, user)
        assert (await claim(client, "quiet_harbour")).status_code == 201
        assert (await client.get("/community/api/v1/session")).status_code == 200
        ours = client.cookies["ac_session"]

        await log_out(client)
        home = await client.get("/")
        assert "not signed in" in home.text

        after = await client.get("/community/api/v1/session")
        assert after.status_code == 401
        assert after.json()["code"] == "not_authenticated"
        assert "ac_session=" in after.headers["set-cookie"]
        assert "Max-Age=0" in after.headers["set-cookie"]

    # The community session is dead on the server, not only forgotten by the browser.
    async with httpx.AsyncClient(
        base_url=site.base, timeout=30, cookies={"ac_session": ours}
    ) as replay:
        assert (await replay.get("/community/api/v1/session")).status_code == 401

    assert_not_leaked(site, PLANTED_EMAIL, user.username, str(user.pk))


async def test_inactive_user_or_changed_password_ends_the_bridge(site: Site) -> None:
    user = await create_user()
    async with browser(site) as client:
        await log_in(client, user)
        assert (await claim(client, "still_water")).status_code == 201

        await in_django(_update_user, user.pk, is_active=False)
        assert (await client.get("/community/api/v1/session")).status_code == 401

        await in_django(_update_user, user.pk, is_active=True)
        assert (await client.get("/community/api/v1/session")).status_code == 200

        # Django's "a new password signs out other sessions" reaches the community.
        await in_django(_update_user, user.pk, password=secrets.token_urlsafe(16))
        assert (await client.get("/community/api/v1/session")).status_code == 401


async def test_django_superuser_is_a_community_admin_and_staff_a_moderator(site: Site) -> None:
    admin = await create_user(superuser=True)
    async with browser(site) as client:
        await log_in(client, admin)
        claimed = await claim(client, "steady_keel")
        assert claimed.status_code == 201, claimed.text
        assert claimed.json()["member"]["role"] == "admin"

    staff = await create_user()
    await in_django(_update_user, staff.pk, is_staff=True)
    async with browser(site) as client:
        await log_in(client, staff)
        claimed = await claim(client, "open_door")
        assert claimed.json()["member"]["role"] == "moderator"

    assert_not_leaked(site, PLANTED_EMAIL, admin.username, staff.username)


async def test_a_forged_or_unknown_django_session_is_nobody(site: Site) -> None:
    async with httpx.AsyncClient(
        base_url=site.base, timeout=30, cookies={"sessionid": "x" * 32}
    ) as client:
        response = await client.get("/community/api/v1/session")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert (await claim(client, "nobody_here")).status_code == 401
