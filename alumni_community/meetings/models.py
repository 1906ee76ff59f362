"""Database models of meetings: weekly meetings and their exceptions."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from ..identity.models import Member
from ..rooms.models import Room

__all__ = ["Meeting", "MeetingException"]

# Plain "#" comments on fields, not "#:": see rooms/models.py.


class Meeting(Model):
    room_id: int | None  # set by Tortoise beside the relations; declared for type checkers

    id = fields.IntField(primary_key=True)
    # Escaped plain text.
    name = fields.CharField(max_length=1200)
    # For the Meeting Guide feed: unique, lower case.
    slug = fields.CharField(max_length=64, unique=True)
    # Weekdays as in the Meeting Guide spec: 0 = Sunday ... 6 = Saturday.
    days: list[int] = fields.JSONField(default=list)
    # Local wall-clock times "HH:MM" in ``timezone``.
    time = fields.CharField(max_length=5)
    end_time = fields.CharField(max_length=5)
    timezone = fields.CharField(max_length=64)
    # Meeting Guide type codes, e.g. ["O", "D"].
    types: list[str] = fields.JSONField(default=list)
    # Escaped plain text: where it meets in person, or "".
    location = fields.CharField(max_length=1200, default="")
    conference_url = fields.CharField(max_length=500, default="")
    conference_phone = fields.CharField(max_length=64, default="")
    notes = fields.TextField(default="")
    # Listed in the public Meeting Guide feed (the centre's choice, off by default).
    public = fields.BooleanField(default=False)
    # The community room whose chat is the meeting's chat.
    room: fields.ForeignKeyNullableRelation[Room] = fields.ForeignKeyField(
        "alumni_community.Room", related_name="meetings", null=True, on_delete=fields.SET_NULL
    )
    created_by: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="meetings", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "ac_meeting"
        app = "alumni_community"


class MeetingException(Model):
    """One date of a meeting that differs: cancelled, or at another time or place."""

    meeting_id: int  # set by Tortoise beside the relation; declared for type checkers

    id = fields.IntField(primary_key=True)
    meeting: fields.ForeignKeyRelation[Meeting] = fields.ForeignKeyField(
        "alumni_community.Meeting", related_name="exceptions", on_delete=fields.CASCADE
    )
    # The local date (in the meeting's time zone) it would have met.
    date = fields.DateField()
    cancelled = fields.BooleanField(default=False)
    # A one-off change ("" = as usual).
    time = fields.CharField(max_length=5, default="")
    end_time = fields.CharField(max_length=5, default="")
    location = fields.CharField(max_length=1200, default="")
    notes = fields.TextField(default="")

    class Meta:
        table = "ac_meeting_exception"
        app = "alumni_community"
        unique_together = (("meeting", "date"),)
