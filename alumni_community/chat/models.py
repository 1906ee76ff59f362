"""Database models of chat: messages with a per-room seq, revisions, reactions,
read markers and blocks."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from ..identity.models import Member
from ..rooms.models import PostState, Room

__all__ = ["Block", "Message", "MessageRevision", "Reaction", "ReadMarker"]

# Plain "#" comments on fields, not "#:": see rooms/models.py.


class Message(Model):
    room_id: int  # set by Tortoise beside the relations; declared for type checkers
    author_id: int

    id = fields.IntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "alumni_community.Room", related_name="messages", on_delete=fields.CASCADE
    )
    # 1, 2, 3... per room, in commit order: what clients resume from.
    seq = fields.IntField()
    author: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="messages", on_delete=fields.RESTRICT
    )
    # Chosen by the sender's client, unique per sender: a resend finds the
    # original instead of making a second message.
    client_id = fields.CharField(max_length=64)
    # The sender's Markdown and the sanitized HTML rendered from it on write.
    body = fields.TextField()
    html = fields.TextField()
    # Same states as a post: visible, pending (held), hidden, rejected, deleted.
    state = fields.CharEnumField(PostState, max_length=16, default=PostState.VISIBLE)
    created_at = fields.DatetimeField()
    edited_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ac_message"
        app = "alumni_community"
        unique_together = (("room", "seq"), ("author", "client_id"))


class MessageRevision(Model):
    """A message as it was before an edit or a deletion: for its author and moderators."""

    id = fields.IntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "alumni_community.Message", related_name="revisions", on_delete=fields.CASCADE
    )
    body = fields.TextField()
    html = fields.TextField()
    edited_by: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="message_edits", on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "ac_message_revision"
        app = "alumni_community"


class Reaction(Model):
    message_id: int  # set by Tortoise beside the relations; declared for type checkers
    member_id: int

    id = fields.IntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "alumni_community.Message", related_name="reactions", on_delete=fields.CASCADE
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="reactions", on_delete=fields.CASCADE
    )
    emoji = fields.CharField(max_length=32)

    class Meta:
        table = "ac_reaction"
        app = "alumni_community"
        unique_together = (("message", "member", "emoji"),)


class ReadMarker(Model):
    """The last seq a member has read in a room: unread = room.last_seq - seq."""

    room_id: int  # set by Tortoise beside the relations; declared for type checkers
    member_id: int

    id = fields.IntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "alumni_community.Room", related_name="read_markers", on_delete=fields.CASCADE
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="read_markers", on_delete=fields.CASCADE
    )
    seq = fields.IntField(default=0)

    class Meta:
        table = "ac_read_marker"
        app = "alumni_community"
        unique_together = (("room", "member"),)


class Block(Model):
    """``member`` does not want direct conversations with ``blocked``."""

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="blocks", on_delete=fields.CASCADE
    )
    blocked: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="blocked_by", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "ac_block"
        app = "alumni_community"
        unique_together = (("member", "blocked"),)
