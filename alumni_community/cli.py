"""The ``alumni-community`` command (also ``python -m alumni_community``).

Configured from the same ``ALUMNI_COMMUNITY_*`` environment variables as the
library; ``--database-url`` overrides the database. Exit status: 0 done,
1 failed (with the reason on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from . import __version__
from .db import Database, make_migrations, migrate
from .errors import CommunityError, ValidationFailed
from .identity.models import Member, Role
from .identity.service import Accounts
from .settings import Settings

T = TypeVar("T")

__all__ = ["main"]

#: Where `demo` keeps its databases unless told otherwise, relative to the
#: working directory, so a demo never writes into a real community's file.
DEMO_DIR = "demo-data"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        result: int = args.run(args)
        return result
    except ValidationFailed as error:
        for field, messages in error.errors.items():
            print(f"error: {field} {'; '.join(messages)}", file=sys.stderr)
        return 1
    except CommunityError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alumni-community", description="Run and administer an alumni community."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--database-url",
        help="database to use (default: $ALUMNI_COMMUNITY_DATABASE_URL or the settings default)",
    )
    # The option is accepted after the command too (`migrate --database-url ...`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", parents=[common], help="run the example host with a seeded community on SQLite"
    )
    demo.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=_demo)

    mig = commands.add_parser(
        "migrate", parents=[common], help="bring the database schema up to date"
    )
    mig.set_defaults(run=_migrate)

    create = commands.add_parser(
        "create-member",
        parents=[common],
        help="create a member; the password is read from standard input",
    )
    create.add_argument("handle")
    create.add_argument("--role", choices=[r.value for r in Role], default="member")
    create.set_defaults(run=_create_member)

    promote = commands.add_parser("promote", parents=[common], help="change a member's role")
    promote.add_argument("handle")
    promote.add_argument("--role", choices=[r.value for r in Role], required=True)
    promote.set_defaults(run=_promote)

    trust = commands.add_parser("trust", parents=[common], help="set a member's trust level")
    trust.add_argument("handle")
    trust.add_argument("--level", type=int, choices=range(4), required=True)
    trust.set_defaults(run=_trust)

    host = commands.add_parser(
        "meeting-host", parents=[common], help="let a member schedule meetings (or stop)"
    )
    host.add_argument("handle")
    host.add_argument("--off", action="store_true", help="take the permission away")
    host.set_defaults(run=_meeting_host)

    export = commands.add_parser(
        "export", parents=[common], help="print everything held about a member, as JSON"
    )
    export.add_argument("handle")
    export.set_defaults(run=_export)

    make = commands.add_parser(
        "makemigrations", help="(contributors) write migrations for model changes"
    )
    make.add_argument("--name", help="suffix of the new migration's name")
    make.set_defaults(run=_makemigrations)
    return parser


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    if args.database_url:
        overrides["database_url"] = args.database_url
    return Settings.from_env(**overrides)


def _migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    applied = asyncio.run(migrate(settings))
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("the schema is up to date; nothing to apply")
    return 0


def _with_accounts(args: argparse.Namespace, action: Callable[[Accounts], Awaitable[T]]) -> T:
    settings = _settings(args)

    async def run() -> T:
        database = Database(settings)
        await database.open()
        accounts = Accounts(settings)
        try:
            with database.activate():
                await database.ensure_schema()
                return await action(accounts)
        finally:
            accounts.close()
            await database.close()

    return asyncio.run(run())


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise ValidationFailed({"password": ["the two entries differ"]})
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _create_member(args: argparse.Namespace) -> int:
    password = _read_password()

    async def create(accounts: Accounts) -> tuple[Member, list[str]]:
        return await accounts.create_member(args.handle, password, Role(args.role))

    member, codes = _with_accounts(args, create)
    print(f"created {member.handle} ({member.role})")
    print("recovery codes (give them to the member; they are shown only now):")
    for code in codes:
        print(f"  {code}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    member = _with_accounts(args, lambda a: a.set_role(args.handle, Role(args.role)))
    print(f"{member.handle} is now {member.role}")
    return 0


def _trust(args: argparse.Namespace) -> int:
    member = _with_accounts(args, lambda a: a.set_trust(args.handle, args.level))
    print(f"{member.handle} now has trust level {member.trust_level}")
    return 0


def _meeting_host(args: argparse.Namespace) -> int:
    member = _with_accounts(args, lambda a: a.set_meeting_host(args.handle, not args.off))
    print(f"{member.handle} {'may' if member.meeting_host else 'may not'} schedule meetings")
    return 0


def _export(args: argparse.Namespace) -> int:
    async def export(accounts: Accounts) -> dict[str, Any]:
        return await accounts.export(await accounts.get_by_handle(args.handle))

    print(json.dumps(_with_accounts(args, export), indent=2, ensure_ascii=False))
    return 0


def _makemigrations(args: argparse.Namespace) -> int:
    paths = asyncio.run(make_migrations(args.name))
    for path in paths:
        print(f"wrote {path}")
    if not paths:
        print("no model changes")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import uvicorn

    Path(DEMO_DIR).mkdir(exist_ok=True)
    # The demo never reads a real community's database from the environment:
    # it uses its own files unless --database-url names one explicitly.
    os.environ["ALUMNI_COMMUNITY_DEMO"] = "true"
    os.environ["ALUMNI_COMMUNITY_DATABASE_URL"] = (
        args.database_url or f"sqlite://{DEMO_DIR}/community.sqlite3"
    )
    os.environ["HOST_DATABASE_URL"] = f"sqlite://{DEMO_DIR}/host.sqlite3"
    from ._demo_host import create_app
    from .demo import DEMO_LOGINS

    app = create_app()  # configured from the environment set above

    base = f"http://{args.host}:{args.port}"
    print(
        f"\n  The host site:      {base}/\n  The community:      {base}/community/\n"
        f"  The API document:   {base}/community/api/v1/openapi.json\n"
        f"  Data is kept in ./{DEMO_DIR}/ (delete it to start over). Ctrl-C stops.\n\n"
        "  Demo sign-ins (handle / password):\n"
        + "".join(
            f"    {handle} / {password}  ({role})\n" for handle, password, role in DEMO_LOGINS
        ),
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        # uvicorn's access log writes each client's address: no IP in any log line.
        access_log=False,
        # Chat frames are small and compression costs memory per socket.
        ws_per_message_deflate=False,
        ws_max_size=64 * 1024,
    )
    return 0
