"""Schema and migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tortoise.router import router as tortoise_router

from alumni_community import Community, ConfigurationError, SchemaNotReady
from alumni_community.db import (
    MODEL_MODULES,
    Database,
    migrate,
    model_changes,
    pending_migrations,
)
from alumni_community.rooms.models import Room

from .conftest import make_settings

pytestmark = pytest.mark.anyio

ALL_MIGRATION_FILES = sorted(
    (Path(__file__).parent.parent / "alumni_community" / "migrations").glob("0*.py")
)
ALL_MIGRATIONS = [path.stem for path in ALL_MIGRATION_FILES]


async def _tables(db: Database) -> set[str]:
    with db.activate():
        conn = db.connection()
        if db.settings.database_engine == "sqlite":
            rows = await conn.execute_query_dict(
                "SELECT name FROM sqlite_master WHERE type='table'"
            )
            return {r["name"] for r in rows}
        rows = await conn.execute_query_dict(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        )
        return {r["name"] for r in rows}


async def test_migrate_creates_the_schema_and_a_second_run_is_a_no_op(database_url: str) -> None:
    settings = make_settings(database_url)
    assert await pending_migrations(settings) == ALL_MIGRATIONS

    assert await migrate(settings) == ALL_MIGRATIONS
    assert await migrate(settings) == []
    assert await pending_migrations(settings) == []

    db = Database(settings)
    await db.open()
    try:
        tables = await _tables(db)
        assert {"ac_room", "ac_member", "ac_session", "ac_migrations"} <= tables
        # Our tables only: nothing unprefixed, and not Tortoise's shared recorder table.
        assert all(t.startswith("ac_") for t in tables if not t.startswith("sqlite_")), tables
        with db.activate():
            await Room.create(slug="welcome", name="Welcome")
            assert await Room.filter(slug="welcome").count() == 1
    finally:
        await db.close()


async def test_checking_for_pending_migrations_writes_nothing(database_url: str) -> None:
    settings = make_settings(database_url)
    await pending_migrations(settings)
    db = Database(settings)
    await db.open()
    try:
        assert "ac_migrations" not in await _tables(db)
    finally:
        await db.close()


async def test_starting_on_an_unmigrated_database_fails_with_the_command_to_run(
    database_url: str,
) -> None:
    community = Community(make_settings(database_url))
    with pytest.raises(SchemaNotReady, match="alumni-community migrate"):
        async with community.lifespan():
            pass


async def test_migrate_on_start_brings_a_fresh_database_up_to_date(database_url: str) -> None:
    community = Community(make_settings(database_url, migrate_on_start=True))
    async with community.lifespan():
        assert await community.database.pending_migrations() == []


async def test_every_model_change_has_a_checked_in_migration() -> None:
    assert await model_changes() == []


def test_no_model_field_comment_contains_a_semicolon() -> None:
    # Tortoise's SQLite migrations split DDL on ";" even inside column comments.
    import importlib

    from tortoise.models import Model

    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Model) and value is not Model:
                assert ";" not in (value._meta.table_description or ""), value.__name__
                for name, field in value._meta.fields_map.items():
                    assert ";" not in (field.description or ""), f"{value.__name__}.{name}"


async def test_opening_our_context_leaves_tortoise_process_state_alone(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A host that configured naive datetimes and a router keeps both.
    class HostRouter:
        def db_for_read(self, model: object) -> None:
            return None

    monkeypatch.setenv("USE_TZ", "False")
    monkeypatch.setenv("TIMEZONE", "Europe/Dublin")
    monkeypatch.setattr(tortoise_router, "_routers", [HostRouter()])
    routers_before = tortoise_router._routers

    await migrate(make_settings(sqlite_url))
    db = Database(make_settings(sqlite_url))
    await db.open()
    try:
        assert os.environ["USE_TZ"] == "False"
        assert os.environ["TIMEZONE"] == "Europe/Dublin"
        assert tortoise_router._routers is routers_before
    finally:
        await db.close()


async def test_our_context_is_never_left_current(sqlite_url: str) -> None:
    from tortoise.context import get_current_context

    before = get_current_context()
    community = Community(make_settings(sqlite_url, migrate_on_start=True))
    async with community.lifespan():
        assert get_current_context() is before
    assert get_current_context() is before


async def test_sqlite_runs_with_secure_delete_and_wal(sqlite_url: str) -> None:
    db = Database(make_settings(sqlite_url))
    await db.open()
    try:
        with db.activate():
            conn = db.connection()
            assert (await conn.execute_query_dict("PRAGMA secure_delete"))[0]["secure_delete"] == 1
            mode = (await conn.execute_query_dict("PRAGMA journal_mode"))[0]["journal_mode"]
            assert mode == "wal"
    finally:
        await db.close()


@pytest.mark.postgres
async def test_one_process_serves_one_database_engine_at_a_time(
    sqlite_url: str, postgres_url: str
) -> None:
    sqlite_db = Database(make_settings(sqlite_url))
    await sqlite_db.open()
    try:
        with pytest.raises(ConfigurationError, match="one database engine"):
            await Database(make_settings(postgres_url)).open()
    finally:
        await sqlite_db.close()
    # Once the SQLite community is closed, PostgreSQL may open.
    postgres_db = Database(make_settings(postgres_url))
    await postgres_db.open()
    await postgres_db.close()


@pytest.mark.postgres
async def test_concurrent_migrations_on_postgres_apply_each_migration_once(
    postgres_url: str,
) -> None:
    import asyncio

    settings = make_settings(postgres_url)
    results = await asyncio.gather(*[migrate(settings) for _ in range(3)])
    assert sorted(results, key=len) == [[], [], ALL_MIGRATIONS]
    assert await pending_migrations(settings) == []


def test_migrations_never_import_todays_models() -> None:
    # A migration is history: importing a model's enum would break it the day
    # that enum changes.
    for path in sorted(ALL_MIGRATION_FILES):
        imports = [
            line for line in path.read_text().splitlines() if line.startswith(("from ", "import "))
        ]
        assert not [line for line in imports if "alumni_community" in line], path.name


async def test_room_settings_keep_their_meaning_across_the_rename(database_url: str) -> None:
    settings = make_settings(database_url)
    db = Database(settings)
    await db.open()
    try:
        await db.migrate(upto="0002_identity")
        with db.activate():
            await db.connection().execute_script(
                "INSERT INTO ac_room (slug, name, description, visibility, moderation, position,"
                " created_at) VALUES ('old', 'Old', '', 'public', 'premoderated', 0,"
                " '2026-01-01 00:00:00+00:00')"
            )
        assert await db.migrate() == ALL_MIGRATIONS[2:]
        with db.activate():
            room = await Room.get(slug="old")
        assert (room.visibility, room.moderation) == ("members", "all_reviewed")
    finally:
        await db.close()


async def test_existing_posts_survive_the_moderation_note_migration(database_url: str) -> None:
    from alumni_community.rooms.models import Post

    settings = make_settings(database_url)
    db = Database(settings)
    await db.open()
    try:
        await db.migrate(upto="0005_flags_audit")
        with db.activate():
            conn = db.connection()
            stamp = "'2026-01-01 00:00:00+00:00'"
            for statement in (
                "INSERT INTO ac_member (handle, handle_key, handle_skeleton, role, trust_level,"
                f" status, joined_at, bio, bio_html, share_milestones) VALUES ('river', 'river',"
                f" 'river', 'member', 1, 'active', {stamp}, '', '', FALSE)",
                "INSERT INTO ac_room (slug, name, description, visibility, moderation, archived,"
                f" slow_mode_seconds, position, created_at) VALUES ('r', 'R', '', 'members',"
                f" 'open', FALSE, 0, 0, {stamp})",
                "INSERT INTO ac_thread (room_id, author_id, title, created_at, last_post_at,"
                f" post_count, pinned, locked, deleted) VALUES (1, 1, 'T', {stamp}, {stamp}, 1,"
                " FALSE, FALSE, FALSE)",
                "INSERT INTO ac_post (thread_id, author_id, body, html, state, created_at)"
                f" VALUES (1, 1, 'kept', '<p>kept</p>', 'visible', {stamp})",
            ):
                await conn.execute_script(statement)
        assert await db.migrate() == ALL_MIGRATIONS[5:]
        with db.activate():
            post = await Post.get(body="kept")
        assert post.moderation_note == "" and post.html == "<p>kept</p>"
    finally:
        await db.close()


async def _indexes(db: Database, table: str) -> set[tuple[tuple[str, ...], bool]]:
    """The (columns, unique) of every index on ``table``."""
    conn = db.connection()
    found: set[tuple[tuple[str, ...], bool]] = set()
    if db.settings.database_engine == "sqlite":
        for index in await conn.execute_query_dict(f'PRAGMA index_list("{table}")'):
            columns = await conn.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
            found.add((tuple(c["name"] for c in columns), bool(index["unique"])))
        return found
    for row in await conn.execute_query_dict(
        "SELECT indexdef FROM pg_indexes WHERE tablename = $1", [table]
    ):
        definition = row["indexdef"]
        columns = definition.rsplit("(", 1)[1].rstrip(")").replace('"', "").split(", ")
        found.add((tuple(columns), definition.startswith("CREATE UNIQUE")))
    return found


def _declared_indexes() -> list[tuple[str, tuple[str, ...], bool]]:
    """Every index and unique-together rule the models declare: (table, columns, unique)."""
    import importlib

    from tortoise.models import Model

    declared = []
    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if not (isinstance(value, type) and issubclass(value, Model) and value is not Model):
                continue
            meta = value._meta
            if meta.abstract or value.__module__ != module_name:
                continue

            def column(name: str, meta: object = meta) -> str:
                field = meta.fields_map[name]  # type: ignore[attr-defined]
                return field.source_field or name

            for names in meta.unique_together or ():
                declared.append((meta.db_table, tuple(column(n) for n in names), True))
            for index in meta.indexes or ():
                names = index if isinstance(index, tuple | list) else index.fields
                declared.append((meta.db_table, tuple(column(n) for n in names), False))
    return declared


async def test_every_declared_index_exists_after_migrating(database_url: str) -> None:
    """SQLite rebuilds a table to alter a column; its indexes must survive the rebuild."""
    db = Database(make_settings(database_url))
    await db.open()  # models know their columns once initialised
    try:
        declared = _declared_indexes()
        assert len(declared) >= 8  # the models do declare some: the check is not vacuous
        # 0009 rebuilds ac_flag on SQLite; the runner must keep its indexes
        # (0010 only repairs databases migrated before it did).
        for upto in ("0009_notifications", None):
            await db.migrate(upto=upto)
            with db.activate():
                tables = await _tables(db)
                for table, columns, unique in declared:
                    if upto and table not in tables:
                        continue  # made by a later migration
                    present = await _indexes(db, table)
                    assert (columns, unique) in present, (upto, table, columns, unique, present)
    finally:
        await db.close()


async def test_indexes_a_rebuild_dropped_earlier_are_restored(database_url: str) -> None:
    """A database migrated before rebuilds kept indexes gets them back, duplicates removed."""
    db = Database(make_settings(database_url))
    await db.open()
    try:
        await db.migrate(upto="0009_notifications")
        with db.activate():
            conn = db.connection()
            # What the earlier runner left behind on SQLite.
            for name in (
                "uid_ac_flag_flagger_ace23c",
                "idx_ac_flag_target__38dd39",
                "idx_ac_post_thread__aed3ee",
                "idx_ac_review_i_state_ca3bd6",
                "idx_ac_thread_room_id_f9885f",
            ):
                if database_url.startswith("sqlite"):
                    await conn.execute_script(f'DROP INDEX "{name}"')
                elif name.startswith("uid_"):
                    await conn.execute_script(f'ALTER TABLE ac_flag DROP CONSTRAINT "{name}"')
                else:
                    await conn.execute_script(f'DROP INDEX "{name}"')
            stamp = "'2026-01-01 00:00:00+00:00'"
            await conn.execute_script(
                "INSERT INTO ac_member (handle, handle_key, handle_skeleton, role, trust_level,"
                f" status, joined_at, bio, bio_html, share_milestones) VALUES ('river', 'river',"
                f" 'river', 'member', 1, 'active', {stamp}, '', '', FALSE)"
            )
            for _ in range(2):
                await conn.execute_script(
                    "INSERT INTO ac_flag (flagger_id, target_type, target_id, reason, note,"
                    f" weight, status, created_at) VALUES (1, 'member', 1, 'spam', '', 2, 'open',"
                    f" {stamp})"
                )
            assert ((("flagger_id", "target_type", "target_id"), True)) not in await _indexes(
                db, "ac_flag"
            )
        assert await db.migrate(upto="0010_restore_sqlite_indexes") == [
            "0010_restore_sqlite_indexes"
        ]
        with db.activate():
            from alumni_community.moderation.models import Flag

            assert await Flag.all().count() == 1
            present = await _indexes(db, "ac_flag")
            assert (("flagger_id", "target_type", "target_id"), True) in present
            assert (("thread_id", "id"), False) in await _indexes(db, "ac_post")
    finally:
        await db.close()
