"""A community served by a real uvicorn in the test's own event loop, and real WebSocket clients.

The server runs as a task beside the test, so the test can read and change
the database directly (same loop, same database context) while clients talk
to the server over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from websockets.asyncio.client import ClientConnection, connect

from alumni_community import Community
from alumni_community.identity.models import Member, Role

from ..conftest import LeakWatch, clone_migrated, free_port, make_settings

PASSWORD = "a long enough passphrase"


@dataclass
class Client:
    """One signed-in member: an HTTP client and the cookie for sockets."""

    handle: str
    http: httpx.AsyncClient
    cookie: str


@dataclass
class ChatWorld:
    community: Community
    base: str
    sockets: list[ClientConnection] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/community/ws"

    async def member(self, handle: str, role: Role = Role.MEMBER, trust: int = 1) -> Client:
        await self.community.accounts.create_member(handle, PASSWORD, role)
        await Member.filter(handle=handle).update(trust_level=trust)
        return await self.sign_in(handle)

    async def sign_in(self, handle: str) -> Client:
        http = httpx.AsyncClient(base_url=self.base + "/community/api/v1")
        signed = await http.post("/session", json={"handle": handle, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        http.headers["x-csrf-token"] = signed.json()["csrf_token"]
        token = http.cookies.get("ac_session")
        client = Client(handle, http, f"ac_session={token}")
        self.clients.append(client)
        return client

    async def connect(
        self, client: Client | None, *, origin: str | None = "same", **options: Any
    ) -> ClientConnection:
        headers = {"Cookie": client.cookie} if client is not None else {}
        if origin == "same":
            origin = self.base
        if origin is not None:
            headers["Origin"] = origin
        # A test's sockets often end with frames unread; closing one then waits
        # for a close frame stuck behind them: one second is plenty on loopback.
        options.setdefault("close_timeout", 1)
        ws = await connect(self.ws_url, additional_headers=headers, compression=None, **options)
        self.sockets.append(ws)
        return ws

    async def join(self, client: Client, room: str, since: int | None = None) -> ClientConnection:
        """Connect, read hello, subscribe and read up to ``subscribed``."""
        ws = await self.connect(client)
        assert (await frame(ws))["type"] == "hello"
        await send(ws, type="subscribe", room=room, since=since)
        await until(ws, "subscribed")
        return ws


async def send(ws: ClientConnection, **fields: Any) -> None:
    await ws.send(json.dumps(fields))


async def frame(ws: ClientConnection, wait: float = 5) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait))
    return data


async def until(ws: ClientConnection, kind: str, wait: float = 5) -> dict[str, Any]:
    """Read frames until one of ``kind`` arrives (presence and typing may come between)."""
    while True:
        got = await frame(ws, wait)
        if got["type"] == kind:
            return got


async def both(ws: ClientConnection, *kinds: str) -> dict[str, dict[str, Any]]:
    """One frame of each kind, in whatever order they come (e.g. a message and its notice)."""
    got: dict[str, dict[str, Any]] = {}
    while len(got) < len(kinds):
        one = await frame(ws)
        if one["type"] in kinds:
            got[one["type"]] = one
    return got


async def messages(ws: ClientConnection, count: int, wait: float = 10) -> list[dict[str, Any]]:
    found = []
    while len(found) < count:
        got = await frame(ws, wait)
        if got["type"] == "message":
            found.append(got)
    return found


@contextlib.asynccontextmanager
async def served(community: Community) -> AsyncIterator[str]:
    """Start ``community`` and serve it at /community with a real uvicorn in this loop.

    Yields the base URL; what it sent is checked for planted values at the end.
    """
    watch = LeakWatch(Starlette(routes=[Mount("/community", app=community)]))
    port = free_port()
    config = uvicorn.Config(
        watch,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    async with community.lifespan():
        with community.database.activate():
            task = asyncio.create_task(server.serve())
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
                await asyncio.wait_for(task, 15)
    watch.assert_clean()


@pytest.fixture
async def chat(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[ChatWorld]:
    await clone_migrated(database_url)
    marker = request.node.get_closest_marker("chat_settings")
    settings = make_settings(
        database_url, allowed_origins=["https://other.example"], **(marker.kwargs if marker else {})
    )
    community = Community(settings)
    async with served(community) as base:
        world = ChatWorld(community, base)
        try:
            yield world
        finally:
            await asyncio.gather(*(ws.close() for ws in world.sockets))
            for client in world.clients:
                await client.http.aclose()


async def make_room(moderator: Client, slug: str, **fields: Any) -> None:
    made = await moderator.http.post(
        "/rooms", json={"slug": slug, "name": slug.title(), "moderation": "open", **fields}
    )
    assert made.status_code == 201, made.text
