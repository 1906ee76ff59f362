from tortoise import migrations
from tortoise.migrations import operations as ops
from enum import StrEnum
from tortoise.fields.base import OnDelete
from tortoise import fields


# The enums as they were when this migration was written: a migration is
# history, so it never imports today's models.
class MemberStatus(StrEnum):
    ACTIVE = "active"
    SILENCED = "silenced"
    SUSPENDED = "suspended"
    BANNED = "banned"
    ERASED = "erased"


class Role(StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0001_initial")]

    initial = False

    operations = [
        ops.CreateModel(
            name="LoginFailure",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("handle_digest", fields.CharField(db_index=True, max_length=64)),
                ("failed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_login_failure",
                "app": "alumni_community",
                "pk_attr": "id",
                "table_description": "A failed login for a handle, whether or not such a member exists.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Member",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("handle", fields.CharField(null=True, max_length=64)),
                ("handle_key", fields.CharField(null=True, unique=True, max_length=64)),
                ("handle_skeleton", fields.CharField(null=True, unique=True, max_length=128)),
                (
                    "role",
                    fields.CharEnumField(
                        default=Role.MEMBER,
                        description="MEMBER: member\nMODERATOR: moderator\nADMIN: admin",
                        enum_type=Role,
                        max_length=16,
                    ),
                ),
                ("trust_level", fields.SmallIntField(default=0)),
                (
                    "status",
                    fields.CharEnumField(
                        default=MemberStatus.ACTIVE,
                        description="ACTIVE: active\nSILENCED: silenced\nSUSPENDED: suspended\nBANNED: banned\nERASED: erased",
                        enum_type=MemberStatus,
                        max_length=16,
                    ),
                ),
                (
                    "status_until",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("joined_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("bio", fields.TextField(default="", unique=False)),
                ("bio_html", fields.TextField(default="", unique=False)),
                ("sobriety_date", fields.DateField(null=True)),
                ("share_milestones", fields.BooleanField(default=False)),
                ("password_hash", fields.CharField(null=True, max_length=255)),
                ("host_key", fields.CharField(null=True, unique=True, max_length=64)),
            ],
            options={"table": "ac_member", "app": "alumni_community", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RecoveryCode",
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
                        related_name="recovery_codes",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("code_hash", fields.CharField(unique=True, max_length=64)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "ac_recovery_code", "app": "alumni_community", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Session",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("public_id", fields.CharField(unique=True, max_length=32)),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                (
                    "member",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="member_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sessions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("last_seen_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("client", fields.CharField(default="", max_length=64)),
                ("via_host", fields.BooleanField(default=False)),
            ],
            options={"table": "ac_session", "app": "alumni_community", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
