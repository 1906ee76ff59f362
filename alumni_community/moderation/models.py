"""Database models of moderation: the review queue."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from tortoise import fields
from tortoise.models import Model

from ..identity.models import Member
from ..rooms.models import Post

__all__ = ["ReviewItem", "ReviewKind", "ReviewState", "Urgency"]

# Plain "#" comments on fields, not "#:": see rooms/models.py.


class ReviewKind(StrEnum):
    # A post held before publication (new member, or a fully reviewed room).
    HELD = "held"
    # A published post whose author may be in danger.
    CRISIS = "crisis"
    # A post published after its author confirmed it names identifying details.
    IDENTIFYING = "identifying"


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
    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(ReviewKind, max_length=16)
    state = fields.CharEnumField(ReviewState, max_length=16, default=ReviewState.OPEN)
    urgency = fields.SmallIntField(default=Urgency.NORMAL)
    # What is under review: one post for now (chat messages, listings and
    # members join as their domains arrive).
    post: fields.ForeignKeyNullableRelation[Post] = fields.ForeignKeyField(
        "alumni_community.Post", related_name="review_items", null=True, on_delete=fields.CASCADE
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
    decision = fields.CharField(max_length=16, default="")
    # The reason shown to the author when a post is rejected.
    note = fields.TextField(default="")
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ac_review_item"
        app = "alumni_community"
        # The queue's order: open items, most urgent, then oldest.
        indexes = (("state", "urgency", "created_at"),)
