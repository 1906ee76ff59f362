"""Export and erasure: everything held is handed over; erased data is gone, even from the file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from alumni_community import Community
from alumni_community.identity.models import LoginFailure, Member, RecoveryCode, Session

from .test_accounts import PASSWORD, csrf, sign_up

pytestmark = pytest.mark.anyio

HANDLE = "zephyrine_q"
BIO = "MARKER-bio-7731 I like long walks"


async def test_export_holds_everything_about_the_member(client: httpx.AsyncClient) -> None:
    token = csrf(await sign_up(client, HANDLE))
    await client.patch(
        "/me",
        headers=token,
        json={"bio": BIO, "sobriety_date": "2023-05-01", "share_milestones": True},
    )
    response = await client.get("/me/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    member = data["member"]
    assert member["handle"] == HANDLE and member["bio"] == BIO
    assert member["sobriety_date"] == "2023-05-01" and member["share_milestones"] is True
    assert member["has_password"] is True and member["host_linked"] is False
    assert len(data["sessions"]) == 1 and data["recovery_codes_left"] == 10
    # Every column of the member row is accounted for in the export.
    row = await Member.get(handle=HANDLE)
    exported_or_secret = {
        "id",
        "handle",
        "handle_key",
        "handle_skeleton",
        "bio_html",
        "password_hash",
        "host_key",
        "joined_at",
    } | set(member)
    assert set(row._meta.db_fields) <= exported_or_secret


async def test_erasing_needs_the_password(client: httpx.AsyncClient) -> None:
    token = csrf(await sign_up(client, HANDLE))
    response = await client.request("DELETE", "/me", json={"password": "not mine!"}, headers=token)
    assert response.status_code == 401
    assert await Member.filter(handle=HANDLE).exists()


async def test_erasure_leaves_only_a_tombstone(
    client: httpx.AsyncClient, community: Community
) -> None:
    token = csrf(await sign_up(client, HANDLE))
    await client.patch("/me", headers=token, json={"bio": BIO, "sobriety_date": "2023-05-01"})
    await client.post("/session", json={"handle": "wrong", "password": "nope nope"})
    tombstone_id = (await Member.get(handle=HANDLE)).id

    erased = await client.request("DELETE", "/me", json={"password": PASSWORD}, headers=token)
    assert erased.status_code == 204
    assert (await client.get("/session")).status_code == 401

    row = await Member.get(id=tombstone_id)
    assert row.status == "erased"
    personal = [
        row.handle,
        row.handle_key,
        row.handle_skeleton,
        row.password_hash,
        row.host_key,
        row.sobriety_date,
    ]
    assert personal == [None] * 6 and row.bio == row.bio_html == ""
    assert await Session.filter(member_id=tombstone_id).count() == 0
    assert await RecoveryCode.filter(member_id=tombstone_id).count() == 0
    assert await LoginFailure.all().count() == 0  # the failed login's record went with it
    # The handle is free again, and nobody can sign in as the erased member.
    assert (
        await client.post("/session", json={"handle": HANDLE, "password": PASSWORD})
    ).status_code == 401

    if community.settings.database_engine == "sqlite":
        path = Path(community.settings.database_url.removeprefix("sqlite://"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert HANDLE.encode() not in raw and b"zephyrine" not in raw
        assert b"MARKER-bio-7731" not in raw
