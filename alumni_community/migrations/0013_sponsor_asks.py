from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0012_service_board")]

    initial = False

    operations = [
        ops.AddField(
            model_name="SponsorRequest",
            name="sponsor",
            field=fields.ForeignKeyField(
                "alumni_community.Member",
                source_field="sponsor_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="sponsor_asks",
                on_delete=OnDelete.CASCADE,
            ),
        ),
    ]
