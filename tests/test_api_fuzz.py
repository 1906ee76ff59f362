"""Generated requests against every operation of the OpenAPI document: never a 5xx.

schemathesis reads the document a real uvicorn serves, and sends requests
made from it (valid ones, and ones just outside each schema), as a member
and as a moderator, with a fixed seed so a failure can be replayed. The
check is the one that matters most: the server answers every one of them
with a response of its own, never a server error.
"""

from __future__ import annotations

import asyncio
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


async def signed_in(base: str, handle: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base + "/community/api/v1") as http:
        signed = await http.post("/session", json={"handle": handle, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        return {
            "Cookie": f"ac_session={http.cookies.get('ac_session')}",
            "X-CSRF-Token": signed.json()["csrf_token"],
            "Origin": base,
        }


async def seed_content(base: str, moderator: dict[str, str]) -> None:
    """A room, a thread and a reply, so generated ids and slugs can hit something."""
    async with httpx.AsyncClient(base_url=base + "/community/api/v1", headers=moderator) as http:
        made = await http.post(
            "/rooms", json={"slug": "lounge", "name": "Lounge", "moderation": "open"}
        )
        assert made.status_code == 201, made.text
        thread = await http.post("/rooms/lounge/threads", json={"title": "Hi", "body": "Hello"})
        assert thread.status_code == 201, thread.text


async def test_no_generated_request_gets_a_server_error(sqlite_url: str, tmp_path: Path) -> None:
    await clone_migrated(sqlite_url)
    community = Community(make_settings(sqlite_url))
    async with community.lifespan():
        with community.database.activate():
            await community.accounts.create_member("fuzz-mod", PASSWORD, Role.MODERATOR)
            await community.accounts.create_member("fuzz-member", PASSWORD, Role.MEMBER)
            await Member.filter(handle="fuzz-member").update(trust_level=2)
    runner = Path(sys.executable).parent / "schemathesis"
    with server(sqlite_url, "memory://") as (base, _process):
        moderator = await signed_in(base, "fuzz-mod")
        await seed_content(base, moderator)
        member = await signed_in(base, "fuzz-member")
        for who, headers in (("member", member), ("moderator", moderator)):
            command = [
                str(runner),
                "run",
                f"{base}/community/api/v1/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "15",
                "--seed",
                SEED,
                "--exclude-path-regex",
                EXCLUDED,
                "--no-color",
                "--report-dir",
                str(tmp_path / who),
            ]
            for name, value in headers.items():
                command += ["-H", f"{name}: {value}"]
            process = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
            out, _ = await asyncio.wait_for(process.communicate(), timeout=600)
            summary = out.decode(errors="replace")[-6000:]
            assert process.returncode == 0, f"as a {who}:\n{summary}"
            assert "generated" in summary and " passed" in summary, summary
