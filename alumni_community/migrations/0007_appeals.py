from tortoise import migrations
from tortoise.migrations import operations as ops
from enum import StrEnum
from tortoise.fields.base import OnDelete
from tortoise import fields


# The enums as they were when this migration was written: a migration is
# history, so it never imports today's models.
class ReviewKind(StrEnum):
    HELD = "held"
    CRISIS = "crisis"
    IDENTIFYING = "identifying"
    FLAGGED = "flagged"
    APPEAL = "appeal"


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0006_watched_words_notes")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="ReviewItem",
            name="kind",
            field=fields.CharEnumField(
                description="HELD: held\nCRISIS: crisis\nIDENTIFYING: identifying\nFLAGGED: flagged\nAPPEAL: appeal",
                enum_type=ReviewKind,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="ReviewItem",
            name="appeal_of",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="ReviewItem",
            name="recused",
            field=fields.ForeignKeyField(
                "alumni_community.Member",
                source_field="recused_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="recused_reviews",
                on_delete=OnDelete.SET_NULL,
            ),
        ),
    ]
