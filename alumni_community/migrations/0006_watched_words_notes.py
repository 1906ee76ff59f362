from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0005_flags_audit")]

    initial = False

    operations = [
        ops.CreateModel(
            name="WatchedWordRow",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("pattern", fields.CharField(max_length=200)),
                ("is_regex", fields.BooleanField(default=False)),
                ("action", fields.CharField(max_length=16)),
                (
                    "created_by",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="created_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="watched_words",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_watched_word",
                "app": "alumni_community",
                "pk_attr": "id",
                "table_description": "A word or pattern moderators watch for, and what happens when it appears.",
            },
            bases=["Model"],
        ),
        # Added nullable, filled, then NOT NULL: existing posts need a value
        # and Tortoise's defaults are applied by Python, not the database.
        ops.AddField(
            model_name="Post",
            name="moderation_note",
            field=fields.TextField(default="", null=True),
        ),
        ops.RunSQL(
            ["UPDATE ac_post SET moderation_note = '' WHERE moderation_note IS NULL"],
            reverse_sql=[],
        ),
        ops.AlterField(
            model_name="Post",
            name="moderation_note",
            field=fields.TextField(default=""),
        ),
    ]
