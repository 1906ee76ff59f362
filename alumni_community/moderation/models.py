"""Database models of moderation: the review queue."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from tortoise import fields
from tortoise.models import Model

from ..chat.models import Message
from ..identity.models import Member
from ..opportunities.models import Opportunity
from ..rooms.models import Post

__all__ = [
    "AuditEntry",
    "Flag",
    "FlagReason",
    "FlagStatus",
    "ReviewItem",
    "ReviewKind",
    "ReviewState",
    "Urgency",
    "WatchedWordRow",
]

# Plain "#" comments on fields, not "#:": see rooms/models.py.


class ReviewKind(StrEnum):
    # A post held before publication (new member, or a fully reviewed room).
    HELD = "held"
    # A published post whose author may be in danger.
    CRISIS = "crisis"
    # A post published after its author confirmed it names identifying details.
    IDENTIFYING = "identifying"
    # Content or a member flagged by members.
    FLAGGED = "flagged"
    # An author asking again about a hidden or rejected post, or a member
    # about a silence: decided by a different moderator.
    APPEAL = "appeal"


class ReviewState(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class Urgency(IntEnum):
    """Queue order: higher first. A crisis comes before everything else."""

    NORMAL = 0
    IDENTIFYING = 10
    CRISIS = 100


class ReviewItem(Model):
    # Set by Tortoise beside the relations; declared for type checkers.
    claimed_by_id: int | None
    decided_by_id: int | None
    recused_id: int | None
    post_id: int | None
    message_id: int | None
    opportunity_id: int | None
    subject_id: int | None

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(ReviewKind, max_length=16)
    state = fields.CharEnumField(ReviewState, max_length=16, default=ReviewState.OPEN)
    urgency = fields.SmallIntField(default=Urgency.NORMAL)
    # What is under review: one post for now (chat messages, listings and
    # members join as their domains arrive).
    post: fields.ForeignKeyNullableRelation[Post] = fields.ForeignKeyField(
        "alumni_community.Post", related_name="review_items", null=True, on_delete=fields.CASCADE
    )
    # Or a chat message.
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "alumni_community.Message",
        related_name="review_items",
        null=True,
        on_delete=fields.CASCADE,
    )
    # Or a listing on the service board.
    opportunity: fields.ForeignKeyNullableRelation[Opportunity] = fields.ForeignKeyField(
        "alumni_community.Opportunity",
        related_name="review_items",
        null=True,
        on_delete=fields.CASCADE,
    )
    # Or a member under review (a flagged member).
    subject: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member",
        related_name="reviews_about",
        null=True,
        on_delete=fields.CASCADE,
    )
    # Why it is here, for the moderator (e.g. which crisis phrase matched).
    reason = fields.TextField(default="")
    created_at = fields.DatetimeField()
    claimed_by: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member",
        related_name="claimed_reviews",
        null=True,
        on_delete=fields.SET_NULL,
    )
    decided_by: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member",
        related_name="decided_reviews",
        null=True,
        on_delete=fields.SET_NULL,
    )
    # The moderator who made the decision under appeal: someone else decides.
    recused: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member",
        related_name="recused_reviews",
        null=True,
        on_delete=fields.SET_NULL,
    )
    # For an appeal: the audit entry (for a silence) it appeals against.
    appeal_of = fields.IntField(null=True)
    decision = fields.CharField(max_length=16, default="")
    # The reason shown to the author when a post is rejected.
    note = fields.TextField(default="")
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ac_review_item"
        app = "alumni_community"
        # The queue's order: open items, most urgent, then oldest.
        indexes = (("state", "urgency", "created_at"),)


class FlagReason(StrEnum):
    SPAM = "spam"
    HARASSMENT = "harassment"
    # Reveals someone's identity.
    IDENTIFYING = "identifying"
    # Someone may be in danger.
    CRISIS = "crisis"
    # Needs a note saying what is wrong.
    OTHER = "other"


class FlagStatus(StrEnum):
    OPEN = "open"
    # A moderator agreed (the content was rejected) or disagreed (approved):
    # how often a member's flags are agreed with is their accuracy.
    AGREED = "agreed"
    DISAGREED = "disagreed"
    # A crisis flag a moderator has seen: not scored either way, since
    # fearing for someone is never a wrong flag.
    NOTED = "noted"


class Flag(Model):
    flagger_id: int  # set by Tortoise beside the relation; declared for type checkers

    id = fields.IntField(primary_key=True)
    flagger: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="flags_made", on_delete=fields.CASCADE
    )
    # What was flagged: "post" or "member", and its id.
    target_type = fields.CharField(max_length=16)
    target_id = fields.IntField()
    reason = fields.CharEnumField(FlagReason, max_length=16)
    note = fields.TextField(default="")
    # 1 + the flagger's trust level (moderators 5), fixed when the flag is made.
    weight = fields.SmallIntField()
    status = fields.CharEnumField(FlagStatus, max_length=16, default=FlagStatus.OPEN)
    created_at = fields.DatetimeField()

    class Meta:
        table = "ac_flag"
        app = "alumni_community"
        # One flag per member per target.
        unique_together = (("flagger", "target_type", "target_id"),)
        indexes = (("target_type", "target_id", "status"),)


class AuditEntry(Model):
    """One moderator action or decision. Append-only: the database refuses updates and deletes."""

    actor_id: int | None  # set by Tortoise beside the relation; declared for type checkers

    id = fields.IntField(primary_key=True)
    at = fields.DatetimeField()
    # The moderator; shown by their current handle, so an erased moderator's
    # handle is not kept here either.
    actor: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member",
        related_name="audit_as_actor",
        null=True,
        on_delete=fields.RESTRICT,
    )
    action = fields.CharField(max_length=32)
    target_type = fields.CharField(max_length=16)
    target_id = fields.IntField()
    reason = fields.TextField(default="")
    until = fields.DatetimeField(null=True)

    class Meta:
        table = "ac_audit_log"
        app = "alumni_community"
        indexes = (("target_type", "target_id"),)


class WatchedWordRow(Model):
    """A word or pattern moderators watch for, and what happens when it appears."""

    id = fields.IntField(primary_key=True)
    pattern = fields.CharField(max_length=200)
    is_regex = fields.BooleanField(default=False)
    # block, hold, flag or censor (see moderation/detection.py).
    action = fields.CharField(max_length=16)
    created_by: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member",
        related_name="watched_words",
        null=True,
        on_delete=fields.SET_NULL,
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "ac_watched_word"
        app = "alumni_community"
