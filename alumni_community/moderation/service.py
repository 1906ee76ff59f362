"""The rules every piece of writing passes through, and the review queue.

``Moderation.screen`` is called by every edge that publishes (thread posts
now; chat messages, listings and bios as their domains arrive) before
anything is written: it refuses silenced members, applies the trust level's
limits, asks before publishing identifying details, and decides whether the
text is held for review. Crisis text is never held or hidden: it is
published, its author sees help at once, and moderators get an urgent item.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise.expressions import Q, Subquery

from ..chat.models import Message
from ..errors import (
    AccountInactive,
    CommunityError,
    Conflict,
    Forbidden,
    IdentifyingDetails,
    NotFound,
    RateLimited,
    Silenced,
    ValidationFailed,
)
from ..identity.models import Member, MemberStatus, Role
from ..notifications.service import Notifications, escape
from ..ratelimit import MemoryLimiter
from ..rooms.models import Moderation as RoomModeration
from ..rooms.models import Post, PostState, Room
from ..settings import Limit, Settings
from .detection import (
    WatchedMatcher,
    WatchedWord,
    compile_watched,
    find_crisis,
    find_identifying,
)
from .models import (
    AuditEntry,
    Flag,
    FlagReason,
    FlagStatus,
    ReviewItem,
    ReviewKind,
    ReviewState,
    Urgency,
    WatchedWordRow,
)
from .trust import count_links, count_mentions

__all__ = ["Moderation", "Notice", "Verdict", "audit", "is_moderator"]

logger = logging.getLogger("alumni_community.moderation")

Listener = Callable[[ReviewItem], Awaitable[None]]

#: Seconds a process keeps its compiled watched-word list before reading it
#: again (changes made by another process take at most this long).
WATCHED_WORDS_TTL = 5.0

#: What a member may appeal besides a post: the statuses in force that make
#: it appealable, and the audit actions that set them.
_APPEALABLE: dict[str, tuple[tuple[MemberStatus, ...], list[str]]] = {
    "silence": ((MemberStatus.SILENCED,), ["silence"]),
    "suspension": ((MemberStatus.SUSPENDED, MemberStatus.BANNED), ["suspend", "ban"]),
}
_STATUS_OF_ACTION = {
    "silence": MemberStatus.SILENCED,
    "suspend": MemberStatus.SUSPENDED,
    "ban": MemberStatus.BANNED,
}


@dataclass(frozen=True)
class Notice:
    """Something the author must see at once, beside what they wrote."""

    kind: str
    html: str

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "html": self.html}


@dataclass
class Verdict:
    state: PostState
    #: The text to publish: the author's, with censored words replaced.
    body: str = ""
    #: The thread title to publish (new threads), censored likewise.
    title: str = ""
    notices: list[Notice] = field(default_factory=list)
    #: Review items to open once the post exists: (kind, urgency, reason).
    reviews: list[tuple[ReviewKind, Urgency, str]] = field(default_factory=list)


def is_moderator(member: Member) -> bool:
    return member.role in (Role.MODERATOR, Role.ADMIN)


async def audit(
    actor: Member | None,
    action: str,
    target_type: str,
    target_id: int,
    *,
    at: dt.datetime,
    reason: str = "",
    until: dt.datetime | None = None,
) -> None:
    """Append one entry to the audit log (``actor`` None: the system, e.g. an auto-hide)."""
    await AuditEntry.create(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        reason=reason,
        until=until,
        at=at,
    )


class Moderation:
    def __init__(self, settings: Settings, notifications: Notifications) -> None:
        self.settings = settings
        self.notifications = notifications
        self.limiter = MemoryLimiter()
        self._listeners: list[Listener] = []
        self._watched: tuple[float, WatchedMatcher] | None = None
        #: Called with (item, decision, note) after a listing's item is decided.
        self.listing_listeners: list[Callable[[ReviewItem, str, str], Awaitable[None]]] = []
        #: Called with (room id, seq) after a chat message's state changed here
        #: (hidden by flags, approved, rejected), so live clients update it.
        self.message_listeners: list[Callable[[int, int], Awaitable[None]]] = []

    async def message_changed(self, room_id: int, seq: int) -> None:
        """A chat message's state changed here: live clients update it."""
        for listener in self.message_listeners:
            try:
                await listener(room_id, seq)
            except Exception:
                logger.exception("message listener failed")

    def on_review(self, listener: Listener) -> None:
        """Call ``listener`` with every new review item (how urgent items reach moderators live)."""
        self._listeners.append(listener)

    # -- before writing ----------------------------------------------------------

    def ensure_may_write(self, member: Member) -> None:
        """Silenced, suspended and banned members may not write, whatever the edge."""
        now = self.settings.now()
        status, until = member.status_in_force(now), member.status_until
        if status == MemberStatus.SILENCED:
            raise Silenced(
                f"You can read but not post until {until:%Y-%m-%d %H:%M} UTC."
                if until
                else "You can read but not post."
            )
        if status in (MemberStatus.SUSPENDED, MemberStatus.BANNED, MemberStatus.ERASED):
            raise AccountInactive("This account cannot post.")

    async def screen(
        self,
        member: Member,
        room: Room,
        body: str,
        *,
        confirm: bool,
        new_thread: bool,
        editing: bool = False,
        title: str = "",
        chat: bool = False,
    ) -> Verdict:
        """Decide what happens to ``body`` before it is written; refuse what may not be.

        Crisis text is looked for first, because help must not depend on any
        other rule: a member who may not post still sees the resources (on
        the refusal) and moderators still get an urgent item; and a crisis
        post is published past the pace, the new-member caps and the
        identifying-details question, which would only delay a person in need.
        """
        # A new thread's title is read with its body: help, words and
        # identifying details may be in either.
        full = f"{title}\n{body}" if title else body
        crisis = find_crisis(full, self.settings.crisis_phrases)
        try:
            self.ensure_may_write(member)
        except CommunityError as refusal:
            if crisis:
                await self._crisis_without_post(member, crisis)
                refusal.notices.append(self.crisis_notice().as_json())
            raise
        moderator = is_moderator(member)
        watched = await self.watched_matcher()
        hit = watched.check(full)
        if hit.action == "block" and not crisis:
            raise ValidationFailed({"body": ["contains words this community does not allow"]})
        if any(word.action == "censor" for word in hit.words):
            # Censored words go whatever else the text triggers.
            body, title = watched.censor(body), watched.censor(title)
        found = find_identifying(full, default_region=self.settings.phone_region)
        if not crisis:
            if member.trust_level == 0 and not moderator:
                self._new_member_caps(body)
                if not editing and not chat:
                    await self._first_day_caps(member, new_thread)
            if found and not confirm:
                raise IdentifyingDetails([f.kind for f in found])
            if not moderator and not editing:
                # Last, so a refused post (or the question above) costs no turn.
                self._pace(member, room, new_thread, chat=chat)

        verdict = Verdict(state=PostState.VISIBLE, body=body, title=title)
        if crisis:
            verdict.notices.append(self.crisis_notice())
            verdict.reviews.append(
                (ReviewKind.CRISIS, Urgency.CRISIS, "matched: " + ", ".join(crisis[:5]))
            )
        if found:
            if confirm:
                verdict.notices.append(
                    Notice("identifying_details_confirmed", "<p>Published as you confirmed.</p>")
                )
            verdict.reviews.append(
                (
                    ReviewKind.IDENTIFYING,
                    Urgency.IDENTIFYING,
                    ("author confirmed: " if confirm else "published in crisis: ")
                    + ", ".join(sorted({f.kind for f in found})),
                )
            )
        if hit.action in ("flag", "block"):
            verdict.reviews.append((ReviewKind.FLAGGED, Urgency.NORMAL, "watched word"))
        held_by_word = hit.action == "hold"
        # Crisis text is never held: a person asking for help must be seen.
        if (
            not crisis
            and not moderator
            and (held_by_word or (not editing and await self._held(member, room, chat=chat)))
        ):
            verdict.state = PostState.PENDING
            verdict.notices.append(
                Notice(
                    "held_for_review",
                    "<p>Thanks for posting. A moderator will look at it shortly; "
                    "until then only you and the moderators can see it.</p>",
                )
            )
            verdict.reviews.append(
                (
                    ReviewKind.HELD,
                    Urgency.NORMAL,
                    "watched word" if held_by_word else "held for review",
                )
            )
        return verdict

    async def screen_bio(self, member: Member, bio: str) -> list[dict[str, str]]:
        """A bio is public writing: silenced members cannot change it, blocked
        words are refused, and crisis words bring help and a moderator."""
        crisis = find_crisis(bio, self.settings.crisis_phrases)
        async with self.help_on_refusal(member, bio):
            self.ensure_may_write(member)
            if (await self.watched_matcher()).check(bio).action == "block" and not crisis:
                raise ValidationFailed({"bio": ["contains words this community does not allow"]})
        if not crisis:
            return []
        await self._crisis_without_post(member, crisis, where="their profile")
        return [self.crisis_notice().as_json()]

    @contextlib.asynccontextmanager
    async def help_on_refusal(self, member: Member, body: str) -> AsyncIterator[None]:
        """Checks inside this block that refuse the text still bring help if it is a crisis.

        For refusals that happen before ``screen`` (a locked thread, an
        archived room, a field error).
        """
        try:
            yield
        except CommunityError as refusal:
            crisis = find_crisis(body, self.settings.crisis_phrases)
            if crisis:
                await self._crisis_without_post(member, crisis)
                refusal.notices.append(self.crisis_notice().as_json())
            raise

    def _new_member_caps(self, body: str) -> None:
        rules = self.settings.trust
        errors = []
        if count_links(body) > rules.tl0_max_links:
            errors.append(f"new members may include at most {rules.tl0_max_links} links")
        if count_mentions(body) > rules.tl0_max_mentions:
            errors.append(f"new members may mention at most {rules.tl0_max_mentions} members")
        if errors:
            raise ValidationFailed({"body": errors})

    async def _first_day_caps(self, member: Member, new_thread: bool) -> None:
        """A new member's first 24 hours: a few threads and replies, not a flood."""
        from ..rooms.models import Thread

        rules = self.settings.trust
        day_ends = member.joined_at + dt.timedelta(days=1)
        now = self.settings.now()
        if now >= day_ends:
            return
        threads = await Thread.filter(author_id=member.id).count()
        if new_thread:
            over, cap, what = (
                threads >= rules.tl0_first_day_threads,
                rules.tl0_first_day_threads,
                "threads",
            )
        else:
            replies = await Post.filter(author_id=member.id).count() - threads
            over, cap, what = (
                replies >= rules.tl0_first_day_replies,
                rules.tl0_first_day_replies,
                "replies",
            )
        if over:
            wait = int((day_ends - now).total_seconds()) + 1
            raise RateLimited(
                wait,
                f"On their first day new members can write {cap} {what}. "
                f"You can write more in about {max(1, round(wait / 3600))} hours.",
            )

    async def crisis_about(self, member: Member, crisis: list[str], *, where: str) -> None:
        """Crisis words written somewhere that is not published (a bio, a request)."""
        await self._crisis_without_post(member, crisis, where=where)

    async def _crisis_without_post(
        self, member: Member, crisis: list[str], *, where: str = ""
    ) -> None:
        """Crisis words outside a post (refused writing, a bio): a moderator is
        told at once about the member (only the matched phrases are kept, not the text)."""
        context = f"in {where}" if where else "from a member who cannot post now"
        item = await ReviewItem.create(
            kind=ReviewKind.CRISIS,
            urgency=Urgency.CRISIS,
            subject=member,
            reason=f"crisis words {context}: " + ", ".join(crisis[:5]),
            created_at=self.settings.now(),
        )
        await self.announce(item)

    async def watched_matcher(self) -> WatchedMatcher:
        """The compiled watched-word list, reloaded at most every few seconds.

        Every post and chat message is checked, so the list is not read and
        compiled each time. A change made in this process applies at once; one
        made in another process within ``WATCHED_WORDS_TTL`` seconds.
        """
        clock = time.monotonic()
        if self._watched is None or clock - self._watched[0] >= WATCHED_WORDS_TTL:
            self._watched = (clock, compile_watched(await self.watched_words()))
        return self._watched[1]

    async def watched_words(self) -> list[WatchedWord]:
        rows = await WatchedWordRow.all().order_by("id")
        return [WatchedWord(r.pattern, r.is_regex, r.action) for r in rows]  # type: ignore[arg-type]

    async def list_watched(self, moderator: Member) -> list[dict[str, Any]]:
        self._require_moderator(moderator)
        rows = await WatchedWordRow.all().order_by("id")
        return [
            {"id": r.id, "pattern": r.pattern, "is_regex": r.is_regex, "action": r.action}
            for r in rows
        ]

    async def add_watched(
        self, moderator: Member, pattern: str, is_regex: bool, action: str
    ) -> WatchedWordRow:
        self._require_moderator(moderator)
        if action not in ("block", "hold", "flag", "censor"):
            raise ValidationFailed({"action": ["one of block, hold, flag, censor"]})
        try:
            WatchedWord(pattern, is_regex, action)  # type: ignore[arg-type]
        except (ValueError, TypeError) as error:
            raise ValidationFailed({"pattern": [str(error)]}) from None
        now = self.settings.now()
        row = await WatchedWordRow.create(
            pattern=pattern,
            is_regex=is_regex,
            action=action,
            created_by=moderator,
            created_at=now,
        )
        await audit(moderator, "watch_word", "watched_word", row.id, reason=pattern, at=now)
        self._watched = None
        return row

    async def remove_watched(self, moderator: Member, word_id: int) -> None:
        self._require_moderator(moderator)
        if not await WatchedWordRow.filter(id=word_id).delete():
            raise NotFound("No such watched word.")
        self._watched = None
        await audit(moderator, "unwatch_word", "watched_word", word_id, at=self.settings.now())

    def crisis_notice(self) -> Notice:
        lines = []
        for resource in self.settings.crisis_resources:
            name = html.escape(resource.name)
            if resource.url:
                name = (
                    f'<a href="{html.escape(resource.url, quote=True)}" rel="noopener">{name}</a>'
                )
            lines.append(f"<li>{name}: {html.escape(resource.contact)}</li>")
        return Notice(
            "crisis_resources",
            "<p>It sounds like things may be very hard right now. You are not alone, "
            "and help is there right now:</p><ul>" + "".join(lines) + "</ul>"
            "<p>A moderator has been told and will reach out.</p>",
        )

    async def _held(self, member: Member, room: Room, *, chat: bool = False) -> bool:
        if room.moderation == RoomModeration.ALL_REVIEWED:
            return True
        # Chat is a live conversation: a newcomer's line held for an hour
        # would make no sense there; the chat rate limits guard it instead.
        if chat or room.moderation == RoomModeration.OPEN or member.trust_level > 0:
            return False
        approved = await ReviewItem.filter(
            kind=ReviewKind.HELD, decision="approve", post__author_id=member.id
        ).count()
        return approved < self.settings.trust.reviewed_posts

    def _pace(self, member: Member, room: Room, new_thread: bool, *, chat: bool = False) -> None:
        rules = self.settings.trust
        now = self.settings.now().timestamp()
        if chat:
            count = rules.tl0_chat_messages if member.trust_level == 0 else rules.chat_messages
            checks = [(f"chat:{member.id}", Limit(count, rules.chat_window))]
        else:
            interval = rules.tl0_post_interval if member.trust_level == 0 else rules.post_interval
            checks = [(f"post:{member.id}", Limit(1, interval))]
        if new_thread:
            checks.append((f"thread:{member.id}", Limit(1, rules.thread_interval)))
        if room.slow_mode_seconds:
            checks.append((f"room:{room.id}:{member.id}", Limit(1, room.slow_mode_seconds)))
        for key, limit in checks:
            wait = self.limiter.retry_after(key, limit, now)
            if wait is not None:
                raise RateLimited(wait, f"Slow down a little: you can post again in {wait} s.")
        for key, limit in checks:
            self.limiter.hit(key, limit, now)

    # -- after writing -----------------------------------------------------------

    async def open_reviews(
        self, post: Post | None, verdict: Verdict, *, message: Message | None = None
    ) -> list[ReviewItem]:
        """Create the verdict's review items (inside the post's transaction).

        Announce them with ``announce_all`` after the transaction commits, so
        a slow listener never holds the database.
        """
        return [
            await ReviewItem.create(
                kind=kind,
                urgency=urgency,
                post=post,
                message=message,
                reason=reason,
                created_at=self.settings.now(),
            )
            for kind, urgency, reason in verdict.reviews
        ]

    async def announce_all(self, items: list[ReviewItem]) -> None:
        for item in items:
            await self.announce(item)

    async def announce(self, item: ReviewItem) -> None:
        """Tell the listeners (live moderator alerts) about a new review item."""
        for listener in self._listeners:
            try:
                await listener(item)
            except Exception:
                # A broken listener must not undo a published post.
                logger.exception("review listener failed for item %s", item.id)

    # -- the queue ---------------------------------------------------------------

    async def queue(self, moderator: Member, state: str) -> list[dict[str, Any]]:
        self._require_moderator(moderator)
        try:
            wanted = ReviewState(state)
        except ValueError:
            raise ValidationFailed({"status": ["must be open, claimed or resolved"]}) from None
        items = (
            await ReviewItem.filter(state=wanted)
            .select_related(
                "post__author",
                "post__thread__room",
                "message__author",
                "message__room",
                "opportunity__organizer",
                "claimed_by",
                "subject",
            )
            .order_by("-urgency", "created_at", "id")
            .limit(100)
        )
        flags = await self._flags_on(items)
        return [self.item_json(item, flags) for item in items]

    async def _flags_on(
        self, items: list[ReviewItem]
    ) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """The flags on the items' posts and members, in one query."""
        posts = {i.post_id for i in items if i.post_id is not None}
        messages = {i.message_id for i in items if i.message_id is not None}
        listings = {i.opportunity_id for i in items if i.opportunity_id is not None}
        members = {
            i.subject_id
            for i in items
            if i.post_id is None
            and i.message_id is None
            and i.opportunity_id is None
            and i.subject_id is not None
        }
        if not posts and not members and not messages and not listings:
            return {}
        found: dict[tuple[str, int], list[dict[str, Any]]] = {}
        rows = (
            await Flag.filter(
                Q(target_type="post", target_id__in=list(posts) or [0])
                | Q(target_type="message", target_id__in=list(messages) or [0])
                | Q(target_type="opportunity", target_id__in=list(listings) or [0])
                | Q(target_type="member", target_id__in=list(members) or [0])
            )
            .select_related("flagger")
            .order_by("id")
        )
        for flag in rows:
            found.setdefault((flag.target_type, flag.target_id), []).append(
                {
                    "flagger": flag.flagger.handle,
                    "reason": str(flag.reason),
                    "note": flag.note,
                    "weight": flag.weight,
                    "status": str(flag.status),
                    "created_at": flag.created_at.isoformat(),
                }
            )
        return found

    async def item_with_flags(self, item: ReviewItem) -> dict[str, Any]:
        """One item as the queue shows it, its flags included."""
        await item.fetch_related(
            "post__author",
            "post__thread__room",
            "message__author",
            "message__room",
            "opportunity__organizer",
            "claimed_by",
            "subject",
        )
        return self.item_json(item, await self._flags_on([item]))

    def item_json(
        self,
        item: ReviewItem,
        flags: dict[tuple[str, int], list[dict[str, Any]]] | None = None,
    ) -> dict[str, Any]:
        from ..identity.service import member_json

        post, message = item.post, item.message
        key = (
            ("post", item.post_id)
            if item.post_id is not None
            else ("message", item.message_id)
            if item.message_id is not None
            else ("opportunity", item.opportunity_id)
            if item.opportunity_id is not None
            else ("member", item.subject_id)
        )
        target: dict[str, Any] | None
        if post is not None:
            target = {
                "type": "post",
                "id": post.id,
                "thread": post.thread_id,
                "room": post.thread.room.slug,
                "author": member_json(post.author),
                "html": post.html,
                "state": str(post.state),
            }
        elif message is not None:
            target = {
                "type": "message",
                "id": message.id,
                "room": message.room.slug,
                "seq": message.seq,
                "author": member_json(message.author),
                "html": message.html,
                "state": str(message.state),
            }
        elif item.opportunity is not None:
            listing = item.opportunity
            target = {
                "type": "opportunity",
                "id": listing.id,
                "title": listing.title,
                "organizer": member_json(listing.organizer),
                "html": listing.html,
                "status": str(listing.status),
            }
        elif item.subject is not None:
            target = {"type": "member", "member": member_json(item.subject)}
        else:
            target = None
        return {
            "flags": (flags or {}).get(key, []),  # type: ignore[arg-type]
            "id": item.id,
            "kind": str(item.kind),
            "state": str(item.state),
            "urgency": int(item.urgency),
            "reason": item.reason,
            "created_at": item.created_at.isoformat(),
            "claimed_by": item.claimed_by.handle if item.claimed_by else None,
            "target": target,
        }

    async def decide(self, moderator: Member, item_id: int, decision: str, note: str) -> ReviewItem:
        self._require_moderator(moderator)
        if decision not in ("approve", "reject", "escalate"):
            raise ValidationFailed({"decision": ["must be approve, reject or escalate"]})
        if decision == "reject" and not note.strip():
            raise ValidationFailed({"note": ["say why: the author is shown the reason"]})
        item = await ReviewItem.get_or_none(id=item_id).select_related(
            "post__author", "message", "opportunity", "subject"
        )
        if item is None:
            raise NotFound("No such review item.")
        if item.recused_id == moderator.id:
            raise Forbidden("You made the decision under appeal: another moderator decides it.")
        if item.state == ReviewState.CLAIMED and item.claimed_by_id != moderator.id:
            raise Conflict("Another moderator has claimed this item.")
        now = self.settings.now()
        if decision == "escalate":
            item.urgency = max(int(item.urgency), int(Urgency.IDENTIFYING) + 1)
            item.note = note
            await item.save(update_fields=["urgency", "note"])
            await audit(moderator, "escalate", "review_item", item.id, reason=note, at=now)
            return item
        # Resolve once: of two moderators deciding at the same moment, one wins.
        resolved = (
            await ReviewItem.filter(id=item.id)
            .exclude(state=ReviewState.RESOLVED)
            .update(
                state=ReviewState.RESOLVED,
                decided_by_id=moderator.id,
                decision=decision,
                note=note,
                resolved_at=now,
            )
        )
        if not resolved:
            raise ValidationFailed({"decision": ["this item was already resolved"]})
        post = item.post
        flag_target: tuple[str, int] | None = None
        if post is not None:
            from ..rooms.service import set_post_state

            flag_target = ("post", post.id)
            was = post.state
            restorable = (PostState.PENDING, PostState.HIDDEN) + (
                (PostState.REJECTED,) if item.kind == ReviewKind.APPEAL else ()
            )
            if decision == "approve" and post.state in restorable:
                await set_post_state(post, PostState.VISIBLE, now)
                await self._promote(post.author, now)
            elif decision == "reject" and post.state != PostState.DELETED:
                await set_post_state(post, PostState.REJECTED, now)
                await Post.filter(id=post.id).update(moderation_note=note)
            if item.kind == ReviewKind.APPEAL and decision == "approve":
                await Post.filter(id=post.id).update(moderation_note="")
            await self._tell_author(item, post, was, decision, note)
        elif item.message is not None:
            message = item.message
            flag_target = ("message", message.id)
            if decision == "approve" and message.state in (PostState.PENDING, PostState.HIDDEN):
                await Message.filter(id=message.id).update(state=PostState.VISIBLE)
            elif decision == "reject" and message.state != PostState.DELETED:
                await Message.filter(id=message.id).update(state=PostState.REJECTED)
                await self.notifications.notify(
                    message.author_id,
                    "message_rejected",
                    f"<p>A moderator removed one of your chat messages. "
                    f"The reason: {escape(note)}</p>",
                    target=("message", message.id),
                )
            await self.message_changed(message.room_id, message.seq)
        elif item.opportunity is not None:
            flag_target = ("opportunity", item.opportunity.id)
            for listener in self.listing_listeners:
                await listener(item, decision, note)
        elif item.subject is not None:
            if item.kind == ReviewKind.APPEAL:
                lifted = 0
                entry = await AuditEntry.get_or_none(id=item.appeal_of or 0)
                if decision == "approve" and entry is not None:
                    # An upheld appeal lifts what was appealed, and only that:
                    # a ban that came after an appealed silence stays.
                    lifted = await Member.filter(
                        id=item.subject.id, status=_STATUS_OF_ACTION[entry.action]
                    ).update(status=MemberStatus.ACTIVE, status_until=None)
                await self.notifications.notify(
                    item.subject.id,
                    "appeal_decided",
                    "<p>Your appeal was upheld"
                    + (": the restriction is lifted.</p>" if lifted else ".</p>")
                    if decision == "approve"
                    else "<p>A moderator looked at your appeal and the decision stands."
                    + (f" Their note: {escape(note)}" if note.strip() else "")
                    + "</p>",
                    target=("review_item", item.id),
                )
            else:
                flag_target = ("member", item.subject.id)
        if flag_target is not None and item.kind in (
            ReviewKind.FLAGGED,
            ReviewKind.CRISIS,
            ReviewKind.APPEAL,
        ):
            # Only a decision about flags settles them: a held post's approval
            # says nothing about flags raised on it meanwhile.
            await self._settle_flags(
                flag_target, decision, crisis_only=item.kind == ReviewKind.CRISIS
            )
        await audit(moderator, decision, "review_item", item.id, reason=note, at=now)
        await item.refresh_from_db()
        return item

    async def _tell_author(
        self, item: ReviewItem, post: Post, was: PostState, decision: str, note: str
    ) -> None:
        """The author hears what became of their post (never who flagged it)."""
        author_id = post.author_id
        target = ("post", post.id)
        if decision == "reject" and was != PostState.DELETED:
            await self.notifications.notify(
                author_id,
                "post_rejected",
                f"<p>A moderator removed your post. The reason: {escape(note)}</p>"
                + (
                    ""
                    if item.kind == ReviewKind.APPEAL
                    else "<p>If you think this is wrong, you can appeal once.</p>"
                ),
                target=target,
            )
        elif decision == "approve" and item.kind == ReviewKind.APPEAL:
            await self.notifications.notify(
                author_id,
                "appeal_decided",
                "<p>Your appeal was upheld: your post is visible again.</p>",
                target=target,
            )
        elif decision == "approve" and was == PostState.PENDING:
            await self.notifications.notify(
                author_id,
                "post_approved",
                "<p>A moderator approved your post; everyone in the room can see it now.</p>",
                target=target,
            )
        elif decision == "approve" and was == PostState.HIDDEN:
            await self.notifications.notify(
                author_id,
                "post_restored",
                "<p>A moderator looked at your hidden post and made it visible again.</p>",
                target=target,
            )

    async def _settle_flags(
        self, target: tuple[str, int], decision: str, *, crisis_only: bool = False
    ) -> None:
        """The decision agrees or disagrees with every open flag on the target;
        each flagger learns the outcome (and their accuracy moves with it).

        Crisis flags are noted, not scored: a member who feared for someone
        was right to say so even when the post stays up.
        """
        kind, ident = target
        query = Flag.filter(target_type=kind, target_id=ident, status=FlagStatus.OPEN)
        if crisis_only:
            query = query.filter(reason=FlagReason.CRISIS)
        flags = await query
        if not flags:
            return
        agreed = decision == "reject"
        for flag in flags:
            flag.status = (
                FlagStatus.NOTED
                if flag.reason == FlagReason.CRISIS
                else FlagStatus.AGREED
                if agreed
                else FlagStatus.DISAGREED
            )
        await Flag.bulk_update(flags, fields=["status"])
        what = {"post": "post", "message": "chat message", "opportunity": "listing"}.get(
            kind, "member"
        )
        outcome = (
            f"<p>Thank you: a moderator agreed with your flag on a {what}.</p>"
            if agreed
            else f"<p>Thank you: a moderator looked at the {what} you flagged "
            "and decided to leave it as it is.</p>"
        )
        await self.notifications.notify_many(
            [f.flagger_id for f in flags], "flag_outcome", outcome, target=target
        )

    async def release(self, moderator: Member, item_id: int) -> ReviewItem:
        """Give a claimed item back to the queue: one's own claim, or anyone's for an admin."""
        self._require_moderator(moderator)
        item = await ReviewItem.get_or_none(id=item_id)
        if item is None:
            raise NotFound("No such review item.")
        if item.state != ReviewState.CLAIMED:
            raise Conflict("This item is not claimed.")
        if item.claimed_by_id != moderator.id and moderator.role != Role.ADMIN:
            raise Forbidden("Only the moderator who claimed it, or an admin, can release it.")
        released = await ReviewItem.filter(
            id=item_id, state=ReviewState.CLAIMED, claimed_by_id=item.claimed_by_id
        ).update(state=ReviewState.OPEN, claimed_by_id=None)
        if not released:
            raise Conflict("This item changed meanwhile; load the queue again.")
        await audit(moderator, "release", "review_item", item_id, at=self.settings.now())
        await item.refresh_from_db()
        return item

    async def claim(self, moderator: Member, item_id: int) -> ReviewItem:
        """Take an open item, so two moderators do not work on it at once."""
        self._require_moderator(moderator)
        item = await ReviewItem.get_or_none(id=item_id)
        if item is None:
            raise NotFound("No such review item.")
        if item.recused_id == moderator.id:
            raise Forbidden("You made the decision under appeal: another moderator decides it.")
        taken = await ReviewItem.filter(id=item_id, state=ReviewState.OPEN).update(
            state=ReviewState.CLAIMED, claimed_by_id=moderator.id
        )
        if not taken:
            raise Conflict("This item is already claimed or resolved.")
        await audit(moderator, "claim", "review_item", item_id, at=self.settings.now())
        await item.refresh_from_db()
        return item

    async def appealable_post(self, member: Member, post_id: int) -> Post:
        """The member's own post that a moderator hid or rejected (what may be appealed)."""
        post = await Post.get_or_none(id=post_id, author_id=member.id).select_related(
            "thread", "author"
        )
        if post is None or post.state not in (PostState.HIDDEN, PostState.REJECTED):
            raise NotFound("You have no hidden or rejected post with that id.")
        return post

    async def appeal(self, member: Member, target_type: str, post_id: Any, note: str) -> ReviewItem:
        """Ask once, with a note, for a different moderator to look again."""
        if not note.strip():
            raise ValidationFailed({"note": ["say why it should be looked at again"]})
        now = self.settings.now()
        if target_type == "post":
            if not isinstance(post_id, int):
                raise ValidationFailed({"target": ["a post's id is a number"]})
            post = await self.appealable_post(member, post_id)
            if await ReviewItem.filter(kind=ReviewKind.APPEAL, post_id=post.id).exists():
                raise Conflict("This post has been appealed already.")
            last = (
                await ReviewItem.filter(post_id=post.id, state=ReviewState.RESOLVED)
                .order_by("-resolved_at")
                .first()
            )
            item = await ReviewItem.create(
                kind=ReviewKind.APPEAL,
                post=post,
                reason=note[:2000],
                created_at=now,
                recused_id=last.decided_by_id if last is not None else None,
            )
        elif target_type in _APPEALABLE:
            statuses, actions = _APPEALABLE[target_type]
            entry = (
                await AuditEntry.filter(
                    target_type="member", target_id=member.id, action__in=actions
                )
                .order_by("-id")
                .first()
            )
            if member.status_in_force(now) not in statuses or entry is None:
                what = "silenced" if target_type == "silence" else "suspended"
                raise NotFound(f"You are not {what}.")
            if await ReviewItem.filter(kind=ReviewKind.APPEAL, appeal_of=entry.id).exists():
                raise Conflict("This has been appealed already.")
            item = await ReviewItem.create(
                kind=ReviewKind.APPEAL,
                subject=member,
                appeal_of=entry.id,
                reason=f"appeal against {entry.action}: " + note[:2000],
                created_at=now,
                recused_id=entry.actor_id,
            )
        else:
            raise ValidationFailed({"target": ["type must be post, silence or suspension"]})
        await self.announce(item)
        return item

    async def after_publish(self, member: Member, post: Post) -> None:
        """A visible post may complete a newcomer's way to trust level 1."""
        if post.state == PostState.VISIBLE:
            await self._promote(member, self.settings.now())

    async def _promote(self, member: Member, now: dt.datetime) -> None:
        """Move a member up to TL1 or TL2 once they meet the rules (TL3 is given by hand)."""
        rules = self.settings.trust
        level = member.trust_level
        if level >= 2:
            return
        visible = await Post.filter(author_id=member.id, state=PostState.VISIBLE).count()
        joined = member.joined_at
        new = level
        if (
            new == 0
            and visible >= rules.tl1_posts
            and joined <= now - dt.timedelta(days=rules.tl1_days)
        ):
            new = 1
        if (
            new == 1
            and visible >= rules.tl2_posts
            and joined <= now - dt.timedelta(days=rules.tl2_days)
            and not await self._upheld_flags_on(
                member, now - dt.timedelta(days=rules.tl2_clean_days)
            )
        ):
            new = 2
        if new == level:
            return
        if await Member.filter(id=member.id, trust_level=level).update(trust_level=new):
            member.trust_level = new
            await self.notifications.notify(
                member.id,
                "trust_level",
                "<p>Thank you for being part of the community. You can now flag posts "
                "and start direct conversations.</p>"
                if new == 1
                else "<p>Thank you for being a steady presence here: your flags now "
                "count for more, and you can flag more each day.</p>",
            )

    async def _upheld_flags_on(self, member: Member, since: dt.datetime) -> bool:
        """Whether a moderator agreed with a flag on the member or their posts since ``since``."""
        posts = Post.filter(author_id=member.id).values("id")
        return await Flag.filter(
            Q(target_type="post", target_id__in=Subquery(posts))
            | Q(target_type="member", target_id=member.id),
            status=FlagStatus.AGREED,
            created_at__gte=since,
        ).exists()

    def _require_moderator(self, member: Member) -> None:
        if not is_moderator(member):
            raise Forbidden("Only moderators can do this.")
