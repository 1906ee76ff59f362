from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0007_appeals")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="Room",
            name="name",
            field=fields.CharField(max_length=720),
        ),
        ops.AlterField(
            model_name="Thread",
            name="title",
            field=fields.CharField(max_length=1200),
        ),
    ]
