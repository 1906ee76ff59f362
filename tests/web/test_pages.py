"""The server-rendered pages: accounts, rooms, threads, CSRF and what they show."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from alumni_community.identity.models import Member, Role

from ..conftest import PLANTED_IP
from ..rooms.conftest import PASSWORD, World, make_room
from ..test_content import load_corpora

pytestmark = pytest.mark.anyio

ORIGIN = "http://t"
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def page_client(app: Any, port: int = 7, base: str = ORIGIN) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(PLANTED_IP, port))
    return httpx.AsyncClient(transport=transport, base_url=base, headers={"origin": ORIGIN})


async def signed_in(
    world: World, handle: str, role: Role = Role.MEMBER, trust: int = 0, prefix: str = "/community"
) -> httpx.AsyncClient:
    """A browser-like client signed in through the sign-in page."""
    await world.community.accounts.create_member(handle, PASSWORD, role)
    await Member.filter(handle=handle).update(trust_level=trust)
    client = page_client(world.app if prefix else world.community)
    world.clients.append(client)
    done = await client.post(f"{prefix}/signin", data={"handle": handle, "password": PASSWORD})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{prefix}/rooms"
    return client


async def csrf_of(client: httpx.AsyncClient, url: str) -> str:
    page = await client.get(url)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found and found.group(1)
    return found.group(1)


async def post_form(
    client: httpx.AsyncClient, page_url: str, action: str, **fields: str
) -> httpx.Response:
    token = await csrf_of(client, page_url)
    return await client.post(action, data={"csrf_token": token, **fields})


async def test_sign_up_shows_the_codes_once_and_sets_the_cookie(world: World) -> None:
    client = page_client(world.app)
    world.clients.append(client)
    form = await client.get("/community/signup")
    assert form.status_code == 200
    assert '<label for="handle">' in form.text and '<label for="password">' in form.text
    done = await client.post(
        "/community/signup", data={"handle": "new-friend", "password": PASSWORD}
    )
    assert done.status_code == 201, done.text
    assert "Save these recovery codes now" in done.text
    codes = re.findall(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>", done.text)
    assert len(codes) == 10
    assert done.headers["cache-control"] == "no-store"
    cookie = next(v for k, v in done.headers.multi_items() if k == "set-cookie")
    assert cookie.startswith("ac_session=") and "Path=/community" in cookie
    assert "HttpOnly" in cookie
    # The cookie works: the header now names the member, and the codes are gone.
    rooms = await client.get("/community/rooms")
    assert rooms.status_code == 200
    assert "Signed in as <strong>new-friend</strong>" in rooms.text
    assert not any(code in rooms.text for code in codes)


async def test_sign_up_errors_are_words_next_to_the_fields(world: World) -> None:
    await world.community.accounts.create_member("taken-one", PASSWORD, Role.MEMBER)
    client = page_client(world.app)
    world.clients.append(client)
    taken = await client.post(
        "/community/signup", data={"handle": "taken-one", "password": PASSWORD}
    )
    assert taken.status_code == 422
    assert "Handle is taken" in taken.text
    assert 'value="taken-one"' in taken.text
    assert "validation_failed" not in taken.text
    weak = await client.post("/community/signup", data={"handle": "fresh-one", "password": "short"})
    assert weak.status_code == 422
    assert "Password must be at least" in weak.text
    assert "set-cookie" not in weak.headers


async def test_sign_in_with_a_wrong_password_shows_the_form_again(world: World) -> None:
    await world.community.accounts.create_member("sam-a", PASSWORD, Role.MEMBER)
    client = page_client(world.app)
    world.clients.append(client)
    wrong = await client.post("/community/signin", data={"handle": "sam-a", "password": "nope"})
    assert wrong.status_code == 401
    assert "The handle or the password is wrong." in wrong.text
    assert 'value="sam-a"' in wrong.text
    assert "invalid_credentials" not in wrong.text
    assert "set-cookie" not in wrong.headers


async def test_sign_out_ends_the_session_and_goes_home(world: World) -> None:
    client = await signed_in(world, "leaving-a")
    # Not over GET.
    assert (await client.get("/community/signout")).status_code == 405
    out = await post_form(client, "/community/rooms", "/community/signout")
    assert out.status_code == 303 and out.headers["location"] == "/community/"
    assert "Max-Age=0" in out.headers["set-cookie"]
    again = await client.get("/community/rooms")
    assert again.status_code == 303 and again.headers["location"] == "/community/signin"


async def test_a_wrong_csrf_token_is_refused(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    client = await signed_in(world, "sam-b", trust=1)
    for token in ("", "not-the-token"):
        refused = await client.post(
            "/community/rooms/open-room/threads",
            data={"csrf_token": token, "title": "Hi", "body": "Hello"},
        )
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
    # Another session's token is no better.
    other = await signed_in(world, "sam-c", trust=1)
    token = await csrf_of(other, "/community/rooms/open-room")
    refused = await client.post(
        "/community/rooms/open-room/threads",
        data={"csrf_token": token, "title": "Hi", "body": "Hello"},
    )
    assert refused.status_code == 403
    assert (await client.get("/community/rooms/open-room")).text.count("Hi</a>") == 0
    signout = await client.post("/community/signout", data={"csrf_token": "x"})
    assert signout.status_code == 403


async def test_sign_in_from_another_origin_is_refused(world: World) -> None:
    await world.community.accounts.create_member("sam-d", PASSWORD, Role.MEMBER)
    client = page_client(world.app)
    world.clients.append(client)
    data = {"handle": "sam-d", "password": PASSWORD}
    evil = await client.post(
        "/community/signin", data=data, headers={"origin": "https://evil.example"}
    )
    assert evil.status_code == 403 and "set-cookie" not in evil.headers
    del client.headers["origin"]
    nothing = await client.post("/community/signin", data=data)
    assert nothing.status_code == 403
    bad_referer = await client.post(
        "/community/signup",
        data={"handle": "sneaky", "password": PASSWORD},
        headers={"referer": "https://evil.example/community/signup"},
    )
    assert bad_referer.status_code == 403
    referer = await client.post(
        "/community/signin", data=data, headers={"referer": "http://t/community/signin"}
    )
    assert referer.status_code == 303


async def test_a_newcomers_post_is_shown_as_held(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "reviewed", moderation="new_members_reviewed")
    client = await signed_in(world, "newcomer-a", trust=0)
    made = await post_form(
        client,
        "/community/rooms/reviewed",
        "/community/rooms/reviewed/threads",
        title="My first post",
        body="Hello everyone, glad to be here.",
    )
    assert made.status_code == 201, made.text
    assert "A moderator will look at it shortly" in made.text
    thread_url = re.search(r'action="(/community/threads/\d+)/posts"', made.text)
    assert thread_url
    again = await client.get(thread_url.group(1))
    assert "Held for review" in again.text
    # Nobody else sees it.
    other = await signed_in(world, "other-a", trust=1)
    assert (await other.get(thread_url.group(1))).status_code == 404


async def test_a_crisis_post_shows_the_resources(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "reviewed", moderation="new_members_reviewed")
    client = await signed_in(world, "hurting-a", trust=0)
    made = await post_form(
        client,
        "/community/rooms/reviewed",
        "/community/rooms/reviewed/threads",
        title="Tonight",
        body="I keep thinking about suicide tonight.",
    )
    assert made.status_code == 201, made.text
    assert 'class="notice notice-crisis_resources" role="alert"' in made.text
    assert "988 Suicide &amp; Crisis Lifeline" in made.text
    assert 'href="https://988lifeline.org"' in made.text
    # Never held: a person asking for help must be seen.
    assert "Held for review" not in made.text


async def test_identifying_details_ask_before_publishing(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    client = await signed_in(world, "sharer-a", trust=1)
    fields = {
        "title": "Call me",
        "body": "Call me at (415) 555-2671 or write to river.real@example.com",
    }
    asked = await post_form(
        client, "/community/rooms/open-room", "/community/rooms/open-room/threads", **fields
    )
    assert asked.status_code == 409, asked.text
    assert 'name="confirm"' in asked.text and "phone number" in asked.text
    assert "confirm: true" not in asked.text
    assert "(415) 555-2671" in asked.text  # what they wrote is kept
    world.advance(minutes=1)
    published = await post_form(
        client,
        "/community/rooms/open-room",
        "/community/rooms/open-room/threads",
        confirm="yes",
        **fields,
    )
    assert published.status_code == 201
    assert "Published as you confirmed" in published.text


async def test_rooms_and_threads_a_member_may_not_see_are_404(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "secret", visibility="private", moderation="open")
    made = await mod.post("/rooms/secret/threads", json={"title": "Hush", "body": "Quiet"})
    thread_id = made.json()["thread"]["id"]
    client = await signed_in(world, "curious-a", trust=1)
    rooms = await client.get("/community/rooms")
    assert "Secret" not in rooms.text
    for url in (
        "/community/rooms/secret",
        f"/community/threads/{thread_id}",
        "/community/threads/999",
    ):
        page = await client.get(url)
        assert page.status_code == 404 and "Hush" not in page.text
    refused = await post_form(
        client, "/community/rooms", f"/community/threads/{thread_id}/posts", body="Let me in"
    )
    assert refused.status_code == 404


async def test_a_thread_and_a_reply_through_the_forms(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    client = await signed_in(world, "talker-a", trust=1)
    made = await post_form(
        client,
        "/community/rooms/open-room",
        "/community/rooms/open-room/threads",
        title="Ninety days",
        body="Made it to **ninety** days.",
    )
    assert made.status_code == 303
    location = made.headers["location"]
    assert re.fullmatch(r"/community/threads/\d+#post-\d+", location)
    thread_url = location.split("#")[0]
    world.advance(minutes=1)
    page = await client.get(thread_url)
    assert "<strong>ninety</strong>" in page.text
    replied = await post_form(client, thread_url, thread_url + "/posts", body="Well done!")
    assert replied.status_code == 303
    assert "Well done!" in (await client.get(thread_url)).text
    world.advance(minutes=1)
    empty = await post_form(client, thread_url, thread_url + "/posts", body="   ")
    assert empty.status_code == 422 and "Your message is required" in empty.text
    room = await client.get("/community/rooms/open-room")
    assert "Ninety days</a>" in room.text and "2 posts" in room.text


async def test_rate_limits_say_how_long_to_wait(world: World) -> None:
    await world.community.accounts.create_member("sam-e", PASSWORD, Role.MEMBER)
    client = page_client(world.app)
    world.clients.append(client)
    for _ in range(world.community.settings.login_limit_per_handle.count):
        await client.post("/community/signin", data={"handle": "sam-e", "password": "wrong"})
    limited = await client.post("/community/signin", data={"handle": "sam-e", "password": "wrong"})
    assert limited.status_code == 429
    assert "Please wait" in limited.text and "rate_limited" not in limited.text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "base"):
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                self.bad.append(f"{tag} {name}=")
            squeezed = re.sub(r"[\s\x00-\x1f]", "", (value or "")).lower()
            if name in ("href", "src", "action") and squeezed.startswith(
                ("javascript:", "vbscript:", "data:")
            ):
                self.bad.append(f"{tag} {name}={value!r}")


def assert_harmless(page: str, prefix: str = "/community") -> None:
    """No script, handler or script URL anywhere in the markup (escaped text may say anything).

    Our own module scripts (live chat and alerts) are the one kind of script
    a page may have; they are taken out first, by their exact tags.
    """
    page = re.sub(
        rf'<script type="module" src="{re.escape(prefix)}/static/'
        r'(?:live|chat_panel)\.js"></script>',
        "",
        page,
    )
    parser = _Tags()
    parser.feed(page)
    parser.close()
    assert parser.bad == [], parser.bad
    assert "<script" not in page.lower()
    # Inside a real tag: text like "&lt;img onerror=...&gt;" is harmless and allowed.
    assert not re.search(r"<[a-z][^<>]*\bon[a-z]+\s*=", page, re.I)
    assert not re.search(r"<[a-z][^<>]*=\s*[\"']?\s*javascript:", page, re.I)


PAYLOADS = [payload for _, index, payload in load_corpora() if index % 4 == 0] + [
    "[x](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
]


async def test_payloads_in_titles_and_bodies_are_harmless_in_the_pages(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    client = await signed_in(world, "mod-b", Role.MODERATOR, trust=3)
    token = await csrf_of(client, "/community/rooms/open-room")
    shown = 0
    for payload in PAYLOADS:
        made = await client.post(
            "/community/rooms/open-room/threads",
            data={
                "csrf_token": token,
                "title": payload[:200] or "x",
                "body": payload or "x",
                "confirm": "yes",
            },
        )
        assert made.status_code in (201, 303, 422), (made.status_code, made.text[:300])
        assert_harmless(made.text)
        if made.status_code == 303:
            page = await client.get(made.headers["location"].split("#")[0])
            assert page.status_code == 200
            assert_harmless(page.text)
            shown += 1
    assert shown > len(PAYLOADS) // 2
    room = await client.get("/community/rooms/open-room")
    assert_harmless(room.text)


@pytest.mark.parametrize("prefix", ["/community", ""])
async def test_pages_follow_the_mount(world: World, prefix: str) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    client = await signed_in(world, "walker-a", trust=1, prefix=prefix)
    made = await post_form(
        client,
        f"{prefix}/rooms/open-room",
        f"{prefix}/rooms/open-room/threads",
        title="Hello",
        body="Hi",
    )
    assert made.status_code == 303
    thread_url = made.headers["location"].split("#")[0]
    assert thread_url.startswith(f"{prefix}/threads/")
    for url in (f"{prefix}/", f"{prefix}/rooms", f"{prefix}/rooms/open-room", thread_url):
        page = await client.get(url)
        assert page.status_code == 200, url
        links = set(re.findall(r'(?:href|src|action)="([^"#]+)', page.text))
        assert links, url
        assert all(link.startswith(f"{prefix}/") for link in links), (url, links)
        assert f"{prefix}/signout" in links and f"{prefix}/rooms" in links
    signed_out = page_client(world.app if prefix else world.community, port=9)
    world.clients.append(signed_out)
    home = await signed_out.get(f"{prefix}/")
    assert f'href="{prefix}/signin"' in home.text and f'href="{prefix}/signup"' in home.text
    for url in (f"{prefix}/signin", f"{prefix}/signup"):
        assert (await signed_out.get(url)).status_code == 200


async def test_head_answers_like_get_and_error_pages_speak_plainly(world: World) -> None:
    client = page_client(world.app)
    world.clients.append(client)
    for path in ("/community/signup", "/community/signin", "/community/recover"):
        head = await client.head(path)
        assert head.status_code == 200, path
        assert head.content == b""
    member = await signed_in(world, "plain-words")
    expired = await member.post("/community/signout", data={"csrf_token": "stale"})
    assert expired.status_code == 403
    assert "<h1>This form has expired</h1>" in expired.text
    assert "CSRF" not in expired.text
    mod = await world.member("mod-plain", Role.MODERATOR)
    await make_room(mod, "plain-room", moderation="open")
    made = await mod.post("/rooms/plain-room/threads", json={"title": "T", "body": "B"})
    thread_id = made.json()["thread"]["id"]
    bad = await member.get(f"/community/threads/{thread_id}", params={"cursor": "nonsense"})
    assert bad.status_code == 422
    assert "Check the fields listed in errors" not in bad.text
    assert "Cursor: is not a cursor this list gave out" in bad.text
    # Numbers past what the database holds, in a post cursor and a thread cursor.
    for path, values in (
        (f"/community/threads/{thread_id}", [10**20]),
        ("/community/rooms/plain-room", [False, "2026-03-01T09:00:00+00:00", 2**31]),
    ):
        cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
        huge = await member.get(path, params={"cursor": cursor})
        assert huge.status_code == 422, (path, huge.status_code)


async def test_form_bodies_are_bounded_however_they_are_sent(world: World) -> None:
    client = page_client(world.app)
    world.clients.append(client)
    limit = world.community.settings.max_body_bytes

    async def chunked(size: int) -> AsyncIterator[bytes]:
        yield b"handle=x&password="
        for _ in range(0, size, 4096):
            yield b"a" * 4096

    # No Content-Length (chunked): counted as it streams in.
    streamed = await client.post(
        "/community/signin",
        content=chunked(limit * 4),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    # A multipart body could spill files to disk: no page takes files.
    files = await client.post(
        "/community/signin", files={"f": ("a.bin", b"x" * 100)}, data={"handle": "x"}
    )
    assert files.status_code == 400
    assert "application/x-www-form-urlencoded" in files.text
    many = "&".join(f"f{i}=1" for i in range(500))
    crowded = await client.post(
        "/community/signin",
        content=many,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert crowded.status_code == 400
    broken = await client.post(
        "/community/signin",
        content=b"handle=%ff%fe&password=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert broken.status_code == 400
