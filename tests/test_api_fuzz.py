"""Generated requests against every operation of the OpenAPI document, with every check.

schemathesis reads the document a real uvicorn serves (the community at the
root, as a host may mount it), and sends requests made from it, as a member
and as a moderator, with a fixed seed so a failure can be replayed. Every
check runs (all enabled in the run's config, so that one operation can have
an exception): no server error, every status and body as
documented, and the schemas saying exactly what the API takes: a request
the schema allows is not refused (ST202), one it forbids is not accepted
(ST201). A handful of rules JSON Schema cannot say are listed in
``MAY_REFUSE_VALID``, each with the rule; everything else must match.

SQLite only: the document and the request checks do not depend on the engine.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx
import pytest

from alumni_community import Community
from alumni_community.identity.models import Member, Role

from .chat.test_processes import server
from .conftest import clone_migrated, make_settings

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PASSWORD = "a long enough passphrase"
#: Operations left out: signing out, erasing or re-keying the account under test ends the run.
EXCLUDED = r"^/(session|sessions|me|me/password|me/recovery-codes)$|^/sessions/"
SEED = "20261127"
EXAMPLES = "15"

#: Operations that may refuse a request their schema allows with 422, and the
#: rule each time: one about data the server holds, or that ties values
#: together in a way JSON Schema cannot say.
MAY_REFUSE_VALID: dict[tuple[str, str], str] = {
    ("GET", "/meetings"): "`to` comes after `from`, at most 62 days later",
    ("GET", "/rooms/{slug}/messages"): "`before` and `after` are not both given",
    ("GET", "/rooms/{slug}/threads"): "the opaque cursor is one the list gave out",
    ("GET", "/threads/{id}"): "the opaque cursor is one the list gave out",
    ("POST", "/accounts"): "the handle is free and looks like no taken one; "
    "the password is not a common one, nor the handle",
    ("POST", "/rooms"): "the slug is free",
    ("POST", "/rooms/{slug}/members"): "the handle is a member's",
    ("POST", "/meetings"): "the room exists; the time zone is one the server knows",
    ("PATCH", "/meetings/{id}"): "the room exists; the time zone is one the server knows",
    ("POST", "/meetings/{id}/exceptions"): "the date is one the meeting meets on",
    ("POST", "/moderation/queue/{id}"): "the item is not resolved already",
    ("POST", "/moderation/members/{handle}/actions"): "`until` is in the future",
    ("POST", "/moderation/watched-words"): "a regular expression is one Python compiles, "
    "cannot match empty text, and has no shape that backtracks for ever",
    ("POST", "/opportunities"): "each slot starts within the next two years, ends within 7 days",
    # The moderator's run adds watched words, some of them blocking ones.
    ("POST", "/rooms/{slug}/threads"): "the text has no blocked watched word",
    ("POST", "/threads/{id}/posts"): "the text has no blocked watched word",
    ("PATCH", "/posts/{id}"): "the text has no blocked watched word",
}
#: What positive_data_acceptance takes by default, and 422.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]


def config(base: str, cookie: str, csrf: str) -> str:
    """A schemathesis configuration: the session and CSRF token of one member."""
    lines = [
        f'headers = {{ Origin = "{base}" }}',
        # Runs stay independent of each other, and of crashes stored by earlier ones.
        "cache.enabled = false",
        # Every check. Not `--checks all`: checks named on the command line
        # win over the per-operation settings below.
        "checks.enabled = true",
        "[auth.openapi.session]",
        f'api_key = "{cookie}"',
        "[auth.openapi.csrf]",
        f'api_key = "{csrf}"',
    ]
    for (method, path), rule in MAY_REFUSE_VALID.items():
        lines += [
            f"# {rule}",
            "[[operations]]",
            # One operation: an include-path and an include-method would match either.
            f'include-name = "{method} {path}"',
            f"checks.positive_data_acceptance.expected-statuses = {json.dumps(ACCEPTED)}",
        ]
    lines += [
        # A request for a sponsor can be declined only by the sponsor asked,
        # never by the member who made it (404), which is who the run is.
        "[[operations]]",
        'include-name = "POST /sponsorship/requests/{id}/decline"',
        "checks.ensure_resource_availability.enabled = false",
    ]
    return "\n".join(lines) + "\n"


async def signed_in(api: str, handle: str) -> tuple[str, str]:
    """The session cookie and CSRF token of a fresh sign-in."""
    async with httpx.AsyncClient(base_url=api) as http:
        signed = await http.post("/session", json={"handle": handle, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        cookie = http.cookies.get("ac_session")
        assert cookie
        return cookie, signed.json()["csrf_token"]


async def seed_content(api: str, base: str, moderator: tuple[str, str]) -> None:
    """A room, a thread and a reply, so generated ids and slugs can hit something."""
    cookie, csrf = moderator
    async with httpx.AsyncClient(
        base_url=api,
        cookies={"ac_session": cookie},
        headers={"X-CSRF-Token": csrf, "Origin": base},
    ) as http:
        made = await http.post(
            "/rooms", json={"slug": "lounge", "name": "Lounge", "moderation": "open"}
        )
        assert made.status_code == 201, made.text
        thread = await http.post("/rooms/lounge/threads", json={"title": "Hi", "body": "Hello"})
        assert thread.status_code == 201, thread.text


async def test_generated_requests_meet_every_check_as_a_member_and_a_moderator(
    sqlite_url: str, tmp_path: Path
) -> None:
    await clone_migrated(sqlite_url)
    community = Community(make_settings(sqlite_url))
    async with community.lifespan():
        with community.database.activate():
            await community.accounts.create_member("fuzz-mod", PASSWORD, Role.MODERATOR)
            await community.accounts.create_member("fuzz-member", PASSWORD, Role.MEMBER)
            await Member.filter(handle="fuzz-member").update(trust_level=2)
    runner = Path(sys.executable).parent / "schemathesis"
    with server(sqlite_url, "memory://", AC_TEST_MOUNT="/") as (base, _process):
        api = base + "/api/v1"
        moderator = await signed_in(api, "fuzz-mod")
        await seed_content(api, base, moderator)
        member = await signed_in(api, "fuzz-member")
        # The member first: the moderator's run may suspend whoever it finds.
        for who, (cookie, csrf) in (("member", member), ("moderator", moderator)):
            settings = tmp_path / f"{who}.toml"
            settings.write_text(config(base, cookie, csrf), "utf-8")
            command = [
                str(runner),
                "--config-file",
                str(settings),
                "run",
                f"{api}/openapi.json",
                "--max-examples",
                EXAMPLES,
                "--seed",
                SEED,
                "--exclude-path-regex",
                EXCLUDED,
                "--no-color",
            ]
            process = await asyncio.create_subprocess_exec(
                *command,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=tmp_path,
            )
            out, _ = await asyncio.wait_for(process.communicate(), timeout=600)
            report = out.decode(errors="replace")
            assert process.returncode == 0, f"as a {who}:\n{report[-12000:]}"
            assert " generated, " in report and " passed" in report, report[-3000:]
