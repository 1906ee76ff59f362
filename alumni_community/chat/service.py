"""Rules of chat: sending, history, edits, reactions, read markers, direct conversations.

Plain async functions over the models; no WebSocket here. Every write goes
through ``Moderation.screen`` like a post does (silence, rate limits,
watched words, identifying details, crisis help), is committed, and only
then announced through ``publish`` (persist, then publish): whoever hears
of a message can always read it from the database.

Sequence numbers. Each room row holds ``last_seq``. Sending runs
``UPDATE ac_room SET last_seq = last_seq + 1`` and inserts the message in
the same transaction. On PostgreSQL the update locks the room's row until
commit, so a second sender waits, then sees the new value: seqs are given
out in commit order, with any number of processes. On SQLite (one process)
writes are serialised by the database lock to the same effect.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery
from tortoise.transactions import in_transaction

from ..content import render_markdown_async
from ..errors import Forbidden, NotFound, ValidationFailed
from ..identity import handles
from ..identity.models import Member, MemberStatus
from ..identity.service import member_json
from ..moderation.service import Moderation, Notice, is_moderator
from ..rooms.models import Moderation as RoomModeration
from ..rooms.models import PostState, Room, RoomMembership, RoomRole, Visibility
from ..rooms.service import Rooms
from ..settings import Settings
from .models import Block, Message, MessageRevision, Reaction, ReadMarker

__all__ = ["Chat", "Event", "Sent"]

logger = logging.getLogger("alumni_community.chat")

#: What ``publish`` carries between processes: small, ids rather than bodies.
Event = dict[str, Any]
Publish = Callable[[Event], Awaitable[None]]

HISTORY_PAGE = 50


async def _nowhere(event: Event) -> None:
    return None


@dataclass
class Sent:
    message: Message
    notices: list[Notice] = field(default_factory=list)
    #: False when the ``client_id`` was seen before: the original comes back.
    created: bool = True


class Chat:
    def __init__(self, settings: Settings, moderation: Moderation, rooms: Rooms) -> None:
        self.settings = settings
        self.moderation = moderation
        self.rooms = rooms
        #: Set by the community to its broker's publish once it has started.
        self.publish: Publish = _nowhere

    # -- rooms -------------------------------------------------------------------

    async def room(self, member: Member, slug: str) -> Room:
        """The room, if ``member`` may read its chat (404 otherwise, like every room)."""
        return await self.rooms.visible_room(member, slug)

    async def _writable(self, member: Member, room: Room) -> None:
        self.rooms.ensure_open(room)
        if room.direct:
            others = await RoomMembership.filter(room_id=room.id).exclude(member_id=member.id)
            if not others:
                raise Forbidden("The other member has left this conversation.")
            if await Block.filter(
                Q(member_id=member.id, blocked_id=others[0].member_id)
                | Q(member_id=others[0].member_id, blocked_id=member.id)
            ).exists():
                raise Forbidden("This conversation is closed.")

    # -- sending ---------------------------------------------------------------

    async def send(
        self, member: Member, slug: str, body: str, client_id: str, *, confirm: bool = False
    ) -> Sent:
        room = await self.room(member, slug)
        earlier = await Message.get_or_none(author_id=member.id, client_id=client_id)
        if earlier is not None:
            return await self._resent(earlier, room)
        async with self.moderation.help_on_refusal(member, body):
            await self._writable(member, room)
        verdict = await self.moderation.screen(
            member, room, body, confirm=confirm, new_thread=False, chat=True
        )
        now = self.settings.now()
        html = await render_markdown_async(verdict.body)
        try:
            async with in_transaction():
                await Room.filter(id=room.id).update(last_seq=F("last_seq") + 1)
                seq: int = (
                    await Room.filter(id=room.id).values_list("last_seq", flat=True)  # type: ignore[assignment]
                )[0]
                message = await Message.create(
                    room_id=room.id,
                    seq=seq,
                    author_id=member.id,
                    client_id=client_id,
                    body=verdict.body,
                    html=html,
                    state=verdict.state,
                    created_at=now,
                )
                items = await self.moderation.open_reviews(None, verdict, message=message)
                await self._mark_read(member.id, room.id, seq)
        except IntegrityError:
            # The same client_id, sent twice at once: the first one won.
            earlier = await Message.get_or_none(author_id=member.id, client_id=client_id)
            if earlier is None:
                raise
            return await self._resent(earlier, room)
        message.author = member
        await self.publish({"k": "message", "room": room.id, "seq": seq})
        await self.moderation.announce_all(items)
        return Sent(message, verdict.notices)

    async def _resent(self, earlier: Message, room: Room) -> Sent:
        if earlier.room_id != room.id:
            raise ValidationFailed({"client_id": ["was already used for another message"]})
        await earlier.fetch_related("author")
        return Sent(earlier, created=False)

    # -- reading ---------------------------------------------------------------

    def visible_to(self, member: Member, message: Message) -> bool:
        if message.state in (PostState.VISIBLE, PostState.DELETED):
            return True
        return message.author_id == member.id or is_moderator(member)

    async def history(
        self,
        member: Member,
        slug: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = HISTORY_PAGE,
    ) -> tuple[Room, list[Message]]:
        """Messages by seq: the last ``limit`` before ``before``, or the first after ``after``."""
        room = await self.room(member, slug)
        return room, await self.messages(member, room, before=before, after=after, limit=limit)

    async def messages(
        self,
        member: Member,
        room: Room,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = HISTORY_PAGE,
    ) -> list[Message]:
        query = Message.filter(room_id=room.id)
        if not is_moderator(member):
            query = query.filter(
                Q(state__in=[PostState.VISIBLE, PostState.DELETED]) | Q(author_id=member.id)
            )
        if after is not None:
            rows = (
                await query.filter(seq__gt=after)
                .order_by("seq")
                .limit(limit)
                .select_related("author")
            )
        else:
            if before is not None:
                query = query.filter(seq__lt=before)
            rows = list(
                reversed(await query.order_by("-seq").limit(limit).select_related("author"))
            )
        return rows

    async def reactions(self, message_ids: list[int]) -> dict[int, dict[str, int]]:
        """Reaction counts per message, in one query."""
        if not message_ids:
            return {}
        counts: dict[int, dict[str, int]] = {}
        rows = await Reaction.filter(message_id__in=message_ids).values_list("message_id", "emoji")
        for message_id, emoji in rows:
            per = counts.setdefault(message_id, {})
            per[emoji] = per.get(emoji, 0) + 1
        return counts

    def message_json(
        self,
        message: Message,
        slug: str,
        *,
        reactions: dict[str, int] | None = None,
        client_id: bool = False,
    ) -> dict[str, Any]:
        deleted = message.state == PostState.DELETED
        data: dict[str, Any] = {
            "room": slug,
            "id": message.id,
            "seq": message.seq,
            "author": member_json(message.author),
            "html": "" if deleted else message.html,
            "created_at": message.created_at.isoformat(),
            "edited_at": message.edited_at.isoformat() if message.edited_at else None,
            "state": str(message.state),
            "reactions": reactions or {},
        }
        if client_id:
            data["client_id"] = message.client_id
        return data

    # -- edits, deletions, reactions -------------------------------------------

    async def _own_or_moderated(self, member: Member, room: Room, seq: int) -> Message:
        message = await Message.get_or_none(room_id=room.id, seq=seq).select_related("author")
        if message is None or message.state == PostState.DELETED:
            raise NotFound("No such message.")
        if not self.visible_to(member, message):
            raise NotFound("No such message.")
        if await self.rooms.is_room_moderator(member, room) and not room.direct:
            return message
        if message.author_id != member.id:
            raise Forbidden("Only its author or a moderator can change a message.")
        window = dt.timedelta(seconds=self.settings.chat_edit_window_seconds)
        if self.settings.now() - message.created_at > window:
            raise Forbidden("Messages can be changed only for a short while after sending.")
        return message

    async def edit(
        self, member: Member, slug: str, seq: int, body: str
    ) -> tuple[Message, list[Notice]]:
        room = await self.room(member, slug)
        async with self.moderation.help_on_refusal(member, body):
            await self._writable(member, room)
            message = await self._own_or_moderated(member, room, seq)
        verdict = await self.moderation.screen(
            member, room, body, confirm=True, new_thread=False, editing=True, chat=True
        )
        html = await render_markdown_async(verdict.body)
        now = self.settings.now()
        async with in_transaction():
            await MessageRevision.create(
                message_id=message.id,
                body=message.body,
                html=message.html,
                edited_by_id=member.id,
                created_at=now,
            )
            message.body, message.html, message.edited_at = (
                verdict.body,
                html,
                now,
            )
            fields = ["body", "html", "edited_at"]
            if verdict.state == PostState.PENDING and message.state == PostState.VISIBLE:
                message.state = PostState.PENDING
                fields.append("state")
            await message.save(update_fields=fields)
            items = await self.moderation.open_reviews(None, verdict, message=message)
        await self.publish({"k": "edited", "room": room.id, "seq": message.seq})
        await self.moderation.announce_all(items)
        return message, verdict.notices

    async def delete(self, member: Member, slug: str, seq: int) -> Message:
        room = await self.room(member, slug)
        self.rooms.ensure_open(room)
        message = await self._own_or_moderated(member, room, seq)
        async with in_transaction():
            # The text is kept as a revision (author and moderators), not shown.
            await MessageRevision.create(
                message_id=message.id,
                body=message.body,
                html=message.html,
                edited_by_id=member.id,
                created_at=self.settings.now(),
            )
            message.state = PostState.DELETED
            await message.save(update_fields=["state"])
        await self.publish({"k": "deleted", "room": room.id, "seq": message.seq})
        return message

    async def react(
        self, member: Member, slug: str, seq: int, emoji: str, *, remove: bool
    ) -> dict[str, int]:
        room = await self.room(member, slug)
        self.moderation.ensure_may_write(member)
        await self._writable(member, room)
        message = await Message.get_or_none(room_id=room.id, seq=seq, state=PostState.VISIBLE)
        if message is None:
            raise NotFound("No such message.")
        if remove:
            await Reaction.filter(message_id=message.id, member_id=member.id, emoji=emoji).delete()
        else:
            try:
                await Reaction.create(message_id=message.id, member_id=member.id, emoji=emoji)
            except IntegrityError:
                pass  # reacting twice with the same emoji is one reaction
        counts = (await self.reactions([message.id])).get(message.id, {})
        await self.publish({"k": "reaction", "room": room.id, "seq": seq})
        return counts

    # -- read markers ------------------------------------------------------------

    async def read(self, member: Member, slug: str, seq: int) -> int:
        room = await self.room(member, slug)
        await self._mark_read(member.id, room.id, min(seq, room.last_seq))
        return await self.unread(member, room)

    async def _mark_read(self, member_id: int, room_id: int, seq: int) -> None:
        """Move the marker forward only (a late, older read never moves it back)."""
        updated = await ReadMarker.filter(member_id=member_id, room_id=room_id, seq__lt=seq).update(
            seq=seq
        )
        if not updated:
            try:
                async with in_transaction():
                    await ReadMarker.get_or_create(
                        member_id=member_id, room_id=room_id, defaults={"seq": seq}
                    )
            except IntegrityError:
                pass  # made meanwhile by the member's other connection

    async def unread(self, member: Member, room: Room) -> int:
        return (await unread_counts(member.id, [room])).get(room.id, 0)

    # -- direct conversations ------------------------------------------------------

    async def start_direct(self, member: Member, handle: str) -> Room:
        """A private room of two; the existing one if these two already have one."""
        self.moderation.ensure_may_write(member)
        if member.trust_level < 1 and not is_moderator(member):
            raise Forbidden(
                "New members cannot start direct conversations yet; "
                "you can talk in the rooms meanwhile."
            )
        other = await Member.get_or_none(handle_key=handles.key(handle)[:64])
        if other is None or other.status in (MemberStatus.ERASED, MemberStatus.BANNED):
            raise NotFound("No member has that handle.")
        if other.id == member.id:
            raise ValidationFailed({"handle": ["that is you"]})
        return await self.direct_between(member, other)

    async def direct_between(self, member: Member, other: Member) -> Room:
        """The two members' conversation, made if needed (also for a sponsorship match,
        where a newcomer below trust level 1 may be one side)."""
        if await Block.filter(
            Q(member_id=member.id, blocked_id=other.id)
            | Q(member_id=other.id, blocked_id=member.id)
        ).exists():
            raise Forbidden("This member is not taking direct conversations with you.")
        mine = RoomMembership.filter(member_id=member.id).values("room_id")
        existing = (
            await Room.filter(direct=True, memberships__member_id=other.id)
            .filter(id__in=Subquery(mine))
            .first()
        )
        if existing is not None:
            return existing
        now = self.settings.now()
        async with in_transaction():
            room = await Room.create(
                slug="dm-" + secrets.token_hex(8),
                name="",
                visibility=Visibility.PRIVATE,
                moderation=RoomModeration.OPEN,
                direct=True,
            )
            for who in (member, other):
                await RoomMembership.create(
                    room=room, member=who, role=RoomRole.MEMBER, joined_at=now
                )
        return room

    async def direct_rooms(self, member: Member) -> list[dict[str, Any]]:
        rows = await RoomMembership.filter(member_id=member.id, room__direct=True).select_related(
            "room"
        )
        room_ids = [r.room_id for r in rows]
        others = (
            await RoomMembership.filter(room_id__in=room_ids)
            .exclude(member_id=member.id)
            .select_related("member")
        )
        with_whom = {o.room_id: o.member for o in others}
        unread = await unread_counts(member.id, [r.room for r in rows])
        return [
            {
                "slug": r.room.slug,
                "with": member_json(with_whom[r.room_id]) if r.room_id in with_whom else None,
                "last_seq": r.room.last_seq,
                "unread": unread.get(r.room_id, 0),
            }
            for r in rows
        ]

    async def leave_direct(self, member: Member, slug: str) -> None:
        room = await self.room(member, slug)
        if not room.direct:
            raise NotFound("No such conversation.")
        await RoomMembership.filter(room_id=room.id, member_id=member.id).delete()
        await self.rooms.access_changed(room.id)

    async def block(self, member: Member, handle: str, *, blocked: bool) -> None:
        other = await Member.get_or_none(handle_key=handles.key(handle)[:64])
        if other is None or other.status == MemberStatus.ERASED:
            raise NotFound("No member has that handle.")
        if other.id == member.id:
            raise ValidationFailed({"handle": ["that is you"]})
        if blocked:
            try:
                await Block.create(member=member, blocked=other, created_at=self.settings.now())
            except IntegrityError:
                pass
        else:
            await Block.filter(member_id=member.id, blocked_id=other.id).delete()


#: Unread counts stop here (``UNREAD_MAX`` is shown as "100+"), so counting never
#: reads more than about this many messages, however long the member was away.
UNREAD_MAX = 100


async def unread_counts(member_id: int, rooms: list[Room]) -> dict[int, int]:
    """Visible messages from others after the member's read marker, per room, up to UNREAD_MAX.

    Counting the whole history after an old marker (or none) read every message of a
    busy room, and OR-ing the rooms' conditions in one query made both engines scan the
    table (``bench/read_paths.py``); a query per room would make a list of N rooms cost
    N round trips.
    """
    if not rooms:
        return {}
    markers = dict(
        await ReadMarker.filter(member_id=member_id, room_id__in=[r.id for r in rooms]).values_list(
            "room_id", "seq"
        )
    )
    behind = [
        (room.id, markers.get(room.id, 0))
        for room in rooms
        if markers.get(room.id, 0) < room.last_seq
    ]
    if not behind:
        return {}
    # One statement, one bounded index range per room: at most UNREAD_MAX ids along
    # (room_id, seq) from the marker, so the count is exact up to the cap however far
    # behind the member is. Written by hand (the ORM has no UNION ALL); only
    # placeholders, the model's table name and constants go into the text.
    db = Message._meta.db
    numbered = db.capabilities.dialect == "postgres"
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}" if numbered else "?"

    table = Message._meta.db_table
    parts = [
        f'SELECT "room_id" FROM (SELECT "room_id" FROM "{table}" '  # noqa: S608
        f'WHERE "room_id"={param(room_id)} AND "seq">{param(marker)} '
        f'AND "state"={param(str(PostState.VISIBLE))} AND NOT "author_id"={param(member_id)} '
        f'ORDER BY "seq" LIMIT {UNREAD_MAX}) AS "r{i}"'
        for i, (room_id, marker) in enumerate(behind)
    ]
    rows = await db.execute_query_dict(
        f'SELECT "room_id", COUNT(*) AS "n" FROM ({" UNION ALL ".join(parts)}) AS "unread" '  # noqa: S608
        'GROUP BY "room_id"',
        params,
    )
    return {int(row["room_id"]): int(row["n"]) for row in rows}
