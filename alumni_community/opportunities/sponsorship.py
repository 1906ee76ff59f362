"""Sponsorship: offers, requests and matches.

A member with enough sobriety time (``Settings.sponsor_min_sober_days``)
may offer to sponsor, with a capacity and a short note; listed sponsors are
seen by every member. A member may ask for a sponsor: in general (the note
is seen only by members offering to sponsor) or one listed sponsor (seen by
that sponsor only). A sponsor accepts; the two get a direct conversation and
the match is recorded, seen by the two and by moderators. Either side can
end it.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from ..chat.models import Block
from ..chat.service import Chat
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..identity import handles
from ..identity.models import Member, MemberStatus
from ..identity.service import member_json
from ..moderation.detection import find_crisis
from ..moderation.service import Moderation, Notice, is_moderator
from ..notifications.service import Notifications, escape
from ..settings import Settings
from .models import SponsorOffer, SponsorRequest, Sponsorship

__all__ = ["Sponsorships"]

MAX_NOTE = 1000
#: Members whose offers and requests are shown (not suspended, banned or erased).
_LISTED = [MemberStatus.ACTIVE, MemberStatus.SILENCED]


class Sponsorships:
    def __init__(
        self,
        settings: Settings,
        moderation: Moderation,
        notifications: Notifications,
        chat: Chat,
    ) -> None:
        self.settings = settings
        self.moderation = moderation
        self.notifications = notifications
        self.chat = chat

    def _note(self, value: Any, limit: int = MAX_NOTE) -> str:
        if not isinstance(value, str) or len(value) > limit:
            raise ValidationFailed({"note": [f"text of at most {limit} characters"]})
        return value.strip()

    def _eligible(self, member: Member) -> None:
        need = self.settings.sponsor_min_sober_days
        sober = member.sobriety_date
        if sober is None or (self.settings.now().date() - sober).days < need:
            raise Forbidden(
                f"Offering to sponsor asks for at least {need} days of sobriety, "
                "from the date in your profile."
            )

    async def offer(self, member: Member, capacity: Any, note: Any) -> SponsorOffer:
        self.moderation.ensure_may_write(member)
        self._eligible(member)
        if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= 10:
            raise ValidationFailed({"capacity": ["1 to 10 sponsees"]})
        text = self._note(note, 500)
        offer, made = await SponsorOffer.get_or_create(
            member=member,
            defaults={"capacity": capacity, "note": text, "created_at": self.settings.now()},
        )
        if not made:
            offer.capacity, offer.note, offer.active = capacity, text, True
            await offer.save(update_fields=["capacity", "note", "active"])
        return offer

    async def withdraw_offer(self, member: Member) -> None:
        if not await SponsorOffer.filter(member_id=member.id, active=True).update(active=False):
            raise NotFound("You have no offer to withdraw.")

    async def request(
        self, member: Member, note: Any, sponsor: Any = None
    ) -> tuple[SponsorRequest, list[Notice]]:
        self.moderation.ensure_may_write(member)
        text = self._note(note)
        target = None
        if sponsor is not None:
            if not isinstance(sponsor, str):
                raise ValidationFailed({"sponsor": ["a listed sponsor's handle"]})
            target = await Member.get_or_none(handle_key=handles.key(sponsor)[:64])
            listed = (
                target is not None
                and await SponsorOffer.filter(member_id=target.id, active=True).exists()
            )
            if target is None or not listed:
                raise NotFound("No listed sponsor has that handle.")
            if target.id == member.id:
                raise ValidationFailed({"sponsor": ["that is you"]})
        if await SponsorRequest.filter(member_id=member.id, open=True).exists():
            raise Conflict("You have an open request already; withdraw it to ask again.")
        made = await SponsorRequest.create(
            member=member, note=text, sponsor=target, created_at=self.settings.now()
        )
        # Someone asking for a sponsor may be in crisis: help, and a moderator, at once.
        crisis = find_crisis(text, self.settings.crisis_phrases)
        if crisis:
            await self.moderation.crisis_about(member, crisis, where="a sponsorship request")
        if target is not None:
            await self.notifications.notify(
                target.id,
                "sponsorship_asked",
                f"<p>@{escape(member.handle or '')} asked if you would sponsor them.</p>",
                target=("sponsor_request", made.id),
            )
        return made, [self.moderation.crisis_notice()] if crisis else []

    async def withdraw_request(self, member: Member, request_id: int) -> None:
        if not await SponsorRequest.filter(id=request_id, member_id=member.id, open=True).update(
            open=False
        ):
            raise NotFound("You have no open request with that id.")

    async def _active_matches(self, sponsor_id: int) -> int:
        count: int = await Sponsorship.filter(sponsor_id=sponsor_id, ended_at=None).count()
        return count

    async def accept(self, sponsor: Member, request_id: int) -> Sponsorship:
        self.moderation.ensure_may_write(sponsor)
        self._eligible(sponsor)
        offer = await SponsorOffer.get_or_none(member_id=sponsor.id, active=True)
        if offer is None:
            raise Forbidden("Offer to sponsor first.")
        wanted = await SponsorRequest.get_or_none(id=request_id, open=True).select_related("member")
        if wanted is None or (wanted.sponsor_id is not None and wanted.sponsor_id != sponsor.id):
            raise NotFound("No open request with that id.")
        if wanted.member_id == sponsor.id:
            raise ValidationFailed({"request": ["you cannot sponsor yourself"]})
        sponsee = wanted.member
        if sponsee.status in (MemberStatus.ERASED, MemberStatus.BANNED):
            raise NotFound("No open request with that id.")
        if await Block.filter(
            Q(member_id=sponsor.id, blocked_id=sponsee.id)
            | Q(member_id=sponsee.id, blocked_id=sponsor.id)
        ).exists():
            raise Forbidden("One of you has blocked the other.")
        async with in_transaction():
            # Of two sponsors accepting at once, one wins.
            taken = await SponsorRequest.filter(id=wanted.id, open=True).update(open=False)
            if not taken:
                raise Conflict("Someone accepted this request a moment ago.")
            if await self._active_matches(sponsor.id) >= offer.capacity:
                raise Conflict("You are sponsoring as many members as you offered to.")
            match = await Sponsorship.create(
                sponsor=sponsor, sponsee=sponsee, started_at=self.settings.now()
            )
        room = await self.chat.direct_between(sponsor, sponsee)
        match.room_slug = room.slug
        await match.save(update_fields=["room_slug"])
        await self.notifications.notify(
            sponsee.id,
            "sponsorship_matched",
            f"<p>@{escape(sponsor.handle or '')} accepted your request and will sponsor "
            "you. A direct conversation is open for the two of you.</p>",
            target=("room", room.id),
        )
        return match

    async def decline(self, sponsor: Member, request_id: int) -> None:
        """Say no to a request asked of this sponsor by name: it closes, and the asker is told.

        A general request cannot be declined (it stays for others to accept).
        It is closed rather than opened to everyone: the asker chose whom to
        ask, and may ask again, anyone or another sponsor.
        """
        asked = await SponsorRequest.get_or_none(id=request_id, sponsor_id=sponsor.id, open=True)
        # Of a decline and a withdrawal at once, one closes it.
        if asked is None or not await SponsorRequest.filter(id=asked.id, open=True).update(
            open=False
        ):
            raise NotFound("No open request to you with that id.")
        await self.notifications.notify(
            asked.member_id,
            "sponsorship_declined",
            f"<p>@{escape(sponsor.handle or '')} is not able to sponsor you right now. Your "
            "request is closed, so you can ask again: anyone offering to sponsor, or another "
            "sponsor.</p>",
        )

    async def end(self, member: Member, match_id: int) -> None:
        match = await Sponsorship.get_or_none(id=match_id, ended_at=None)
        if match is None or member.id not in (match.sponsor_id, match.sponsee_id):
            raise NotFound("No such sponsorship.")
        match.ended_at = self.settings.now()
        await match.save(update_fields=["ended_at"])
        other = match.sponsee_id if member.id == match.sponsor_id else match.sponsor_id
        await self.notifications.notify(
            other, "sponsorship_ended", "<p>A sponsorship of yours has ended.</p>"
        )

    async def board(self, member: Member) -> dict[str, Any]:
        """What this member may see of sponsorship."""
        offers = (
            await SponsorOffer.filter(active=True, member__status__in=_LISTED)
            .select_related("member")
            .order_by("id")
        )
        active = {o.member_id: await self._active_matches(o.member_id) for o in offers}
        mine_offer = next((o for o in offers if o.member_id == member.id), None)
        data: dict[str, Any] = {
            "sponsors": [
                {
                    "member": member_json(o.member),
                    "note": o.note,
                    "open_places": max(0, o.capacity - active[o.member_id]),
                }
                for o in offers
                if o.member_id != member.id
            ],
            "my_offer": (
                {"capacity": mine_offer.capacity, "note": mine_offer.note} if mine_offer else None
            ),
            "my_requests": [
                {"id": r.id, "note": r.note, "created_at": r.created_at.isoformat()}
                for r in await SponsorRequest.filter(member_id=member.id, open=True)
            ],
            "matches": [],
            "requests": [],
        }
        if mine_offer is not None:
            # Requests are seen only by potential sponsors (and only their own asks).
            wanted = (
                await SponsorRequest.filter(open=True, member__status__in=_LISTED)
                .filter(Q(sponsor_id=None) | Q(sponsor_id=member.id))
                .exclude(member_id=member.id)
                .select_related("member")
                .order_by("id")
            )
            data["requests"] = [
                {
                    "id": r.id,
                    "member": member_json(r.member),
                    "note": r.note,
                    "asked_you": r.sponsor_id == member.id,
                    "created_at": r.created_at.isoformat(),
                }
                for r in wanted
            ]
        matches = Sponsorship.filter(ended_at=None)
        if not is_moderator(member):
            matches = matches.filter(Q(sponsor_id=member.id) | Q(sponsee_id=member.id))
        data["matches"] = [
            {
                "id": m.id,
                "sponsor": member_json(m.sponsor),
                "sponsee": member_json(m.sponsee),
                "room": m.room_slug if member.id in (m.sponsor_id, m.sponsee_id) else None,
                "started_at": m.started_at.isoformat(),
            }
            for m in await matches.select_related("sponsor", "sponsee").order_by("id")
        ]
        return data
