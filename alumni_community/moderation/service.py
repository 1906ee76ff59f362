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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

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
from ..ratelimit import MemoryLimiter
from ..rooms.models import Moderation as RoomModeration
from ..rooms.models import Post, PostState, Room
from ..settings import Limit, Settings
from .detection import WatchedWord, compile_watched, find_crisis, find_identifying
from .models import (
    AuditEntry,
    Flag,
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
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limiter = MemoryLimiter()
        self._listeners: list[Listener] = []

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
    ) -> Verdict:
        """Decide what happens to ``body`` before it is written; refuse what may not be.

        Crisis text is looked for first, because help must not depend on any
        other rule: a member who may not post still sees the resources (on
        the refusal) and moderators still get an urgent item; and a crisis
        post is published past the pace, the new-member caps and the
        identifying-details question, which would only delay a person in need.
        """
        crisis = find_crisis(body, self.settings.crisis_phrases)
        try:
            self.ensure_may_write(member)
        except CommunityError as refusal:
            if crisis:
                await self._crisis_without_post(member, crisis)
                refusal.notices.append(self.crisis_notice().as_json())
            raise
        moderator = is_moderator(member)
        watched = compile_watched(await self.watched_words())
        hit = watched.check(body)
        if hit.action == "block" and not crisis:
            raise ValidationFailed({"body": ["contains words this community does not allow"]})
        if any(word.action == "censor" for word in hit.words):
            # Censored words go whatever else the text triggers.
            body = watched.censor(body)
        found = find_identifying(body, default_region=self.settings.phone_region)
        if not crisis:
            if member.trust_level == 0 and not moderator:
                self._new_member_caps(body)
            if found and not confirm:
                raise IdentifyingDetails([f.kind for f in found])
            if not moderator and not editing:
                # Last, so a refused post (or the question above) costs no turn.
                self._pace(member, room, new_thread)

        verdict = Verdict(state=PostState.VISIBLE, body=body)
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
            and (held_by_word or (not editing and await self._held(member, room)))
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

    async def _crisis_without_post(self, member: Member, crisis: list[str]) -> None:
        """Crisis words from a member who may not post: nothing is published, but a
        moderator is told at once (only the matched phrases are kept, not the text)."""
        item = await ReviewItem.create(
            kind=ReviewKind.CRISIS,
            urgency=Urgency.CRISIS,
            subject=member,
            reason="crisis words from a member who cannot post now: " + ", ".join(crisis[:5]),
            created_at=self.settings.now(),
        )
        await self.announce(item)

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
        return row

    async def remove_watched(self, moderator: Member, word_id: int) -> None:
        self._require_moderator(moderator)
        if not await WatchedWordRow.filter(id=word_id).delete():
            raise NotFound("No such watched word.")
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

    async def _held(self, member: Member, room: Room) -> bool:
        if room.moderation == RoomModeration.ALL_REVIEWED:
            return True
        if room.moderation == RoomModeration.OPEN or member.trust_level > 0:
            return False
        approved = await ReviewItem.filter(
            kind=ReviewKind.HELD, decision="approve", post__author_id=member.id
        ).count()
        return approved < self.settings.trust.reviewed_posts

    def _pace(self, member: Member, room: Room, new_thread: bool) -> None:
        rules = self.settings.trust
        now = self.settings.now().timestamp()
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

    async def open_reviews(self, post: Post, verdict: Verdict) -> list[ReviewItem]:
        """Create the verdict's review items (inside the post's transaction).

        Announce them with ``announce_all`` after the transaction commits, so
        a slow listener never holds the database.
        """
        return [
            await ReviewItem.create(
                kind=kind,
                urgency=urgency,
                post=post,
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
            .select_related("post__author", "post__thread__room", "claimed_by", "subject")
            .order_by("-urgency", "created_at", "id")
            .limit(100)
        )
        return [self.item_json(item) for item in items]

    def item_json(self, item: ReviewItem) -> dict[str, Any]:
        from ..identity.service import member_json

        post = item.post
        return {
            "id": item.id,
            "kind": str(item.kind),
            "state": str(item.state),
            "urgency": int(item.urgency),
            "reason": item.reason,
            "created_at": item.created_at.isoformat(),
            "claimed_by": item.claimed_by.handle if item.claimed_by else None,
            "target": (
                {"type": "member", "member": member_json(item.subject)} if item.subject else None
            )
            if post is None
            else {
                "type": "post",
                "id": post.id,
                "thread": post.thread_id,
                "room": post.thread.room.slug,
                "author": member_json(post.author),
                "html": post.html,
                "state": str(post.state),
            },
        }

    async def decide(self, moderator: Member, item_id: int, decision: str, note: str) -> ReviewItem:
        self._require_moderator(moderator)
        if decision not in ("approve", "reject", "escalate"):
            raise ValidationFailed({"decision": ["must be approve, reject or escalate"]})
        if decision == "reject" and not note.strip():
            raise ValidationFailed({"note": ["say why: the author is shown the reason"]})
        item = await ReviewItem.get_or_none(id=item_id).select_related("post__author", "subject")
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
        if post is not None:
            from ..rooms.service import set_post_state

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
            # The decision agrees or disagrees with every open flag on the post.
            await Flag.filter(target_type="post", target_id=post.id, status=FlagStatus.OPEN).update(
                status=FlagStatus.AGREED if decision == "reject" else FlagStatus.DISAGREED
            )
        elif item.kind == ReviewKind.APPEAL and item.subject is not None and decision == "approve":
            # An upheld appeal against a silence lifts it (and only a silence:
            # a ban that came later stays).
            await Member.filter(id=item.subject.id, status=MemberStatus.SILENCED).update(
                status=MemberStatus.ACTIVE, status_until=None
            )
        await audit(moderator, decision, "review_item", item.id, reason=note, at=now)
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

    async def appeal(self, member: Member, target_type: str, post_id: Any, note: str) -> ReviewItem:
        """Ask once, with a note, for a different moderator to look again."""
        if not note.strip():
            raise ValidationFailed({"note": ["say why it should be looked at again"]})
        now = self.settings.now()
        if target_type == "post":
            if not isinstance(post_id, int):
                raise ValidationFailed({"target": ["a post's id is a number"]})
            post = await Post.get_or_none(id=post_id, author_id=member.id)
            if post is None or post.state not in (PostState.HIDDEN, PostState.REJECTED):
                raise NotFound("You have no hidden or rejected post with that id.")
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
        elif target_type == "silence":
            entry = (
                await AuditEntry.filter(target_type="member", target_id=member.id, action="silence")
                .order_by("-id")
                .first()
            )
            if member.status_in_force(now) != MemberStatus.SILENCED or entry is None:
                raise NotFound("You are not silenced.")
            if await ReviewItem.filter(kind=ReviewKind.APPEAL, appeal_of=entry.id).exists():
                raise Conflict("This silence has been appealed already.")
            item = await ReviewItem.create(
                kind=ReviewKind.APPEAL,
                subject=member,
                appeal_of=entry.id,
                reason=note[:2000],
                created_at=now,
                recused_id=entry.actor_id,
            )
        else:
            raise ValidationFailed({"target": ["type must be post or silence"]})
        await self.announce(item)
        return item

    async def after_publish(self, member: Member, post: Post) -> None:
        """A visible post may complete a newcomer's way to trust level 1."""
        if post.state == PostState.VISIBLE:
            await self._promote(member, self.settings.now())

    async def _promote(self, member: Member, now: dt.datetime) -> None:
        rules = self.settings.trust
        if member.trust_level != 0:
            return
        approved = await Post.filter(author_id=member.id, state=PostState.VISIBLE).count()
        if approved >= rules.tl1_posts and member.joined_at <= now - dt.timedelta(
            days=rules.tl1_days
        ):
            await Member.filter(id=member.id, trust_level=0).update(trust_level=1)

    def _require_moderator(self, member: Member) -> None:
        if not is_moderator(member):
            raise Forbidden("Only moderators can do this.")
