"""Meetings: weekly meetings and their exceptions; members who may host them."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0013_sponsor_asks")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Meeting",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(max_length=1200)),
                ("slug", fields.CharField(unique=True, max_length=64)),
                (
                    "days",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("time", fields.CharField(max_length=5)),
                ("end_time", fields.CharField(max_length=5)),
                ("timezone", fields.CharField(max_length=64)),
                (
                    "types",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("location", fields.CharField(default="", max_length=1200)),
                ("conference_url", fields.CharField(default="", max_length=500)),
                ("conference_phone", fields.CharField(default="", max_length=64)),
                ("notes", fields.TextField(default="", unique=False)),
                ("public", fields.BooleanField(default=False)),
                (
                    "room",
                    fields.ForeignKeyField(
                        "alumni_community.Room",
                        source_field="room_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="meetings",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "created_by",
                    fields.ForeignKeyField(
                        "alumni_community.Member",
                        source_field="created_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="meetings",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "ac_meeting", "app": "alumni_community", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="MeetingException",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "meeting",
                    fields.ForeignKeyField(
                        "alumni_community.Meeting",
                        source_field="meeting_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="exceptions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("date", fields.DateField()),
                ("cancelled", fields.BooleanField(default=False)),
                ("time", fields.CharField(default="", max_length=5)),
                ("end_time", fields.CharField(default="", max_length=5)),
                ("location", fields.CharField(default="", max_length=1200)),
                ("notes", fields.TextField(default="", unique=False)),
            ],
            options={
                "table": "ac_meeting_exception",
                "app": "alumni_community",
                "unique_together": (("meeting", "date"),),
                "pk_attr": "id",
                "table_description": "One date of a meeting that differs: cancelled, or at another time or place.",
            },
            bases=["Model"],
        ),
        # Added nullable, filled, then NOT NULL: existing members need a value
        # and Tortoise's defaults are applied by Python, not the database.
        ops.AddField(
            model_name="Member",
            name="meeting_host",
            field=fields.BooleanField(default=False, null=True),
        ),
        ops.RunSQL(
            ["UPDATE ac_member SET meeting_host = FALSE WHERE meeting_host IS NULL"],
            reverse_sql=[],
        ),
        ops.AlterField(
            model_name="Member",
            name="meeting_host",
            field=fields.BooleanField(default=False),
        ),
    ]
