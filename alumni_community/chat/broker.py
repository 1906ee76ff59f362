"""How events reach every server process: one small interface, three engines.

An event is a small JSON object (ids, not bodies: the database holds the
truth). ``publish`` sends it to every process, this one included, where
the broker hands it to ``deliver``. When a broker loses its connection it
reconnects by itself and then calls ``resume``, so the hub can read what
it missed from the database by seq: a lost connection delays messages,
it never loses them.

- ``memory://``: this process only (the default on SQLite).
- PostgreSQL LISTEN/NOTIFY on a dedicated asyncpg connection (the default on
  PostgreSQL). NOTIFY is delivered at commit and its payload is limited to
  8000 bytes, which ids fit easily.
- ``redis://``: pub/sub through redis.asyncio, for hosts that run Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..db import outage_name, unavailable

__all__ = ["CHANNEL", "Broker", "MemoryBroker", "PostgresBroker", "RedisBroker", "make_broker"]

logger = logging.getLogger("alumni_community.chat.broker")

Event = dict[str, Any]
Deliver = Callable[[Event], Awaitable[None]]
Resume = Callable[[], Awaitable[None]]

#: The PostgreSQL channel and Redis channel events travel on.
CHANNEL = "alumni_community_events"


async def _nothing() -> None:
    return None


class Broker:
    """The interface: start with a deliver callback, publish events, close."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._resume: Resume = _nothing
        #: How many times the connection was re-established (for tests and logs).
        self.reconnects = 0

    async def start(self, deliver: Deliver, resume: Resume = _nothing) -> None:
        self._deliver, self._resume = deliver, resume

    async def publish(self, event: Event) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None

    async def _hand_over(self, payload: str | bytes) -> None:
        if self._deliver is None:
            return
        try:
            event = json.loads(payload)
        except ValueError:
            logger.warning("broker: dropped a payload that is not JSON")
            return
        if not isinstance(event, dict):
            return
        await _deliver_logged(self._deliver, event)


async def _deliver_logged(deliver: Deliver, event: Event) -> None:
    try:
        await deliver(event)
    except Exception as error:
        outage = unavailable(error)
        if outage is None:
            logger.exception("broker: delivering an event failed")
        else:
            # Not a bug: the hub's cursor did not move, so the room's next
            # event, or the resume after a reconnect, reads what this missed.
            logger.warning("broker: an event waits for the database (%s)", outage_name(outage))


class MemoryBroker(Broker):
    """One process: publishing is delivering."""

    async def publish(self, event: Event) -> None:
        if self._deliver is not None:
            await _deliver_logged(self._deliver, event)


def _backoff(attempt: int) -> float:
    """Seconds before reconnect attempt ``attempt``: 0.1 s doubling to 5 s, with jitter."""
    return float(min(5.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0))  # noqa: S311


class _Reconnecting(Broker):
    """A listening loop that reconnects with backoff and resumes after each reconnect."""

    def __init__(self) -> None:
        super().__init__()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._ready = asyncio.Event()

    async def start(self, deliver: Deliver, resume: Resume = _nothing) -> None:
        await super().start(deliver, resume)
        self._task = asyncio.create_task(self._run(), name=f"ac-{type(self).__name__}")
        # The first connection is made before start returns, so nothing
        # published after start is missed; a broker that is down at start
        # does not stop the community from serving (messages are in the DB).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def _run(self) -> None:
        attempt = 0
        first = True
        while not self._closing:
            try:
                async with self._listening():
                    self._ready.set()
                    attempt = 0
                    if not first:
                        self.reconnects += 1
                        logger.info("broker: reconnected; catching up from the database")
                        await self._resume()
                    first = False
                    await self._until_lost()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self._closing:
                    break
                logger.warning("broker: connection lost (%s); reconnecting", type(error).__name__)
            if not self._closing:
                await asyncio.sleep(_backoff(attempt))
                attempt += 1

    def _listening(self) -> contextlib.AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def _until_lost(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


#: Options in a database URL that configure Tortoise's pool, not the connection.
_POOL_OPTIONS = {
    "minsize",
    "maxsize",
    "max_queries",
    "max_inactive_connection_lifetime",
    "schema",
    "application_name",
}


def _asyncpg_dsn(url: str) -> str:
    """asyncpg wants postgresql://...; connection options (host=, sslmode=) are kept,
    Tortoise's pool options (minsize=...) are not for it."""
    parts = urlsplit(url)
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and pair.split("=", 1)[0].lower() not in _POOL_OPTIONS
    )
    return urlunsplit(("postgresql", parts.netloc, parts.path, query, ""))


class PostgresBroker(_Reconnecting):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.dsn = _asyncpg_dsn(url)
        self._listen_conn: Any = None
        self._publish_conn: Any = None
        self._publish_lock = asyncio.Lock()
        self._lost = asyncio.Event()

    @contextlib.asynccontextmanager
    async def _listening(self) -> Any:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        self._lost.clear()
        conn.add_termination_listener(lambda _conn: self._lost.set())

        def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            asyncio.get_running_loop().create_task(self._hand_over(payload))

        try:
            await conn.add_listener(CHANNEL, heard)
            self._listen_conn = conn
            yield
        finally:
            self._listen_conn = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=2)

    async def _until_lost(self) -> None:
        # Also probe now and then: a half-open TCP connection is not noticed otherwise.
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), timeout=15)
            except TimeoutError:
                conn = self._listen_conn
                if conn is None:
                    raise ConnectionError("listening connection gone") from None
                await asyncio.wait_for(conn.execute("SELECT 1"), timeout=5)
                continue
            raise ConnectionError("listening connection closed")

    async def publish(self, event: Event) -> None:
        import asyncpg

        payload = json.dumps(event, separators=(",", ":"))
        async with self._publish_lock:
            for attempt in range(2):
                try:
                    if self._publish_conn is None or self._publish_conn.is_closed():
                        self._publish_conn = await asyncpg.connect(self.dsn)
                    await self._publish_conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
                    return
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                    self._publish_conn = None
                    if attempt:
                        # The message is stored; listeners catch up when they resume.
                        logger.warning("broker: could not publish (%s)", type(error).__name__)

    async def close(self) -> None:
        await super().close()
        if self._publish_conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._publish_conn.close(), timeout=2)
            self._publish_conn = None


class RedisBroker(_Reconnecting):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._client: Any = None
        self._pubsub: Any = None

    @contextlib.asynccontextmanager
    async def _listening(self) -> Any:
        import redis.asyncio as redis

        client = redis.from_url(self.url)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
            self._pubsub = pubsub
            yield
        finally:
            self._pubsub = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _until_lost(self) -> None:
        pubsub = self._pubsub
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=15.0)
            if message is None:
                await pubsub.ping()  # notices a dead connection
                continue
            if message.get("type") == "message":
                await self._hand_over(message["data"])

    async def publish(self, event: Event) -> None:
        import redis.asyncio as redis
        from redis.exceptions import RedisError

        payload = json.dumps(event, separators=(",", ":"))
        for attempt in range(2):
            try:
                if self._client is None:
                    self._client = redis.from_url(self.url)
                await self._client.publish(CHANNEL, payload)
                return
            except (OSError, RedisError) as error:
                client, self._client = self._client, None
                if client is not None:
                    with contextlib.suppress(Exception):
                        await client.aclose()
                if attempt:
                    logger.warning("broker: could not publish (%s)", type(error).__name__)

    async def close(self) -> None:
        await super().close()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None


def make_broker(url: str) -> Broker:
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        return MemoryBroker()
    if scheme in ("postgres", "postgresql", "asyncpg", "psycopg"):
        return PostgresBroker(url)
    if scheme in ("redis", "rediss"):
        return RedisBroker(url)
    raise ValueError(f"unknown broker scheme {scheme!r}")
