"""Database models of the rooms domain: rooms, memberships, threads, posts, revisions."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from ..identity.models import Member

__all__ = [
    "Moderation",
    "Post",
    "PostRevision",
    "PostState",
    "Room",
    "RoomMembership",
    "RoomRole",
    "Thread",
    "Visibility",
]

# Plain "#" comments on fields, not "#:": Tortoise turns "#:" comments into
# column comments, and its SQLite migrations split DDL on ";" even inside them.


class Visibility(StrEnum):
    # Every member sees and may post in the room.
    MEMBERS = "members"
    # Only members a room moderator invited see it (others get 404).
    PRIVATE = "private"


class Moderation(StrEnum):
    # Posts appear at once (the trust and word rules still apply).
    OPEN = "open"
    # New members' posts wait for a moderator until enough are approved.
    NEW_MEMBERS_REVIEWED = "new_members_reviewed"
    # Every post waits for a moderator: for rooms where a harmful post costs most.
    ALL_REVIEWED = "all_reviewed"


class RoomRole(StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"


class PostState(StrEnum):
    VISIBLE = "visible"
    # Held for review: seen only by its author and moderators.
    PENDING = "pending"
    # Hidden by flags or a moderator, pending a decision or an appeal.
    HIDDEN = "hidden"
    # A moderator rejected it; the author saw the reason.
    REJECTED = "rejected"
    # Deleted by its author or a moderator (soft: the row stays for the audit log).
    DELETED = "deleted"


class Room(Model):
    id = fields.IntField(primary_key=True)
    # The room's name in URLs: lower case letters, digits and hyphens.
    slug = fields.CharField(max_length=64, unique=True)
    # Escaped text: up to 120 characters as typed, each at most 6 once
    # escaped ("&quot;"), so the column holds 720.
    name = fields.CharField(max_length=720)
    description = fields.TextField(default="")
    visibility = fields.CharEnumField(Visibility, max_length=16, default=Visibility.MEMBERS)
    moderation = fields.CharEnumField(
        Moderation, max_length=32, default=Moderation.NEW_MEMBERS_REVIEWED
    )
    # Archived rooms stay readable; nothing new can be posted.
    archived = fields.BooleanField(default=False)
    # At most one post per member per this many seconds in this room (0: off).
    slow_mode_seconds = fields.IntField(default=0)
    # Position in room lists: lower first, then by name.
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    # The seq of the room's last chat message. Raising it (UPDATE ... SET
    # last_seq = last_seq + 1) locks the row until commit, so seqs follow
    # commit order even with several processes writing (docs/topics/delivery.md).
    last_seq = fields.IntField(default=0)
    # A direct conversation: a private room of two, without a listing.
    direct = fields.BooleanField(default=False)

    class Meta:
        table = "ac_room"
        app = "alumni_community"
        ordering = ("position", "name")

    def __str__(self) -> str:
        return self.slug


class RoomMembership(Model):
    room_id: int  # set by Tortoise beside the relations; declared for type checkers
    member_id: int

    id = fields.IntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "alumni_community.Room", related_name="memberships", on_delete=fields.CASCADE
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="room_memberships", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(RoomRole, max_length=16, default=RoomRole.MEMBER)
    joined_at = fields.DatetimeField()

    class Meta:
        table = "ac_room_membership"
        app = "alumni_community"
        unique_together = (("room", "member"),)


class Thread(Model):
    id = fields.IntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "alumni_community.Room", related_name="threads", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="threads", on_delete=fields.RESTRICT
    )
    room_id: int  # set by Tortoise beside the relation; declared for type checkers
    author_id: int
    # Escaped plain text (titles are not Markdown): up to 200 characters as
    # typed, each at most 6 once escaped, so the column holds 1200.
    title = fields.CharField(max_length=1200)
    created_at = fields.DatetimeField()
    # Activity order for the room's list (the time of its last visible post).
    last_post_at = fields.DatetimeField()
    # Visible posts, kept with F() updates so concurrent replies never lose a count.
    post_count = fields.IntField(default=0)
    pinned = fields.BooleanField(default=False)
    locked = fields.BooleanField(default=False)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "ac_thread"
        app = "alumni_community"
        # The room list's keyset order.
        indexes = (("room_id", "pinned", "last_post_at", "id"),)


class Post(Model):
    id = fields.IntField(primary_key=True)
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "alumni_community.Thread", related_name="posts", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="posts", on_delete=fields.RESTRICT
    )
    thread_id: int  # set by Tortoise beside the relation; declared for type checkers
    author_id: int
    # The author's Markdown, and the sanitized HTML rendered from it on write.
    body = fields.TextField()
    html = fields.TextField()
    state = fields.CharEnumField(PostState, max_length=16, default=PostState.VISIBLE)
    # The reason a moderator gave when rejecting or hiding it, shown to the author.
    moderation_note = fields.TextField(default="")
    created_at = fields.DatetimeField()
    edited_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ac_post"
        app = "alumni_community"
        # A thread's posts in keyset order.
        indexes = (("thread_id", "id"),)


class PostRevision(Model):
    """A post as it was before an edit: seen by its author and moderators only."""

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "alumni_community.Post", related_name="revisions", on_delete=fields.CASCADE
    )
    body = fields.TextField()
    html = fields.TextField()
    # Who made the edit that replaced this text (the author or a moderator).
    edited_by: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="post_edits", on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "ac_post_revision"
        app = "alumni_community"
