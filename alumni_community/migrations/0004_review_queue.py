from tortoise import migrations
from tortoise.migrations import operations as ops
from enum import StrEnum
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


# The enums as they were when this migration was written: a migration is
# history, so it never imports today's models.
class ReviewKind(StrEnum):
    HELD = "held"
    CRISIS = "crisis"
    IDENTIFYING = "identifying"


class ReviewState(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0003_rooms_threads_posts")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ReviewItem",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "kind",
                    fields.CharEnumField(
                        description="HELD: held\nCRISIS: crisis\nIDENTIFYING: identifying",
                        enum_type=ReviewKind,
                        max_length=16,
                    ),
                ),
                (
                    "state",
                    fields.CharEnumField(
                        default=ReviewState.OPEN,
                        description="OPEN: open\nCLAIMED: claimed\nRESOLVED: resolved",
                        enum_type=ReviewState,
                        max_length=16,
                    ),
                ),
                ("urgency", fields.SmallIntField(default=0)),
                (
                    "post",
                    fields.ForeignKeyField(
                        "alumni_community.Post",
                        source_field="post_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="review_items",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("reason", fields.TextField(default="", unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "claimed_by",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="claimed_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="claimed_reviews",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "decided_by",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="decided_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="decided_reviews",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("decision", fields.CharField(default="", max_length=16)),
                ("note", fields.TextField(default="", unique=False)),
                (
                    "resolved_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "ac_review_item",
                "app": "alumni_community",
                "indexes": [Index(fields=["state", "urgency", "created_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
