"""Notifications; crisis flags can be "noted" (seen, not scored)."""

from enum import StrEnum

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


# Frozen here: the enum as it was when this migration was written.
class FlagStatus(StrEnum):
    OPEN = "open"
    AGREED = "agreed"
    DISAGREED = "disagreed"
    NOTED = "noted"


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0008_escaped_lengths")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Notification",
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
                        related_name="notifications",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("kind", fields.CharField(max_length=32)),
                ("html", fields.TextField(unique=False)),
                ("target_type", fields.CharField(default="", max_length=16)),
                ("target_id", fields.IntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("read_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_notification",
                "app": "alumni_community",
                "indexes": [
                    Index(fields=["member_id", "id"]),
                    Index(fields=["member_id", "read_at"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AlterField(
            model_name="Flag",
            name="status",
            field=fields.CharEnumField(
                default=FlagStatus.OPEN,
                description="OPEN: open\nAGREED: agreed\nDISAGREED: disagreed\nNOTED: noted",
                enum_type=FlagStatus,
                max_length=16,
            ),
        ),
    ]
