"""The service board: opportunities, slots, sign-ups; sponsorship offers,
requests and matches; members' time zone and hours sharing."""

import functools
from enum import StrEnum
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


# Frozen here: the enums as they were when this migration was written.
class Kind(StrEnum):
    VOLUNTEER = "volunteer"
    MEETING_SERVICE = "meeting_service"
    MENTORING = "mentoring"
    SPONSORSHIP = "sponsorship"
    OTHER = "other"


class OpportunityStatus(StrEnum):
    PENDING_REVIEW = "pending_review"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class SignupStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    REMOVED = "removed"


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0011_chat")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Opportunity",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "organizer",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="organizer_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="opportunities",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("title", fields.CharField(max_length=1200)),
                ("body", fields.TextField(default="", unique=False)),
                ("html", fields.TextField(default="", unique=False)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="VOLUNTEER: volunteer\nMEETING_SERVICE: meeting_service\nMENTORING: mentoring\nSPONSORSHIP: sponsorship\nOTHER: other",
                        enum_type=Kind,
                        max_length=32,
                    ),
                ),
                ("location", fields.CharField(default="", max_length=1200)),
                (
                    "tags",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("min_sober_days", fields.IntField(null=True)),
                (
                    "status",
                    fields.CharEnumField(
                        default=OpportunityStatus.PENDING_REVIEW,
                        description="PENDING_REVIEW: pending_review\nOPEN: open\nCLOSED: closed\nCANCELLED: cancelled\nREJECTED: rejected",
                        enum_type=OpportunityStatus,
                        max_length=16,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_opportunity",
                "app": "alumni_community",
                "indexes": [Index(fields=["status", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Slot",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "opportunity",
                    fields.ForeignKeyField(
                        "alumni_community.Opportunity",
                        source_field="opportunity_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="slots",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("starts_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("ends_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("capacity", fields.IntField()),
                ("confirmed_count", fields.IntField(default=0)),
                ("waitlisted_count", fields.IntField(default=0)),
                ("reminded", fields.CharField(default="", max_length=16)),
            ],
            options={
                "table": "ac_slot",
                "app": "alumni_community",
                "indexes": [Index(fields=["starts_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Signup",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "slot",
                    fields.ForeignKeyField(
                        "alumni_community.Slot",
                        source_field="slot_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="signups",
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
                        related_name="signups",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        description="CONFIRMED: confirmed\nWAITLISTED: waitlisted\nCANCELLED: cancelled\nREMOVED: removed",
                        enum_type=SignupStatus,
                        max_length=16,
                    ),
                ),
                ("queued_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("hidden", fields.BooleanField(default=False)),
                ("attended", fields.BooleanField(null=True)),
                ("hours", fields.FloatField(null=True)),
            ],
            options={
                "table": "ac_signup",
                "app": "alumni_community",
                "unique_together": (("slot", "member"),),
                "indexes": [Index(fields=["slot_id", "status", "queued_at", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SponsorOffer",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "member",
                    fields.OneToOneField(
                        "alumni_community.Member",
                        source_field="member_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sponsor_offer",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("capacity", fields.SmallIntField(default=1)),
                ("note", fields.TextField(default="", unique=False)),
                ("active", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_sponsor_offer",
                "app": "alumni_community",
                "pk_attr": "id",
                "table_description": "A member willing to sponsor: how many, and a short note.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SponsorRequest",
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
                        related_name="sponsor_requests",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("note", fields.TextField(default="", unique=False)),
                ("open", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_sponsor_request",
                "app": "alumni_community",
                "pk_attr": "id",
                "table_description": "A member asking for a sponsor. The note is seen by potential sponsors only.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Sponsorship",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "sponsor",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="sponsor_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sponsoring",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "sponsee",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="sponsee_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sponsored_by",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("room_slug", fields.CharField(default="", max_length=64)),
                ("started_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("ended_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "ac_sponsorship",
                "app": "alumni_community",
                "pk_attr": "id",
                "table_description": "A match, seen by the two members and moderators only.",
            },
            bases=["Model"],
        ),
        # Added nullable, filled, then NOT NULL: existing members need a value
        # and Tortoise's defaults are applied by Python, not the database.
        ops.AddField(
            model_name="Member",
            name="share_service_hours",
            field=fields.BooleanField(default=False, null=True),
        ),
        ops.AddField(
            model_name="Member",
            name="timezone",
            field=fields.CharField(default="", max_length=64, null=True),
        ),
        ops.RunSQL(
            [
                "UPDATE ac_member SET share_service_hours = FALSE WHERE share_service_hours IS NULL",
                "UPDATE ac_member SET timezone = '' WHERE timezone IS NULL",
            ],
            reverse_sql=[],
        ),
        ops.AlterField(
            model_name="Member",
            name="share_service_hours",
            field=fields.BooleanField(default=False),
        ),
        ops.AlterField(
            model_name="Member",
            name="timezone",
            field=fields.CharField(default="", max_length=64),
        ),
        ops.AddField(
            model_name="ReviewItem",
            name="opportunity",
            field=fields.ForeignKeyField(
                "alumni_community.Opportunity",
                source_field="opportunity_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="review_items",
                on_delete=OnDelete.CASCADE,
            ),
        ),
    ]
