"""This process's open sockets, and how events reach them.

Every event comes through the broker, this process's own included, and is
handed to ``Hub.deliver``. For a new message the hub reads, once per room,
every message after the last seq it has read (``_advance``): one query per
room however many sockets listen, and a lost event is filled in by the next
one. Each socket has a bounded queue and its own sender task; putting a
frame on the queue never waits, and a socket whose queue is full is closed
with 4408 (its client resumes with ``since``), so one slow reader never
delays the others.

A subscription starts buffering live messages before it reads its backlog
from the database, then sends the backlog and the buffer, skipping any seq
it has sent: no gap (the buffer covers what commits during the read) and no
duplicate (each seq goes out at most once per subscription).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Coroutine, Generator, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..db import outage_name, unavailable
from ..errors import NotFound
from ..identity.models import Member, MemberStatus, Session
from ..identity.service import member_json
from ..moderation.service import is_moderator
from ..rooms.models import PostState, Room
from . import protocol
from .models import Message

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from ..settings import Settings
    from .service import Chat

__all__ = ["Connection", "Hub", "Subscription"]

logger = logging.getLogger("alumni_community.chat")

#: Close codes of the protocol.
CLOSE_NO_SESSION = 4401
CLOSE_REFUSED = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_GOING_AWAY = 1001

#: Seconds between typing frames one member sends to one room.
TYPING_EVERY = 3.0
#: Each process re-announces its presence this often; others forget it after PRESENCE_TTL.
PRESENCE_EVERY = 30.0
PRESENCE_TTL = 75.0
#: Joins and leaves within this many seconds are told in one presence frame
#: (longer in a big room: see ``Hub._presence_quiet``).
PRESENCE_QUIET = 0.25
PRESENCE_QUIET_MAX = 5.0
#: A presence frame names at most this many handles, and counts the rest.
PRESENCE_NAMES = 50
#: The handles one process tells the others about fit in this many bytes of JSON
#: (PostgreSQL's NOTIFY carries at most 8,000; the rest of the event is small).
PRESENCE_EVENT_BYTES = 6000
#: How often sockets' sessions are checked for expiry (and kept from idling out).
SWEEP_EVERY = 30.0


@dataclass(eq=False, slots=True)
class Subscription:
    conn: Connection
    room_id: int
    slug: str
    #: The last seq sent to this socket for this room.
    last_seq: int = 0
    live: bool = False
    buffer: list[Message] = field(default_factory=list)
    #: Edits, deletions and reactions heard while the backlog was read.
    changes: list[tuple[str, int]] = field(default_factory=list)


class _Resume:
    """Awaits the rest of a send that was started eagerly and suspended.

    ``Connection.offer`` steps the ASGI send coroutine itself; if the server
    makes it wait (the transport's buffer is full), the coroutine and what it
    waits for are handed to the socket's sender task through this object,
    which passes what the event loop sends in on to the coroutine, exactly as
    an ``await`` would have.
    """

    __slots__ = ("coro", "pending")

    def __init__(self, coro: Coroutine[Any, Any, None], pending: Any) -> None:
        self.coro = coro
        self.pending = pending

    def __await__(self) -> Generator[Any, Any, None]:
        coro, pending = self.coro, self.pending
        self.pending = None
        while True:
            try:
                value = yield pending
            except BaseException as exc:
                try:
                    pending = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    pending = coro.send(value)
                except StopIteration:
                    return


class Connection:
    """One open WebSocket: who, which session, and its outgoing frames.

    A frame goes out at once when nothing waits before it: ``offer`` steps
    the ASGI send coroutine itself, and with a server whose send does not
    wait (uvicorn's, while the transport takes data) the frame is written
    before ``offer`` returns, with no task switch. A send the server makes
    wait starts a sender task that finishes it and then the frames offered
    behind it, in order, and ends when none is left; at most ``queue_size``
    frames wait, and one more ends the socket with 4408.

    An idle connection holds no task, queue or event of its own (thousands
    of them sit open): the sender task lives only while frames wait, and
    ``end`` wakes the receive loop by expiring the timeout it waits under.
    """

    __slots__ = (
        "_backlog",
        "_sender",
        "_waking",
        "close_code",
        "close_reason",
        "closed",
        "disconnected",
        "member",
        "queue_size",
        "session_id",
        "subscriptions",
        "typing_at",
        "ws",
    )

    def __init__(self, ws: WebSocket, member: Member, session_id: int, queue_size: int) -> None:
        self.ws = ws
        self.member = member
        self.session_id = session_id
        self.queue_size = queue_size
        self.subscriptions: dict[int, Subscription] = {}
        self.closed = False
        #: The client went away: nothing more can be sent, not even a close.
        self.disconnected = False
        self.close_code: int | None = None
        self.close_reason = ""
        #: Frames behind a send that waits (the first may be that send, half done).
        self._backlog: deque[str | _Resume] | None = None
        #: Sends the backlog; set only while there is one.
        self._sender: asyncio.Task[None] | None = None
        #: The timeout the receive loop waits under, which ``end`` expires.
        self._waking: asyncio.Timeout | None = None
        self.typing_at: dict[int, float] = {}

    @property
    def waiting(self) -> int:
        """Frames offered and not yet handed to the server."""
        return len(self._backlog) if self._backlog is not None else 0

    @property
    def sender(self) -> asyncio.Task[None] | None:
        """The task sending frames that had to wait, while there are any."""
        return self._sender

    async def _drain(self) -> None:
        backlog = self._backlog
        assert backlog is not None
        try:
            while backlog:
                item = backlog.popleft()
                if isinstance(item, _Resume):
                    await item
                else:
                    await self.ws.send({"type": "websocket.send", "text": item})
        except Exception:
            # The socket went away while sending: end the connection.
            self.end(1006, "")
        finally:
            self._backlog = None
            self._sender = None

    def offer(self, frame: str) -> None:
        """Send or queue a frame without ever waiting; too many waiting ends the socket (4408)."""
        if self.closed:
            return
        backlog = self._backlog
        if backlog is not None:
            if len(backlog) >= self.queue_size:
                self.end(CLOSE_TOO_SLOW, "too slow: resume with since")
            else:
                backlog.append(frame)
            return
        coro = self.ws.send({"type": "websocket.send", "text": frame})
        try:
            pending = coro.send(None)
        except StopIteration:
            return  # written
        except Exception:
            self.end(1006, "")  # the socket went away
            return
        self._backlog = deque([_Resume(coro, pending)])
        self._sender = asyncio.create_task(self._drain(), name="ac-ws-sender")

    async def receive(self, within: float) -> MutableMapping[str, Any] | None:
        """The next ASGI message, or ``None`` after ``within`` seconds or once ``end`` is called."""
        if self.closed:
            return None
        try:
            async with asyncio.timeout(within) as waking:
                self._waking = waking
                try:
                    return await self.ws.receive()
                finally:
                    self._waking = None
        except TimeoutError:
            return None

    def end(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_code, self.close_reason = code, reason
        if self._waking is not None and not self._waking.expired():
            # Wake the receive loop now (see ``receive``).
            self._waking.reschedule(asyncio.get_running_loop().time())

    async def finish(self) -> None:
        """Stop the sender and close the socket (with a bounded wait: it may be stuck)."""
        sender = self._sender
        if sender is not None:
            if not self.disconnected and self.close_code in (None, 1000, CLOSE_GOING_AWAY):
                # A clean end: let waiting frames go out first.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(sender), timeout=2)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        if self.disconnected:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.ws.close(code=self.close_code or 1000, reason=self.close_reason),
                timeout=2,
            )


class Hub:
    def __init__(self, settings: Settings, chat: Chat) -> None:
        self.settings = settings
        self.chat = chat
        self.process = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.rooms: dict[int, set[Subscription]] = {}
        self.cursors: dict[int, int] = {}
        self.members: dict[int, set[Connection]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        #: room id -> process -> (handles online there, or the first of them; when
        #: heard; how many are online there)
        self.presence: dict[int, dict[str, tuple[frozenset[str], float, int]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._presence_due: set[int] = set()
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._closed = False
        self._pending: set[asyncio.Future[Any]] = set()

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._closed = False
        self._tasks = [
            asyncio.create_task(
                self._every(PRESENCE_EVERY, self._announce_all), name="ac-presence"
            ),
            asyncio.create_task(self._every(SWEEP_EVERY, self.sweep), name="ac-sweep"),
        ]

    async def _every(self, seconds: float, job: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception as error:
                outage = unavailable(error)
                if outage is None:
                    logger.exception("chat: periodic job failed")
                else:
                    # It runs again next time; the database is away, not broken.
                    logger.warning(
                        "chat: periodic job waits for the database (%s)", outage_name(outage)
                    )

    async def close(self) -> None:
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in [*self._tasks, *self._pending]:
            task.cancel()
        for task in [*self._tasks, *self._pending]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for conns in list(self.members.values()):
            for conn in list(conns):
                conn.end(CLOSE_GOING_AWAY, "server going away")

    # -- connections ----------------------------------------------------------------

    def connections_of(self, member_id: int) -> int:
        return len(self.members.get(member_id, ()))

    def add(self, conn: Connection) -> None:
        self.members.setdefault(conn.member.id, set()).add(conn)

    async def remove(self, conn: Connection) -> None:
        for room_id in list(conn.subscriptions):
            await self.unsubscribe(conn, room_id)
        conns = self.members.get(conn.member.id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.members[conn.member.id]

    # -- subscriptions ----------------------------------------------------------------

    def _lock(self, room_id: int) -> asyncio.Lock:
        lock = self._locks.get(room_id)
        if lock is None:
            lock = self._locks[room_id] = asyncio.Lock()
        return lock

    async def subscribe(self, conn: Connection, room: Room, since: int | None) -> None:
        """Backlog after ``since`` (or recent history), then live: no gap, no duplicate."""
        old = conn.subscriptions.pop(room.id, None)
        if old is not None:
            self.rooms.get(room.id, set()).discard(old)
        sub = Subscription(conn, room.id, room.slug)
        async with self._lock(room.id):
            # Registered before anything is read: what commits from now on
            # reaches the buffer.
            self.rooms.setdefault(room.id, set()).add(sub)
            conn.subscriptions[room.id] = sub
            if room.id not in self.cursors:
                self.cursors[room.id] = await self._last_seq(room.id)
        last = await self._last_seq(room.id)
        limit = self.settings.chat_backlog_limit
        member = conn.member
        if since is None:
            backlog = await self.chat.messages(member, room, before=None, limit=50)
            start = backlog[0].seq - 1 if backlog else last
        elif last - since > limit:
            conn.offer(
                protocol.encode("gap", room=room.slug, from_seq=since + 1, to_seq=last - limit)
            )
            start = last - limit
            backlog = await self.chat.messages(member, room, after=start, limit=limit)
        else:
            start = since
            backlog = await self.chat.messages(member, room, after=since, limit=limit)
        sub.last_seq = start
        await self._announce_presence(room.id)
        conn.offer(
            protocol.encode(
                "subscribed",
                room=room.slug,
                last_seq=last,
                **self._presence_fields(room.id),
                unread=await self.chat.unread(member, room),
            )
        )
        reactions = await self.chat.reactions([m.id for m in backlog])
        sub.live = True
        for message in backlog:
            self._send_message(sub, message, reactions.get(message.id))
        # What committed while the backlog was read (the seqs already sent are skipped).
        buffered, sub.buffer = sub.buffer, []
        for message in buffered:
            self._send_message(sub, message, None)
        # Changes that committed during the read may be missing from the backlog.
        changes, sub.changes = sub.changes, []
        for kind, seq in dict.fromkeys(changes):
            await self._changed(kind, room.id, seq, only=sub)

    async def unsubscribe(self, conn: Connection, room_id: int) -> None:
        sub = conn.subscriptions.pop(room_id, None)
        if sub is None:
            return
        subs = self.rooms.get(room_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.rooms[room_id]
                self.cursors.pop(room_id, None)
        await self._announce_presence(room_id)

    @staticmethod
    async def _last_seq(room_id: int) -> int:
        values: list[int] = await Room.filter(id=room_id).values_list("last_seq", flat=True)  # type: ignore[assignment]
        return values[0] if values else 0

    # -- delivery -------------------------------------------------------------------

    async def deliver(self, event: dict[str, Any]) -> None:
        kind = event.get("k")
        try:
            if kind == "message":
                await self._advance(int(event["room"]), int(event["seq"]))
            elif kind in ("edited", "deleted", "reaction"):
                await self._changed(kind, int(event["room"]), int(event["seq"]))
            elif kind == "typing":
                self._typing(int(event["room"]), str(event["handle"]), int(event["member"]))
            elif kind == "presence":
                self._heard_presence(event)
            elif kind == "member":
                await self.recheck(int(event["member"]))
            elif kind == "access":
                await self.recheck_room(int(event["room"]))
            elif kind == "review":
                self._alert_moderators(event)
            elif kind == "notification":
                await self._notify(int(event["member"]), int(event["id"]))
        except (KeyError, TypeError, ValueError):
            logger.warning("chat: ignored a malformed %r event", kind)

    async def resume(self) -> None:
        """After the broker reconnects: read what may have been missed, room by room."""
        for room_id in list(self.rooms):
            await self._advance(room_id, await self._last_seq(room_id))

    async def _advance(self, room_id: int, upto: int) -> None:
        if room_id not in self.rooms:
            return
        async with self._lock(room_id):
            cursor = self.cursors.get(room_id, 0)
            if upto <= cursor:
                return
            rows = (
                await Message.filter(room_id=room_id, seq__gt=cursor)
                .order_by("seq")
                .select_related("author")
            )
            if not rows:
                return
            self.cursors[room_id] = rows[-1].seq
            subs = list(self.rooms.get(room_id, ()))
            for message in rows:
                # Encoded once for everyone, once more for its author (who
                # also gets the client_id): not once per socket.
                frames: dict[bool, str] = {}
                for sub in subs:
                    self._send_message(sub, message, None, frames)

    def _send_message(
        self,
        sub: Subscription,
        message: Message,
        reactions: dict[str, int] | None,
        frames: dict[bool, str] | None = None,
    ) -> None:
        if not sub.live:
            sub.buffer.append(message)
            return
        if message.seq <= sub.last_seq:
            return
        sub.last_seq = message.seq
        member = sub.conn.member
        if not self.chat.visible_to(member, message):
            return
        own = message.author_id == member.id
        frame = frames.get(own) if frames is not None else None
        if frame is None:
            data = self.chat.message_json(message, sub.slug, reactions=reactions, client_id=own)
            frame = protocol.encode("message", **data)
            if frames is not None:
                frames[own] = frame
        sub.conn.offer(frame)

    async def _changed(
        self, kind: str, room_id: int, seq: int, only: Subscription | None = None
    ) -> None:
        subs = [only] if only is not None else list(self.rooms.get(room_id, ()))
        for sub in subs:
            if not sub.live:
                sub.changes.append((kind, seq))
        subs = [s for s in subs if s.live]
        if not subs:
            return
        message = await Message.get_or_none(room_id=room_id, seq=seq).select_related("author")
        if message is None:
            return
        reactions = (await self.chat.reactions([message.id])).get(message.id, {})
        for sub in subs:
            if seq > sub.last_seq:
                continue  # it will arrive, as it is now, with the message itself
            member = sub.conn.member
            if kind == "reaction":
                if self.chat.visible_to(member, message):
                    sub.conn.offer(
                        protocol.encode("reaction", room=sub.slug, seq=seq, reactions=reactions)
                    )
            elif message.state == PostState.DELETED or not self.chat.visible_to(member, message):
                sub.conn.offer(protocol.encode("deleted", room=sub.slug, seq=seq))
            else:
                data = self.chat.message_json(
                    message,
                    sub.slug,
                    reactions=reactions,
                    client_id=message.author_id == member.id,
                )
                sub.conn.offer(protocol.encode("edited", **data))

    # -- typing and presence --------------------------------------------------------------

    def may_type(self, conn: Connection, room_id: int) -> bool:
        now = time.monotonic()
        if now - conn.typing_at.get(room_id, 0.0) < TYPING_EVERY:
            return False
        conn.typing_at[room_id] = now
        return True

    def _typing(self, room_id: int, handle: str, member_id: int) -> None:
        for sub in self.rooms.get(room_id, ()):
            if sub.live and sub.conn.member.id != member_id:
                sub.conn.offer(protocol.encode("typing", room=sub.slug, handle=handle))

    def _local_online(self, room_id: int) -> frozenset[str]:
        handles = Counter(
            sub.conn.member.handle for sub in self.rooms.get(room_id, ()) if sub.conn.member.handle
        )
        return frozenset(h for h in handles if h)

    def online(self, room_id: int) -> tuple[set[str], int]:
        """Handles online in the room (every one here; elsewhere, the first PRESENCE_NAMES
        of each process) and how many are online in all.

        The count is exact while no other process has more than PRESENCE_NAMES online
        in the room; past that, a member online through two processes counts twice.
        """
        now = time.monotonic()
        seen: set[str] = set(self._local_online(room_id))
        unnamed = 0
        for process, (handles, heard, count) in self.presence.get(room_id, {}).items():
            if process != self.process and now - heard < PRESENCE_TTL:
                seen |= handles
                unnamed += max(0, count - len(handles))
        return seen, len(seen) + unnamed

    async def _announce_presence(self, room_id: int) -> None:
        """Joins and leaves are told at most once per PRESENCE_QUIET per room: a
        thousand members joining is one round of frames, not a thousand."""
        if room_id in self._presence_due or self._closed:
            return
        self._presence_due.add(room_id)
        self._timers[room_id] = asyncio.get_running_loop().call_later(
            self._presence_quiet(room_id),
            lambda: self._spawn(self._presence_now(room_id)),
        )

    def _presence_quiet(self, room_id: int) -> float:
        """How long joins and leaves gather before they are told: PRESENCE_QUIET, and a
        quarter second more per thousand sockets in the room (a round costs one frame per
        socket), up to PRESENCE_QUIET_MAX."""
        sockets = len(self.rooms.get(room_id, ()))
        return min(PRESENCE_QUIET_MAX, PRESENCE_QUIET * max(1.0, sockets / 1000))

    def _presence_fields(self, room_id: int) -> dict[str, Any]:
        """``online``: at most PRESENCE_NAMES handles, sorted; ``online_count``: all of them.

        A list of every handle would make filling a room cost the square of its size
        (each change goes to every socket), and nobody reads ten thousand names."""
        online, count = self.online(room_id)
        return {"online": sorted(online)[:PRESENCE_NAMES], "online_count": count}

    def _presence_event(self, room_id: int, handles: frozenset[str]) -> dict[str, Any]:
        """What this process tells the others: its first handles in the room, and how many.

        The first PRESENCE_NAMES (sorted) of every process are enough for every process
        to name the room's first PRESENCE_NAMES; fewer when long non-ASCII handles would
        not fit a NOTIFY (PRESENCE_EVENT_BYTES).
        """
        named = sorted(handles)[:PRESENCE_NAMES]
        while named and len(json.dumps(named)) > PRESENCE_EVENT_BYTES:
            named.pop()
        return {
            "k": "presence",
            "room": room_id,
            "proc": self.process,
            "handles": named,
            "count": len(handles),
        }

    def _spawn(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _presence_now(self, room_id: int) -> None:
        self._presence_due.discard(room_id)
        self._timers.pop(room_id, None)
        if self._closed:
            return
        handles = self._local_online(room_id)
        mine = self.presence.setdefault(room_id, {})
        before = mine.get(self.process, (frozenset(), 0.0, 0))[0]
        mine[self.process] = (handles, time.monotonic(), len(handles))
        if handles != before:
            self._presence_frames(room_id)
            try:
                await self.chat.publish(self._presence_event(room_id, handles))
            except Exception:
                logger.exception("chat: presence could not be published")

    async def _announce_all(self) -> None:
        for room_id in list(self.rooms):
            handles = self._local_online(room_id)
            self.presence.setdefault(room_id, {})[self.process] = (
                handles,
                time.monotonic(),
                len(handles),
            )
            await self.chat.publish(self._presence_event(room_id, handles))

    def _heard_presence(self, event: dict[str, Any]) -> None:
        process = str(event["proc"])
        if process == self.process:
            return
        room_id = int(event["room"])
        handles = frozenset(str(h) for h in event["handles"])
        # A process of an earlier version sends every handle and no count.
        count = int(event.get("count", len(handles)))
        per_room = self.presence.setdefault(room_id, {})
        before = per_room.get(process, (frozenset(), 0.0, 0))
        per_room[process] = (handles, time.monotonic(), count)
        if (handles, count) != (before[0], before[2]):
            self._presence_frames(room_id)

    def _presence_frames(self, room_id: int) -> None:
        subs = [s for s in self.rooms.get(room_id, ()) if s.live]
        if not subs:
            return
        # One frame for all: every subscription of a room has the same slug.
        frame = protocol.encode("presence", room=subs[0].slug, **self._presence_fields(room_id))
        for sub in subs:
            sub.conn.offer(frame)

    # -- sessions, alerts, notifications -------------------------------------------------

    async def recheck(self, member_id: int) -> None:
        """The member's sessions or status changed: close sockets that lost their right."""
        conns = list(self.members.get(member_id, ()))
        if not conns:
            return
        await self._close_invalid(conns)

    async def recheck_room(self, room_id: int) -> None:
        """Who may see the room changed: subscribers who no longer may stop hearing it.

        Each is looked up as they are now (a role may have changed since they
        subscribed). Their subscription ends as if they had unsubscribed; a
        ``subscribe`` from them is answered ``not_found`` from now on.
        """
        for sub in list(self.rooms.get(room_id, ())):
            member = await Member.get_or_none(id=sub.conn.member.id)
            try:
                if member is None:
                    raise NotFound("No such room.")
                await self.chat.room(member, sub.slug)
            except NotFound:
                await self.unsubscribe(sub.conn, room_id)

    async def sweep(self) -> None:
        """Close sockets whose sessions ended; sessions in use do not idle out."""
        conns = [c for cs in self.members.values() for c in cs if not c.closed]
        if not conns:
            return
        valid = await self._close_invalid(conns)
        if valid:
            await Session.filter(id__in=list(valid)).update(last_seen_at=self.settings.now())

    async def _close_invalid(self, conns: list[Connection]) -> set[int]:
        now = self.settings.now()
        ids = {c.session_id for c in conns}
        rows = await Session.filter(id__in=list(ids)).select_related("member")
        valid = set()
        idle = self.settings.session_idle_seconds
        for session in rows:
            member = session.member
            if session.expires_at <= now:
                continue
            if (now - session.last_seen_at).total_seconds() > idle:
                continue
            if member.status_in_force(now) in (
                MemberStatus.SUSPENDED,
                MemberStatus.BANNED,
                MemberStatus.ERASED,
            ):
                continue
            valid.add(session.id)
        for conn in conns:
            if conn.session_id not in valid:
                conn.end(CLOSE_NO_SESSION, "session ended")
        return valid

    def _alert_moderators(self, event: dict[str, Any]) -> None:
        if int(event.get("urgency", 0)) < 100:
            return
        frame = protocol.encode(
            "notice",
            kind="urgent_review",
            html="<p>Someone may be in danger: an urgent item is waiting in the review queue.</p>",
            item=int(event["item"]),
        )
        for conns in self.members.values():
            for conn in conns:
                if is_moderator(conn.member):
                    conn.offer(frame)

    async def _notify(self, member_id: int, notification_id: int) -> None:
        conns = self.members.get(member_id)
        if not conns:
            return
        from ..notifications.models import Notification

        note = await Notification.get_or_none(id=notification_id, member_id=member_id)
        if note is None:
            return
        frame = protocol.encode("notice", kind="notification", id=note.id, html=note.html)
        for conn in list(conns):
            conn.offer(frame)

    def hello(self, member: Member) -> str:
        return protocol.encode(
            "hello", member=member_json(member), protocol=protocol.PROTOCOL_VERSION
        )
