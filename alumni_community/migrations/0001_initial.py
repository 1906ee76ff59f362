from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from enum import StrEnum


# The enums as they were when this migration was written: a migration is
# history, so it never imports today's models.
class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class Moderation(StrEnum):
    STANDARD = "standard"
    PREMODERATED = "premoderated"


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Room",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("slug", fields.CharField(unique=True, max_length=64)),
                ("name", fields.CharField(max_length=120)),
                ("description", fields.TextField(default="", unique=False)),
                (
                    "visibility",
                    fields.CharEnumField(
                        default=Visibility.PUBLIC,
                        description="PUBLIC: public\nPRIVATE: private",
                        enum_type=Visibility,
                        max_length=16,
                    ),
                ),
                (
                    "moderation",
                    fields.CharEnumField(
                        default=Moderation.STANDARD,
                        description="STANDARD: standard\nPREMODERATED: premoderated",
                        enum_type=Moderation,
                        max_length=16,
                    ),
                ),
                ("position", fields.IntField(default=0)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "ac_room", "app": "alumni_community", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
