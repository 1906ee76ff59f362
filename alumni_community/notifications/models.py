"""Database model of notifications."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from ..identity.models import Member

__all__ = ["Notification"]

# Plain "#" comments on fields, not "#:": see rooms/models.py.


class Notification(Model):
    member_id: int  # set by Tortoise beside the relation; declared for type checkers

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="notifications", on_delete=fields.CASCADE
    )
    # What happened, e.g. post_rejected, flag_outcome, warning (stable codes
    # a page or client may style on).
    kind = fields.CharField(max_length=32)
    # Built by the server from escaped text; safe to insert as it is.
    html = fields.TextField()
    # What it is about, for a link: ("post", 12), ("review_item", 3), or none.
    target_type = fields.CharField(max_length=16, default="")
    target_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ac_notification"
        app = "alumni_community"
        # A member's list, newest first, and their unread count.
        indexes = (("member_id", "id"), ("member_id", "read_at"))
