"""Faults: the database restarted under traffic, the broker dropped, SQLite full or read-only.

What is promised when the database or the broker goes away for a while:

- every HTTP request answers ``503`` ``application/problem+json`` with a
  stable code (``unavailable``, ``storage_full``, ``read_only``), never a
  500 and never a traceback; a WebSocket frame gets an ``error`` frame with
  code ``unavailable`` and the socket stays open; a new socket, or a
  ``subscribe``, is closed with 1013 (try again later);
- nothing is half-written: a sign-up is a member with its recovery codes
  and session or nothing, a thread has its first post or does not exist,
  an acknowledged chat message is stored exactly once;
- once the database is back, the same server recovers by itself, and live
  chat catches up (the broker reconnects and the hub reads what it missed);
- reading goes on while the database is full or read-only, and the data
  stored before is intact afterwards.

Real components: a throwaway PostgreSQL server of this test's own (the
session's server is shared with other tests and must not be restarted),
real uvicorn, real WebSocket clients, a server subprocess for the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from alumni_community import Community
from alumni_community.chat.models import Message
from alumni_community.identity.models import Member, RecoveryCode, Role, Session
from alumni_community.rooms.models import Post, Thread
from alumni_community.settings import Limit

from .chat.conftest import served
from .conftest import (
    PostgresServer,
    _pg_bin,
    clone_migrated,
    free_port,
    make_settings,
    missing,
)

pytestmark = pytest.mark.anyio

PASSWORD = "a long enough passphrase"
PROBLEM = "application/problem+json"
#: Sign-ups come from one address here, many times over.
MANY_SIGNUPS = Limit(100_000, 3600)


# -- a PostgreSQL server of our own ------------------------------------------------


class ThrowawayPostgres:
    """initdb, start and stop a server in a temporary directory, as tests/conftest.py does.

    Its own, because this file stops it under traffic: the session's server
    is shared with every other PostgreSQL test.
    """

    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            missing("PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql")
        assert initdb and pg_ctl
        self.pg_ctl = pg_ctl
        self.base = Path(tempfile.mkdtemp(prefix="ac-pg-fault-"))
        self.data, self.sockets = self.base / "data", self.base / "sock"
        self.sockets.mkdir()
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.sockets, "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.server = PostgresServer(host="127.0.0.1", port=free_port())
        subprocess.run(
            [
                *self.run_as,
                initdb,
                *("-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"),
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = (
            # Commits wait for the WAL (what is acknowledged survives a stop);
            # no fsync: nothing here survives an OS crash, nor needs to.
            f"-p {self.server.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._ctl("-o", options, "-l", str(self.base / "log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "-t", "60", "stop")

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", str(self.data), *args],
            check=True,
            capture_output=True,
        )

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


def copy_database(source: str, target: str) -> None:
    """The migrated schema, copied from the session's server (migrating anew takes seconds)."""
    pg_dump, psql = _pg_bin("pg_dump"), _pg_bin("psql")
    if not pg_dump or not psql:
        missing("PostgreSQL client binaries (pg_dump, psql) not found; install postgresql")
    assert pg_dump and psql
    dump = subprocess.run(
        [
            pg_dump,
            "--no-owner",
            "--no-privileges",
            "-d",
            source.replace("postgres://", "postgresql://"),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [psql, "-q", "-v", "ON_ERROR_STOP=1", "-d", target.replace("postgres://", "postgresql://")],
        input=dump.stdout,
        check=True,
        capture_output=True,
    )


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


# -- a community served by a real uvicorn in the test's loop -------------------------


async def signed_in(base: str, handle: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=base + "/community/api/v1", timeout=10)
    signed = await http.post("/session", json={"handle": handle, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    http.headers["x-csrf-token"] = signed.json()["csrf_token"]
    return http


async def socket_for(base: str, http: httpx.AsyncClient) -> ClientConnection:
    cookie = f"ac_session={http.cookies.get('ac_session')}"
    return await connect(
        base.replace("http://", "ws://") + "/community/ws",
        additional_headers={"Cookie": cookie, "Origin": base},
        compression=None,
        close_timeout=2,
    )


async def eventually(check: Callable[[], Awaitable[bool]], wait: float = 10) -> None:
    """Until ``check()`` holds: for state in another process or server, with nothing to await."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{check.__name__} did not hold within {wait} s")
        await asyncio.sleep(0.02)


@dataclass
class Answer:
    """One HTTP answer, kept to be checked once the run is over."""

    what: str
    key: str
    status: int
    content_type: str
    text: str
    retry_after: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.text)


def answer(what: str, key: str, response: httpx.Response) -> Answer:
    return Answer(
        what,
        key,
        response.status_code,
        response.headers.get("content-type", ""),
        response.text,
        response.headers.get("retry-after", ""),
    )


def assert_unavailable(got: Answer, *codes: str) -> None:
    """A 503 problem document with one of ``codes`` (``unavailable``), carrying nothing internal."""
    assert got.status == 503, (got.what, got.status, got.text[:300])
    assert got.content_type.startswith(PROBLEM), got.content_type
    problem = got.json
    assert problem["code"] in (codes or ("unavailable",)) and problem["status"] == 503
    assert got.retry_after.isdigit() and int(got.retry_after) > 0, got.what
    assert "Traceback" not in got.text and "asyncpg" not in got.text.lower()
    assert "sqlite" not in got.text.lower() and "ref" not in problem


class Talker:
    """A chat sender that is not subscribed: each send is answered on its own socket,
    by the message (with its ``client_id``) or by an ``error`` frame with that ref."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.acked: dict[str, int] = {}
        self.refused: list[dict[str, Any]] = []

    async def send(
        self, room: str, client_id: str, body: str | None = None, wait: float = 10
    ) -> dict[str, Any]:
        frame = {"type": "send", "room": room, "body": body or client_id, "client_id": client_id}
        await self.ws.send(json.dumps(frame))
        async with asyncio.timeout(wait):
            while True:
                got: dict[str, Any] = json.loads(await self.ws.recv())
                if got["type"] == "message" and got.get("client_id") == client_id:
                    self.acked[client_id] = got["seq"]
                    return got
                if got["type"] == "error" and got.get("ref") == client_id:
                    self.refused.append(got)
                    return got


class Reader:
    """A subscribed socket that keeps every seq it is sent, in order."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.task: asyncio.Task[None] | None = None
        self.ws: ClientConnection | None = None

    async def open(self, base: str, http: httpx.AsyncClient, room: str) -> None:
        self.ws = await socket_for(base, http)
        since = self.seqs[-1] if self.seqs else 0
        await self.ws.send(json.dumps({"type": "subscribe", "room": room, "since": since}))
        self.task = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                got = json.loads(raw)
                if got["type"] == "message":
                    self.seqs.append(got["seq"])

    async def until(self, count: int, wait: float = 15) -> None:
        async def enough() -> bool:
            return len(set(self.seqs)) >= count

        await eventually(enough, wait)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            await self.task


@dataclass
class Traffic:
    """Sign-ups, threads, replies and chat messages, every answer kept.

    Each write has a number of its own: member ``new-007``, thread ``topic
    007``, reply ``reply 007``, chat message ``c-007``, so what was stored
    can be matched with what was answered. ``padding`` makes a write large.
    """

    base: str
    mod: httpx.AsyncClient
    talker: Talker
    thread_id: int
    answers: list[Answer] = field(default_factory=list)
    chat_ids: list[str] = field(default_factory=list)
    count: int = 0

    def _next(self) -> int:
        self.count += 1
        return self.count

    async def signup(self) -> bool:
        handle = f"new-{self._next():03}"
        async with httpx.AsyncClient(base_url=self.base + "/community/api/v1", timeout=30) as anon:
            response = await anon.post("/accounts", json={"handle": handle, "password": PASSWORD})
        self.answers.append(answer("signup", handle, response))
        return response.status_code == 201

    async def thread(self, padding: str = "") -> bool:
        title = f"topic {self._next():03}"
        response = await self.mod.post(
            "/rooms/lounge/threads", json={"title": title, "body": "opening " + padding}
        )
        self.answers.append(answer("thread", title, response))
        return response.status_code == 201

    async def reply(self, padding: str = "") -> bool:
        key = f"reply {self._next():03}"
        response = await self.mod.post(
            f"/threads/{self.thread_id}/posts", json={"body": f"{key} {padding}"}
        )
        self.answers.append(answer("reply", key, response))
        return response.status_code == 201

    async def chat(self, padding: str = "") -> bool:
        client_id = f"c-{self._next():03}"
        self.chat_ids.append(client_id)
        sent = await self.talker.send("lounge", client_id, f"{client_id} {padding}")
        return bool(sent["type"] == "message")

    async def round(self) -> dict[str, bool]:
        """One write of each kind; which of them succeeded."""
        return {
            "signup": await self.signup(),
            "thread": await self.thread(),
            "reply": await self.reply(),
            "chat": await self.chat(),
        }

    async def forever(self, pause: float) -> None:
        while True:
            await self.round()
            await asyncio.sleep(pause)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self, record: logging.LogRecord) -> str:
        line = record.getMessage()
        if record.exc_info:
            line += "\n" + logging.Formatter().formatException(record.exc_info)
        return line


@contextlib.contextmanager
def recording(name: str = "alumni_community") -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


# -- 1. PostgreSQL restarted while members sign up, post and chat ---------------------


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_postgresql_restart_answers_503_meanwhile_and_recovers_by_itself(
    postgres_url: str,
) -> None:
    await clone_migrated(postgres_url)
    with throwaway_postgres() as pg, recording() as logs:
        url = pg.server.url("postgres")
        await asyncio.to_thread(copy_database, postgres_url, url)
        community = Community(make_settings(url, signup_limit_per_ip=MANY_SIGNUPS))
        async with served(community) as base:
            await seed(community)
            mod = await signed_in(base, "mod-a")
            reader_http = await signed_in(base, "reader")
            opened = await mod.post(
                "/rooms/lounge/threads", json={"title": "replies here", "body": "first"}
            )
            assert opened.status_code == 201, opened.text
            talker = Talker(await socket_for(base, mod))
            assert json.loads(await talker.ws.recv())["type"] == "hello"
            reader = Reader()
            await reader.open(base, reader_http, "lounge")
            idle = await socket_for(base, reader_http)
            assert json.loads(await idle.recv())["type"] == "hello"
            traffic = Traffic(base, mod, talker, opened.json()["thread"]["id"])
            try:
                for _ in range(2):
                    assert all((await traffic.round()).values())

                # Stopped under traffic: requests in flight lose their connection,
                # two of them for sure, inside their transactions (held on locks).
                running = asyncio.create_task(traffic.forever(pause=0.01))
                await asyncio.sleep(0.2)
                held_chat = Talker(await socket_for(base, mod))
                async with held_in_transactions(url, "held-signup") as held:
                    signup = asyncio.create_task(sign_up(base, "held-signup"))
                    chat = asyncio.create_task(held_chat.send("lounge", "c-held"))
                    await held.until_waiting(2)
                    await asyncio.to_thread(pg.stop, "fast")
                # Mostly they are cut off (503, error frame). But a fast shutdown ends
                # the blocker's transaction too, and a held request that gets its
                # lock in that instant may still commit before its own backend
                # stops: then it is answered as done, and must be stored once.
                held_signup = answer("signup", "held-signup", await signup)
                if held_signup.status != 201:
                    assert_unavailable(held_signup)
                held_send = await chat
                if held_send["type"] != "message":
                    assert held_send["code"] == "unavailable", held_send
                await asyncio.sleep(0.2)
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running

                # While it is down: every kind of request says so, the same way.
                await down_everywhere(base, mod, talker, traffic, idle)

                await asyncio.to_thread(pg.start)
                for _ in range(100):
                    if all((await traffic.round()).values()):
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("no recovery after 100 rounds")
                health = await mod.get("/health")
                assert health.status_code == 200, health.text

                # What was not acknowledged is sent again, unchanged (what a client does).
                assert (await held_chat.send("lounge", "c-held"))["type"] == "message"
                talker.acked.update(held_chat.acked)
                await held_chat.ws.close()
                assert await Member.exists(handle="held-signup") == (held_signup.status == 201)
                for client_id in traffic.chat_ids:
                    if client_id not in talker.acked:
                        assert (await talker.send("lounge", client_id))["type"] == "message"
                await no_half_writes(traffic, talker)

                # The reader's socket outlived the outage; it has every seq, in order, once.
                count = len(talker.acked)
                await reader.until(count)
                await reader.close()
                assert reader.seqs == list(range(1, count + 1))
                # And a resume from an earlier seq fills in from the database.
                again = Reader()
                again.seqs = [count // 2]
                await again.open(base, reader_http, "lounge")
                await again.until(count - count // 2 + 1)
                await again.close()
                assert again.seqs == list(range(count // 2, count + 1))
            finally:
                await talker.ws.close()
                await mod.aclose()
                await reader_http.aclose()
    # Logged, but as an outage: no 500's traceback, no member's data.
    assert not [r for r in logs.records if "unexpected error" in r.getMessage()]
    outage = [r for r in logs.records if "database" in r.getMessage()]
    assert outage, "the outage was not logged"
    handles = {a.key for a in traffic.answers if a.what == "signup"}
    for record in logs.records:
        text = logs.text(record)
        assert not any(handle in text for handle in handles), text[:300]
        assert PASSWORD not in text


class Held:
    """Rows a sign-up and a chat send need, held by a transaction of the test's own."""

    def __init__(self, blocker: Any) -> None:
        self.blocker = blocker

    async def until_waiting(self, count: int) -> None:
        """Until ``count`` requests wait on the rows, inside their own transactions."""
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"

        async def waiting() -> bool:
            return bool(await self.blocker.fetchval(query) >= count)

        await eventually(waiting)


@contextlib.asynccontextmanager
async def held_in_transactions(url: str, handle: str) -> AsyncIterator[Held]:
    """The room's row (a chat send updates its last_seq), and an uncommitted member
    with ``handle`` (a sign-up under it waits on the unique index): nothing else
    waits, so nothing can deadlock with the traffic going on."""
    import asyncpg

    from alumni_community.identity import handles

    blocker = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        await blocker.execute("BEGIN")
        await blocker.execute("SELECT 1 FROM ac_room WHERE slug = 'lounge' FOR NO KEY UPDATE")
        named = ("id", "handle", "handle_key", "handle_skeleton", "host_key")
        rest = ", ".join(
            f'"{row["column_name"]}"'
            for row in await blocker.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'ac_member' AND column_name <> ALL($1::text[])",
                list(named),
            )
        )
        await blocker.execute(
            f"INSERT INTO ac_member (handle, handle_key, handle_skeleton, {rest}) "
            f"SELECT $1, $2, $3, {rest} FROM ac_member WHERE handle = 'reader'",
            handle,
            handles.key(handle),
            handles.skeleton(handle),
        )
        yield Held(blocker)
    finally:
        # The server's stop has ended it (and its transaction) by now.
        blocker.terminate()


async def sign_up(base: str, handle: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base + "/community/api/v1", timeout=30) as anon:
        return await anon.post("/accounts", json={"handle": handle, "password": PASSWORD})


async def seed(community: Community) -> None:
    await community.accounts.create_member("mod-a", PASSWORD, Role.MODERATOR)
    await community.accounts.create_member("reader", PASSWORD, Role.MEMBER)
    moderator = await Member.get(handle="mod-a")
    await community.rooms.create_room(
        moderator, {"slug": "lounge", "name": "Lounge", "moderation": "open"}
    )


async def down_everywhere(
    base: str, mod: httpx.AsyncClient, talker: Talker, traffic: Traffic, idle: ClientConnection
) -> None:
    """With the server stopped: health, API, pages, sockets old and new all say 503."""
    assert_unavailable(answer("health", "", await mod.get("/health")))
    before = len(traffic.answers)
    ok = await traffic.round()
    assert not any(ok.values()), ok
    for got in traffic.answers[before:]:
        assert_unavailable(got)
    refusal = talker.refused[-1]
    assert refusal["code"] == "unavailable" and refusal["ref"] == traffic.chat_ids[-1]
    assert "Traceback" not in refusal["detail"]
    # The socket stays open: a ping is still answered.
    await talker.ws.send(json.dumps({"type": "ping", "ref": "p"}))
    assert json.loads(await asyncio.wait_for(talker.ws.recv(), 5)) == {
        "type": "pong",
        "ref": "p",
    }
    # A page: the HTML error page, with the same status.
    page = await mod.get(base + "/community/", headers={"accept": "text/html"})
    assert page.status_code == 503 and "Traceback" not in page.text
    # A subscribe cannot be refused by a frame (the client counts the room as
    # its own once it asked): the socket closes with 1013, try again later.
    await idle.send(json.dumps({"type": "subscribe", "room": "lounge", "since": 0}))
    await closed_with(idle, 1013)
    # A new socket: closed at once the same way.
    await closed_with(await socket_for(base, mod), 1013)


async def closed_with(ws: ClientConnection, code: int) -> None:
    """The server closes ``ws`` with ``code`` (reading whatever comes before)."""
    async with asyncio.timeout(5):
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass
    assert (ws.close_code, ws.close_reason) == (code, "try again later")


async def no_half_writes(traffic: Traffic, talker: Talker) -> None:
    """Every 201 exists; every 503 exists entirely or not at all; every ack once."""
    for got in traffic.answers:
        assert got.status in (200, 201, 503), (got.what, got.status, got.text[:300])
        if got.status == 503:
            assert_unavailable(got, "unavailable", "storage_full", "read_only")
    created = {(a.what, a.key) for a in traffic.answers if a.status == 201}
    tried = {(a.what, a.key) for a in traffic.answers}

    members = {m.handle: m for m in await Member.filter(handle__startswith="new-")}
    for what, key in tried:
        if what != "signup":
            continue
        member = members.get(key)
        if (what, key) in created:
            assert member is not None, key
        if member is not None:
            assert await RecoveryCode.filter(member_id=member.id).count() == 10, key
            assert await Session.filter(member_id=member.id).count() >= 1, key

    threads = {t.title: t for t in await Thread.filter(title__startswith="topic ")}
    for what, key in tried:
        if what == "thread" and (what, key) in created:
            assert key in threads, key
    for thread in threads.values():
        assert await Post.filter(thread_id=thread.id).count() == 1, thread.title
    bodies = await Post.filter(body__startswith="reply ").values_list("body", flat=True)
    replies = [" ".join(str(body).split()[:2]) for body in bodies]
    assert len(replies) == len(set(replies))
    for what, key in tried:
        if what == "reply" and (what, key) in created:
            assert key in replies, key

    stored = await Message.all().order_by("seq").values_list("client_id", "seq")
    assert [seq for _, seq in stored] == list(range(1, len(stored) + 1))
    assert dict(stored) == talker.acked  # every ack stored, once, with its seq


# -- 2. The broker's listening connection dropped, with a gap before it is back -----------


@pytest.fixture(params=["postgres", "redis"])
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_dropped_broker_connection_delays_messages_but_loses_none(
    postgres_url: str, broker_kind: str, request: pytest.FixtureRequest
) -> None:
    """Two processes: B (in this test's process) sends, A (a server process) reads.

    (tests/chat/test_chat.py drops one process's PostgreSQL listener, with
    later messages free to fill the gap; here the gap must be filled by the
    broker's catch-up alone, on both brokers, across processes.)

    The broker's listening connections are killed (``pg_terminate_backend``
    on the LISTEN backends; ``CLIENT KILL TYPE pubsub``). B's comes back at
    once; A's broker logs in as a user of its own that is refused for a
    while, so messages sent meanwhile are certainly sent while A is not
    listening: they reach A's reader only because A's broker catches up from
    the database when it is back (docs/topics/delivery.md). No message
    after them is needed to fill the gap.
    """
    from .chat.test_processes import Peer, cookie_for, server

    await clone_migrated(postgres_url)
    gate: BrokerGate
    if broker_kind == "postgres":
        gate = PostgresGate(postgres_url)
        direct = postgres_url
    else:
        direct = request.getfixturevalue("redis_url")
        gate = RedisGate(direct)
    await gate.open()
    community = Community(make_settings(postgres_url, broker_url=direct))
    peers: list[Peer] = []
    try:
        async with served(community) as base_b:
            await seed(community)
            await community.accounts.create_member("other", PASSWORD, Role.MEMBER)
            with server(postgres_url, gate.url) as (base_a, _process):
                sender = Peer(await cookie_for(base_b, "mod-a"))
                reader_a = Peer(await cookie_for(base_a, "reader"))
                reader_b = Peer(await cookie_for(base_b, "other"))
                peers += [sender, reader_a, reader_b]
                await sender.open(base_b, "lounge")
                await reader_a.open(base_a, "lounge")
                await reader_b.open(base_b, "lounge")
                await asyncio.sleep(0.3)  # all subscribed

                for i in range(5):
                    await sender.send("lounge", f"m{i:03}")
                await reader_a.read(5)

                assert community.broker is not None
                before = community.broker.reconnects
                await gate.refuse()
                await gate.drop()
                # B notices and comes back by itself, resuming from the database.
                broker = community.broker

                async def reconnected() -> bool:
                    return broker.reconnects > before

                await eventually(reconnected)

                # Sent while A cannot listen: B's own clients have them at once...
                for i in range(5, 10):
                    await sender.send("lounge", f"m{i:03}")
                await reader_b.read(10)
                await sender.read(10)
                # ...A's reader not yet: nothing reaches A while its broker is away.
                await asyncio.sleep(0.3)
                assert len(reader_a.seqs) == 5

                # A's broker is let back in: it catches up, with no new message to help.
                await gate.open()
                await reader_a.read(10, wait=15)

                # And the way back: sent on A, read on B.
                writer_a = Peer(await cookie_for(base_a, "mod-a"))
                peers.append(writer_a)
                await writer_a.open(base_a, "lounge")
                for i in range(10, 15):
                    await writer_a.send("lounge", f"m{i:03}")
                await reader_b.read(15)
                await reader_a.read(15)
                for peer in peers:
                    await peer.close()
            stored = [
                str(body)
                for body in await Message.all().order_by("seq").values_list("body", flat=True)
            ]
    finally:
        for peer in peers:
            await peer.close()
        await gate.close()
    assert stored == [f"m{i:03}" for i in range(15)]
    for peer in (reader_a, reader_b):
        assert peer.seqs == list(range(1, 16))  # in order, none lost, none twice
        assert peer.bodies == [f"<p>m{i:03}</p>\n" for i in range(15)]


class BrokerGate:
    """A broker user of A's own, that can be refused new connections for a while."""

    url: str

    async def open(self) -> None:
        raise NotImplementedError

    async def refuse(self) -> None:
        raise NotImplementedError

    async def drop(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class PostgresGate(BrokerGate):
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url.replace("postgres://", "postgresql://")
        self.role = "ac_broker_" + os.urandom(4).hex()
        base, _, name = database_url.rpartition("/")
        host = base.rpartition("@")[2]
        self.url = f"postgres://{self.role}@{host}/{name}"

    async def _run(self, statement: str) -> list[Any]:
        import asyncpg

        conn = await asyncpg.connect(self.database_url)
        try:
            return list(await conn.fetch(statement))
        finally:
            await conn.close()

    async def open(self) -> None:
        exists = await self._run(f"SELECT 1 FROM pg_roles WHERE rolname = '{self.role}'")
        verb = "ALTER" if exists else "CREATE"
        await self._run(f'{verb} ROLE "{self.role}" LOGIN')

    async def refuse(self) -> None:
        await self._run(f'ALTER ROLE "{self.role}" NOLOGIN')

    async def drop(self) -> None:
        listening = (
            "FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        killed = await self._run(f"SELECT usename, pg_terminate_backend(pid) {listening}")
        assert {row["usename"] for row in killed} == {"postgres", self.role}, killed

        async def gone() -> bool:
            return not await self._run(f"SELECT 1 {listening} AND usename = '{self.role}'")

        await eventually(gone)

    async def close(self) -> None:
        await self._run(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{self.role}'"
        )
        await self._run(f'DROP ROLE IF EXISTS "{self.role}"')


class RedisGate(BrokerGate):
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.user = "ac-broker-" + os.urandom(4).hex()
        self.url = redis_url.replace("redis://", f"redis://{self.user}:unused@")

    async def _run(self, *command: str) -> Any:
        import redis.asyncio as redis

        client = redis.from_url(self.redis_url)
        try:
            return await client.execute_command(*command)  # type: ignore[no-untyped-call]
        finally:
            await client.aclose()

    async def open(self) -> None:
        await self._run("ACL", "SETUSER", self.user, "on", "nopass", "+@all", "&*", "~*")

    async def refuse(self) -> None:
        # Connections already authenticated keep working; new ones are refused.
        await self._run("ACL", "SETUSER", self.user, "off")

    async def drop(self) -> None:
        killed = await self._run("CLIENT", "KILL", "TYPE", "pubsub")
        assert killed == 2, killed  # A's and B's

    async def close(self) -> None:
        await self._run("ACL", "DELUSER", self.user)


# -- 3. SQLite full, then read-only ------------------------------------------------------


async def test_a_full_or_read_only_sqlite_database_refuses_writes_and_keeps_reading(
    sqlite_url: str,
) -> None:
    """SQLite only: a full disk and a read-only file are SQLite's own result codes
    (SQLITE_FULL, SQLITE_READONLY). The disk is made full without root by
    ``PRAGMA max_page_count`` on the community's one connection, and the file
    read-only by ``PRAGMA query_only``: SQLite answers both exactly as it does
    for a full file system and a file it may not write (the process may run as
    root, which file permissions do not stop).
    """
    await clone_migrated(sqlite_url)
    community = Community(make_settings(sqlite_url, signup_limit_per_ip=MANY_SIGNUPS))
    async with served(community) as base:
        await seed(community)
        mod = await signed_in(base, "mod-a")
        reader = await signed_in(base, "reader")
        talker = Talker(await socket_for(base, mod))
        try:
            opened = await mod.post(
                "/rooms/lounge/threads", json={"title": "replies here", "body": "first"}
            )
            assert opened.status_code == 201, opened.text
            traffic = Traffic(base, mod, talker, opened.json()["thread"]["id"])
            assert all((await traffic.round()).values())
            before = await everything_stored()
            db = community.database.connection()

            # Full: each kind of write, again and again, until the file has no room.
            pages = (await db.execute_query_dict("PRAGMA page_count"))[0]["page_count"]
            await db.execute_script(f"PRAGMA max_page_count = {pages}")
            await until_refused(traffic, "storage_full")
            await reads_still_work(base, mod, reader, traffic.thread_id)
            await no_half_writes(traffic, talker)
            await intact(db, before)

            # Room again: writing works again, on the same connection.
            await db.execute_script("PRAGMA max_page_count = 1073741823")
            assert all((await traffic.round()).values())

            # Read-only: every write refused, at once; reading goes on.
            before = await everything_stored()
            await db.execute_script("PRAGMA query_only = 1")
            start = len(traffic.answers)
            ok = await traffic.round()
            assert not any(ok.values()), ok
            for got in traffic.answers[start:]:
                assert_unavailable(got, "read_only")
            assert talker.refused[-1]["code"] == "unavailable"
            assert "read-only" in talker.refused[-1]["detail"]
            await reads_still_work(base, mod, reader, traffic.thread_id)
            await intact(db, before)

            await db.execute_script("PRAGMA query_only = 0")
            assert all((await traffic.round()).values())
            await no_half_writes(traffic, talker)
            await intact(db, before)
        finally:
            await talker.ws.close()
            await mod.aclose()
            await reader.aclose()


async def until_refused(traffic: Traffic, code: str, most: int = 100) -> None:
    """Each kind of write, large ones first, again and again until refused with ``code``.

    Until then each write succeeds (the file still had room somewhere).
    """
    large = "words " * 3000
    writes: list[tuple[str, Callable[[], Awaitable[bool]]]] = [
        ("reply", lambda: traffic.reply(large)),
        ("thread", lambda: traffic.thread(large)),
        ("chat", lambda: traffic.chat("words " * 600)),
        ("signup", traffic.signup),
    ]
    for kind, write in writes:
        refusals = len(traffic.talker.refused)
        for _ in range(most):
            if not await write():
                break
        else:
            raise AssertionError(f"no {kind} was refused in {most} tries")
        if kind == "chat":
            assert len(traffic.talker.refused) == refusals + 1
            assert traffic.talker.refused[-1]["code"] == "unavailable"
        else:
            assert_unavailable(traffic.answers[-1], code)


async def reads_still_work(
    base: str, mod: httpx.AsyncClient, reader: httpx.AsyncClient, thread_id: int
) -> None:
    for http, path in (
        (reader, "/health"),
        (reader, "/rooms"),
        (reader, f"/threads/{thread_id}"),
        (reader, "/rooms/lounge/messages"),
        (mod, "/me"),
    ):
        got = await http.get(path)
        assert got.status_code == 200, (path, got.status_code, got.text[:300])
    page = await reader.get(base + "/community/", headers={"accept": "text/html"})
    assert page.status_code == 200, page.text[:300]
    # A new socket subscribes and gets the backlog.
    ws = await socket_for(base, reader)
    try:
        await ws.send(json.dumps({"type": "subscribe", "room": "lounge", "since": 0}))
        async with asyncio.timeout(5):
            while json.loads(await ws.recv())["type"] != "message":
                pass
    finally:
        await ws.close()


async def everything_stored() -> dict[str, list[Any]]:
    """What the seeded world holds, to compare after a fault."""
    return {
        "members": await Member.all().order_by("id").values_list("id", "handle", "password_hash"),
        "codes": await RecoveryCode.all().order_by("id").values_list("id", "code_hash"),
        "threads": await Thread.all().order_by("id").values_list("id", "title"),
        "posts": await Post.all().order_by("id").values_list("id", "body"),
        "messages": await Message.all().order_by("id").values_list("seq", "client_id", "body"),
    }


async def intact(db: Any, before: dict[str, list[Any]]) -> None:
    """The file is sound, and everything stored before is still there, unchanged."""
    assert await db.execute_query_dict("PRAGMA integrity_check") == [{"integrity_check": "ok"}]
    assert await db.execute_query_dict("PRAGMA foreign_key_check") == []
    now = await everything_stored()
    for kind, rows in before.items():
        assert set(rows) <= set(now[kind]), kind


@pytest.mark.postgres
async def test_a_read_only_postgresql_database_refuses_writes_and_keeps_reading(
    postgres_url: str,
) -> None:
    """PostgreSQL's read-only answer (SQLSTATE 25006, as from a standby after a
    failover): the database is made read-only for new sessions and the
    community's sessions are ended, so its pool reconnects into read-only ones."""
    import asyncpg

    await clone_migrated(postgres_url)
    name = postgres_url.rpartition("/")[2]
    admin = await asyncpg.connect(postgres_url.rpartition("/")[0] + "/postgres")
    community = Community(make_settings(postgres_url, signup_limit_per_ip=MANY_SIGNUPS))

    async def sessions_end(setting: str) -> None:
        await admin.execute(
            f'ALTER DATABASE "{name}" SET default_transaction_read_only = {setting}'
        )
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await asyncio.sleep(0.2)  # the pool hears of it

    try:
        async with served(community) as base:
            await seed(community)
            mod = await signed_in(base, "mod-a")
            reader = await signed_in(base, "reader")
            talker = Talker(await socket_for(base, mod))
            try:
                opened = await mod.post(
                    "/rooms/lounge/threads", json={"title": "replies here", "body": "first"}
                )
                assert opened.status_code == 201, opened.text
                traffic = Traffic(base, mod, talker, opened.json()["thread"]["id"])
                assert all((await traffic.round()).values())
                before = await everything_stored()

                await sessions_end("on")
                await reads_still_work(base, mod, reader, traffic.thread_id)
                start = len(traffic.answers)
                ok = await traffic.round()
                assert not any(ok.values()), ok
                for got in traffic.answers[start:]:
                    assert_unavailable(got, "read_only")
                assert talker.refused[-1]["code"] == "unavailable"
                await reads_still_work(base, mod, reader, traffic.thread_id)

                await sessions_end("off")
                for _ in range(20):
                    if all((await traffic.round()).values()):
                        break
                else:
                    raise AssertionError("writes did not come back")
                await no_half_writes(traffic, talker)
                now = await everything_stored()
                for kind, rows in before.items():
                    assert set(rows) <= set(now[kind]), kind
            finally:
                await talker.ws.close()
                await mod.aclose()
                await reader.aclose()
    finally:
        await admin.close()
