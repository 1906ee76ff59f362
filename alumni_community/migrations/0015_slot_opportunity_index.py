"""Index a listing's slots by listing and time.

The board and a listing page read slots by ``opportunity_id``; without an
index both engines scanned every slot ever listed (``bench/read_paths.py``
found PostgreSQL's sequential scan on ``ac_slot`` at a million posts).
"""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0014_meetings")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="Slot",
            index=Index(fields=["opportunity_id", "starts_at"]),
        ),
    ]
