"""Member actions, flags and the audit log.

Every moderator action and decision writes one ``AuditEntry``; the table
refuses updates and deletes in the database itself (migration 0005), and no
code path here offers either.

Flags: a member of trust level 1 or more flags a post or a member once, with
a reason. A flag weighs 1 + the flagger's trust level (moderators 5). When
the open flags on a post weigh ``hide_threshold`` or more, the post is hidden
at once and goes to the review queue; a moderator's decision then agrees or
disagrees with each flag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from ..chat.models import Message
from ..errors import Forbidden, NotFound, RateLimited, ValidationFailed
from ..identity import handles
from ..identity.models import Member, MemberStatus, Role, Session
from ..identity.service import member_json
from ..notifications.service import escape
from ..opportunities.models import Opportunity, OpportunityStatus
from ..rooms.models import Post, PostState
from ..rooms.service import Rooms
from ..settings import Limit, Settings
from .detection import find_crisis
from .models import (
    AuditEntry,
    Flag,
    FlagReason,
    FlagStatus,
    ReviewItem,
    ReviewKind,
    ReviewState,
    Urgency,
)
from .service import Moderation, audit, is_moderator

__all__ = ["ACTIONS", "Actions"]

ACTIONS = ("warn", "silence", "suspend", "ban", "restore")


class Actions:
    def __init__(self, settings: Settings, moderation: Moderation, rooms: Rooms) -> None:
        self.settings = settings
        self.moderation = moderation
        self.rooms = rooms
        #: Called with the member's id after an action on them.
        self.member_listeners: list[Callable[[int], Awaitable[None]]] = []

    # -- member actions ------------------------------------------------------------

    async def standing(self, moderator: Member, handle: str) -> dict[str, Any]:
        """A member as moderators see them: standing, and the actions on record about them.

        Read-only. Moderators only, by the moderation service's own test.
        """
        if not is_moderator(moderator):
            raise Forbidden("Only moderators can do this.")
        if "\x00" in handle:
            raise NotFound("No member has that handle.")
        member = await Member.get_or_none(handle_key=handles.key(handle)[:64])
        if member is None or member.status == MemberStatus.ERASED:
            raise NotFound("No member has that handle.")
        now = self.settings.now()
        entries = (
            await AuditEntry.filter(target_type="member", target_id=member.id)
            .order_by("-id")
            .limit(50)
            .select_related("actor")
        )
        open_items = await ReviewItem.filter(
            subject_id=member.id, state__in=[ReviewState.OPEN, ReviewState.CLAIMED]
        ).count()
        status = member.status_in_force(now)
        return {
            "member": member_json(member),
            "trust_level": member.trust_level,
            "status": str(status),
            "until": member.status_until.isoformat()
            if member.status_until and status != MemberStatus.ACTIVE
            else None,
            "open_items": open_items,
            "history": [
                {
                    "at": e.at.isoformat(),
                    "actor": e.actor.handle if e.actor is not None else None,
                    "action": e.action,
                    "reason": e.reason,
                    "until": e.until.isoformat() if e.until else None,
                }
                for e in entries
            ],
        }

    async def act(
        self, moderator: Member, handle: str, action: str, *, until: str | None, reason: str
    ) -> Member:
        if not is_moderator(moderator):
            raise Forbidden("Only moderators can do this.")
        if action not in ACTIONS:
            raise ValidationFailed({"action": ["one of " + ", ".join(ACTIONS)]})
        if not reason.strip() and action != "restore":
            raise ValidationFailed({"reason": ["say why: it is kept in the audit log"]})
        target = await Member.get_or_none(handle_key=handles.key(handle)[:64])
        if target is None or target.status == MemberStatus.ERASED:
            raise NotFound("No member has that handle.")
        if target.id == moderator.id:
            raise Forbidden("You cannot act on your own account.")
        if is_moderator(target) and moderator.role != Role.ADMIN:
            raise Forbidden("Only admins act on moderators and admins.")
        now = self.settings.now()
        end = await self._until(target, action, until, now)
        async with in_transaction():
            if action in ("silence", "suspend", "ban"):
                target.status = {
                    "silence": MemberStatus.SILENCED,
                    "suspend": MemberStatus.SUSPENDED,
                    "ban": MemberStatus.BANNED,
                }[action]
                target.status_until = end
                await target.save(update_fields=["status", "status_until"])
                if action in ("suspend", "ban"):
                    await Session.filter(member_id=target.id).delete()
            elif action == "restore":
                target.status, target.status_until = MemberStatus.ACTIVE, None
                await target.save(update_fields=["status", "status_until"])
            await audit(moderator, action, "member", target.id, reason=reason, until=end, at=now)
        await self._tell_member(target, action, reason, end)
        for listener in self.member_listeners:
            await listener(target.id)  # live sockets of a suspended member close
        return target

    async def _tell_member(
        self, target: Member, action: str, reason: str, end: dt.datetime | None
    ) -> None:
        """The member hears of an action on their account, privately, with the reason."""
        why = f" The reason: {escape(reason)}" if reason.strip() else ""
        until = f" until {end:%Y-%m-%d %H:%M} UTC" if end else ""
        text = {
            "warn": f"<p>A moderator has sent you a warning.{why}</p>",
            "silence": f"<p>You can read but not post{until}.{why} You can appeal this once.</p>",
            "suspend": f"<p>Your account was suspended{until}.{why} "
            "You can appeal this once from the sign-in page.</p>",
            "ban": f"<p>Your account was closed by a moderator.{why} "
            "You can appeal this once from the sign-in page.</p>",
            "restore": "<p>A moderator restored your account: you can post again.</p>",
        }.get(action)
        if text is not None:
            await self.moderation.notifications.notify(
                target.id, "warning" if action == "warn" else f"account_{action}", text
            )

    async def _weight(self, flagger: Member) -> int:
        """1 + trust level (moderators 5), moved by how often the flagger was right."""
        if is_moderator(flagger):
            return 5
        agreed = await Flag.filter(flagger_id=flagger.id, status=FlagStatus.AGREED).count()
        disagreed = await Flag.filter(flagger_id=flagger.id, status=FlagStatus.DISAGREED).count()
        return self.settings.trust.flag_weight(flagger.trust_level, agreed, disagreed)

    async def _until(
        self, target: Member, action: str, until: str | None, now: dt.datetime
    ) -> dt.datetime | None:
        if action not in ("silence", "suspend"):
            return None
        if until:
            try:
                end = dt.datetime.fromisoformat(until)
            except ValueError:
                raise ValidationFailed({"until": ["an ISO 8601 time with an offset"]}) from None
            if end.tzinfo is None or end <= now:
                raise ValidationFailed({"until": ["a future time with an offset"]})
            return end
        # The ladder: how many silences and suspensions came before.
        before = await AuditEntry.filter(
            target_type="member", target_id=target.id, action__in=["silence", "suspend"]
        ).count()
        ladder = self.settings.trust.penalty_ladder_days
        return now + dt.timedelta(days=ladder[min(before, len(ladder) - 1)])

    async def log(self, moderator: Member, cursor: int | None) -> dict[str, Any]:
        if not is_moderator(moderator):
            raise Forbidden("Only moderators can read the audit log.")
        query = AuditEntry.all()
        if cursor is not None:
            query = query.filter(id__lt=cursor)
        rows = await query.order_by("-id").limit(51).select_related("actor")
        more = len(rows) > 50
        rows = rows[:50]
        return {
            "items": [
                {
                    "id": r.id,
                    "at": r.at.isoformat(),
                    "actor": member_json(r.actor) if r.actor else None,
                    "action": r.action,
                    "target": {"type": r.target_type, "id": r.target_id},
                    "reason": r.reason,
                    "until": r.until.isoformat() if r.until else None,
                }
                for r in rows
            ],
            "next": str(rows[-1].id) if more else None,
        }

    # -- flags -----------------------------------------------------------------

    async def flag(
        self, flagger: Member, target_type: str, target_id: Any, reason: str, note: str
    ) -> Flag:
        self.moderation.ensure_may_write(flagger)
        if flagger.trust_level < 1 and not is_moderator(flagger):
            raise Forbidden("New members cannot flag yet; a moderator can help meanwhile.")
        try:
            why = FlagReason(reason)
        except ValueError:
            raise ValidationFailed({"reason": ["one of " + ", ".join(FlagReason)]}) from None
        if why == FlagReason.OTHER and not note.strip():
            raise ValidationFailed({"note": ["say what is wrong"]})
        target = await self._target(flagger, target_type, target_id)
        now = self.settings.now()
        if not is_moderator(flagger):
            allowed = self.settings.trust.flags_per_day(flagger.trust_level)
            key = f"flags:{flagger.id}"
            wait = self.moderation.limiter.retry_after(key, Limit(allowed, 86_400), now.timestamp())
            if wait is not None:
                raise RateLimited(wait, "You have flagged a lot today; a moderator will look.")
            self.moderation.limiter.hit(key, Limit(allowed, 86_400), now.timestamp())
        weight = await self._weight(flagger)
        try:
            async with in_transaction():
                flag = await Flag.create(
                    flagger=flagger,
                    target_type=target.kind,
                    target_id=target.id,
                    reason=why,
                    note=note[:1000],
                    weight=weight,
                    created_at=now,
                )
                # Crisis words in a note bring a moderator as fast as a crisis flag.
                urgent = why == FlagReason.CRISIS or bool(
                    find_crisis(note, self.settings.crisis_phrases)
                )
                item, hidden = await self._review(target, why, now, urgent=urgent)
        except IntegrityError:
            raise ValidationFailed({"target": ["you have flagged this already"]}) from None
        # After commit: listeners never hold the database.
        if item is not None:
            await self.moderation.announce(item)
        if hidden and target.post is not None:
            await self.moderation.notifications.notify(
                target.post.author_id,
                "post_hidden",
                "<p>Members flagged one of your posts, so it is hidden until a moderator "
                "looks at it. You can edit it, or appeal once.</p>",
                target=("post", target.post.id),
            )
        if hidden and target.message is not None:
            message = target.message
            await self.moderation.notifications.notify(
                message.author_id,
                "message_hidden",
                "<p>Members flagged one of your chat messages, so it is hidden until a "
                "moderator looks at it.</p>",
                target=("message", message.id),
            )
            await self.moderation.message_changed(message.room_id, message.seq)
        return flag

    async def _target(self, flagger: Member, target_type: str, target_id: Any) -> _Target:
        if target_type == "post":
            if not isinstance(target_id, int) or isinstance(target_id, bool):
                raise ValidationFailed({"target": ["a post's id is a number"]})
            post = await Post.get_or_none(id=target_id).select_related("thread__room")
            if post is None or post.state == PostState.DELETED:
                raise NotFound("No such post.")
            # Only what the flagger may see can be flagged (a private room, or
            # someone else's held post, stays hidden).
            await self.rooms.visible_thread(flagger, post.thread_id)
            if (
                post.state != PostState.VISIBLE
                and post.author_id != flagger.id
                and not is_moderator(flagger)
            ):
                raise NotFound("No such post.")
            return _Target("post", post.id, post=post)
        if target_type == "message":
            if not isinstance(target_id, int) or isinstance(target_id, bool):
                raise ValidationFailed({"target": ["a message's id is a number"]})
            message = await Message.get_or_none(id=target_id).select_related("room")
            if message is None or message.state != PostState.VISIBLE:
                raise NotFound("No such message.")
            # A message in a room (or a direct conversation) the flagger
            # cannot see does not exist for them.
            await self.rooms.visible_room(flagger, message.room.slug)
            return _Target("message", message.id, message=message)
        if target_type == "opportunity":
            if not isinstance(target_id, int) or isinstance(target_id, bool):
                raise ValidationFailed({"target": ["a listing's id is a number"]})
            listing = await Opportunity.get_or_none(id=target_id)
            if listing is None or listing.status not in (
                OpportunityStatus.OPEN,
                OpportunityStatus.CLOSED,
            ):
                raise NotFound("No such opportunity.")
            return _Target("opportunity", listing.id, opportunity=listing)
        if target_type == "member":
            member = await Member.get_or_none(handle_key=handles.key(str(target_id))[:64])
            if member is None or member.status == MemberStatus.ERASED:
                raise NotFound("No member has that handle.")
            return _Target("member", member.id, member=member)
        raise ValidationFailed({"target": ["type must be post, message, opportunity or member"]})

    async def _review(
        self, target: _Target, why: FlagReason, now: dt.datetime, *, urgent: bool
    ) -> tuple[ReviewItem | None, bool]:
        """Hide a post or message if its flags weigh enough; open or raise a review item.

        Returns the new (or newly urgent) review item, and whether the content was hidden now.
        """
        urgency = Urgency.CRISIS if urgent else Urgency.NORMAL
        kind = ReviewKind.CRISIS if why == FlagReason.CRISIS else ReviewKind.FLAGGED
        if target.member is not None:
            item = await ReviewItem.create(
                kind=kind,
                urgency=urgency,
                created_at=now,
                subject=target.member,
                reason=f"flagged: {why}",
            )
            return item, False
        # Crisis flags call a moderator; they never count towards hiding.
        weights: list[int] = (
            await Flag.filter(  # type: ignore[assignment]
                target_type=target.kind, target_id=target.id, status=FlagStatus.OPEN
            )
            .exclude(reason=FlagReason.CRISIS)
            .values_list("weight", flat=True)
        )
        weight = sum(weights)
        if target.opportunity is not None:
            return await self._review_listing(target, why, now, urgency)
        content = target.post or target.message
        assert content is not None
        hidden = False
        # Crisis flags bring a moderator, not a hiding: the words must not vanish.
        if (
            weight >= self.settings.trust.hide_weight
            and content.state == PostState.VISIBLE
            and why != FlagReason.CRISIS
        ):
            if target.post is not None:
                from ..rooms.service import set_post_state

                await set_post_state(target.post, PostState.HIDDEN, now)
            else:
                await Message.filter(id=target.id).update(state=PostState.HIDDEN)
            hidden = True
            await audit(
                None, "auto_hide", target.kind, target.id, reason=f"flag weight {weight}", at=now
            )
        about = {"post_id": target.id} if target.post is not None else {"message_id": target.id}
        open_item = await ReviewItem.filter(
            **about, kind=kind, state__in=[ReviewState.OPEN, ReviewState.CLAIMED]
        ).first()
        if open_item is None:
            item = await ReviewItem.create(
                kind=kind,
                urgency=urgency,
                post=target.post,
                message=target.message,
                created_at=now,
                reason=f"flagged: {why}",
            )
            return item, hidden
        open_item.reason += f", {why}"
        raised = int(urgency) > int(open_item.urgency)
        open_item.urgency = max(int(open_item.urgency), int(urgency))
        await open_item.save(update_fields=["reason", "urgency"])
        # Newly urgent: the live alert goes out as for a new item.
        return (open_item if raised else None), hidden

    async def _review_listing(
        self, target: _Target, why: FlagReason, now: dt.datetime, urgency: Urgency
    ) -> tuple[ReviewItem | None, bool]:
        """A flagged listing: taken off the board at the hide weight, like a post."""
        listing = target.opportunity
        assert listing is not None
        kind = ReviewKind.CRISIS if why == FlagReason.CRISIS else ReviewKind.FLAGGED
        weights: list[int] = (
            await Flag.filter(  # type: ignore[assignment]
                target_type="opportunity", target_id=listing.id, status=FlagStatus.OPEN
            )
            .exclude(reason=FlagReason.CRISIS)
            .values_list("weight", flat=True)
        )
        hidden = False
        if (
            sum(weights) >= self.settings.trust.hide_weight
            and listing.status == OpportunityStatus.OPEN
            and why != FlagReason.CRISIS
        ):
            # Back to review: off the board until a moderator decides.
            await Opportunity.filter(id=listing.id).update(status=OpportunityStatus.PENDING_REVIEW)
            hidden = True
            await audit(
                None,
                "auto_hide",
                "opportunity",
                listing.id,
                reason=f"flag weight {sum(weights)}",
                at=now,
            )
        open_item = await ReviewItem.filter(
            opportunity_id=listing.id,
            kind=kind,
            state__in=[ReviewState.OPEN, ReviewState.CLAIMED],
        ).first()
        if open_item is None:
            item = await ReviewItem.create(
                kind=kind,
                urgency=urgency,
                opportunity=listing,
                created_at=now,
                reason=f"flagged: {why}",
            )
            return item, hidden
        open_item.reason += f", {why}"
        raised = int(urgency) > int(open_item.urgency)
        open_item.urgency = max(int(open_item.urgency), int(urgency))
        await open_item.save(update_fields=["reason", "urgency"])
        return (open_item if raised else None), hidden


@dataclass
class _Target:
    """What a flag is about: a post, a chat message or a member."""

    kind: str
    id: int
    post: Post | None = None
    message: Message | None = None
    opportunity: Opportunity | None = None
    member: Member | None = None
