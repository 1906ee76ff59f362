"""Rules of the service board: listings, slots, sign-ups, the waitlist, attendance and hours.

No overbooking, ever. Every change to a slot's sign-ups runs in one
transaction that first locks the slot's row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite serialises writers itself), counts, and writes: of any
number of concurrent sign-ups for the last seat, across any number of
processes, exactly one is confirmed. Waitlist positions are not stored:
a position is the sign-up's rank among the waiting (by the time it queued,
then its id), so they stay 1, 2, 3... through every cancellation.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from ..content import render_markdown, render_title
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..identity import handles
from ..identity.models import Member
from ..identity.service import member_json
from ..moderation.detection import find_crisis
from ..moderation.models import ReviewItem, ReviewKind, Urgency
from ..moderation.service import Moderation, Notice, is_moderator
from ..notifications.service import Notifications, escape
from ..requests import flag_param, id_cursor
from ..settings import Settings
from .models import Kind, Opportunity, OpportunityStatus, Signup, SignupStatus, Slot

__all__ = ["Board"]

PAGE_SIZE = 30
MAX_SLOTS = 50
MAX_CAPACITY = 1000
_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
ACTIVE = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)


@dataclass
class SignedUp:
    status: SignupStatus
    position: int | None


#: How far ahead a slot may start.
SLOT_HORIZON = dt.timedelta(days=731)


def _within(now: dt.datetime, starts: dt.datetime, ends: dt.datetime) -> bool:
    """A future start within SLOT_HORIZON, and an end after it within 7 days."""
    try:
        return (
            now < starts < ends
            and starts - now <= SLOT_HORIZON
            and ends - starts <= dt.timedelta(days=7)
        )
    except OverflowError:  # near year 1 or 9999, an offset takes the time out of range
        return False


class Board:
    def __init__(
        self, settings: Settings, moderation: Moderation, notifications: Notifications
    ) -> None:
        self.settings = settings
        self.moderation = moderation
        self.notifications = notifications

    # -- listings ------------------------------------------------------------------

    async def create(
        self, member: Member, data: dict[str, Any]
    ) -> tuple[Opportunity, list[Notice]]:
        """List a way to serve; members below trust level 2 wait for a moderator."""
        text = f"{data.get('title', '')}\n{data.get('body', '')}"
        async with self.moderation.help_on_refusal(member, text if isinstance(text, str) else ""):
            self.moderation.ensure_may_write(member)
            values, slots = self._checked(data)
            watched = (await self.moderation.watched_matcher()).check(text)
            if watched.action == "block":
                raise ValidationFailed({"body": ["contains words this community does not allow"]})
        crisis = find_crisis(text, self.settings.crisis_phrases)
        trusted = member.trust_level >= 2 or is_moderator(member)
        held = not trusted or watched.action == "hold"
        now = self.settings.now()
        async with in_transaction():
            opportunity = await Opportunity.create(
                organizer=member,
                status=OpportunityStatus.PENDING_REVIEW if held else OpportunityStatus.OPEN,
                created_at=now,
                **values,
            )
            for starts_at, ends_at, capacity in slots:
                await Slot.create(
                    opportunity=opportunity,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    capacity=capacity,
                )
            items = []
            if held:
                items.append(
                    await ReviewItem.create(
                        kind=ReviewKind.HELD,
                        urgency=Urgency.NORMAL,
                        opportunity=opportunity,
                        reason="listing by a newer member" if not trusted else "watched word",
                        created_at=now,
                    )
                )
            if crisis:
                items.append(
                    await ReviewItem.create(
                        kind=ReviewKind.CRISIS,
                        urgency=Urgency.CRISIS,
                        opportunity=opportunity,
                        subject=member,
                        reason="crisis words in a listing: " + ", ".join(crisis[:5]),
                        created_at=now,
                    )
                )
        await self.moderation.announce_all(items)
        notices = []
        if crisis:
            notices.append(self.moderation.crisis_notice())
        if held:
            notices.append(
                Notice(
                    "held_for_review",
                    "<p>Thank you for offering this. A moderator will look at it shortly; "
                    "until then only you and the moderators can see it.</p>",
                )
            )
        return opportunity, notices

    def _checked(
        self, data: dict[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[dt.datetime, dt.datetime, int]]]:
        errors: dict[str, list[str]] = {}
        title = data.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            errors["title"] = ["1 to 200 characters"]
            title = ""
        body = data.get("body", "")
        if not isinstance(body, str) or len(body) > 20_000:
            errors["body"] = ["text of at most 20000 characters"]
            body = ""
        try:
            kind = Kind(data.get("kind", "volunteer"))
        except ValueError:
            errors["kind"] = ["one of " + ", ".join(Kind)]
            kind = Kind.OTHER
        location = data.get("location", "")
        if not isinstance(location, str) or len(location) > 200:
            errors["location"] = ["a place, or online, in at most 200 characters"]
            location = ""
        tags = data.get("tags", [])
        if (
            not isinstance(tags, list)
            or len(tags) > 10
            or not all(isinstance(t, str) and _TAG.match(t.lower()) for t in tags)
        ):
            errors["tags"] = ["up to 10 tags of letters, digits and hyphens"]
            tags = []
        days = data.get("min_sober_days")
        if days is not None and (
            not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 36_500
        ):
            errors["min_sober_days"] = ["a number of days, or null"]
            days = None
        slots = self._slots(data.get("slots"), errors)
        if errors:
            raise ValidationFailed(errors)
        values = {
            "title": render_title(" ".join(str(title).split())),
            "body": body,
            "html": render_markdown(body),
            "kind": kind,
            "location": render_title(" ".join(location.split())),
            "tags": sorted({t.lower() for t in tags}),
            "min_sober_days": days,
        }
        return values, slots

    def _slots(
        self, raw: Any, errors: dict[str, list[str]]
    ) -> list[tuple[dt.datetime, dt.datetime, int]]:
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SLOTS:
            errors["slots"] = [f"1 to {MAX_SLOTS} slots"]
            return []
        now = self.settings.now()
        found = []
        for i, slot in enumerate(raw):
            if not isinstance(slot, dict) or not set(slot) <= {"starts_at", "ends_at", "capacity"}:
                errors[f"slots[{i}]"] = ["starts_at, ends_at (ISO 8601 with offset) and capacity"]
                continue
            try:
                starts = dt.datetime.fromisoformat(slot["starts_at"])
                ends = dt.datetime.fromisoformat(slot["ends_at"])
                capacity = slot["capacity"]
            except (TypeError, KeyError, ValueError):
                errors[f"slots[{i}]"] = ["starts_at, ends_at (ISO 8601 with offset) and capacity"]
                continue
            if starts.tzinfo is None or ends.tzinfo is None:
                errors[f"slots[{i}]"] = ["times need an offset, e.g. 2026-12-01T18:00:00-05:00"]
            elif not _within(now, starts, ends):
                errors[f"slots[{i}]"] = [
                    "a start within the next two years, and an end after it within 7 days"
                ]
            elif (
                not isinstance(capacity, int)
                or isinstance(capacity, bool)
                or not 1 <= capacity <= MAX_CAPACITY
            ):
                errors[f"slots[{i}]"] = [f"capacity is 1 to {MAX_CAPACITY}"]
            else:
                found.append((starts.astimezone(dt.UTC), ends.astimezone(dt.UTC), capacity))
        return found

    async def visible(self, member: Member, opportunity_id: int) -> Opportunity:
        opportunity = await Opportunity.get_or_none(id=opportunity_id).select_related("organizer")
        if opportunity is None:
            raise NotFound("No such opportunity.")
        listed = opportunity.status in (OpportunityStatus.OPEN, OpportunityStatus.CLOSED)
        if not listed and opportunity.organizer_id != member.id and not is_moderator(member):
            raise NotFound("No such opportunity.")
        return opportunity

    async def page(
        self, member: Member, filters: dict[str, str], cursor: str | None
    ) -> dict[str, Any]:
        query = Opportunity.filter(
            Q(status=OpportunityStatus.OPEN)
            | Q(organizer_id=member.id, status=OpportunityStatus.PENDING_REVIEW)
        )
        before = id_cursor(cursor)
        if before is not None:
            query = query.filter(id__lt=before)
        kind = filters.get("kind")
        if kind:
            if kind not in set(Kind):
                raise ValidationFailed({"kind": ["one of " + ", ".join(Kind)]})
            query = query.filter(kind=kind)
        now = self.settings.now()
        if flag_param(filters, "upcoming"):
            query = query.filter(slots__starts_at__gt=now).distinct()
        if flag_param(filters, "open_seats"):
            query = query.filter(
                slots__starts_at__gt=now, slots__confirmed_count__lt=F("slots__capacity")
            ).distinct()
        tag = (filters.get("tag") or "").lower()
        rows: list[Opportunity] = []
        # Tags live in a JSON list, which SQLite cannot index: a tag filter
        # reads the keyset in batches until a page is full (or the board ends).
        last: int | None = None
        scanned_out = False
        for _ in range(20):
            batch_query = query.filter(id__lt=last) if last is not None else query
            batch = await batch_query.order_by("-id").limit(100).select_related("organizer")
            if not batch:
                break
            last = batch[-1].id
            rows.extend(row for row in batch if not tag or tag in row.tags)
            if len(rows) > PAGE_SIZE or len(batch) < 100:
                break
        else:
            scanned_out = True  # a page's worth of reading: continue from here next time
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        if more:
            next_cursor: str | None = str(rows[-1].id)
        else:
            next_cursor = str(last) if scanned_out else None
        slots = await Slot.filter(opportunity_id__in=[o.id for o in rows]).order_by("starts_at")
        by_opportunity: dict[int, list[Slot]] = {}
        for slot in slots:
            by_opportunity.setdefault(slot.opportunity_id, []).append(slot)
        items = [self.summary_json(o, by_opportunity.get(o.id, []), member) for o in rows]
        return {"items": items, "next": next_cursor}

    def summary_json(
        self, opportunity: Opportunity, slots: list[Slot], viewer: Member
    ) -> dict[str, Any]:
        now = self.settings.now()
        upcoming = [s for s in slots if s.starts_at > now]
        return {
            "id": opportunity.id,
            "title": opportunity.title,
            "kind": str(opportunity.kind),
            "location": opportunity.location,
            "tags": opportunity.tags,
            "status": str(opportunity.status),
            "organizer": member_json(opportunity.organizer),
            "min_sober_days": opportunity.min_sober_days,
            "next_starts_at": self._local(upcoming[0].starts_at, viewer) if upcoming else None,
            "open_seats": sum(max(0, s.capacity - s.confirmed_count) for s in upcoming),
        }

    def _local(self, when: dt.datetime, viewer: Member) -> str:
        """ISO 8601 in the viewer's time zone (the community's default if they set none)."""
        from zoneinfo import ZoneInfo

        name = viewer.timezone or self.settings.timezone
        return when.astimezone(ZoneInfo(name)).isoformat()

    async def detail(self, member: Member, opportunity_id: int) -> dict[str, Any]:
        opportunity = await self.visible(member, opportunity_id)
        slots = await Slot.filter(opportunity_id=opportunity.id).order_by("starts_at", "id")
        signups = (
            await Signup.filter(slot_id__in=[s.id for s in slots], status__in=ACTIVE)
            .order_by("queued_at", "id")
            .select_related("member")
        )
        organizing = opportunity.organizer_id == member.id or is_moderator(member)
        data = self.summary_json(opportunity, slots, member)
        data["html"] = opportunity.html
        data["slots"] = [
            self.slot_json(s, [x for x in signups if x.slot_id == s.id], member, organizing)
            for s in slots
        ]
        return data

    def slot_json(
        self, slot: Slot, signups: list[Signup], viewer: Member, organizing: bool
    ) -> dict[str, Any]:
        mine = None
        waiting = 0
        roster = []
        for signup in signups:
            if signup.status == SignupStatus.WAITLISTED:
                waiting += 1
            position = waiting if signup.status == SignupStatus.WAITLISTED else None
            if signup.member_id == viewer.id:
                mine = {"status": str(signup.status), "position": position, "hidden": signup.hidden}
            # Handles only; a member hidden from the roster is seen by the
            # organizer (and by themselves), nobody else.
            if signup.hidden and not organizing and signup.member_id != viewer.id:
                continue
            if signup.member.handle is None:
                continue
            entry: dict[str, Any] = {"handle": signup.member.handle, "status": str(signup.status)}
            if organizing:
                entry["hidden"] = signup.hidden
                entry["attended"] = signup.attended
                entry["hours"] = signup.hours
            roster.append(entry)
        return {
            "id": slot.id,
            "starts_at": self._local(slot.starts_at, viewer),
            "ends_at": self._local(slot.ends_at, viewer),
            "capacity": slot.capacity,
            "confirmed_count": slot.confirmed_count,
            "waitlisted_count": slot.waitlisted_count,
            "my_signup": mine,
            "roster": roster,
        }

    async def set_status(self, member: Member, opportunity_id: int, status: str) -> Opportunity:
        """The organizer (or a moderator) closes or cancels a listing, or opens it again."""
        opportunity = await self.visible(member, opportunity_id)
        if opportunity.organizer_id != member.id and not is_moderator(member):
            raise Forbidden("Only its organizer changes a listing.")
        allowed = {
            "open": OpportunityStatus.OPEN,
            "closed": OpportunityStatus.CLOSED,
            "cancelled": OpportunityStatus.CANCELLED,
        }
        if status not in allowed:
            raise ValidationFailed({"status": ["open, closed or cancelled"]})
        if opportunity.status in (OpportunityStatus.PENDING_REVIEW, OpportunityStatus.REJECTED):
            raise Conflict("A moderator has not approved this listing.")
        opportunity.status = allowed[status]
        await opportunity.save(update_fields=["status"])
        if opportunity.status == OpportunityStatus.CANCELLED:
            await self._tell_participants(
                opportunity,
                "opportunity_cancelled",
                f"<p>{opportunity.title} was cancelled by its organizer.</p>",
            )
        return opportunity

    # -- sign-ups --------------------------------------------------------------------

    async def _slot(self, member: Member, slot_id: int) -> Slot:
        slot = await Slot.get_or_none(id=slot_id).select_related("opportunity")
        if slot is None:
            raise NotFound("No such slot.")
        await self.visible(member, slot.opportunity_id)
        return slot

    async def sign_up(self, member: Member, slot_id: int) -> SignedUp:
        self.moderation.ensure_may_write(member)
        slot = await self._slot(member, slot_id)
        opportunity = slot.opportunity
        now = self.settings.now()
        if opportunity.status != OpportunityStatus.OPEN:
            raise Conflict("This opportunity is not taking sign-ups.")
        if slot.starts_at <= now:
            raise Conflict("This slot has started: sign-up closed at its start.")
        self._meets(member, opportunity, now)
        async with in_transaction():
            locked = await Slot.filter(id=slot.id).select_for_update().get()
            # The place in the queue is taken under the lock: a time read
            # before it could put a later sign-up ahead of an earlier one.
            now = self.settings.now()
            signup = await Signup.get_or_none(slot_id=slot.id, member_id=member.id)
            if signup is not None and signup.status in ACTIVE:
                raise Conflict("You are signed up for this slot already.")
            if signup is not None and signup.status == SignupStatus.REMOVED:
                raise Forbidden("The organizer took you off this slot.")
            return await self._join(locked, member.id, signup, now, hidden=False)

    async def _join(
        self,
        locked: Slot,
        member_id: int,
        signup: Signup | None,
        now: dt.datetime,
        *,
        hidden: bool,
    ) -> SignedUp:
        """Take a seat or a place in the queue (inside the transaction holding the slot's lock)."""
        status = (
            SignupStatus.CONFIRMED
            if locked.confirmed_count < locked.capacity
            else SignupStatus.WAITLISTED
        )
        if signup is None:
            signup = await Signup.create(
                slot_id=locked.id, member_id=member_id, status=status, queued_at=now, hidden=hidden
            )
        else:
            # Joining again after leaving: the back of the queue.
            signup.status, signup.queued_at, signup.hidden = status, now, hidden
            await signup.save(update_fields=["status", "queued_at", "hidden"])
        await self._count(locked.id, status, +1)
        position = await self._position(signup) if status == SignupStatus.WAITLISTED else None
        return SignedUp(status, position)

    def _meets(self, member: Member, opportunity: Opportunity, now: dt.datetime) -> None:
        days = opportunity.min_sober_days
        if not days:
            return
        sober = member.sobriety_date
        if sober is None or (now.date() - sober).days < days:
            raise Forbidden(
                f"This asks for at least {days} days of sobriety, from the date in your profile."
            )

    @staticmethod
    async def _count(slot_id: int, status: SignupStatus, delta: int) -> None:
        column = "confirmed_count" if status == SignupStatus.CONFIRMED else "waitlisted_count"
        await Slot.filter(id=slot_id).update(**{column: F(column) + delta})

    @staticmethod
    async def _position(signup: Signup) -> int:
        ahead = await Signup.filter(
            Q(queued_at__lt=signup.queued_at) | Q(queued_at=signup.queued_at, id__lt=signup.id),
            slot_id=signup.slot_id,
            status=SignupStatus.WAITLISTED,
        ).count()
        return ahead + 1

    async def cancel(self, member: Member, slot_id: int) -> None:
        slot = await self._slot(member, slot_id)
        if slot.starts_at <= self.settings.now():
            raise Conflict("This slot has started; tell the organizer instead.")
        promoted = await self._leave(slot, member.id, SignupStatus.CANCELLED)
        await self._after_promotion(slot, promoted)

    async def _leave(self, slot: Slot, member_id: int, how: SignupStatus) -> Signup | None:
        """Take a member off a slot; promote the first wait-listed into a freed seat."""
        async with in_transaction():
            await Slot.filter(id=slot.id).select_for_update().get()
            signup = await Signup.get_or_none(slot_id=slot.id, member_id=member_id)
            if signup is None or signup.status not in ACTIVE:
                raise NotFound("Not signed up for this slot.")
            was = signup.status
            signup.status = how
            await signup.save(update_fields=["status"])
            await self._count(slot.id, was, -1)
            if was != SignupStatus.CONFIRMED:
                return None
            first = (
                await Signup.filter(slot_id=slot.id, status=SignupStatus.WAITLISTED)
                .order_by("queued_at", "id")
                .first()
            )
            if first is None:
                return None
            first.status = SignupStatus.CONFIRMED
            await first.save(update_fields=["status"])
            await self._count(slot.id, SignupStatus.WAITLISTED, -1)
            await self._count(slot.id, SignupStatus.CONFIRMED, +1)
            return first

    async def _after_promotion(self, slot: Slot, promoted: Signup | None) -> None:
        if promoted is None:
            return
        title = slot.opportunity.title
        await self.notifications.notify(
            promoted.member_id,
            "waitlist_promoted",
            f"<p>A place opened up: you are now confirmed for {title} "
            f"({slot.starts_at:%Y-%m-%d %H:%M} UTC).</p>",
            target=("slot", slot.id),
        )

    async def set_hidden(self, member: Member, slot_id: int, hidden: bool) -> None:
        updated = await Signup.filter(
            slot_id=slot_id, member_id=member.id, status__in=ACTIVE
        ).update(hidden=hidden)
        if not updated:
            raise NotFound("Not signed up for this slot.")

    # -- the organizer ---------------------------------------------------------------

    async def _organized_slot(self, member: Member, slot_id: int) -> Slot:
        slot = await self._slot(member, slot_id)
        if slot.opportunity.organizer_id != member.id and not is_moderator(member):
            raise Forbidden("Only the organizer does this.")
        return slot

    async def _participant(self, handle: str) -> Member:
        found = await Member.get_or_none(handle_key=handles.key(handle)[:64])
        if found is None:
            raise NotFound("No member has that handle.")
        return found

    async def remove(self, organizer: Member, slot_id: int, handle: str) -> None:
        slot = await self._organized_slot(organizer, slot_id)
        target = await self._participant(handle)
        promoted = await self._leave(slot, target.id, SignupStatus.REMOVED)
        await self.notifications.notify(
            target.id,
            "signup_removed",
            f"<p>The organizer took you off a slot of {slot.opportunity.title}.</p>",
            target=("slot", slot.id),
        )
        await self._after_promotion(slot, promoted)

    async def move(self, organizer: Member, slot_id: int, handle: str, to_slot_id: int) -> SignedUp:
        """Move a participant to another slot of the same listing (at the back of its queue
        if it is full)."""
        slot = await self._organized_slot(organizer, slot_id)
        target_slot = await self._organized_slot(organizer, to_slot_id)
        if target_slot.opportunity_id != slot.opportunity_id or target_slot.id == slot.id:
            raise ValidationFailed({"to_slot": ["another slot of the same opportunity"]})
        if target_slot.starts_at <= self.settings.now():
            raise Conflict("That slot has started.")
        participant = await self._participant(handle)
        if await Signup.filter(
            slot_id=target_slot.id, member_id=participant.id, status__in=ACTIVE
        ).exists():
            raise Conflict("They are signed up for that slot already.")
        current = await Signup.get_or_none(slot_id=slot.id, member_id=participant.id)
        hidden = bool(current and current.hidden)
        promoted = await self._leave(slot, participant.id, SignupStatus.CANCELLED)
        async with in_transaction():
            locked = await Slot.filter(id=target_slot.id).select_for_update().get()
            existing = await Signup.get_or_none(slot_id=target_slot.id, member_id=participant.id)
            if existing is not None and existing.status in ACTIVE:
                raise Conflict("They are signed up for that slot already.")
            joined = await self._join(
                locked, participant.id, existing, self.settings.now(), hidden=hidden
            )
        await self.notifications.notify(
            participant.id,
            "signup_moved",
            f"<p>The organizer moved you to another slot of {slot.opportunity.title} "
            f"({target_slot.starts_at:%Y-%m-%d %H:%M} UTC).</p>",
            target=("slot", target_slot.id),
        )
        await self._after_promotion(slot, promoted)
        return joined

    async def message(self, organizer: Member, opportunity_id: int, text: str) -> int:
        opportunity = await self.visible(organizer, opportunity_id)
        if opportunity.organizer_id != organizer.id and not is_moderator(organizer):
            raise Forbidden("Only the organizer messages participants.")
        self.moderation.ensure_may_write(organizer)
        if not text.strip() or len(text) > 2000:
            raise ValidationFailed({"text": ["1 to 2000 characters"]})
        return await self._tell_participants(
            opportunity,
            "organizer_message",
            f"<p>From the organizer of {opportunity.title}:</p>{render_markdown(text)}",
        )

    async def _tell_participants(self, opportunity: Opportunity, kind: str, html: str) -> int:
        ids: list[int] = await Signup.filter(  # type: ignore[assignment]
            slot__opportunity_id=opportunity.id, status__in=ACTIVE
        ).values_list("member_id", flat=True)
        members = list(dict.fromkeys(ids))
        await self.notifications.notify_many(
            members, kind, html, target=("opportunity", opportunity.id)
        )
        return len(members)

    async def attendance(
        self, organizer: Member, slot_id: int, handle: str, attended: bool, hours: Any
    ) -> dict[str, Any]:
        slot = await self._organized_slot(organizer, slot_id)
        if slot.ends_at > self.settings.now():
            raise Conflict("Attendance is marked after the slot has ended.")
        participant = await self._participant(handle)
        if participant.id == organizer.id:
            raise Forbidden("Hours cannot be self-confirmed: a moderator can confirm yours.")
        signup = await Signup.get_or_none(
            slot_id=slot.id, member_id=participant.id, status=SignupStatus.CONFIRMED
        )
        if signup is None:
            raise NotFound("They were not confirmed for this slot.")
        length = (slot.ends_at - slot.starts_at).total_seconds() / 3600
        if hours is None:
            hours = round(length, 2) if attended else 0.0
        if (
            not isinstance(hours, (int, float))
            or isinstance(hours, bool)
            or not 0 <= hours <= 24 * 7
        ):
            raise ValidationFailed({"hours": ["a number of hours, 0 to 168"]})
        signup.attended, signup.hours = attended, float(hours) if attended else 0.0
        await signup.save(update_fields=["attended", "hours"])
        return {"handle": participant.handle, "attended": attended, "hours": signup.hours}

    async def hours(self, member: Member) -> dict[str, Any]:
        """The member's confirmed service, newest first, and the total."""
        rows = (
            await Signup.filter(member_id=member.id, attended=True)
            .order_by("-slot__starts_at")
            .select_related("slot__opportunity")
        )
        return {
            "total_hours": round(sum(r.hours or 0.0 for r in rows), 2),
            "shared": member.share_service_hours,
            "items": [
                {
                    "opportunity": r.slot.opportunity.title,
                    "starts_at": self._local(r.slot.starts_at, member),
                    "hours": r.hours,
                }
                for r in rows
            ],
        }

    async def member_erased(self, member_id: int) -> None:
        """An erased member's places are given up (the next in line moves up)."""
        signups = await Signup.filter(member_id=member_id, status__in=ACTIVE).select_related(
            "slot__opportunity"
        )
        for signup in signups:
            try:
                promoted = await self._leave(signup.slot, member_id, SignupStatus.CANCELLED)
            except NotFound:
                continue
            if signup.slot.starts_at > self.settings.now():
                await self._after_promotion(signup.slot, promoted)

    # -- reminders -----------------------------------------------------------------

    async def send_reminders(self) -> int:
        """Remind confirmed members 24 hours and 1 hour before their slot; returns how many.

        Each slot's reminder is claimed with a conditional update in the same
        transaction that writes the notifications: with several processes
        running this, one claims it and the others find it taken; a crash
        rolls both back, so the next round sends it. Once each, never lost.
        """
        now = self.settings.now()
        sent = 0
        windows = (
            ("1h", dt.timedelta(hours=1), ["", "24h"], "within the hour"),
            ("24h", dt.timedelta(hours=24), [""], "within a day"),
        )
        for mark, ahead, before, when in windows:
            due = await Slot.filter(
                starts_at__gt=now,
                starts_at__lte=now + ahead,
                reminded__in=before,
                # Closed listings keep their slots (and people): they are reminded too.
                opportunity__status__in=[OpportunityStatus.OPEN, OpportunityStatus.CLOSED],
            ).select_related("opportunity")
            for slot in due:
                notes = []
                async with in_transaction():
                    claimed = await Slot.filter(id=slot.id, reminded__in=before).update(
                        reminded=mark
                    )
                    if not claimed:
                        continue  # another process has it
                    members = await Signup.filter(
                        slot_id=slot.id, status=SignupStatus.CONFIRMED
                    ).values_list("member_id", flat=True)
                    for member_id in members:
                        notes.append(
                            await self.notifications.store(
                                int(member_id),  # type: ignore[call-overload]
                                "slot_reminder",
                                f"<p>Reminder: {slot.opportunity.title} starts {when} "
                                f"({slot.starts_at:%Y-%m-%d %H:%M} UTC).</p>",
                                target=("slot", slot.id),
                            )
                        )
                for note in notes:
                    await self.notifications.announce(note)
                sent += len(notes)
        return sent

    async def run_reminders(self, every: float = 60.0) -> None:
        """The lifespan's background task: a round of reminders every minute."""
        import asyncio
        import logging

        while True:
            try:
                await self.send_reminders()
            except Exception:
                logging.getLogger("alumni_community.board").exception("reminders failed")
            await asyncio.sleep(every)

    async def decided(self, item: ReviewItem, decision: str, note: str) -> None:
        """A moderator's decision on a held listing."""
        opportunity = item.opportunity
        if opportunity is None or decision not in ("approve", "reject"):
            return
        if item.kind == ReviewKind.CRISIS:
            return  # a crisis handled says nothing about whether the listing may go up
        approved = decision == "approve"
        if approved and opportunity.status != OpportunityStatus.PENDING_REVIEW:
            return  # a flagged listing left up stays as it is
        if not approved and opportunity.status == OpportunityStatus.REJECTED:
            return
        opportunity.status = OpportunityStatus.OPEN if approved else OpportunityStatus.REJECTED
        await opportunity.save(update_fields=["status"])
        await self.notifications.notify(
            opportunity.organizer_id,
            "listing_approved" if approved else "listing_rejected",
            "<p>A moderator approved your listing; members can sign up now.</p>"
            if approved
            else f"<p>A moderator did not approve your listing. The reason: {escape(note)}</p>",
            target=("opportunity", opportunity.id),
        )
