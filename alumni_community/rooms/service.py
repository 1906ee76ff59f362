"""Rules about rooms, threads and posts. Plain async functions; no HTTP here.

Who may see what, in order:
1. Moderators and admins see every room, and every post in any state.
2. A ``members`` room is seen by every member; a ``private`` room only by
   the members invited to it. A room a member may not see does not exist for
   them: every refusal is ``404``, so its name never leaks.
3. In a visible room a member sees visible posts, plus their own pending,
   hidden or rejected ones (so they know where each stands).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import F, Q, Subquery
from tortoise.transactions import in_transaction

from ..content import render_markdown_async, render_title
from ..errors import Forbidden, NotFound, ValidationFailed
from ..identity.models import Member
from ..identity.service import member_json
from ..moderation.service import Moderation, Notice, audit, is_moderator
from ..requests import MAX_ID
from ..settings import Settings
from .models import (
    Moderation as RoomModeration,
)
from .models import (
    Post,
    PostRevision,
    PostState,
    Room,
    RoomMembership,
    RoomRole,
    Thread,
    Visibility,
)

__all__ = ["Rooms", "count_public_rooms", "set_post_state"]

logger = logging.getLogger("alumni_community.rooms")

PAGE_SIZE = 30
MAX_BODY_CHARS = 20_000
MAX_TITLE_CHARS = 200
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


async def count_public_rooms() -> int:
    """How many rooms every member may see (the only room fact shown before sign-in)."""
    return await Room.filter(visibility=Visibility.MEMBERS, archived=False).count()


async def set_post_state(post: Post, state: PostState, now: dt.datetime) -> None:
    """Change a post's state, keeping its thread's visible count and activity time right."""
    was_visible = post.state == PostState.VISIBLE
    post.state = state
    async with in_transaction():
        await Post.filter(id=post.id).update(state=state)
        if was_visible and state != PostState.VISIBLE:
            await Thread.filter(id=post.thread_id).update(post_count=F("post_count") - 1)
        elif not was_visible and state == PostState.VISIBLE:
            await Thread.filter(id=post.thread_id).update(
                post_count=F("post_count") + 1, last_post_at=now
            )


@dataclass
class Page:
    items: list[dict[str, Any]]
    next: str | None


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(cursor: str | None, size: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != size:
        raise ValidationFailed({"cursor": ["is not a cursor this list gave out"]})
    return values


class Rooms:
    def __init__(self, settings: Settings, moderation: Moderation) -> None:
        self.settings = settings
        self.moderation = moderation
        #: Called with a room's id after who may see it changed (its visibility,
        #: a member leaving a direct conversation): sockets that follow the room
        #: are checked again, so nobody goes on hearing a room they may not see.
        self.access_listeners: list[Callable[[int], Awaitable[None]]] = []

    async def access_changed(self, room_id: int) -> None:
        for listener in self.access_listeners:
            try:
                await listener(room_id)
            except Exception:
                logger.exception("access listener failed")

    # -- rooms -----------------------------------------------------------------

    async def visible_room(self, member: Member, slug: str) -> Room:
        # A longer slug names no room (and the column would refuse the query).
        room = await Room.get_or_none(slug=slug) if len(slug) <= 64 else None
        if room is None or not await self._may_see(member, room):
            raise NotFound("No such room.")
        return room

    async def forum_room(self, member: Member, slug: str) -> Room:
        """A room with threads: direct conversations are chat only."""
        room = await self.visible_room(member, slug)
        if room.direct:
            raise NotFound("No such room.")
        return room

    async def _may_see(self, member: Member, room: Room) -> bool:
        # A direct conversation is its two members' alone, moderators
        # included: a flagged message reaches them through the queue.
        if not room.direct and (room.visibility == Visibility.MEMBERS or is_moderator(member)):
            return True
        return await RoomMembership.filter(room_id=room.id, member_id=member.id).exists()

    async def is_room_moderator(self, member: Member, room: Room) -> bool:
        if is_moderator(member):
            return True
        return await RoomMembership.filter(
            room_id=room.id, member_id=member.id, role=RoomRole.MODERATOR
        ).exists()

    async def list_rooms(self, member: Member) -> list[dict[str, Any]]:
        # Direct conversations are listed apart (GET /direct).
        query = Room.filter(direct=False)
        if not is_moderator(member):
            invited = RoomMembership.filter(member_id=member.id).values("room_id")
            query = query.filter(Q(visibility=Visibility.MEMBERS) | Q(id__in=Subquery(invited)))
        rooms = await query.order_by("position", "name")
        from ..chat.service import unread_counts

        unread = await unread_counts(member.id, list(rooms))
        return [{**self.room_json(room), "unread": unread.get(room.id, 0)} for room in rooms]

    def room_json(self, room: Room) -> dict[str, Any]:
        return {
            "slug": room.slug,
            "name": room.name,
            "description": room.description,
            "visibility": str(room.visibility),
            "moderation": str(room.moderation),
            "archived": room.archived,
            "slow_mode_seconds": room.slow_mode_seconds,
            "position": room.position,
            "last_seq": room.last_seq,
        }

    async def create_room(self, member: Member, data: dict[str, Any]) -> Room:
        if not is_moderator(member):
            raise Forbidden("Only moderators create rooms.")
        errors: dict[str, list[str]] = {}
        slug = data.get("slug")
        if not isinstance(slug, str) or not _SLUG.match(slug):
            errors["slug"] = ["lower case letters, digits and hyphens, up to 64"]
        values = self._room_fields({"name": None, **data}, errors, creating=True)
        if errors:
            raise ValidationFailed(errors)
        if await Room.filter(slug=slug).exists():
            raise ValidationFailed({"slug": ["is taken"]})
        async with in_transaction():
            room = await Room.create(slug=slug, **values)
            await RoomMembership.create(
                room=room, member=member, role=RoomRole.MODERATOR, joined_at=self.settings.now()
            )
        return room

    async def update_room(self, member: Member, slug: str, data: dict[str, Any]) -> Room:
        """Change a room's settings: its moderators may rename, describe, archive
        it, set slow mode and the moderation mode; only site moderators change
        who may see it (turning a private room public would expose its posts)."""
        room = await self.visible_room(member, slug)
        if not await self.is_room_moderator(member, room):
            raise Forbidden("Only the room's moderators change its settings.")
        unknown = set(data) - {
            "name",
            "description",
            "visibility",
            "moderation",
            "slow_mode_seconds",
            "archived",
            "position",
        }
        errors: dict[str, list[str]] = {name: ["is not a setting of a room"] for name in unknown}
        if ("visibility" in data or "position" in data) and not is_moderator(member):
            raise Forbidden("Only site moderators change a room's visibility or position.")
        values = self._room_fields(data, errors, creating=False)
        if errors:
            raise ValidationFailed(errors)
        changed = {k: v for k, v in values.items() if getattr(room, k) != v}
        if changed:
            for name, value in changed.items():
                setattr(room, name, value)
            async with in_transaction():
                await room.save(update_fields=list(changed))
                await audit(
                    member,
                    "room_settings",
                    "room",
                    room.id,
                    reason=", ".join(
                        f"{k}={v}" for k, v in changed.items() if k not in ("name", "description")
                    )
                    or "name or description",
                    at=self.settings.now(),
                )
            if "visibility" in changed:
                await self.access_changed(room.id)
        return room

    def _room_fields(
        self, data: dict[str, Any], errors: dict[str, list[str]], *, creating: bool
    ) -> dict[str, Any]:
        """The room settings present in ``data``, checked (all of them when creating)."""
        values: dict[str, Any] = {}
        if "name" in data or creating:
            given = data.get("name")
            raw_name = " ".join(given.split()) if isinstance(given, str) else ""
            if not raw_name or len(raw_name) > 120:
                errors["name"] = ["1 to 120 characters"]
            values["name"] = render_title(raw_name)
        if "description" in data or creating:
            description = data.get("description")
            if description is None:
                description = ""
            elif not isinstance(description, str):
                errors["description"] = ["plain text"]
                description = ""
            # Cut before escaping, so an entity is never split.
            values["description"] = render_title(" ".join(description.split())[:500])
        for name, enum, default in (
            ("visibility", Visibility, Visibility.MEMBERS),
            ("moderation", RoomModeration, RoomModeration.NEW_MEMBERS_REVIEWED),
        ):
            if name in data or creating:
                values[name] = self._choice(data, name, enum, default, errors)
        for name, top in (("slow_mode_seconds", 86_400), ("position", 1_000_000)):
            if name in data or creating:
                value = data.get(name, 0)
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                    errors[name] = [f"a whole number, 0 to {top}"]
                values[name] = value
        if "archived" in data:
            if not isinstance(data["archived"], bool):
                errors["archived"] = ["true or false"]
            values["archived"] = data["archived"]
        return values

    async def set_room_moderator(
        self, member: Member, slug: str, handle: str, *, appoint: bool
    ) -> None:
        """Site moderators appoint (or stand down) a room's own moderators."""
        room = await self.visible_room(member, slug)
        if not is_moderator(member):
            raise Forbidden("Only site moderators appoint room moderators.")
        from ..identity import handles

        target = await Member.get_or_none(handle_key=handles.key(handle)[:64])
        if target is None:
            raise NotFound("No member has that handle.")
        now = self.settings.now()
        role = RoomRole.MODERATOR if appoint else RoomRole.MEMBER
        async with in_transaction():
            if appoint:
                row, _ = await RoomMembership.get_or_create(
                    room=room, member=target, defaults={"joined_at": now}
                )
            else:
                # Standing down never adds anyone to the room.
                found = await RoomMembership.get_or_none(room=room, member=target)
                if found is None or found.role != RoomRole.MODERATOR:
                    raise NotFound("That member is not one of this room's moderators.")
                row = found
            if row.role == role:
                return
            row.role = role
            await row.save(update_fields=["role"])
            # The log names the member by id (their handle could be erased later).
            await audit(
                member,
                "room_moderator" if appoint else "room_moderator_removed",
                "member",
                target.id,
                reason=f"room {room.slug}",
                at=now,
            )

    async def room_moderators(self, member: Member, slug: str) -> list[dict[str, Any]]:
        room = await self.visible_room(member, slug)
        rows = await RoomMembership.filter(room_id=room.id, role=RoomRole.MODERATOR).select_related(
            "member"
        )
        return [member_json(r.member) for r in rows if r.member.handle]

    @staticmethod
    def _choice(
        data: dict[str, Any], name: str, enum: Any, default: Any, errors: dict[str, list[str]]
    ) -> Any:
        value = data.get(name, default)
        try:
            return enum(value)
        except ValueError:
            errors[name] = ["one of " + ", ".join(e.value for e in enum)]
            return default

    async def invite(self, member: Member, slug: str, handle: str) -> None:
        room = await self.visible_room(member, slug)
        if not await self.is_room_moderator(member, room):
            raise Forbidden("Only the room's moderators invite members.")
        from ..identity import handles

        invited = await Member.get_or_none(handle_key=handles.key(handle)[:64])
        if invited is None:
            raise ValidationFailed({"handle": ["no member has this handle"]})
        await RoomMembership.get_or_create(
            room=room, member=invited, defaults={"joined_at": self.settings.now()}
        )

    # -- threads ---------------------------------------------------------------

    async def list_threads(self, member: Member, slug: str, cursor: str | None) -> Page:
        room = await self.forum_room(member, slug)
        query = Thread.filter(room_id=room.id, deleted=False)
        if not is_moderator(member):
            query = query.filter(Q(post_count__gt=0) | Q(author_id=member.id))
        after = _decode(cursor, 3)
        if after is not None:
            try:
                pinned, last, ident = (
                    bool(after[0]),
                    dt.datetime.fromisoformat(after[1]),
                    int(after[2]),
                )
            except (TypeError, ValueError, OverflowError):
                raise ValidationFailed({"cursor": ["is not a cursor this list gave out"]}) from None
            if not 0 <= ident <= MAX_ID:
                raise ValidationFailed({"cursor": ["is not a cursor this list gave out"]})
            if pinned:
                query = query.filter(
                    Q(pinned__lt=pinned)
                    | Q(pinned=pinned, last_post_at__lt=last)
                    | Q(pinned=pinned, last_post_at=last, id__lt=ident)
                )
            else:
                # The same condition, written as a range both engines read from the
                # cursor down the (room, pinned, last_post_at, id) index; the OR form
                # walked the index from the top, like an OFFSET.
                query = query.filter(pinned=False, last_post_at__lte=last).filter(
                    Q(last_post_at__lt=last) | Q(id__lt=ident)
                )
        threads = (
            await query.order_by("-pinned", "-last_post_at", "-id")
            .limit(PAGE_SIZE + 1)
            .select_related("author")
        )
        more = len(threads) > PAGE_SIZE
        threads = threads[:PAGE_SIZE]
        following = (
            _encode([threads[-1].pinned, threads[-1].last_post_at.isoformat(), threads[-1].id])
            if more
            else None
        )
        return Page([self.thread_json(t) for t in threads], following)

    def thread_json(self, thread: Thread) -> dict[str, Any]:
        return {
            "id": thread.id,
            "title": thread.title,
            "author": member_json(thread.author),
            "created_at": thread.created_at.isoformat(),
            "last_post_at": thread.last_post_at.isoformat(),
            "post_count": thread.post_count,
            "pinned": thread.pinned,
            "locked": thread.locked,
        }

    async def create_thread(
        self, member: Member, slug: str, title: str, body: str, *, confirm: bool
    ) -> tuple[Thread, Post, list[Notice]]:
        room = await self.forum_room(member, slug)
        raw_title = " ".join(title.split())
        async with self.moderation.help_on_refusal(member, f"{raw_title}\n{body}"):
            errors = {}
            if not raw_title or len(raw_title) > MAX_TITLE_CHARS or "\x00" in raw_title:
                errors["title"] = [f"1 to {MAX_TITLE_CHARS} characters, no NUL characters"]
            errors.update(self._body_errors(body))
            if errors:
                raise ValidationFailed(errors)
            self.ensure_open(room)
        verdict = await self.moderation.screen(
            member, room, body, confirm=confirm, new_thread=True, title=raw_title
        )
        clean_title = render_title(verdict.title)
        html = await render_markdown_async(verdict.body)
        now = self.settings.now()
        async with in_transaction():
            thread = await Thread.create(
                room=room,
                author=member,
                title=clean_title,
                created_at=now,
                last_post_at=now,
                post_count=1 if verdict.state == PostState.VISIBLE else 0,
            )
            post = await Post.create(
                thread=thread,
                author=member,
                body=verdict.body,
                html=html,
                state=verdict.state,
                created_at=now,
            )
            items = await self.moderation.open_reviews(post, verdict)
        await self.moderation.announce_all(items)
        await self.moderation.after_publish(member, post)
        return thread, post, verdict.notices

    # -- posts -----------------------------------------------------------------

    async def visible_thread(self, member: Member, thread_id: int) -> Thread:
        # The author too: every caller that shows the thread needs it (one query, not two).
        thread = await Thread.get_or_none(id=thread_id, deleted=False).select_related(
            "room", "author"
        )
        if thread is None or not await self._may_see(member, thread.room):
            raise NotFound("No such thread.")
        if not is_moderator(member) and thread.post_count == 0 and thread.author_id != member.id:
            raise NotFound("No such thread.")
        return thread

    async def thread_page(
        self, member: Member, thread_id: int, cursor: str | None
    ) -> tuple[Thread, Page]:
        thread = await self.visible_thread(member, thread_id)
        query = Post.filter(thread_id=thread.id).exclude(state=PostState.DELETED)
        if not is_moderator(member):
            query = query.filter(Q(state=PostState.VISIBLE) | Q(author_id=member.id))
        after = _decode(cursor, 1)
        if after is not None:
            if not isinstance(after[0], int) or not 0 <= after[0] <= MAX_ID:
                raise ValidationFailed({"cursor": ["is not a cursor this list gave out"]})
            query = query.filter(id__gt=after[0])
        posts = await query.order_by("id").limit(PAGE_SIZE + 1).select_related("author")
        more = len(posts) > PAGE_SIZE
        posts = posts[:PAGE_SIZE]
        return thread, Page(
            [self.post_json(p) for p in posts], _encode([posts[-1].id]) if more else None
        )

    def post_json(self, post: Post) -> dict[str, Any]:
        return {
            "id": post.id,
            "thread": post.thread_id,
            "author": member_json(post.author),
            "html": post.html,
            "state": str(post.state),
            "created_at": post.created_at.isoformat(),
            "edited_at": post.edited_at.isoformat() if post.edited_at else None,
            # Why a moderator hid or rejected it (only its author and moderators see such posts).
            "moderation_note": post.moderation_note or None,
        }

    async def reply(
        self, member: Member, thread_id: int, body: str, *, confirm: bool
    ) -> tuple[Post, list[Notice]]:
        thread = await self.visible_thread(member, thread_id)
        async with self.moderation.help_on_refusal(member, body):
            errors = self._body_errors(body)
            if errors:
                raise ValidationFailed(errors)
            self.ensure_open(thread.room)
            if thread.locked and not is_moderator(member):
                raise Forbidden("This thread is locked.")
        verdict = await self.moderation.screen(
            member, thread.room, body, confirm=confirm, new_thread=False
        )
        html = await render_markdown_async(verdict.body)
        now = self.settings.now()
        async with in_transaction():
            post = await Post.create(
                thread=thread,
                author=member,
                body=verdict.body,
                html=html,
                state=verdict.state,
                created_at=now,
            )
            if verdict.state == PostState.VISIBLE:
                await Thread.filter(id=thread.id).update(
                    post_count=F("post_count") + 1, last_post_at=now
                )
            items = await self.moderation.open_reviews(post, verdict)
        await self.moderation.announce_all(items)
        await self.moderation.after_publish(member, post)
        return post, verdict.notices

    async def visible_post(self, member: Member, post_id: int) -> Post:
        """A post the member may see (a held or hidden one: its author's, or a moderator's)."""
        post = await Post.get_or_none(id=post_id).select_related("thread__room", "author")
        if post is None or post.state == PostState.DELETED:
            raise NotFound("No such post.")
        await self.visible_thread(member, post.thread_id)
        if (
            post.state != PostState.VISIBLE
            and post.author_id != member.id
            and not await self.is_room_moderator(member, post.thread.room)
        ):
            raise NotFound("No such post.")
        return post

    async def editable_post(self, member: Member, post_id: int) -> Post:
        """A post the member may edit or delete: their own, or any in a room they moderate."""
        post = await Post.get_or_none(id=post_id).select_related("thread__room", "author")
        if post is None or post.state == PostState.DELETED:
            raise NotFound("No such post.")
        await self.visible_thread(member, post.thread_id)
        if post.author_id != member.id and not await self.is_room_moderator(
            member, post.thread.room
        ):
            if post.state != PostState.VISIBLE:
                raise NotFound("No such post.")
            raise Forbidden("Only the author or a moderator can change this post.")
        return post

    async def edit_post(
        self, member: Member, post_id: int, body: str, *, confirm: bool
    ) -> tuple[Post, list[Notice]]:
        """An edit passes the same rules as a new post, except pace and the newcomer hold."""
        post = await self.editable_post(member, post_id)
        errors = self._body_errors(body)
        if errors:
            raise ValidationFailed(errors)
        verdict = await self.moderation.screen(
            member, post.thread.room, body, confirm=confirm, new_thread=False, editing=True
        )
        html = await render_markdown_async(verdict.body)
        now = self.settings.now()
        async with in_transaction():
            await PostRevision.create(
                post=post, body=post.body, html=post.html, edited_by=member, created_at=now
            )
            post.body, post.html, post.edited_at = verdict.body, html, now
            await post.save(update_fields=["body", "html", "edited_at"])
            if verdict.state == PostState.PENDING and post.state == PostState.VISIBLE:
                await set_post_state(post, PostState.PENDING, now)
            items = await self.moderation.open_reviews(post, verdict)
        await self.moderation.announce_all(items)
        return post, verdict.notices

    async def revisions(self, member: Member, post_id: int) -> list[dict[str, Any]]:
        post = await self.editable_post(member, post_id)
        rows = await PostRevision.filter(post_id=post.id).order_by("id").select_related("edited_by")
        return [
            {
                "html": r.html,
                "created_at": r.created_at.isoformat(),
                "edited_by": member_json(r.edited_by),
            }
            for r in rows
        ]

    async def delete_post(self, member: Member, post_id: int) -> None:
        post = await self.editable_post(member, post_id)
        await set_post_state(post, PostState.DELETED, self.settings.now())

    async def moderate_thread(
        self, member: Member, thread_id: int, changes: dict[str, Any]
    ) -> Thread:
        thread = await self.visible_thread(member, thread_id)
        if not await self.is_room_moderator(member, thread.room):
            raise Forbidden("Only moderators pin, lock or move threads.")
        fields: list[str] = []
        for name in ("pinned", "locked"):
            if name in changes:
                if not isinstance(changes[name], bool):
                    raise ValidationFailed({name: ["must be true or false"]})
                setattr(thread, name, changes[name])
                fields.append(name)
        if "room" in changes:
            if not isinstance(changes["room"], str):
                raise ValidationFailed({"room": ["a room's slug"]})
            target = await self.visible_room(member, changes["room"])
            if not await self.is_room_moderator(member, target):
                raise Forbidden("You do not moderate the room you are moving it to.")
            thread.room = target
            fields.append("room_id")
        unknown = set(changes) - {"pinned", "locked", "room"}
        if unknown:
            raise ValidationFailed({name: ["is not a field you can change"] for name in unknown})
        if fields:
            await thread.save(update_fields=fields)
        return thread

    # -- internals -------------------------------------------------------------

    @staticmethod
    def _body_errors(body: str) -> dict[str, list[str]]:
        if not body.strip():
            return {"body": ["is required"]}
        if len(body) > MAX_BODY_CHARS:
            return {"body": [f"must be at most {MAX_BODY_CHARS} characters"]}
        if "\x00" in body:
            # PostgreSQL cannot store it; every edge gets the same answer.
            return {"body": ["must not contain NUL characters"]}
        return {}

    @staticmethod
    def ensure_open(room: Room) -> None:
        if room.archived:
            raise Forbidden("This room is archived: it can be read but not posted in.")
