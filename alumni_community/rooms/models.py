"""Database models of the rooms domain."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

__all__ = ["Moderation", "Room", "Visibility"]


class Visibility(StrEnum):
    #: Every member sees and may join the room.
    PUBLIC = "public"
    #: Only members a room moderator invited see it.
    PRIVATE = "private"


class Moderation(StrEnum):
    #: Trust rules decide which posts are held (new members' first posts).
    STANDARD = "standard"
    #: Every post waits for a moderator: for rooms where a harmful post costs most.
    PREMODERATED = "premoderated"


# Plain "#" comments on fields, not "#:": Tortoise turns "#:" comments into
# column comments, and its SQLite migrations split DDL on ";" even inside them.


class Room(Model):
    id = fields.IntField(primary_key=True)
    # The room's name in URLs: lower case letters, digits and hyphens.
    slug = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=120)
    description = fields.TextField(default="")
    visibility = fields.CharEnumField(Visibility, max_length=16, default=Visibility.PUBLIC)
    moderation = fields.CharEnumField(Moderation, max_length=16, default=Moderation.STANDARD)
    # Position in room lists: lower first, then by name.
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ac_room"
        app = "alumni_community"
        ordering = ("position", "name")

    def __str__(self) -> str:
        return self.slug
