"""Two server processes on one PostgreSQL: delivery across them, and a process killed mid-stream.

With the PostgreSQL LISTEN/NOTIFY broker and with Redis. Real processes,
real sockets, ``kill -9``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from alumni_community import Community
from alumni_community.chat.models import Message
from alumni_community.identity.models import Member, Role

from ..conftest import (
    SECRET,
    clone_migrated,
    free_port,
    make_settings,
    subprocess_env,
    wait_for_http,
)

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow]

PASSWORD = "a long enough passphrase"


@contextmanager
def server(
    database_url: str, broker_url: str, **extra: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    leak_file = Path(tempfile.mkstemp(prefix="ac-leaks-", suffix=".txt")[1])
    env = subprocess_env(
        **extra,
        AC_TEST_LEAK_FILE=str(leak_file),
        ALUMNI_COMMUNITY_DATABASE_URL=database_url,
        ALUMNI_COMMUNITY_BROKER_URL=broker_url,
        ALUMNI_COMMUNITY_SECRET_KEY=SECRET,
        ALUMNI_COMMUNITY_COOKIE_SECURE="false",
        ALUMNI_COMMUNITY_PASSWORD_HASH_MEMORY_KIB="256",
        ALUMNI_COMMUNITY_PASSWORD_HASH_PASSES="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.chat.server_process", str(port)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        prefix = "" if extra.get("AC_TEST_MOUNT") == "/" else "/community"
        wait_for_http(base + prefix + "/api/v1/health", process)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        leaks = leak_file.read_text("utf-8")
        leak_file.unlink()
    assert not leaks, "planted values left a server process:\n" + leaks[:2000]


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def cookie_for(base: str, handle: str) -> str:
    async with httpx.AsyncClient(base_url=base + "/community/api/v1") as http:
        signed = await http.post("/session", json={"handle": handle, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        return f"ac_session={http.cookies.get('ac_session')}"


class Peer:
    """A WebSocket client that tracks what it saw, and can move to another server."""

    def __init__(self, cookie: str) -> None:
        self.cookie = cookie
        self.ws: ClientConnection | None = None
        self.seqs: list[int] = []
        self.bodies: list[str] = []
        self.echoed: set[str] = set()

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
            # A socket to a killed process may never finish its closing handshake.
            self.ws.transport.abort()
            self.ws = None

    async def open(self, base: str, room: str) -> None:
        await self.close()  # the old socket, perhaps to a killed process
        url = base.replace("http://", "ws://") + "/community/ws"
        self.ws = await connect(
            url,
            additional_headers={"Cookie": self.cookie, "Origin": base},
            compression=None,
            close_timeout=1,
        )
        await self.ws.send(
            json.dumps(
                {"type": "subscribe", "room": room, "since": self.seqs[-1] if self.seqs else 0}
            )
        )

    async def send(self, room: str, body: str) -> None:
        assert self.ws is not None
        await self.ws.send(
            json.dumps({"type": "send", "room": room, "body": body, "client_id": body})
        )

    async def read(self, until: int, wait: float = 20) -> None:
        """Read messages until ``until`` have been seen (or the socket dies)."""
        assert self.ws is not None
        async with asyncio.timeout(wait):
            while len(self.seqs) < until:
                frame = json.loads(await self.ws.recv())
                if frame["type"] == "message":
                    self.seqs.append(frame["seq"])
                    self.bodies.append(frame["html"])
                    if "client_id" in frame:
                        self.echoed.add(frame["client_id"])


@asynccontextmanager
async def seeded(database_url: str) -> AsyncIterator[None]:
    await clone_migrated(database_url)
    community = Community(make_settings(database_url, broker_url="memory://"))
    async with community.lifespan():
        with community.database.activate():
            await community.accounts.create_member("mod-a", PASSWORD, Role.MODERATOR)
            await community.accounts.create_member("reader", PASSWORD, Role.MEMBER)
            moderator = await Member.get(handle="mod-a")
            await community.rooms.create_room(
                moderator, {"slug": "lounge", "name": "Lounge", "moderation": "open"}
            )
            yield


@pytest.fixture(params=["postgres", "redis"])
def broker(request: pytest.FixtureRequest, postgres_url: str) -> str:
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    return postgres_url


async def test_messages_cross_processes_and_survive_a_killed_process(
    postgres_url: str, broker: str
) -> None:
    async with seeded(postgres_url):
        with (
            server(postgres_url, broker) as (base_a, proc_a),
            server(postgres_url, broker) as (base_b, proc_b),
        ):
            reader = Peer(await cookie_for(base_a, "reader"))
            sender = Peer(await cookie_for(base_b, "mod-a"))
            await reader.open(base_a, "lounge")
            await sender.open(base_b, "lounge")
            await asyncio.sleep(0.3)  # both subscribed

            # Sent on B, read on A, in seq order.
            for i in range(30):
                await sender.send("lounge", f"m{i:03}")
            await reader.read(30)
            assert reader.seqs == list(range(1, 31))

            # B dies mid-stream: the sender moves to A and sends again whatever
            # was not echoed; the client_id keeps every message single.
            bodies = [f"m{i:03}" for i in range(30, 90)]
            for body in bodies[:30]:
                await sender.send("lounge", body)
            await asyncio.sleep(0.05)
            kill_hard(proc_b)
            await sender.open(base_a, "lounge")
            for body in bodies:
                if body not in sender.echoed:
                    await sender.send("lounge", body)
            await reader.read(90, wait=30)

            # Then A dies: the reader resumes on a new process with since.
            with server(postgres_url, broker) as (base_c, _proc_c):
                kill_hard(proc_a)
                await reader.open(base_c, "lounge")
                sender.seqs.clear()
                await sender.open(base_c, "lounge")
                for i in range(90, 100):
                    await sender.send("lounge", f"m{i:03}")
                await reader.read(100, wait=30)
                await reader.close()
                await sender.close()

    # Client sockets to killed processes are torn down by the kernel, not by
    # a close handshake; collect them here, where that is expected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert reader.seqs == list(range(1, 101))  # nothing lost, nothing doubled, in order
    assert reader.bodies == [f"<p>m{i:03}</p>\n" for i in range(100)]
    async with seeded_check(postgres_url) as count:
        assert count == 100


@asynccontextmanager
async def seeded_check(database_url: str) -> AsyncIterator[int]:
    community = Community(make_settings(database_url, broker_url="memory://"))
    async with community.lifespan():
        with community.database.activate():
            yield await Message.all().count()
