"""Accounts and sessions through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from alumni_community import Community
from alumni_community.identity.models import LoginFailure, Member, RecoveryCode, Session
from alumni_community.settings import Limit

from ..conftest import PLANTED_IP, LeakWatch, make_settings

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


async def sign_up(
    client: httpx.AsyncClient, handle: str = "river", password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/accounts", json={"handle": handle, "password": password})


async def session_with(client: httpx.AsyncClient, cookie: str) -> httpx.Response:
    """GET /session presenting ``cookie``, leaving the client's own cookies as they were."""
    saved = dict(client.cookies)
    client.cookies.clear()
    client.cookies.set("ac_session", cookie)
    try:
        return await client.get("/session")
    finally:
        client.cookies.clear()
        for name, value in saved.items():
            client.cookies.set(name, value)


def csrf(response: httpx.Response) -> dict[str, str]:
    return {"x-csrf-token": response.json()["csrf_token"]}


async def test_sign_up_signs_in_and_shows_recovery_codes_once(client: httpx.AsyncClient) -> None:
    response = await sign_up(client)
    assert response.status_code == 201
    body = response.json()
    assert body["member"] == {
        "handle": "river",
        "role": "member",
        "joined": body["member"]["joined"],
        "milestone": None,
    }
    assert re.fullmatch(r"\d{4}-\d{2}", body["member"]["joined"])
    codes = body["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("ac_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/community" in cookie

    me = await client.get("/session")
    assert me.status_code == 200
    assert me.json()["member"]["handle"] == "river"
    assert "recovery_codes" not in me.json()
    assert me.json()["csrf_token"] == body["csrf_token"]


async def test_secure_cookies_use_the_secure_prefix(database_url: str) -> None:
    from alumni_community.db import migrate

    await migrate(make_settings(database_url))
    community = Community(make_settings(database_url, cookie_secure=True))
    async with community.lifespan():
        from starlette.applications import Starlette
        from starlette.routing import Mount

        app = Starlette(routes=[Mount("/a/b", app=community)])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://t/a/b/api/v1"
        ) as http:
            cookie = (await sign_up(http)).headers["set-cookie"]
    assert cookie.startswith("__Secure-ac_session=")
    assert "Secure" in cookie and "Path=/a/b" in cookie


async def test_no_session_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/session")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_login_replaces_the_old_session_and_logout_kills_it(
    client: httpx.AsyncClient,
) -> None:
    first = await sign_up(client)
    old_cookie = client.cookies["ac_session"]
    # Signing in again from a browser that has a session is an unsafe request with a session.
    refused = await client.post("/session", json={"handle": "RIVER", "password": PASSWORD})
    assert refused.status_code == 403
    login = await client.post(
        "/session", json={"handle": "RIVER", "password": PASSWORD}, headers=csrf(first)
    )
    assert login.status_code == 200
    new_cookie = client.cookies["ac_session"]
    assert new_cookie != old_cookie

    # The old cookie is dead server-side, not merely replaced in this browser.
    stale = await session_with(client, old_cookie)
    assert stale.status_code == 401

    out = await client.delete("/session", headers=csrf(login))
    assert out.status_code == 204
    assert (await session_with(client, new_cookie)).status_code == 401
    assert await Session.all().count() == 0


async def test_unsafe_requests_need_the_sessions_csrf_token(client: httpx.AsyncClient) -> None:
    first = await sign_up(client, "river")
    first_cookie = client.cookies["ac_session"]
    client.cookies.clear()
    await sign_up(client, "meadow")
    # No token, a wrong token, another session's token: all refused, and nothing changes.
    for headers in ({}, {"x-csrf-token": "nope"}, csrf(first)):
        response = await client.patch("/me", json={"bio": "changed"}, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "csrf_failed"
    assert (await client.get("/me")).json()["bio"] == ""
    client.cookies.clear()
    client.cookies.set("ac_session", first_cookie)
    assert (await client.patch("/me", json={"bio": "ok"}, headers=csrf(first))).status_code == 200


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 8"),
        ("password1", "most common"),
        ("iloveyou", "most common"),
        ("River", "at least 8"),
        ("river-stone", "handle"),
        ("x" * 1025, "at most 1024 bytes"),
        ("é" * 513, "at most 1024 bytes"),
    ],
)
async def test_weak_passwords_are_refused(
    client: httpx.AsyncClient, password: str, message: str
) -> None:
    response = await sign_up(client, "river-stone", password)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert message in response.json()["errors"]["password"][0]
    assert await Member.all().count() == 0


async def test_a_long_passphrase_of_64_characters_is_fine(client: httpx.AsyncClient) -> None:
    assert (
        await sign_up(client, "river", "a quiet river runs " * 3 + "deep and slow")
    ).status_code == 201


@pytest.mark.parametrize(
    ("taken", "wanted", "message"),
    [
        ("river", "River", "is taken"),
        ("Iris", "lris", "looks too much like"),
        ("paypal", "paypa1", "looks too much like"),
        ("modern", "rnodern", "looks too much like"),
        ("river_song", "riversong", "looks too much like"),
    ],
)
async def test_taken_and_look_alike_handles_are_refused(
    client: httpx.AsyncClient, taken: str, wanted: str, message: str
) -> None:
    assert (await sign_up(client, taken)).status_code == 201
    client.cookies.clear()
    response = await sign_up(client, wanted)
    assert response.status_code == 422
    assert message in response.json()["errors"]["handle"][0]


@pytest.mark.parametrize(
    "handle", ["ab", "x" * 33, "has space", "p\u0430ypal", "1234", "_lead", "a@b"]
)
async def test_malformed_handles_are_refused(client: httpx.AsyncClient, handle: str) -> None:
    response = await sign_up(client, handle)
    assert response.status_code == 422
    assert "handle" in response.json()["errors"]


async def test_missing_fields_are_listed(client: httpx.AsyncClient) -> None:
    response = await client.post("/accounts", json={"handle": 7})
    assert response.status_code == 422
    assert response.json()["errors"] == {"handle": ["must be text"], "password": ["is required"]}


async def test_unknown_handle_and_wrong_password_look_the_same(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    client.cookies.clear()
    wrong = await client.post("/session", json={"handle": "river", "password": "not it at all"})
    unknown = await client.post("/session", json={"handle": "nobody", "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "invalid_credentials"


async def test_five_failures_lock_a_handle_with_retry_after(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    client.cookies.clear()
    for handle in ("river", "nobody"):  # the same for a handle that does not exist
        for _ in range(5):
            response = await client.post(
                "/session", json={"handle": handle, "password": "wrong pw"}
            )
            assert response.status_code == 401
        locked = await client.post("/session", json={"handle": handle, "password": PASSWORD})
        assert locked.status_code == 429
        assert locked.json()["code"] == "rate_limited"
        assert 1700 <= int(locked.headers["retry-after"]) <= 1800
    # No address is stored with the failures.
    rows = await LoginFailure.all().values()
    assert rows and all(PLANTED_IP not in str(row) for row in rows)


@pytest.fixture
async def strict(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, list[dt.datetime]]]:
    """A community with a movable clock and tight per-address limits."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from alumni_community.db import migrate

    now = [dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)]
    settings = make_settings(
        database_url,
        clock=lambda: now[0],
        login_limit_per_ip=Limit(3, 600),
        signup_limit_per_ip=Limit(2, 3600),
    )
    await migrate(settings)
    community = Community(settings)
    async with community.lifespan():
        token = community.database.enter()
        watch = LeakWatch(Starlette(routes=[Mount("/community", app=community)]))
        transport = httpx.ASGITransport(app=watch, client=(PLANTED_IP, 1))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t/community/api/v1"
        ) as http:
            yield http, now
        watch.assert_clean()
        community.database.leave(token)


async def test_one_address_trying_many_handles_is_throttled(
    strict: tuple[httpx.AsyncClient, list[dt.datetime]],
) -> None:
    client, now = strict
    for handle in ("a-one", "b-two", "c-three"):
        response = await client.post("/session", json={"handle": handle, "password": "whatever1"})
        assert response.status_code == 401
    blocked = await client.post("/session", json={"handle": "d-four", "password": "whatever1"})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) == 600
    now[0] += dt.timedelta(seconds=601)
    again = await client.post("/session", json={"handle": "d-four", "password": "whatever1"})
    assert again.status_code == 401


async def test_sign_ups_per_address_are_limited(
    strict: tuple[httpx.AsyncClient, list[dt.datetime]],
) -> None:
    client, _ = strict
    assert (await sign_up(client, "first")).status_code == 201
    client.cookies.clear()
    assert (await sign_up(client, "second")).status_code == 201
    client.cookies.clear()
    third = await sign_up(client, "third")
    assert third.status_code == 429 and "retry-after" in third.headers


async def test_idle_sessions_expire(strict: tuple[httpx.AsyncClient, list[dt.datetime]]) -> None:
    client, now = strict
    await sign_up(client)
    now[0] += dt.timedelta(days=13, hours=23)
    assert (await client.get("/session")).status_code == 200  # activity renews the idle clock
    now[0] += dt.timedelta(days=13, hours=23)
    assert (await client.get("/session")).status_code == 200
    now[0] += dt.timedelta(days=14, seconds=1)
    expired = await client.get("/session")
    assert expired.status_code == 401
    assert "ac_session=" in expired.headers.get("set-cookie", "")  # the dead cookie is cleared
    assert await Session.all().count() == 0


async def test_sessions_end_at_the_absolute_limit_however_active(
    strict: tuple[httpx.AsyncClient, list[dt.datetime]],
) -> None:
    client, now = strict
    await sign_up(client)
    for _ in range(59):
        now[0] += dt.timedelta(days=1)
        assert (await client.get("/session")).status_code == 200
    now[0] += dt.timedelta(days=1)
    assert (await client.get("/session")).status_code == 401


async def test_recovery_code_resets_the_password_once_and_ends_all_sessions(
    client: httpx.AsyncClient,
) -> None:
    codes = (await sign_up(client)).json()["recovery_codes"]
    old_cookie = client.cookies["ac_session"]
    client.cookies.clear()
    new_password = "a brand new passphrase"
    recovered = await client.post(
        "/session/recover",
        json={
            "handle": "river",
            "recovery_code": codes[0].upper().replace("-", " "),
            "new_password": new_password,
        },
    )
    assert recovered.status_code == 200
    assert (await session_with(client, old_cookie)).status_code == 401
    client.cookies.clear()
    again = await client.post(
        "/session/recover",
        json={"handle": "river", "recovery_code": codes[0], "new_password": "yet another one!"},
    )
    assert again.status_code == 401 and again.json()["code"] == "invalid_credentials"
    assert (
        await client.post("/session", json={"handle": "river", "password": PASSWORD})
    ).status_code == 401
    assert (
        await client.post("/session", json={"handle": "river", "password": new_password})
    ).status_code == 200
    assert await RecoveryCode.filter(used_at=None).count() == 9


async def test_a_recovery_code_used_twice_at_once_works_once(client: httpx.AsyncClient) -> None:
    codes = (await sign_up(client)).json()["recovery_codes"]
    client.cookies.clear()
    results = await asyncio.gather(
        *[
            client.post(
                "/session/recover",
                json={
                    "handle": "river",
                    "recovery_code": codes[1],
                    "new_password": f"new passphrase {i}",
                },
            )
            for i in range(2)
        ]
    )
    assert sorted(r.status_code for r in results) == [200, 401]


async def test_sessions_can_be_listed_and_ended(client: httpx.AsyncClient) -> None:
    first = await sign_up(client)
    cookies = [client.cookies["ac_session"]]
    for _ in range(2):
        client.cookies.clear()
        await client.post(
            "/session",
            json={"handle": "river", "password": PASSWORD},
            headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"},
        )
        cookies.append(client.cookies["ac_session"])
    client.cookies.clear()
    client.cookies.set("ac_session", cookies[0])
    listing = (await client.get("/sessions")).json()["items"]
    assert len(listing) == 3
    assert sum(item["current"] for item in listing) == 1
    assert {"Firefox on Linux", "httpx"} <= {item["client"] for item in listing}
    other = next(item["id"] for item in listing if not item["current"])
    assert (await client.delete(f"/sessions/{other}", headers=csrf(first))).status_code == 204
    assert (await client.delete("/sessions/does-not-exist", headers=csrf(first))).status_code == 404
    assert len((await client.get("/sessions")).json()["items"]) == 2
    assert (await client.delete("/sessions", headers=csrf(first))).status_code == 204
    assert [i["current"] for i in (await client.get("/sessions")).json()["items"]] == [True]


async def test_new_recovery_codes_need_the_password_and_replace_the_old(
    client: httpx.AsyncClient,
) -> None:
    first = await sign_up(client)
    old_codes = first.json()["recovery_codes"]
    refused = await client.post(
        "/me/recovery-codes", json={"password": "wrong one!"}, headers=csrf(first)
    )
    assert refused.status_code == 401
    fresh = await client.post(
        "/me/recovery-codes", json={"password": PASSWORD}, headers=csrf(first)
    )
    assert fresh.status_code == 201
    assert not set(fresh.json()["recovery_codes"]) & set(old_codes)
    client.cookies.clear()
    stale = await client.post(
        "/session/recover",
        json={
            "handle": "river",
            "recovery_code": old_codes[0],
            "new_password": "another passphrase",
        },
    )
    assert stale.status_code == 401


async def test_changing_the_password_ends_other_sessions(client: httpx.AsyncClient) -> None:
    first = await sign_up(client)
    mine = client.cookies["ac_session"]
    client.cookies.clear()
    await client.post("/session", json={"handle": "river", "password": PASSWORD})
    other = client.cookies["ac_session"]
    client.cookies.clear()
    client.cookies.set("ac_session", mine)
    changed = await client.post(
        "/me/password",
        headers=csrf(first),
        json={"current_password": PASSWORD, "new_password": "new and long"},
    )
    assert changed.status_code == 204
    assert (await client.get("/session")).status_code == 200
    assert (await session_with(client, other)).status_code == 401


async def test_profile_updates_are_validated(client: httpx.AsyncClient) -> None:
    token = csrf(await sign_up(client))
    bad = await client.patch(
        "/me",
        headers=token,
        json={"sobriety_date": "2999-01-01", "share_milestones": "yes"},
    )
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"sobriety_date", "share_milestones"}
    # A field the profile does not have is refused before anything is looked at.
    unknown = await client.patch("/me", headers=token, json={"bio": "x", "email": "x"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == {"email": ["is not a field this takes"]}
    good = await client.patch(
        "/me",
        headers=token,
        json={
            "bio": "Hello <script>alert(1)</script> **friends**",
            "sobriety_date": "2024-02-29",
            "share_milestones": True,
        },
    )
    assert good.status_code == 200
    body = good.json()
    assert "<script>" not in body["bio_html"] and "<strong>friends</strong>" in body["bio_html"]
    assert body["sobriety_date"] == "2024-02-29" and body["share_milestones"] is True
    public = (await client.get("/members/River")).json()
    assert public["member"]["handle"] == "river"
    assert "sobriety_date" not in public and "bio" not in public
    assert (await client.get("/members/nobody")).status_code == 404


@pytest.mark.real_argon2
async def test_logins_hash_off_the_event_loop(
    client: httpx.AsyncClient, community: Community
) -> None:
    """While 20 members sign in at once, the loop keeps ticking: no stall near one hash's length."""
    from argon2 import PasswordHasher

    from alumni_community.identity.models import Role

    handles = [f"storm-{i}" for i in range(20)]
    await asyncio.gather(
        *[community.accounts.create_member(h, PASSWORD, Role.MEMBER) for h in handles]
    )
    started = asyncio.get_running_loop().time()
    PasswordHasher().hash("measure one hash")
    one_hash = asyncio.get_running_loop().time() - started

    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.002)
            now = loop.time()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    logins = await asyncio.gather(
        *[client.post("/session", json={"handle": h, "password": PASSWORD}) for h in handles]
    )
    done.set()
    await tick
    assert [r.status_code for r in logins] == [200] * 20
    # Hashing on the loop would stall it for a whole hash once per login: 20
    # stalls, about 20 hashes long in all. Off the loop, at most a stall or two
    # remains (20 requests being set up in one loop iteration).
    stalled = sum(gap for gap in gaps if gap > one_hash / 2)
    assert stalled < 3 * one_hash, (stalled, one_hash, sorted(gaps)[-5:])


async def test_recovery_answers_alike_for_unknown_handles(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    client.cookies.clear()
    for new_password, status in (("password", 422), ("a perfectly fine one", 401)):
        known, unknown = [
            await client.post(
                "/session/recover",
                json={
                    "handle": handle,
                    "recovery_code": "aaaa-bbbb-cccc",
                    "new_password": new_password,
                },
            )
            for handle in ("river", "nobody")
        ]
        assert known.status_code == unknown.status_code == status
        assert known.json() == unknown.json()


async def test_concurrent_guesses_cannot_outrun_the_handle_limit(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    client.cookies.clear()
    guesses = await asyncio.gather(
        *[
            client.post("/session", json={"handle": "river", "password": f"guess {i}!"})
            for i in range(15)
        ]
    )
    statuses = sorted(r.status_code for r in guesses)
    assert statuses == [401] * 5 + [429] * 10


async def test_concurrent_guesses_cannot_outrun_the_address_limit(
    strict: tuple[httpx.AsyncClient, list[dt.datetime]],
) -> None:
    client, _ = strict  # 3 failures per address
    guesses = await asyncio.gather(
        *[
            client.post("/session", json={"handle": f"handle-{i}", "password": "guess it!"})
            for i in range(8)
        ]
    )
    assert sorted(r.status_code for r in guesses) == [401] * 3 + [429] * 5


async def test_a_good_login_is_not_held_against_the_address(
    strict: tuple[httpx.AsyncClient, list[dt.datetime]],
) -> None:
    client, _ = strict  # 3 failures per address
    await sign_up(client)
    client.cookies.clear()
    for _ in range(5):
        login = await client.post("/session", json={"handle": "river", "password": PASSWORD})
        assert login.status_code == 200
        client.cookies.clear()


async def test_signing_in_after_expiry_sets_only_the_new_cookie(
    strict: tuple[httpx.AsyncClient, list[dt.datetime]],
) -> None:
    client, now = strict
    await sign_up(client)
    now[0] += dt.timedelta(days=15)  # the browser still holds the dead cookie
    login = await client.post("/session", json={"handle": "river", "password": PASSWORD})
    cookies = [v for k, v in login.headers.multi_items() if k == "set-cookie"]
    assert len(cookies) == 1 and "Max-Age=0" not in cookies[0]
    assert (await client.get("/session")).status_code == 200


async def test_probing_taken_handles_through_sign_up_is_throttled(
    strict: tuple[httpx.AsyncClient, list[dt.datetime]],
) -> None:
    client, _ = strict  # 2 sign-up attempts per address
    assert (await sign_up(client, "river")).status_code == 201
    client.cookies.clear()
    assert (await sign_up(client, "river")).status_code == 422
    assert (await sign_up(client, "river")).status_code == 429


async def test_dead_sessions_are_not_listed_and_are_removed(
    strict: tuple[httpx.AsyncClient, list[dt.datetime]],
) -> None:
    client, now = strict
    first = await sign_up(client)
    old = client.cookies["ac_session"]
    now[0] += dt.timedelta(days=10)
    client.cookies.clear()
    await client.post("/session", json={"handle": "river", "password": PASSWORD})
    now[0] += dt.timedelta(days=5)  # the first session has been idle for 15 days
    items = (await client.get("/sessions")).json()["items"]
    assert [item["current"] for item in items] == [True]
    assert len((await client.get("/me/export")).json()["sessions"]) == 1
    assert await Session.all().count() == 1
    assert (await session_with(client, old)).status_code == 401
    assert first.status_code == 201


async def test_signing_up_from_a_signed_in_browser_ends_the_old_session(
    client: httpx.AsyncClient,
) -> None:
    first = await sign_up(client, "river")
    old = client.cookies["ac_session"]
    second = await client.post(
        "/accounts", json={"handle": "meadow", "password": PASSWORD}, headers=csrf(first)
    )
    assert second.status_code == 201
    assert (await session_with(client, old)).status_code == 401


async def test_a_suspended_member_cannot_use_up_a_recovery_code(
    client: httpx.AsyncClient,
) -> None:
    from alumni_community.identity.models import MemberStatus

    codes = (await sign_up(client)).json()["recovery_codes"]
    await Member.filter(handle="river").update(status=MemberStatus.BANNED)
    client.cookies.clear()
    response = await client.post(
        "/session/recover",
        json={"handle": "river", "recovery_code": codes[0], "new_password": "a new passphrase"},
    )
    assert response.status_code == 403 and response.json()["code"] == "account_inactive"
    assert await RecoveryCode.filter(used_at=None).count() == 10
    await Member.filter(handle="river").update(status=MemberStatus.ACTIVE)
    assert (
        await client.post("/session", json={"handle": "river", "password": PASSWORD})
    ).status_code == 200


async def test_the_openapi_document_describes_sessions_and_errors(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["components"]["securitySchemes"]["session"]["name"] == "ac_session"
    login = doc["paths"]["/session"]["post"]
    assert {"401", "413", "422", "429"} <= login["responses"].keys()
    assert login["security"] == []
    patch = doc["paths"]["/me"]["patch"]
    assert {"401", "403", "413", "422"} <= patch["responses"].keys()


@pytest.mark.real_argon2
async def test_an_old_hash_is_upgraded_at_the_next_good_login(client: httpx.AsyncClient) -> None:
    from argon2 import PasswordHasher

    await sign_up(client)
    client.cookies.clear()
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    await Member.filter(handle="river").update(password_hash=weak)
    assert (
        await client.post("/session", json={"handle": "river", "password": PASSWORD})
    ).status_code == 200
    upgraded = (await Member.get(handle="river")).password_hash
    assert upgraded != weak and not PasswordHasher().check_needs_rehash(upgraded)


async def test_a_weak_new_password_at_recovery_is_not_counted_as_a_guess(
    client: httpx.AsyncClient,
) -> None:
    codes = (await sign_up(client)).json()["recovery_codes"]
    client.cookies.clear()
    for _ in range(6):
        weak = await client.post(
            "/session/recover",
            json={"handle": "river", "recovery_code": codes[0], "new_password": "password"},
        )
        assert weak.status_code == 422
    assert await LoginFailure.all().count() == 0
    fixed = await client.post(
        "/session/recover",
        json={"handle": "river", "recovery_code": codes[0], "new_password": "a better one now"},
    )
    assert fixed.status_code == 200


async def test_recovering_from_another_members_browser_ends_their_session(
    client: httpx.AsyncClient,
) -> None:
    codes = (await sign_up(client, "river")).json()["recovery_codes"]
    client.cookies.clear()
    other = await sign_up(client, "meadow")
    meadow_cookie = client.cookies["ac_session"]
    recovered = await client.post(
        "/session/recover",
        json={"handle": "river", "recovery_code": codes[0], "new_password": "a new passphrase"},
        headers=csrf(other),
    )
    assert recovered.status_code == 200
    assert (await session_with(client, meadow_cookie)).status_code == 401
