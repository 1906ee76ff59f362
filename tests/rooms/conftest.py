"""A community with a movable clock and signed-in clients for members of each role."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from alumni_community import Community
from alumni_community.identity.models import Member, Role

from ..conftest import PLANTED_IP, LeakWatch, clone_migrated, make_settings

PASSWORD = "a long enough passphrase"


@dataclass
class World:
    community: Community
    app: Any
    now: list[dt.datetime]
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    reviews: list[Any] = field(default_factory=list)

    def advance(self, **delta: float) -> None:
        self.now[0] += dt.timedelta(**delta)

    async def member(
        self, handle: str, role: Role = Role.MEMBER, trust: int = 0
    ) -> httpx.AsyncClient:
        """A client signed in as a new member with this role and trust level."""
        await self.community.accounts.create_member(handle, PASSWORD, role)
        await Member.filter(handle=handle).update(trust_level=trust)
        transport = httpx.ASGITransport(app=self.app, client=(PLANTED_IP, 3))
        client = httpx.AsyncClient(transport=transport, base_url="http://t/community/api/v1")
        signed = await client.post("/session", json={"handle": handle, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        client.headers["x-csrf-token"] = signed.json()["csrf_token"]
        self.clients.append(client)
        return client


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    now = [dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)]
    settings = make_settings(database_url, clock=lambda: now[0])
    await clone_migrated(database_url)
    community = Community(settings)
    watch = LeakWatch(Starlette(routes=[Mount("/community", app=community)]))
    async with community.lifespan():
        with community.database.activate():
            w = World(community, watch, now)

            async def heard(item: Any) -> None:
                w.reviews.append(item)

            community.moderation.on_review(heard)
            yield w
            for client in w.clients:
                await client.aclose()
    watch.assert_clean()


MakeRoom = Callable[..., Awaitable[httpx.Response]]


async def make_room(moderator: httpx.AsyncClient, slug: str, **fields: Any) -> dict[str, Any]:
    response = await moderator.post("/rooms", json={"slug": slug, "name": slug.title(), **fields})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data
