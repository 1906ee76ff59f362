"""The library's own database: a private Tortoise context, its schema and migrations.

A host site may use Tortoise ORM for its own models in the same process.
Tortoise 1.x keeps all of its state in a ``TortoiseContext`` found through a
contextvar, with an optional process-wide fallback that hosts enable through
``RegisterTortoise``. So this module, and only this module, touches that
machinery:

- ``Database`` owns one ``TortoiseContext`` with its own app label
  (``alumni_community``) and connection name (``alumni_community_<engine>``);
  our tables are named explicitly with an ``ac_`` prefix, so they never
  collide with a host's.
- Tortoise builds each model's base query for one SQL dialect on the model
  class itself, so one process serves communities on one engine at a time
  (``open()`` refuses a second engine with a clear error).
- It never calls ``Tortoise.init()`` and never claims the global fallback.
- ``Database.activate()`` makes our context current for one ASGI call (or
  one task) by setting the contextvar and resetting it with the token it
  got. Not ``with ctx:``: ``TortoiseContext.__enter__`` keeps one token on
  the instance, which concurrent requests would overwrite.
- ``TortoiseContext.init`` writes two pieces of process state, the
  ``USE_TZ``/``TIMEZONE`` environment variables and Tortoise's global
  database router. We save and restore both around it, so a host that
  configured them keeps what it configured.

``unavailable(error)`` tells a database that cannot serve right now (gone,
restarting, full, read-only) from a bug: the edges answer the first with
``503`` and the second with ``500``. It lives here because only this module
knows which drivers are underneath.

Migrations are Tortoise's own (checked-in modules in
``alumni_community/migrations``), run by ``migrate()`` in a throwaway context,
recorded in our own ``ac_migrations`` table.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext, _current_context
from tortoise.exceptions import DBConnectionError, OperationalError
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget
from tortoise.migrations.recorder import MigrationRecorder
from tortoise.migrations.schema_editor import BaseSchemaEditor, SqliteSchemaEditor
from tortoise.router import router as _tortoise_router
from tortoise.timezone import _reset_timezone_cache

from .errors import (
    ConfigurationError,
    SchemaNotReady,
    ServiceUnavailable,
    StorageFull,
    StorageReadOnly,
)
from .settings import Settings

__all__ = [
    "APP_LABEL",
    "CONNECTION_NAMES",
    "Database",
    "make_migrations",
    "migrate",
    "model_changes",
    "outage_name",
    "pending_migrations",
    "unavailable",
]

logger = logging.getLogger("alumni_community.db")

APP_LABEL = "alumni_community"
#: Tortoise caches compiled INSERT/UPDATE statements process-wide, keyed by
#: connection name; one name per engine keeps SQLite's "?" placeholders out
#: of PostgreSQL's statements.
CONNECTION_NAMES = {"sqlite": "alumni_community_sqlite", "postgres": "alumni_community_postgres"}
MIGRATIONS_MODULE = "alumni_community.migrations"
MIGRATIONS_TABLE = "ac_migrations"
#: PostgreSQL advisory lock key held while migrating ("ac_mig" in ASCII).
MIGRATION_LOCK_ID = 0x61635F6D6967

#: How many Database objects are open, per engine, in this process.
_open_engines: Counter[str] = Counter()

#: Every module that defines models. New domains add theirs here.
MODEL_MODULES: tuple[str, ...] = (
    "alumni_community.chat.models",
    "alumni_community.identity.models",
    "alumni_community.meetings.models",
    "alumni_community.moderation.models",
    "alumni_community.notifications.models",
    "alumni_community.opportunities.models",
    "alumni_community.rooms.models",
)

#: SQLite pragmas, on every connection.
SQLITE_PRAGMAS: dict[str, Any] = {
    # Readers do not block the writer, and the writer does not block readers.
    "journal_mode": "WAL",
    # Erased rows are overwritten with zeros, so deleted personal data
    # cannot be read back from free pages of the file.
    "secure_delete": "ON",
    "foreign_keys": "ON",
    # WAL with NORMAL is durable across application crashes and much faster
    # than FULL; only an OS crash can lose the last transactions.
    "synchronous": "NORMAL",
    # Wait this many milliseconds for a lock rather than failing at once
    # (the CLI and the server may touch the file at the same moment).
    "busy_timeout": 5000,
}


def tortoise_config(settings: Settings) -> dict[str, Any]:
    """The Tortoise configuration for our one app and one connection."""
    url = settings.database_url
    rest = url.split("://", 1)[1]
    if settings.database_engine == "postgres":
        url = "postgres://" + rest
    connection = expand_db_url(url)
    if settings.database_engine == "sqlite":
        connection["credentials"].update(SQLITE_PRAGMAS)
    return {
        "connections": {CONNECTION_NAMES[settings.database_engine]: connection},
        "apps": _apps_config(settings.database_engine),
        "use_tz": True,
        "timezone": "UTC",
    }


class Database:
    """One private Tortoise context bound to ``settings.database_url``.

    ``open()`` connects, ``close()`` disconnects, ``activate()`` makes the
    context current for the code inside it. Neither leaves our context
    current in the caller's task.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.context = TortoiseContext()

    @property
    def is_open(self) -> bool:
        return self.context.inited

    async def open(self) -> None:
        if self.context.inited:
            return
        engine = self.settings.database_engine
        others = [e for e, count in _open_engines.items() if count and e != engine]
        if others:
            # Tortoise builds each model's base query for one SQL dialect, on
            # the model class itself: two engines at once would share it.
            raise ConfigurationError(
                "database_url",
                f"this process already has a community open on {others[0]}; one process "
                f"serves communities on one database engine at a time, not {engine} too",
            )
        await _init_isolated(self.context, tortoise_config(self.settings))
        _open_engines[engine] += 1

    async def close(self) -> None:
        if not self.context.inited:
            return
        with self.activate():
            await self.context.close_connections()
        _open_engines[self.settings.database_engine] -= 1
        # A closed context must not be mistaken for an open one, and a later
        # open() (a second lifespan in tests) must start from scratch.
        self.context = TortoiseContext()

    def stop_threads_at_exit(self) -> None:
        """Let the interpreter exit even if ``close()`` is never awaited.

        aiosqlite runs each SQLite connection in a non-daemon thread, and the
        interpreter joins those before ``atexit`` handlers run, so a process
        whose community was started lazily (no lifespan, so no ``close()``)
        would hang at exit. ``threading._register_atexit`` runs just before that
        join; there we ask the worker threads to close their connections.
        """
        register = getattr(threading, "_register_atexit", None)
        if register is not None and self.settings.database_engine == "sqlite":
            register(self._stop_sqlite_threads)

    def _stop_sqlite_threads(self) -> None:
        if not self.context.inited:
            return
        for client in list(self.context.connections._get_storage().values()):
            worker = getattr(client, "_connection", None)
            if worker is not None and hasattr(worker, "stop"):
                worker.stop()

    def enter(self) -> contextvars.Token[TortoiseContext | None]:
        """Make our context current; pass the token to ``leave()``."""
        return _current_context.set(self.context)

    @staticmethod
    def leave(token: contextvars.Token[TortoiseContext | None]) -> None:
        _current_context.reset(token)

    @contextlib.contextmanager
    def activate(self) -> Iterator[TortoiseContext]:
        token = self.enter()
        try:
            yield self.context
        finally:
            self.leave(token)

    def connection(self) -> BaseDBAsyncClient:
        """Our connection (only while the context is active)."""
        return self.context.db(CONNECTION_NAMES[self.settings.database_engine])

    async def pending_migrations(self) -> list[str]:
        with self.activate():
            return await _pending(self.connection(), self.settings.database_engine)

    async def migrate(self, upto: str | None = None) -> list[str]:
        """Apply pending migrations (``upto`` one by name: for testing data migrations)."""
        with self.activate():
            return await _apply(self.connection(), self.settings.database_engine, upto)

    async def ensure_schema(self) -> None:
        """Migrate when the settings say so; otherwise refuse an old schema clearly."""
        if self.settings.should_migrate_on_start:
            applied = await self.migrate()
            if applied:
                logger.info("applied migrations: %s", ", ".join(applied))
            return
        pending = await self.pending_migrations()
        if pending:
            raise SchemaNotReady(
                f"{len(pending)} migration(s) not applied ({', '.join(pending)}); "
                "run `alumni-community migrate`"
            )


async def migrate(settings: Settings) -> list[str]:
    """Bring the schema up to date in a throwaway context; return what was applied."""
    return await _once(settings, Database.migrate)


async def pending_migrations(settings: Settings) -> list[str]:
    """Migrations not yet applied, checked in a throwaway context (writes nothing)."""
    return await _once(settings, Database.pending_migrations)


async def _once(
    settings: Settings, action: Callable[[Database], Awaitable[list[str]]]
) -> list[str]:
    db = Database(settings)
    await db.open()
    try:
        return await action(db)
    finally:
        await db.close()


async def make_migrations(name: str | None = None) -> list[str]:
    """Write migration modules for model changes; for contributors, not hosts."""
    from tortoise.migrations.writer import format_migration_name

    paths = []
    for writer in await _detect_changes():
        if name:
            number = int(writer.name.split("_", 1)[0])
            writer.name = format_migration_name(number, name)
        paths.append(str(writer.write()))
    return paths


async def model_changes() -> list[str]:
    """Names of the migrations that models need but nobody wrote yet (empty: all good)."""
    return [writer.name for writer in await _detect_changes()]


async def _detect_changes() -> list[Any]:
    # The autodetector compares the models with the checked-in migrations,
    # not with a real database, so an in-memory one will do. Only database_url
    # is read; the key is a placeholder nothing is signed with.
    from tortoise.migrations.autodetector import MigrationAutodetector

    placeholder = Settings(database_url="sqlite://:memory:", secret_key="m" * 48)
    config = tortoise_config(placeholder)
    ctx = TortoiseContext()
    await _init_isolated(ctx, config)
    token = _current_context.set(ctx)
    try:
        assert ctx.apps is not None
        return list(await MigrationAutodetector(ctx.apps, config["apps"]).changes())
    finally:
        await ctx.close_connections()
        _current_context.reset(token)


# -- a database that cannot serve right now ------------------------------------

#: SQLite primary result codes that mean "not now" rather than a bug: locked
#: past busy_timeout (BUSY), an I/O error (IOERR), a file that cannot be
#: opened (CANTOPEN). FULL and READONLY have errors of their own.
_SQLITE_FULL, _SQLITE_READONLY = 13, 8
_SQLITE_NOT_NOW = {5, 10, 14}
#: SQLSTATEs (PostgreSQL's, as asyncpg reports them) that mean the same: a
#: connection exception (class 08), the server shutting down or starting
#: (57P01 to 57P05; not 57014, a cancelled query), insufficient resources
#: (class 53), a system error (class 58).
_SQLSTATE_NOT_NOW = ("08", "57P", "53", "58")
_SQLSTATE_DISK_FULL, _SQLSTATE_READ_ONLY = "53100", "25006"
#: Code an OSError must come through to be the database's: a refused or
#: reset connection anywhere else is not an outage of the database.
_DRIVERS = ("asyncpg", "aiosqlite", "tortoise", "sqlite3")


def unavailable(error: BaseException) -> ServiceUnavailable | None:
    """What to answer when ``error`` means the database cannot serve right now; else None.

    Looks through the chain of causes, since Tortoise wraps a driver's error
    in its own (or lets it through untouched: asyncpg's connection errors,
    OSErrors from connecting). The refusal's ``__cause__`` is the error that
    decided it, for ``outage_name``.
    """
    for cause in _causes(error):
        refusal = _classify(cause)
        if refusal is not None:
            refusal.__cause__ = cause
            return refusal
    return None


def outage_name(refusal: BaseException) -> str:
    """A short name of what made ``refusal``, for logs: never a message (it may quote data)."""
    cause = refusal.__cause__
    if isinstance(cause, sqlite3.Error) and getattr(cause, "sqlite_errorname", None):
        return str(cause.sqlite_errorname)
    state = getattr(cause, "sqlstate", None)
    name = type(cause).__name__ if cause is not None else type(refusal).__name__
    return f"{name} {state}" if isinstance(state, str) else name


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo and len(seen) < 16:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        # Tortoise wraps the driver's error as its first argument.
        todo.extend(a for a in current.args[:1] if isinstance(a, BaseException))
        todo.append(current.__cause__)
        if not current.__suppress_context__:
            todo.append(current.__context__)


def _classify(error: BaseException) -> ServiceUnavailable | None:
    if isinstance(error, sqlite3.Error):
        code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
        if code == _SQLITE_FULL:
            return StorageFull(
                "The community cannot store anything more right now; reading still works."
            )
        if code == _SQLITE_READONLY:
            return StorageReadOnly("The community is read-only right now; reading still works.")
        return _gone() if code in _SQLITE_NOT_NOW else None
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str):
        if state == _SQLSTATE_DISK_FULL:
            return StorageFull(
                "The community cannot store anything more right now; reading still works."
            )
        if state == _SQLSTATE_READ_ONLY:
            return StorageReadOnly("The community is read-only right now; reading still works.")
        return _gone() if state.startswith(_SQLSTATE_NOT_NOW) else None
    if isinstance(error, DBConnectionError):
        return _gone()
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is not None:
        # Client-side: a connection the server closed ("connection is closed"),
        # or one it is closing while asyncpg uses it (an operation found the
        # protocol mid-way through another). Not a stale schema cache: a bug.
        if isinstance(error, asyncpg.InterfaceError) and "closed" in str(error):
            return _gone()
        if isinstance(error, asyncpg.exceptions.InternalClientError) and not isinstance(
            error, asyncpg.exceptions.OutdatedSchemaCacheError
        ):
            return _gone()
    if isinstance(error, OSError) and _raised_in_driver(error):
        return _gone()
    return None


def _gone() -> ServiceUnavailable:
    return ServiceUnavailable("The community's database does not answer; try again in a moment.")


def _raised_in_driver(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.split(".", 1)[0] in _DRIVERS:
            return True
        tb = tb.tb_next
    return False


# -- internals --------------------------------------------------------------


async def _init_isolated(ctx: TortoiseContext, config: dict[str, Any]) -> None:
    saved_env = {key: os.environ.get(key) for key in ("USE_TZ", "TIMEZONE")}
    saved_routers = getattr(_tortoise_router, "_routers", None)
    token = _current_context.set(ctx)
    try:
        await ctx.init(config=config)
    finally:
        _current_context.reset(token)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reset_timezone_cache()
        _tortoise_router._routers = saved_routers  # type: ignore[assignment]


_UNIQUE_CONSTRAINT = re.compile(r'CONSTRAINT "(\w+)" UNIQUE \(([^)]*)\)')


class _SqliteEditor(SqliteSchemaEditor):
    """Tortoise's SQLite schema editor, keeping a rebuilt table's indexes.

    SQLite changes a column by rebuilding the table (create, copy, drop,
    rename). Tortoise 1.1's rebuild recreates the columns only: the table's
    indexes, its unique-together constraints and its triggers vanish with
    the old table. Here they are read before the rebuild and made again
    after it, so a migrated SQLite database has the same indexes and
    uniqueness rules as a new one.
    """

    async def _remake_table(  # type: ignore[no-untyped-def]
        self, model, create_field=None, delete_field=None, alter_fields=None
    ) -> None:
        table = model._meta.db_table
        rows = await self.client.execute_query_dict(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL",
            [table],
        )
        keep = [r["sql"] for r in rows if r["type"] in ("index", "trigger")]
        table_sql = next((r["sql"] for r in rows if r["type"] == "table"), "")
        for name, columns in _UNIQUE_CONSTRAINT.findall(table_sql):
            keep.append(f'CREATE UNIQUE INDEX "{name}" ON "{table}" ({columns})')
        renamed = {
            old.source_field or old.model_field_name: new.source_field or new.model_field_name
            for old, new in alter_fields or []
        }
        dropped = (
            (delete_field.source_field or delete_field.model_field_name) if delete_field else None
        )
        await super()._remake_table(model, create_field, delete_field, alter_fields)
        for statement in keep:
            if dropped and f'"{dropped}"' in statement:
                continue  # an index on a column that is gone goes with it
            for old, new in renamed.items():
                statement = statement.replace(f'"{old}"', f'"{new}"')
            await self._run_sql(statement)


class _Executor(MigrationExecutor):
    """Tortoise's executor, recording into our own table instead of the shared one."""

    def __init__(self, connection: BaseDBAsyncClient, engine: str) -> None:
        super().__init__(connection, _apps_config(engine))
        self.recorder = MigrationRecorder(connection, table_name=MIGRATIONS_TABLE)
        self.loader.recorder = self.recorder

    def _schema_editor(self, atomic: bool = True, collect_sql: bool = False) -> BaseSchemaEditor:
        if "sqlite" in self.connection.__class__.__module__:
            return _SqliteEditor(self.connection, atomic=atomic, collect_sql=collect_sql)
        return super()._schema_editor(atomic=atomic, collect_sql=collect_sql)


def _apps_config(engine: str) -> dict[str, dict[str, Any]]:
    return {
        APP_LABEL: {
            "models": list(MODEL_MODULES),
            "default_connection": CONNECTION_NAMES[engine],
            "migrations": MIGRATIONS_MODULE,
        }
    }


async def _pending(connection: BaseDBAsyncClient, engine: str) -> list[str]:
    executor = _Executor(connection, engine)
    try:
        steps = await executor.plan()
    except OperationalError:
        # No ac_migrations table yet: nothing has been applied. Checking must
        # not create it (a read-only check on a database someone else owns).
        executor.loader.recorder = _NothingApplied(connection)
        executor.recorder = executor.loader.recorder
        steps = await executor.plan()
    return [step.migration.name for step in steps if not step.backward]


async def _apply(connection: BaseDBAsyncClient, engine: str, upto: str | None = None) -> list[str]:
    applied: list[str] = []
    targets = [MigrationTarget(APP_LABEL, upto)] if upto else None

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)

    if engine == "postgres":
        # Several processes starting with migrate_on_start must not migrate
        # at once: the first holds a session-level advisory lock, the others
        # wait for it and then find nothing left to apply.
        async with connection.acquire_connection() as lock:
            await lock.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
            try:
                await _Executor(connection, engine).migrate(targets, progress=progress)
            finally:
                await lock.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    else:
        # SQLite alters a column by rebuilding its table (create, copy, drop,
        # rename). With foreign keys on, dropping the old table cascades and
        # deletes the rows that point at it, so they are off while migrating
        # (SQLite's documented procedure) and checked once it is done. The
        # pragma is a no-op inside a transaction, hence outside the executor's.
        await connection.execute_script("PRAGMA foreign_keys=OFF")
        try:
            await _Executor(connection, engine).migrate(targets, progress=progress)
            broken = await connection.execute_query_dict("PRAGMA foreign_key_check")
            if broken:
                raise RuntimeError(f"migration left {len(broken)} broken references: {broken[:3]}")
        finally:
            await connection.execute_script("PRAGMA foreign_keys=ON")
    return applied


class _NothingApplied(MigrationRecorder):
    def __init__(self, connection: BaseDBAsyncClient) -> None:
        super().__init__(connection, table_name=MIGRATIONS_TABLE)

    async def applied_migrations(self) -> list[Any]:
        return []
