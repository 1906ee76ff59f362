"""Restore indexes that SQLite table rebuilds in migrations 0003-0009 dropped.

Tortoise 1.1 rebuilds a SQLite table to change a column and did not carry
its indexes and unique-together constraints over (the migration runner now
does: see ``_SqliteEditor`` in db.py). Databases migrated before that lost
the list-query indexes of posts, threads and the review queue, and the rule
of one flag per member per target. On PostgreSQL, and on SQLite databases
migrated since, every statement here finds its index already there.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("alumni_community", "0009_notifications")]

    initial = False

    operations = [
        # A duplicate flag may have slipped in while the rule was missing:
        # keep each member's first flag on a target.
        ops.RunSQL(
            'DELETE FROM "ac_flag" WHERE "id" NOT IN (SELECT MIN("id") FROM "ac_flag" '
            'GROUP BY "flagger_id", "target_type", "target_id")'
        ),
        ops.RunSQL(
            'CREATE UNIQUE INDEX IF NOT EXISTS "uid_ac_flag_flagger_ace23c" '
            'ON "ac_flag" ("flagger_id", "target_type", "target_id")'
        ),
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_ac_flag_target__38dd39" '
            'ON "ac_flag" ("target_type", "target_id", "status")'
        ),
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_ac_post_thread__aed3ee" ON "ac_post" ("thread_id", "id")'
        ),
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_ac_review_i_state_ca3bd6" '
            'ON "ac_review_item" ("state", "urgency", "created_at")'
        ),
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_ac_thread_room_id_f9885f" '
            'ON "ac_thread" ("room_id", "pinned", "last_post_at", "id")'
        ),
    ]
