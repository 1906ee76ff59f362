"""Host sign-in: a Starlette host's logged-in user comes in without a second login."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.routing import Mount

from alumni_community import Community
from alumni_community.db import migrate
from alumni_community.identity.models import Member, MemberStatus, Role, Session
from alumni_community.moderation.models import AuditEntry, ReviewItem

from ..conftest import PLANTED_EMAIL, PLANTED_HOST_ID, PLANTED_IP, LeakWatch, make_settings

pytestmark = pytest.mark.anyio

OTHER_HOST_ID = "host-user-other-5150"


class HostUser(BaseUser):
    """The host's user: it knows an e-mail address, which must never reach the community."""

    def __init__(self, user_id: str, staff: bool = False) -> None:
        self.user_id, self.email, self.staff = user_id, PLANTED_EMAIL, staff

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.email

    @property
    def identity(self) -> str:
        return self.user_id


class HeaderBackend(AuthenticationBackend):
    """Stands in for the host's own login: the user id arrives in a header."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        user_id = conn.headers.get("x-host-user")
        if not user_id:
            return None
        return AuthCredentials(["authenticated"]), HostUser(
            user_id, conn.headers.get("x-staff") == "1"
        )


def staff_role(conn: HTTPConnection) -> str | None:
    user = conn.scope.get("user")
    return "moderator" if getattr(user, "staff", False) else None


@pytest.fixture
async def host(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Community]]:
    await migrate(make_settings(database_url))
    community = Community(make_settings(database_url, host_role=staff_role))
    app = Starlette(
        routes=[Mount("/community", app=community)],
        middleware=[Middleware(AuthenticationMiddleware, backend=HeaderBackend())],
    )
    watch = LeakWatch(app)
    async with community.lifespan():
        with community.database.activate():
            transport = httpx.ASGITransport(app=watch, client=(PLANTED_IP, 2))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t/community/api/v1"
            ) as client:
                yield client, community
    watch.assert_clean()


def as_host(user_id: str | None, **extra: str) -> dict[str, str]:
    return {"x-host-user": user_id, **extra} if user_id else dict(extra)


async def columns_of(member: Member) -> list[Any]:
    return [getattr(member, name) for name in member._meta.db_fields]


async def test_a_host_user_picks_a_handle_once_and_is_recognised_after(
    host: tuple[httpx.AsyncClient, Community],
) -> None:
    client, _ = host
    first = await client.get("/session", headers=as_host(PLANTED_HOST_ID))
    assert first.status_code == 401 and first.json()["code"] == "handle_needed"
    # The handle is never suggested from the host's name or e-mail.
    assert "planted" not in first.text

    claimed = await client.post(
        "/accounts/host", json={"handle": "meadow"}, headers=as_host(PLANTED_HOST_ID)
    )
    assert claimed.status_code == 201
    assert claimed.json()["member"]["handle"] == "meadow"
    assert "recovery_codes" not in claimed.json()

    member = await Member.get(handle="meadow")
    assert member.host_key and member.password_hash is None
    assert all(PLANTED_HOST_ID not in str(value) for value in await columns_of(member))

    # A new browser, the same host user: signed in as the same member, no second login.
    client.cookies.clear()
    again = await client.get("/session", headers=as_host(PLANTED_HOST_ID))
    assert again.status_code == 200 and again.json()["member"]["handle"] == "meadow"
    assert "ac_session=" in again.headers["set-cookie"]
    assert await Member.all().count() == 1


async def test_logging_out_of_the_host_ends_the_bridged_session(
    host: tuple[httpx.AsyncClient, Community],
) -> None:
    client, _ = host
    await client.post("/accounts/host", json={"handle": "meadow"}, headers=as_host(PLANTED_HOST_ID))
    assert (await client.get("/session", headers=as_host(PLANTED_HOST_ID))).status_code == 200
    gone = await client.get("/session")  # the host no longer says anyone is logged in
    assert gone.status_code == 401
    assert await Session.all().count() == 0


async def test_another_host_user_never_inherits_the_session(
    host: tuple[httpx.AsyncClient, Community],
) -> None:
    client, _ = host
    await client.post("/accounts/host", json={"handle": "meadow"}, headers=as_host(PLANTED_HOST_ID))
    other = await client.get("/session", headers=as_host(OTHER_HOST_ID))
    assert other.status_code == 401 and other.json()["code"] == "handle_needed"
    claimed = await client.post(
        "/accounts/host", json={"handle": "harbor"}, headers=as_host(OTHER_HOST_ID)
    )
    assert claimed.status_code == 201
    assert (await client.get("/session", headers=as_host(OTHER_HOST_ID))).json()["member"][
        "handle"
    ] == "harbor"
    assert (await client.get("/session", headers=as_host(PLANTED_HOST_ID))).json()["member"][
        "handle"
    ] == "meadow"


async def test_host_roles_map_to_community_roles(host: tuple[httpx.AsyncClient, Community]) -> None:
    client, _ = host
    staff = as_host(PLANTED_HOST_ID, **{"x-staff": "1"})
    claimed = await client.post("/accounts/host", json={"handle": "meadow"}, headers=staff)
    assert claimed.json()["member"]["role"] == "moderator"


async def test_bridge_refusals(host: tuple[httpx.AsyncClient, Community]) -> None:
    client, _ = host
    nobody = await client.post("/accounts/host", json={"handle": "meadow"})
    assert nobody.status_code == 401
    claimed = await client.post(
        "/accounts/host", json={"handle": "meadow"}, headers=as_host(PLANTED_HOST_ID)
    )
    token = {"x-csrf-token": claimed.json()["csrf_token"]}
    twice = await client.post(
        "/accounts/host", json={"handle": "other"}, headers={**as_host(PLANTED_HOST_ID), **token}
    )
    assert twice.status_code == 422
    # Bridged sessions need the CSRF token like any other.
    refused = await client.patch("/me", json={"bio": "x"}, headers=as_host(PLANTED_HOST_ID))
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    ok = await client.patch("/me", json={"bio": "x"}, headers={**as_host(PLANTED_HOST_ID), **token})
    assert ok.status_code == 200
    # A bridged member erases by being signed in on the host: no password to give.
    erased = await client.request(
        "DELETE", "/me", json={}, headers={**as_host(PLANTED_HOST_ID), **token}
    )
    assert erased.status_code == 204
    assert (await Member.get()).host_key is None


async def test_the_hosts_word_on_roles_holds_on_every_request(database_url: str) -> None:
    def role(conn: HTTPConnection) -> str | None:
        return "moderator" if conn.headers.get("x-staff") == "1" else "member"

    await migrate(make_settings(database_url))
    community = Community(make_settings(database_url, host_role=role))
    app = Starlette(
        routes=[Mount("/community", app=community)],
        middleware=[Middleware(AuthenticationMiddleware, backend=HeaderBackend())],
    )
    async with community.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t/community/api/v1"
        ) as c:
            staff = as_host(PLANTED_HOST_ID, **{"x-staff": "1"})
            await c.post("/accounts/host", json={"handle": "meadow"}, headers=staff)
            assert (await c.get("/session", headers=staff)).json()["member"]["role"] == "moderator"
            demoted = await c.get("/session", headers=as_host(PLANTED_HOST_ID))
            assert demoted.json()["member"]["role"] == "member"


async def test_an_empty_host_id_is_nobody(host: tuple[httpx.AsyncClient, Community]) -> None:
    client, _ = host
    response = await client.get("/session", headers={"x-host-user": ""})
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


async def test_a_suspended_host_member_is_told_why_and_can_appeal(
    host: tuple[httpx.AsyncClient, Community],
) -> None:
    client, community = host
    await client.post("/accounts/host", json={"handle": "meadow"}, headers=as_host(PLANTED_HOST_ID))
    await community.accounts.create_member("mod-a", "a long enough passphrase", Role.MODERATOR)
    meadow = await Member.get(handle="meadow")
    meadow.status, meadow.status_until = MemberStatus.SUSPENDED, None
    await meadow.save()
    await AuditEntry.create(
        actor=await Member.get(handle="mod-a"),
        action="suspend",
        target_type="member",
        target_id=meadow.id,
        at=dt.datetime.now(dt.UTC),
    )
    client.cookies.clear()
    refused = await client.get("/session", headers=as_host(PLANTED_HOST_ID))
    assert refused.status_code == 403 and refused.json()["code"] == "account_inactive"
    assert (await client.get("/me", headers=as_host(PLANTED_HOST_ID))).status_code == 403
    appealed = await client.post(
        "/appeals/suspension", json={"note": "Please look again."}, headers=as_host(PLANTED_HOST_ID)
    )
    assert appealed.status_code == 201
    item = await ReviewItem.get(id=appealed.json()["id"])
    assert item.kind == "appeal" and item.subject_id == meadow.id
    # Without the host's word, a note alone identifies nobody.
    client.cookies.clear()
    anonymous = await client.post("/appeals/suspension", json={"note": "Please look again."})
    assert anonymous.status_code == 422
