from tortoise import migrations
from tortoise.migrations import operations as ops
from enum import StrEnum
from typing import Any
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


# The enums as they were when this migration was written: a migration is
# history, so it never imports today's models.
class FlagReason(StrEnum):
    SPAM = "spam"
    HARASSMENT = "harassment"
    IDENTIFYING = "identifying"
    CRISIS = "crisis"
    OTHER = "other"


class FlagStatus(StrEnum):
    OPEN = "open"
    AGREED = "agreed"
    DISAGREED = "disagreed"


class ReviewKind(StrEnum):
    HELD = "held"
    CRISIS = "crisis"
    IDENTIFYING = "identifying"
    FLAGGED = "flagged"


_APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER ac_audit_log_no_update BEFORE UPDATE ON ac_audit_log"
        " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        "CREATE TRIGGER ac_audit_log_no_delete BEFORE DELETE ON ac_audit_log"
        " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    ],
    "postgres": [
        "CREATE FUNCTION ac_audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
        "CREATE TRIGGER ac_audit_log_append_only BEFORE UPDATE OR DELETE ON ac_audit_log"
        " FOR EACH ROW EXECUTE FUNCTION ac_audit_log_refuse()",
    ],
}


async def append_only(apps: object, schema_editor: Any) -> None:
    """The audit log refuses updates and deletes in the database itself, not only in code."""
    for statement in _APPEND_ONLY[schema_editor.DIALECT]:
        await schema_editor.client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0004_review_queue")]

    initial = False

    operations = [
        ops.CreateModel(
            name="AuditEntry",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "actor",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="actor_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="audit_as_actor",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("action", fields.CharField(max_length=32)),
                ("target_type", fields.CharField(max_length=16)),
                ("target_id", fields.IntField()),
                ("reason", fields.TextField(default="", unique=False)),
                ("until", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_audit_log",
                "app": "alumni_community",
                "indexes": [Index(fields=["target_type", "target_id"])],
                "pk_attr": "id",
                "table_description": "One moderator action or decision. Append-only: the database refuses updates and deletes.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Flag",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "flagger",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="flagger_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="flags_made",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("target_type", fields.CharField(max_length=16)),
                ("target_id", fields.IntField()),
                (
                    "reason",
                    fields.CharEnumField(
                        description="SPAM: spam\nHARASSMENT: harassment\nIDENTIFYING: identifying\nCRISIS: crisis\nOTHER: other",
                        enum_type=FlagReason,
                        max_length=16,
                    ),
                ),
                ("note", fields.TextField(default="", unique=False)),
                ("weight", fields.SmallIntField()),
                (
                    "status",
                    fields.CharEnumField(
                        default=FlagStatus.OPEN,
                        description="OPEN: open\nAGREED: agreed\nDISAGREED: disagreed",
                        enum_type=FlagStatus,
                        max_length=16,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_flag",
                "app": "alumni_community",
                "unique_together": (("flagger", "target_type", "target_id"),),
                "indexes": [Index(fields=["target_type", "target_id", "status"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AlterField(
            model_name="ReviewItem",
            name="kind",
            field=fields.CharEnumField(
                description="HELD: held\nCRISIS: crisis\nIDENTIFYING: identifying\nFLAGGED: flagged",
                enum_type=ReviewKind,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="ReviewItem",
            name="subject",
            field=fields.ForeignKeyField(
                "alumni_community.Member",
                source_field="subject_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="reviews_about",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.RunPython(append_only),
    ]
