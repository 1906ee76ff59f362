from tortoise import migrations
from tortoise.migrations import operations as ops
from enum import StrEnum
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


# The enums as they were when this migration was written: a migration is
# history, so it never imports today's models.
class Visibility(StrEnum):
    MEMBERS = "members"
    PRIVATE = "private"


class Moderation(StrEnum):
    OPEN = "open"
    NEW_MEMBERS_REVIEWED = "new_members_reviewed"
    ALL_REVIEWED = "all_reviewed"


class RoomRole(StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"


class PostState(StrEnum):
    VISIBLE = "visible"
    PENDING = "pending"
    HIDDEN = "hidden"
    REJECTED = "rejected"
    DELETED = "deleted"


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0002_identity")]

    initial = False

    operations = [
        ops.CreateModel(
            name="RoomMembership",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "room",
                    fields.ForeignKeyField(
                        "alumni_community.Room",
                        source_field="room_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="memberships",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "member",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="member_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="room_memberships",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "role",
                    fields.CharEnumField(
                        default=RoomRole.MEMBER,
                        description="MEMBER: member\nMODERATOR: moderator",
                        enum_type=RoomRole,
                        max_length=16,
                    ),
                ),
                ("joined_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_room_membership",
                "app": "alumni_community",
                "unique_together": (("room", "member"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Thread",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "room",
                    fields.ForeignKeyField(
                        "alumni_community.Room",
                        source_field="room_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="threads",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "author",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="author_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="threads",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("title", fields.CharField(max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("last_post_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("post_count", fields.IntField(default=0)),
                ("pinned", fields.BooleanField(default=False)),
                ("locked", fields.BooleanField(default=False)),
                ("deleted", fields.BooleanField(default=False)),
            ],
            options={
                "table": "ac_thread",
                "app": "alumni_community",
                "indexes": [Index(fields=["room_id", "pinned", "last_post_at", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Post",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "thread",
                    fields.ForeignKeyField(
                        "alumni_community.Thread",
                        source_field="thread_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="posts",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "author",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="author_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="posts",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("body", fields.TextField(unique=False)),
                ("html", fields.TextField(unique=False)),
                (
                    "state",
                    fields.CharEnumField(
                        default=PostState.VISIBLE,
                        description="VISIBLE: visible\nPENDING: pending\nHIDDEN: hidden\nREJECTED: rejected\nDELETED: deleted",
                        enum_type=PostState,
                        max_length=16,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("edited_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_post",
                "app": "alumni_community",
                "indexes": [Index(fields=["thread_id", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="PostRevision",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "post",
                    fields.ForeignKeyField(
                        "alumni_community.Post",
                        source_field="post_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="revisions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("body", fields.TextField(unique=False)),
                ("html", fields.TextField(unique=False)),
                (
                    "edited_by",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="edited_by_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="post_edits",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_post_revision",
                "app": "alumni_community",
                "pk_attr": "id",
                "table_description": "A post as it was before an edit: seen by its author and moderators only.",
            },
            bases=["Model"],
        ),
        ops.AlterField(
            model_name="Room",
            name="moderation",
            field=fields.CharEnumField(
                default=Moderation.NEW_MEMBERS_REVIEWED,
                description="OPEN: open\nNEW_MEMBERS_REVIEWED: new_members_reviewed\nALL_REVIEWED: all_reviewed",
                enum_type=Moderation,
                max_length=32,
            ),
        ),
        ops.AlterField(
            model_name="Room",
            name="visibility",
            field=fields.CharEnumField(
                default=Visibility.MEMBERS,
                description="MEMBERS: members\nPRIVATE: private",
                enum_type=Visibility,
                max_length=16,
            ),
        ),
        # New columns on a table that may hold rows: added nullable, filled,
        # then made NOT NULL (Tortoise's defaults are applied by Python, not
        # by the database, so existing rows would have none).
        ops.AddField(
            model_name="Room",
            name="archived",
            field=fields.BooleanField(default=False, null=True),
        ),
        ops.AddField(
            model_name="Room",
            name="slow_mode_seconds",
            field=fields.IntField(default=0, null=True),
        ),
        ops.RunSQL(
            [
                "UPDATE ac_room SET archived = FALSE WHERE archived IS NULL",
                "UPDATE ac_room SET slow_mode_seconds = 0 WHERE slow_mode_seconds IS NULL",
            ],
            reverse_sql=[],
        ),
        ops.AlterField(
            model_name="Room",
            name="archived",
            field=fields.BooleanField(default=False),
        ),
        ops.AlterField(
            model_name="Room",
            name="slow_mode_seconds",
            field=fields.IntField(default=0),
        ),
        # Rooms made under the first names of these settings keep their meaning.
        ops.RunSQL(
            [
                "UPDATE ac_room SET visibility = 'members' WHERE visibility = 'public'",
                "UPDATE ac_room SET moderation = 'new_members_reviewed' WHERE moderation = 'standard'",
                "UPDATE ac_room SET moderation = 'all_reviewed' WHERE moderation = 'premoderated'",
            ],
            reverse_sql=[
                "UPDATE ac_room SET visibility = 'public' WHERE visibility = 'members'",
                "UPDATE ac_room SET moderation = 'standard' WHERE moderation = 'new_members_reviewed'",
                "UPDATE ac_room SET moderation = 'premoderated' WHERE moderation = 'all_reviewed'",
            ],
        ),
    ]
