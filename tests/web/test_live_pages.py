"""The pages of live chat, direct conversations and meetings, over HTTP (no JavaScript)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from alumni_community.identity.models import Member, Role

from ..rooms.conftest import PASSWORD, World, make_room
from .test_pages import assert_harmless, csrf_of, page_client, post_form, signed_in

pytestmark = pytest.mark.anyio

ROOM = "/community/rooms/open-room"
SEND = ROOM + "/messages"


async def open_room(world: World, **fields: str) -> httpx.AsyncClient:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open", **fields)
    return mod


async def say(world: World, handle: str, slug: str, body: str, client_id: str) -> int:
    """A message written through the chat service, as the socket would."""
    member = await Member.get(handle=handle)
    sent = await world.community.chat.send(member, slug, body, client_id)
    return sent.message.seq


def log_of(page: str) -> list[str]:
    """The seqs of the messages in the page's chat log, in order."""
    log = re.search(r'<ol class="chat-list" data-chat-log>.*?</ol>', page, re.S)
    assert log, "no chat log on the page"
    return re.findall(r'data-seq="(\d+)"', log.group(0))


# -- the chat panel -------------------------------------------------------------------------


async def test_the_room_page_has_a_labelled_chat_panel_that_follows_the_mount(
    world: World,
) -> None:
    await open_room(world)
    client = await signed_in(world, "river-a", trust=1)
    page = await client.get(ROOM)
    assert page.status_code == 200
    assert "data-chat-panel" in page.text and 'data-room="open-room"' in page.text
    assert '<label for="chat-body">Message to the room</label>' in page.text
    assert f'action="{SEND}"' in page.text
    assert 'role="log" aria-live="polite" aria-label="Messages"' in page.text
    assert 'data-history="/community/api/v1/rooms/open-room/messages"' in page.text
    assert 'src="/community/static/chat_panel.js"' in page.text
    # One live channel per page, for signed-in members only.
    assert 'data-socket="/community/ws"' in page.text
    assert page.text.count('src="/community/static/live.js"') == 1
    anonymous = page_client(world.app, port=11)
    world.clients.append(anonymous)
    home = await anonymous.get("/community/")
    assert "live.js" not in home.text and "data-socket" not in home.text


async def test_a_message_sent_without_javascript_is_stored_once(world: World) -> None:
    await open_room(world)
    client = await signed_in(world, "river-a", trust=1)
    token = await csrf_of(client, ROOM)
    form = {"csrf_token": token, "body": "Hello **all**", "client_id": "form-1"}
    sent = await client.post(SEND, data=form)
    assert sent.status_code == 303
    assert sent.headers["location"] == ROOM + "#msg-1"
    # The same form sent again (a double click) is the same message.
    again = await client.post(SEND, data=form)
    assert again.status_code == 303 and again.headers["location"] == ROOM + "#msg-1"
    reader = await world.member("lake-a", trust=1)
    items = (await reader.get("/rooms/open-room/messages")).json()["items"]
    assert [(m["seq"], m["html"].strip()) for m in items] == [
        (1, "<p>Hello <strong>all</strong></p>")
    ]
    # A client_id that is not one becomes a fresh one rather than an error.
    odd = await client.post(SEND, data={**form, "client_id": "no spaces!", "body": "Second"})
    assert odd.status_code == 303 and odd.headers["location"] == ROOM + "#msg-2"


async def test_the_history_is_rendered_by_the_server(world: World) -> None:
    await open_room(world)
    await world.community.accounts.create_member("lake-a", PASSWORD, Role.MEMBER)
    for i in range(3):
        await say(world, "lake-a", "open-room", f"message {i} <script>x</script>", f"c{i}")
    client = await signed_in(world, "river-a", trust=1)
    # The room page as a refusal of the chat form shows it (the handler adds the history).
    refused = await post_form(client, ROOM, SEND, body="   ")
    assert refused.status_code == 422
    assert log_of(refused.text) == ["1", "2", "3"]
    assert 'data-last-seq="3"' in refused.text and 'id="msg-3"' in refused.text
    assert "message 0" in refused.text and "<strong>lake-a</strong>" in refused.text
    assert_harmless(without_our_scripts(refused.text))


def without_our_scripts(page: str, prefix: str = "/community") -> str:
    """The page without our own module scripts (the one kind of script a page may have)."""
    ours = rf'<script type="module" src="{prefix}/static/(?:live|chat_panel)\.js"></script>'
    return re.sub(ours, "", page)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("", "Your message must not be empty"),
        ("   \n ", "Your message must not be empty"),
        ("x" * 4001, "Your message must be at most 4000 characters"),
        ("nul \x00 here", "Your message must not contain NUL characters"),
    ],
)
async def test_bad_messages_show_the_form_again_with_the_text(
    world: World, body: str, says: str
) -> None:
    await open_room(world)
    client = await signed_in(world, "river-a", trust=1)
    refused = await post_form(client, ROOM, SEND, body=body)
    assert refused.status_code == 422, refused.text[:300]
    assert says in refused.text
    assert 'id="chat-body-error"' in refused.text and 'aria-invalid="true"' in refused.text
    if body.strip() and "\x00" not in body:
        assert body in refused.text  # what they wrote is kept
    reader = await world.member("lake-a", trust=1)
    assert (await reader.get("/rooms/open-room/messages")).json()["items"] == []


async def test_a_crisis_message_shows_the_resources_at_once(world: World) -> None:
    await open_room(world)
    client = await signed_in(world, "hurting-a", trust=1)
    sent = await post_form(client, ROOM, SEND, body="I keep thinking about suicide tonight.")
    assert sent.status_code == 201, sent.text[:300]
    assert 'class="notice notice-crisis_resources" role="alert"' in sent.text
    assert "988" in sent.text
    assert "thinking about suicide" in sent.text  # the message is published, and shown
    assert world.reviews and max(int(r.urgency) for r in world.reviews) >= 100


async def test_identifying_details_ask_before_sending(world: World) -> None:
    await open_room(world)
    client = await signed_in(world, "sharer-a", trust=1)
    body = "call me on (415) 555-2671"
    asked = await post_form(client, ROOM, SEND, body=body)
    assert asked.status_code == 409
    assert 'name="confirm"' in asked.text and "phone number" in asked.text
    assert "confirm: true" not in asked.text and "identifying_details" not in asked.text
    assert body in asked.text
    client_id = re.search(r'name="client_id" value="([^"]+)"', asked.text)
    assert client_id
    token = await csrf_of(client, ROOM)
    sent = await client.post(
        SEND,
        data={"csrf_token": token, "body": body, "confirm": "yes", "client_id": client_id[1]},
    )
    assert sent.status_code == 201  # published, with the "confirmed" notice to read
    assert "notice-identifying_details_confirmed" in sent.text


async def test_a_rate_limit_says_how_long_to_wait(world: World) -> None:
    await open_room(world)
    client = await signed_in(world, "quick-a", trust=0)
    token = await csrf_of(client, ROOM)
    codes = []
    for i in range(21):
        sent = await client.post(SEND, data={"csrf_token": token, "body": f"n{i}"})
        codes.append(sent.status_code)
    assert codes[:20] == [303] * 20
    assert codes[20] == 429
    assert "Please wait" in sent.text and "rate_limited" not in sent.text
    assert "n20" in sent.text
    assert sent.headers.get("retry-after")


async def test_chat_refusals(world: World) -> None:
    mod = await open_room(world)
    await make_room(mod, "secret", visibility="private", moderation="open")
    client = await signed_in(world, "curious-a", trust=1)
    # A room the member may not see is not there.
    assert (await client.get("/community/rooms/secret")).status_code == 404
    hidden = await post_form(client, ROOM, "/community/rooms/secret/messages", body="hi")
    assert hidden.status_code == 404
    nowhere = await post_form(client, ROOM, "/community/rooms/no-such/messages", body="hi")
    assert nowhere.status_code == 404
    # A wrong CSRF token, and none.
    for token in ("", "not-the-token"):
        forged = await client.post(SEND, data={"csrf_token": token, "body": "hi"})
        assert forged.status_code == 403 and "This form has expired" in forged.text
    # Not over GET.
    assert (await client.get(SEND)).status_code == 405
    # Signed out: to the sign-in page.
    anonymous = page_client(world.app, port=12)
    world.clients.append(anonymous)
    out = await anonymous.post(SEND, data={"body": "hi"})
    assert out.status_code == 303 and out.headers["location"] == "/community/signin"
    # An archived room's chat is read-only, and the service says so.
    await mod.patch("/rooms/open-room", json={"archived": True})
    page = await client.get(ROOM)
    assert "its chat can be read but not written in" in page.text
    assert 'id="chat-body"' not in page.text
    late = await post_form(client, "/community/rooms", SEND, body="hi")
    assert late.status_code == 403


async def test_the_rooms_list_shows_unread_counts(world: World) -> None:
    await open_room(world)
    client = await signed_in(world, "river-a", trust=1)
    await world.community.accounts.create_member("lake-a", PASSWORD, Role.MEMBER)
    rooms = await client.get("/community/rooms")
    assert "unread" not in rooms.text
    await say(world, "lake-a", "open-room", "one", "u1")
    await say(world, "lake-a", "open-room", "two", "u2")
    rooms = await client.get("/community/rooms")
    assert '<span class="unread-count">2 unread messages</span>' in rooms.text
    await say(world, "river-a", "open-room", "mine", "u3")  # sending reads the room
    rooms = await client.get("/community/rooms")
    assert "unread" not in rooms.text.split("<h1>Rooms</h1>")[1]


# -- conversations ----------------------------------------------------------------------------


async def test_start_a_conversation_and_talk(world: World) -> None:
    river = await signed_in(world, "river-a", trust=1)
    lake = await signed_in(world, "lake-a", trust=1)
    empty = await river.get("/community/conversations")
    assert empty.status_code == 200 and "No conversations yet." in empty.text
    assert '<label for="handle">Their handle</label>' in empty.text
    started = await post_form(
        river, "/community/conversations", "/community/conversations", handle="lake-a"
    )
    assert started.status_code == 303
    url = started.headers["location"]
    assert re.fullmatch(r"/community/conversations/dm-[0-9a-f]{16}", url)
    slug = url.rsplit("/", 1)[1]
    page = await river.get(url)
    assert page.status_code == 200
    assert "<h1>Conversation with lake-a</h1>" in page.text
    assert '<label for="chat-body">Message to lake-a</label>' in page.text
    assert f'action="/community/rooms/{slug}/messages"' in page.text
    assert f'action="/community/conversations/{slug}/leave"' in page.text
    assert f'action="/community/conversations/{slug}/block"' in page.text
    # Starting it again finds the same one.
    again = await post_form(
        river, "/community/conversations", "/community/conversations", handle="LAKE-A"
    )
    assert again.headers["location"] == url
    sent = await post_form(river, url, f"/community/rooms/{slug}/messages", body="Coffee?")
    assert sent.status_code == 303 and sent.headers["location"] == f"{url}#msg-1"
    shown = await river.get(url)
    assert log_of(shown.text) == ["1"] and "Coffee?" in shown.text
    listed = await lake.get("/community/conversations")
    assert "With river-a" in listed.text
    assert '<span class="unread-count">1 unread message</span>' in listed.text
    theirs = await lake.get(url)
    assert "<h1>Conversation with river-a</h1>" in theirs.text and "Coffee?" in theirs.text


async def test_starting_a_conversation_is_refused_in_words(world: World) -> None:
    await signed_in(world, "lake-a", trust=1)
    newcomer = await signed_in(world, "newcomer-a", trust=0)
    refused = await post_form(
        newcomer, "/community/conversations", "/community/conversations", handle="lake-a"
    )
    assert refused.status_code == 403
    assert "New members cannot start direct conversations yet" in refused.text
    assert 'value="lake-a"' in refused.text and "forbidden" not in refused.text
    river = await signed_in(world, "river-a", trust=1)
    for handle, status, says in (
        ("nobody-here", 404, "No member has that handle."),
        ("river-a", 422, "Handle: that is you"),
        ("", 422, "Handle is required"),
        ("a\x00b", 422, "Handle must not contain NUL characters"),
        ("x" * 5000, 404, "No member has that handle."),
    ):
        page = await post_form(
            river, "/community/conversations", "/community/conversations", handle=handle
        )
        assert page.status_code == status, (handle[:20], page.text[:300])
        assert says in page.text
        assert "<h1>Conversations</h1>" in page.text


async def test_a_conversation_is_only_its_two_members(world: World) -> None:
    river = await signed_in(world, "river-a", trust=1)
    await signed_in(world, "lake-a", trust=1)
    started = await post_form(
        river, "/community/conversations", "/community/conversations", handle="lake-a"
    )
    url = started.headers["location"]
    slug = url.rsplit("/", 1)[1]
    await post_form(river, url, f"/community/rooms/{slug}/messages", body="just us")
    for other in (
        await signed_in(world, "third-a", trust=1),
        await signed_in(world, "mod-b", Role.MODERATOR, trust=3),
    ):
        page = await other.get(url)
        assert page.status_code == 404 and "just us" not in page.text
        token = await csrf_of(other, "/community/conversations")
        for action in ("leave", "block"):
            refused = await other.post(f"{url}/{action}", data={"csrf_token": token})
            assert refused.status_code == 404
        sent = await other.post(
            f"/community/rooms/{slug}/messages", data={"csrf_token": token, "body": "me too"}
        )
        assert sent.status_code == 404
    unknown = await river.get("/community/conversations/dm-0000000000000000")
    assert unknown.status_code == 404
    # Not a conversation: a room's slug is no conversation either.
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    assert (await river.get("/community/conversations/open-room")).status_code == 404


async def test_block_unblock_and_leave(world: World) -> None:
    river = await signed_in(world, "river-a", trust=1)
    lake = await signed_in(world, "lake-a", trust=1)
    started = await post_form(
        river, "/community/conversations", "/community/conversations", handle="lake-a"
    )
    url = started.headers["location"]
    slug = url.rsplit("/", 1)[1]
    forged = await river.post(f"{url}/block", data={"csrf_token": "nope"})
    assert forged.status_code == 403
    blocked = await post_form(river, url, f"{url}/block")
    assert blocked.status_code == 303 and blocked.headers["location"] == url
    page = await river.get(url)
    assert "You have blocked lake-a" in page.text and "Unblock lake-a" in page.text
    assert 'id="chat-body"' not in page.text
    closed = await post_form(lake, url, f"/community/rooms/{slug}/messages", body="hello?")
    assert closed.status_code == 403 and "This conversation is closed." in closed.text
    assert "hello?" in closed.text  # kept in the box
    unblocked = await post_form(river, url, f"{url}/block", unblock="yes")
    assert unblocked.status_code == 303
    assert "You have blocked" not in (await river.get(url)).text
    left = await post_form(river, url, f"{url}/leave")
    assert left.status_code == 303 and left.headers["location"] == "/community/conversations"
    assert slug not in (await river.get("/community/conversations")).text
    assert (await river.get(url)).status_code == 404
    theirs = await lake.get(url)
    assert "The other member has left this conversation" in theirs.text
    assert "With a member who has left" in (await lake.get("/community/conversations")).text
    assert (await river.get(f"{url}/leave")).status_code == 405


async def test_pages_need_a_member(world: World) -> None:
    anonymous = page_client(world.app, port=13)
    world.clients.append(anonymous)
    for url in (
        "/community/conversations",
        "/community/conversations/dm-0000000000000000",
        "/community/meetings",
        "/community/meetings/1",
        "/community/meetings/new",
        "/community/meetings/1/edit",
    ):
        page = await anonymous.get(url)
        assert page.status_code == 303, url
        assert page.headers["location"] == "/community/signin"
    for url in ("/community/conversations", "/community/meetings"):
        posted = await anonymous.post(url, data={"handle": "x", "name": "x"})
        assert posted.status_code == 303 and posted.headers["location"] == "/community/signin"


# -- meetings ----------------------------------------------------------------------------------


async def post_meeting(
    client: httpx.AsyncClient, page_url: str, action: str, **fields: Any
) -> httpx.Response:
    """Send a meeting form (its days and types are lists) with the page's CSRF token."""
    token = await csrf_of(client, page_url)
    return await client.post(action, data={"csrf_token": token, **fields})


MEETING = {
    "name": "Sunday Morning & Coffee",
    "day": ["0", "3"],
    "time": "08:30",
    "end_time": "10:00",
    "timezone": "UTC",
    "types": ["O", "D"],
    "location": "Main house, room 2",
    "conference_url": "https://meet.example.org/abc",
    "conference_phone": "",
    "notes": "Use the **side door**.",
    "room": "open-room",
}


async def test_a_host_schedules_a_meeting_and_members_see_it_now(world: World) -> None:
    await open_room(world)
    host = await signed_in(world, "host-a", Role.MODERATOR, trust=3)
    form = await host.get("/community/meetings/new")
    assert form.status_code == 200
    assert (
        '<label for="name">Name</label>' in form.text
        and "<legend>Days of the week</legend>" in form.text
    )
    assert 'value="UTC"' in form.text  # the member's zone to start with
    made = await post_meeting(host, "/community/meetings/new", "/community/meetings", **MEETING)
    assert made.status_code == 303, made.text[:500]
    url = made.headers["location"]
    assert re.fullmatch(r"/community/meetings/\d+", url)

    member = await signed_in(world, "river-a", trust=1)
    listed = await member.get("/community/meetings")
    assert listed.status_code == 200
    # The world's clock: Sunday 1 March 2026, 09:00 UTC; the meeting runs 08:30 to 10:00.
    now = listed.text.split('id="now-heading"')[1].split('id="next-heading"')[0]
    assert "Sunday Morning &amp; Coffee" in now and "In progress" in now
    assert "Sunday 1 March, 08:30 to 10:00" in now
    assert 'href="https://meet.example.org/abc"' in now
    assert 'href="/community/rooms/open-room#chat"' in now
    after = listed.text.split('id="next-heading"')[1]
    assert "Wednesday 4 March, 08:30 to 10:00" in after and "In progress" not in after
    assert "Schedule a meeting" not in listed.text
    assert "Times are in your time zone, UTC." in listed.text
    key = re.search(r'id="calendar-link" value="([^"]+)"', listed.text)
    assert key and key[1].startswith("http://t/community/api/v1/meetings.ics?key=")
    ics = await member.get(key[1].removeprefix("http://t"))
    assert ics.status_code == 200 and "BEGIN:VCALENDAR" in ics.text

    detail = await member.get(url)
    assert detail.status_code == 200
    assert "<h1>Sunday Morning &amp; Coffee</h1>" in detail.text
    assert "Every Sunday, Wednesday, 08:30 to 10:00 (UTC)" in detail.text
    assert "Open, Discussion" in detail.text or "Discussion, Open" in detail.text
    assert "<strong>side door</strong>" in detail.text
    assert "Edit this meeting" not in detail.text
    assert "host-a" not in detail.text.split("<main")[1]  # who scheduled it is not shown


async def test_meeting_forms_are_for_hosts_only(world: World) -> None:
    member = await signed_in(world, "river-a", trust=2)
    page = await member.get("/community/meetings/new")
    assert page.status_code == 403 and "Only moderators and meeting hosts" in page.text
    made = await post_meeting(member, "/community/meetings", "/community/meetings", **MEETING)
    assert made.status_code == 403 and "Only moderators and meeting hosts" in made.text
    host = await signed_in(world, "host-a", trust=1)
    await Member.filter(handle="host-a").update(meeting_host=True)
    assert (await host.get("/community/meetings/new")).status_code == 200
    forged = await host.post("/community/meetings", data={"csrf_token": "x", **MEETING})
    assert forged.status_code == 403 and "This form has expired" in forged.text
    fields = {**MEETING, "room": ""}
    made = await post_meeting(host, "/community/meetings/new", "/community/meetings", **fields)
    assert made.status_code == 303
    meeting_id = made.headers["location"].rsplit("/", 1)[1]
    assert (await member.get(f"/community/meetings/{meeting_id}/edit")).status_code == 403
    assert "Schedule a meeting" in (await host.get("/community/meetings")).text


async def test_meeting_form_errors_keep_what_was_written(world: World) -> None:
    host = await signed_in(world, "host-a", Role.MODERATOR, trust=3)
    bad = {
        **MEETING,
        "day": [],
        "time": "25:00",
        "timezone": "Mars/Olympus",
        "types": ["NOPE"],
        "conference_url": "http://plain.example",
        "room": "no-such-room",
    }
    refused = await post_meeting(host, "/community/meetings/new", "/community/meetings", **bad)
    assert refused.status_code == 422
    for says in (
        "Choose at least one day of the week.",
        "Starts at: a time such as 19:00, on the 24-hour clock.",
        "an IANA time zone",
        "Choose the meeting&#39;s types from the list.",
        "an https:// link",
        "Choose a room from the list.",
    ):
        assert says in refused.text, says
    assert 'value="Sunday Morning &amp; Coffee"' in refused.text
    assert 'value="Mars/Olympus"' in refused.text
    nul = await post_meeting(
        host, "/community/meetings/new", "/community/meetings", **{**MEETING, "name": "a\x00b"}
    )
    assert nul.status_code == 422 and "must not contain NUL characters" in nul.text
    long = await post_meeting(
        host, "/community/meetings/new", "/community/meetings", **{**MEETING, "name": "x" * 121}
    )
    assert long.status_code == 422 and "1 to 120 characters" in long.text
    nowhere = await post_meeting(
        host,
        "/community/meetings/new",
        "/community/meetings",
        **{**MEETING, "location": "", "conference_url": "", "room": ""},
    )
    assert (
        nowhere.status_code == 422 and "give a place, or a conference link or phone" in nowhere.text
    )


async def test_a_host_edits_and_removes_a_meeting(world: World) -> None:
    await open_room(world)
    host = await signed_in(world, "host-a", Role.MODERATOR, trust=3)
    made = await post_meeting(host, "/community/meetings/new", "/community/meetings", **MEETING)
    url = made.headers["location"]
    edit = await host.get(url + "/edit")
    assert edit.status_code == 200
    # The stored name is escaped text: the form shows it as written, not escaped twice.
    assert 'value="Sunday Morning &amp; Coffee"' in edit.text
    assert "&amp;amp;" not in edit.text
    assert 'id="day-0" name="day" value="0" checked' in edit.text
    assert '<option value="open-room" selected>' in edit.text
    changed = await post_meeting(
        host, url + "/edit", url + "/edit", **{**MEETING, "name": "Renamed"}
    )
    assert changed.status_code == 303 and changed.headers["location"] == url
    assert "<h1>Renamed</h1>" in (await host.get(url)).text
    bad = await post_meeting(host, url + "/edit", url + "/edit", **{**MEETING, "end_time": "x"})
    assert bad.status_code == 422 and 'value="x"' in bad.text
    assert (await host.get("/community/meetings/99999")).status_code == 404
    assert (await host.get("/community/meetings/99999/edit")).status_code == 404
    gone = await post_meeting(host, url, "/community/meetings/99999/edit", **MEETING)
    assert gone.status_code == 404
    removed = await post_meeting(host, url, url + "/delete")
    assert removed.status_code == 303 and removed.headers["location"] == "/community/meetings"
    assert (await host.get(url)).status_code == 404
    assert (await host.get(url + "/delete")).status_code == 405


@pytest.mark.parametrize("prefix", ["/community", ""])
async def test_live_pages_follow_the_mount(world: World, prefix: str) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    await world.community.accounts.create_member("lake-a", PASSWORD, Role.MEMBER)
    await Member.filter(handle="lake-a").update(trust_level=1)
    client = await signed_in(world, "walker-a", Role.MODERATOR, trust=3, prefix=prefix)
    started = await post_meeting(
        client, f"{prefix}/conversations", f"{prefix}/conversations", handle="lake-a"
    )
    assert started.status_code == 303
    conversation = started.headers["location"]
    assert conversation.startswith(f"{prefix}/conversations/dm-")
    made = await post_meeting(
        client, f"{prefix}/meetings/new", f"{prefix}/meetings", **{**MEETING, "room": ""}
    )
    assert made.status_code == 303 and made.headers["location"].startswith(f"{prefix}/meetings/")
    for url in (
        f"{prefix}/rooms",
        f"{prefix}/rooms/open-room",
        f"{prefix}/conversations",
        conversation,
        f"{prefix}/meetings",
        made.headers["location"],
        made.headers["location"] + "/edit",
    ):
        page = await client.get(url)
        assert page.status_code == 200, url
        links = set(re.findall(r'(?:href|src|action|data-[a-z-]+)="(/[^"#?]*)', page.text))
        assert links, url
        assert all(link.startswith(f"{prefix}/") for link in links), (url, links)
        assert f'data-socket="{prefix}/ws"' in page.text
