"""Chat: messages with a per-room seq, revisions, reactions, read markers, blocks;
direct conversations and the room's last seq; review items about messages."""

from enum import StrEnum

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


# Frozen here: the enum as it was when this migration was written.
class PostState(StrEnum):
    VISIBLE = "visible"
    PENDING = "pending"
    HIDDEN = "hidden"
    REJECTED = "rejected"
    DELETED = "deleted"


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0010_restore_sqlite_indexes")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Block",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "member",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="member_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="blocks",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "blocked",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="blocked_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="blocked_by",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_block",
                "app": "alumni_community",
                "unique_together": (("member", "blocked"),),
                "pk_attr": "id",
                "table_description": "``member`` does not want direct conversations with ``blocked``.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Message",
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
                        related_name="messages",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("seq", fields.IntField()),
                (
                    "author",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="author_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="messages",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("client_id", fields.CharField(max_length=64)),
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
                "table": "ac_message",
                "app": "alumni_community",
                "unique_together": (("room", "seq"), ("author", "client_id")),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="MessageRevision",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "message",
                    fields.ForeignKeyField(
                        "alumni_community.Message",
                        source_field="message_id",
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
                        related_name="message_edits",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_message_revision",
                "app": "alumni_community",
                "pk_attr": "id",
                "table_description": "A message as it was before an edit or a deletion: for its author and moderators.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Reaction",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "message",
                    fields.ForeignKeyField(
                        "alumni_community.Message",
                        source_field="message_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="reactions",
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
                        related_name="reactions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("emoji", fields.CharField(max_length=32)),
            ],
            options={
                "table": "ac_reaction",
                "app": "alumni_community",
                "unique_together": (("message", "member", "emoji"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ReadMarker",
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
                        related_name="read_markers",
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
                        related_name="read_markers",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("seq", fields.IntField(default=0)),
            ],
            options={
                "table": "ac_read_marker",
                "app": "alumni_community",
                "unique_together": (("room", "member"),),
                "pk_attr": "id",
                "table_description": "The last seq a member has read in a room: unread = room.last_seq - seq.",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="ReviewItem",
            name="message",
            field=fields.ForeignKeyField(
                "alumni_community.Message",
                source_field="message_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="review_items",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        # Added nullable, filled, then NOT NULL: existing rooms need a value
        # and Tortoise's defaults are applied by Python, not the database.
        ops.AddField(
            model_name="Room",
            name="direct",
            field=fields.BooleanField(default=False, null=True),
        ),
        ops.AddField(
            model_name="Room",
            name="last_seq",
            field=fields.IntField(default=0, null=True),
        ),
        ops.RunSQL(
            [
                "UPDATE ac_room SET direct = FALSE WHERE direct IS NULL",
                "UPDATE ac_room SET last_seq = 0 WHERE last_seq IS NULL",
            ],
            reverse_sql=[],
        ),
        ops.AlterField(
            model_name="Room",
            name="direct",
            field=fields.BooleanField(default=False),
        ),
        ops.AlterField(
            model_name="Room",
            name="last_seq",
            field=fields.IntField(default=0),
        ),
    ]
