"""Database models of the service board: opportunities, slots, sign-ups, sponsorship."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from ..identity.models import Member

__all__ = [
    "Kind",
    "Opportunity",
    "OpportunityStatus",
    "Signup",
    "SignupStatus",
    "Slot",
    "SponsorOffer",
    "SponsorRequest",
    "Sponsorship",
]

# Plain "#" comments on fields, not "#:": see rooms/models.py.


class Kind(StrEnum):
    VOLUNTEER = "volunteer"
    MEETING_SERVICE = "meeting_service"
    MENTORING = "mentoring"
    SPONSORSHIP = "sponsorship"
    OTHER = "other"


class OpportunityStatus(StrEnum):
    # Listed by a member below trust level 2: a moderator looks first.
    PENDING_REVIEW = "pending_review"
    OPEN = "open"
    # No more sign-ups; the slots and hours stay.
    CLOSED = "closed"
    CANCELLED = "cancelled"
    # A moderator rejected it.
    REJECTED = "rejected"


class Opportunity(Model):
    organizer_id: int  # set by Tortoise beside the relation; declared for type checkers

    id = fields.IntField(primary_key=True)
    organizer: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="opportunities", on_delete=fields.RESTRICT
    )
    # Escaped plain text, like thread titles (200 characters typed, 6 each escaped).
    title = fields.CharField(max_length=1200)
    body = fields.TextField(default="")
    html = fields.TextField(default="")
    kind = fields.CharEnumField(Kind, max_length=32)
    # Escaped plain text, or "online".
    location = fields.CharField(max_length=1200, default="")
    # Lower-case tags and skills, e.g. ["kitchen", "driving"].
    tags: list[str] = fields.JSONField(default=list)
    # Minimum self-declared sobriety time in days to sign up (e.g. 365 to sponsor).
    min_sober_days = fields.IntField(null=True)
    status = fields.CharEnumField(
        OpportunityStatus, max_length=16, default=OpportunityStatus.PENDING_REVIEW
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "ac_opportunity"
        app = "alumni_community"
        # The board's keyset order.
        indexes = (("status", "id"),)


class Slot(Model):
    opportunity_id: int  # set by Tortoise beside the relation; declared for type checkers

    id = fields.IntField(primary_key=True)
    opportunity: fields.ForeignKeyRelation[Opportunity] = fields.ForeignKeyField(
        "alumni_community.Opportunity", related_name="slots", on_delete=fields.CASCADE
    )
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    capacity = fields.IntField()
    # Kept in the same transaction as the sign-ups they count (the slot's
    # row is locked while they change), so lists need no count queries.
    confirmed_count = fields.IntField(default=0)
    waitlisted_count = fields.IntField(default=0)
    # Reminders already sent: "24h", "1h" (each goes out once).
    reminded = fields.CharField(max_length=16, default="")

    class Meta:
        table = "ac_slot"
        app = "alumni_community"
        # Reminders by time; a listing's slots in order.
        indexes = (("starts_at",), ("opportunity_id", "starts_at"))


class SignupStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    # Taken off the slot by its organizer.
    REMOVED = "removed"


class Signup(Model):
    slot_id: int  # set by Tortoise beside the relations; declared for type checkers
    member_id: int

    id = fields.IntField(primary_key=True)
    slot: fields.ForeignKeyRelation[Slot] = fields.ForeignKeyField(
        "alumni_community.Slot", related_name="signups", on_delete=fields.CASCADE
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="signups", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(SignupStatus, max_length=16)
    # Waitlist order: the earliest (then the lowest id) is promoted first.
    queued_at = fields.DatetimeField()
    # Shown to other participants or not (the organizer always sees).
    hidden = fields.BooleanField(default=False)
    # After the slot: the organizer's word. Hours are confirmed service.
    attended = fields.BooleanField(null=True)
    hours = fields.FloatField(null=True)

    class Meta:
        table = "ac_signup"
        app = "alumni_community"
        unique_together = (("slot", "member"),)
        indexes = (("slot_id", "status", "queued_at", "id"),)


class SponsorOffer(Model):
    """A member willing to sponsor: how many, and a short note."""

    member_id: int  # set by Tortoise beside the relation; declared for type checkers

    id = fields.IntField(primary_key=True)
    member: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "alumni_community.Member", related_name="sponsor_offer", on_delete=fields.CASCADE
    )
    capacity = fields.SmallIntField(default=1)
    note = fields.TextField(default="")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "ac_sponsor_offer"
        app = "alumni_community"


class SponsorRequest(Model):
    """A member asking for a sponsor. The note is seen by potential sponsors only."""

    member_id: int  # set by Tortoise beside the relations; declared for type checkers
    sponsor_id: int | None

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="sponsor_requests", on_delete=fields.CASCADE
    )
    note = fields.TextField(default="")
    # A newcomer asking one listed sponsor; NULL: any potential sponsor may accept.
    sponsor: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member",
        related_name="sponsor_asks",
        null=True,
        on_delete=fields.CASCADE,
    )
    # Open until matched or withdrawn.
    open = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "ac_sponsor_request"
        app = "alumni_community"


class Sponsorship(Model):
    """A match, seen by the two members and moderators only."""

    sponsor_id: int  # set by Tortoise beside the relations; declared for type checkers
    sponsee_id: int

    id = fields.IntField(primary_key=True)
    sponsor: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="sponsoring", on_delete=fields.CASCADE
    )
    sponsee: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="sponsored_by", on_delete=fields.CASCADE
    )
    # The direct conversation the match opened.
    room_slug = fields.CharField(max_length=64, default="")
    started_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ac_sponsorship"
        app = "alumni_community"
