"""Chat through a real uvicorn and real WebSocket clients, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed

from alumni_community.chat.models import Message
from alumni_community.identity.models import Member, Role
from alumni_community.rooms.models import Room

from .conftest import ChatWorld, both, frame, make_room, messages, send, until

pytestmark = pytest.mark.anyio


async def test_two_members_chat_in_a_room(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    lake = await chat.member("lake")
    await make_room(mod, "lounge")
    a = await chat.join(river, "lounge")
    b = await chat.join(lake, "lounge")
    presence = await until(a, "presence")
    assert set(presence["online"]) == {"river", "lake"}

    await send(a, type="send", room="lounge", body="Hello **all**", client_id="c-1")
    mine, theirs = (await messages(a, 1))[0], (await messages(b, 1))[0]
    assert mine["seq"] == theirs["seq"] == 1
    assert mine["client_id"] == "c-1" and "client_id" not in theirs
    assert theirs["html"] == "<p>Hello <strong>all</strong></p>\n"
    assert theirs["author"]["handle"] == "river" and theirs["state"] == "visible"

    await send(b, type="typing", room="lounge")
    typing = await until(a, "typing")
    assert typing == {"type": "typing", "room": "lounge", "handle": "lake"}

    await send(b, type="react", room="lounge", seq=1, emoji="🙏")
    reaction = await until(a, "reaction")
    assert reaction["reactions"] == {"🙏": 1}

    await send(a, type="edit", room="lounge", seq=1, body="Hello everyone")
    edited = await until(b, "edited")
    assert edited["html"] == "<p>Hello everyone</p>\n" and edited["edited_at"]
    await send(b, type="edit", room="lounge", seq=1, body="hijack")
    refused = await until(b, "error")
    assert refused["code"] == "forbidden"

    # Unread counts, and read markers moving them.
    rooms = (await lake.http.get("/rooms")).json()["items"]
    assert [r["unread"] for r in rooms if r["slug"] == "lounge"] == [1]
    await send(b, type="read", room="lounge", seq=1)
    read = await until(b, "read")
    assert read["unread"] == 0
    rooms = (await lake.http.get("/rooms")).json()["items"]
    assert [r["unread"] for r in rooms if r["slug"] == "lounge"] == [0]

    await send(a, type="delete", room="lounge", seq=1)
    deleted = await until(b, "deleted")
    assert deleted == {"type": "deleted", "room": "lounge", "seq": 1}
    history = (await lake.http.get("/rooms/lounge/messages")).json()["items"]
    assert [(m["seq"], m["state"], m["html"]) for m in history] == [(1, "deleted", "")]
    # Seqs and cursors are ASCII digits within what the column holds; anything else is 422.
    for query in ("before=\u00b2", "after=2147483648", "cursor=x1", "cursor=b99999999999"):
        refused = await lake.http.get(f"/rooms/lounge/messages?{query}")
        assert refused.status_code == 422, query
    older = await lake.http.get("/rooms/lounge/messages?cursor=b2")
    assert [m["seq"] for m in older.json()["items"]] == [1]


async def test_presence_names_fifty_handles_and_counts_everyone(chat: ChatWorld) -> None:
    """A big room's presence frame stays small: 50 handles, sorted, and the count of all."""
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    await make_room(mod, "hall")
    ws = await chat.join(river, "hall")
    first = await until(ws, "presence")
    assert first["online"] == ["river"] and first["online_count"] == 1
    room = await Room.get(slug="hall")
    # Another process says who is online through it, as the broker would.
    elsewhere = [f"peer-{i:03d}" for i in range(60)]
    chat.community.hub._heard_presence(
        {"k": "presence", "room": room.id, "proc": "elsewhere", "handles": elsewhere}
    )
    presence = await until(ws, "presence")
    assert presence["online_count"] == 61
    assert presence["online"] == sorted([*elsewhere, "river"])[:50]
    # A new subscriber hears the same in its subscribed frame.
    lake = await chat.member("lake")
    other = await chat.connect(lake)
    await send(other, type="subscribe", room="hall")
    subscribed = await until(other, "subscribed")
    assert subscribed["online_count"] == 62 and len(subscribed["online"]) == 50
    # A process with 500 online names its first 50 and counts the rest.
    many = [f"crowd-{i:03d}" for i in range(500)]
    event = chat.community.hub._presence_event(room.id, frozenset(many))
    assert event["count"] == 500 and event["handles"] == many[:50]
    chat.community.hub._heard_presence({**event, "proc": "crowded"})
    crowded = await until(ws, "presence")
    assert crowded["online_count"] == 62 + 500
    assert crowded["online"] == sorted([*elsewhere, "river", "lake", *many[:50]])[:50]


def test_a_presence_event_fits_a_postgresql_notify() -> None:
    """PostgreSQL's NOTIFY carries at most 8,000 bytes: the longest handles still fit."""
    import json

    from alumni_community.chat.hub import PRESENCE_EVENT_BYTES, Hub

    hub = Hub.__new__(Hub)
    hub.process = "p"
    fraktur_a = "\U0001d51e"  # a letter outside the BMP: 12 bytes of JSON
    longest = frozenset(f"{fraktur_a * 30}{i:02d}" for i in range(80))  # 32 letters each
    event = hub._presence_event(7, longest)
    assert event["count"] == 80
    assert 0 < len(event["handles"]) < 50
    assert event["handles"] == sorted(longest)[: len(event["handles"])]
    assert len(json.dumps(event["handles"])) <= PRESENCE_EVENT_BYTES
    assert len(json.dumps(event, separators=(",", ":"))) < 8000


async def test_resume_after_a_disconnect_gets_exactly_what_was_missed(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    lake = await chat.member("lake")
    await make_room(mod, "lounge")
    sender = await chat.join(mod, "lounge")  # moderators are not rate limited
    reader = await chat.join(lake, "lounge")
    await send(sender, type="send", room="lounge", body="before", client_id="c-0")
    seen = (await messages(reader, 1))[0]["seq"]
    await reader.close()

    for i in range(50):
        await send(sender, type="send", room="lounge", body=f"m{i}", client_id=f"c-{i + 1}")
    await messages(sender, 50)

    again = await chat.connect(lake)
    await until(again, "hello")
    await send(again, type="subscribe", room="lounge", since=seen)
    subscribed = await until(again, "subscribed")
    assert subscribed["last_seq"] == 51
    got = await messages(again, 50)
    assert [m["seq"] for m in got] == list(range(2, 52))
    assert [m["html"] for m in got] == [f"<p>m{i}</p>\n" for i in range(50)]
    # Nothing more: the next frame is whatever comes next live, not a duplicate.
    await send(sender, type="send", room="lounge", body="after", client_id="c-after")
    assert (await messages(again, 1))[0]["seq"] == 52


async def test_no_gap_and_no_duplicate_when_messages_arrive_during_the_backlog(
    chat: ChatWorld,
) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    writers = [await chat.member(f"writer-{i}", trust=2) for i in range(3)]
    lake = await chat.member("lake")
    await make_room(mod, "lounge")
    sockets = [await chat.join(w, "lounge") for w in writers]

    async def write(ws: object, who: int) -> None:
        for i in range(20):
            await send(ws, type="send", room="lounge", body=f"{who}-{i}", client_id=f"{who}-{i}")  # type: ignore[arg-type]
            await asyncio.sleep(0)

    writing = asyncio.gather(*(write(ws, i) for i, ws in enumerate(sockets)))
    await asyncio.sleep(0.05)  # some are stored already, others arrive during the backlog read
    reader = await chat.connect(lake)
    await until(reader, "hello")
    await send(reader, type="subscribe", room="lounge", since=0)
    await writing
    got = await messages(reader, 60, wait=15)
    assert [m["seq"] for m in got] == list(range(1, 61))
    with pytest.raises(TimeoutError):
        extra = await frame(reader, wait=0.5)
        while extra["type"] != "message":
            extra = await frame(reader, wait=0.5)


async def test_a_resend_is_one_message(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    lake = await chat.member("lake")
    await make_room(mod, "lounge")
    a = await chat.join(river, "lounge")
    b = await chat.join(lake, "lounge")
    await send(a, type="send", room="lounge", body="once", client_id="same-id")
    first = (await messages(a, 1))[0]
    await a.close()  # the echo may have been lost: the client resends after reconnecting
    a2 = await chat.join(river, "lounge", since=first["seq"])
    await send(a2, type="send", room="lounge", body="once", client_id="same-id")
    echo = await until(a2, "message")
    assert echo["seq"] == first["seq"] and echo["client_id"] == "same-id"
    assert await Message.filter(client_id="same-id").count() == 1
    assert (await messages(b, 1))[0]["seq"] == first["seq"]
    with pytest.raises(TimeoutError):
        await until(b, "message", wait=0.5)


async def test_refusals_leave_the_server_and_other_clients_working(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    lake = await chat.member("lake", trust=0)
    await make_room(mod, "lounge")
    await make_room(mod, "hidden", visibility="private")
    watcher = await chat.join(river, "lounge")

    for origin in ("http://evil.example", "http://127.0.0.1.evil.example", None):
        ws = await chat.connect(river, origin=origin)
        with pytest.raises(ConnectionClosed) as closed:
            await frame(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    ws = await chat.connect(river, origin="https://other.example")  # allowed by settings
    assert (await frame(ws))["type"] == "hello"
    anonymous = await chat.connect(None)
    with pytest.raises(ConnectionClosed) as closed:
        await frame(anonymous)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    ws = await chat.connect(lake)
    await until(ws, "hello")
    await ws.send("{not json")
    assert (await frame(ws))["code"] == "bad_frame"
    await send(ws, type="shout", room="lounge")
    assert (await frame(ws))["code"] == "bad_frame"
    await ws.send(b"\x00\x01")
    assert (await frame(ws))["code"] == "bad_frame"
    await send(ws, type="subscribe", room="hidden", since=None, ref="r1")
    hidden = await frame(ws)
    assert (hidden["code"], hidden["ref"]) == ("not_found", "r1")
    await send(ws, type="send", room="hidden", body="hi", client_id="x")
    assert (await frame(ws))["code"] == "not_found"

    # TL0: 20 messages per 30 s, then rate_limited with a retry time.
    for i in range(20):
        await send(ws, type="send", room="lounge", body=f"n{i}", client_id=f"n{i}")
    await messages(ws, 20)
    await send(ws, type="send", room="lounge", body="one too many", client_id="n20")
    limited = await until(ws, "error")
    assert limited["code"] == "rate_limited" and limited["retry_after"] >= 1
    assert limited["ref"] == "n20"

    big = await chat.connect(lake)
    await until(big, "hello")
    await big.send("x" * (17 * 1024))
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await frame(big)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    # The watcher saw the 20 messages and is still served.
    assert len(await messages(watcher, 20)) == 20
    await send(watcher, type="ping")
    assert (await until(watcher, "pong"))["type"] == "pong"


async def test_silenced_members_cannot_chat(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    await make_room(mod, "lounge")
    ws = await chat.join(river, "lounge")
    await mod.http.post(
        "/moderation/members/river/actions", json={"action": "silence", "reason": "cool off"}
    )
    await send(ws, type="send", room="lounge", body="hello", client_id="s1")
    refused = await until(ws, "error")
    assert refused["code"] == "silenced"
    await send(ws, type="send", room="lounge", body="I want to end my life", client_id="s2")
    assert (await until(ws, "error"))["code"] == "silenced"
    help_ = await until(ws, "notice")
    assert help_["kind"] == "crisis_resources"
    assert await Message.all().count() == 0


async def test_logging_out_or_a_suspension_closes_sockets(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    lake = await chat.member("lake")
    await make_room(mod, "lounge")
    ws = await chat.join(river, "lounge")
    await river.http.delete("/session")
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await frame(ws, wait=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    other = await chat.join(lake, "lounge")
    await mod.http.post(
        "/moderation/members/lake/actions", json={"action": "suspend", "reason": "x"}
    )
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await frame(other, wait=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_crisis_messages_are_delivered_with_help_and_alert_moderators(
    chat: ChatWorld,
) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    await make_room(mod, "lounge")
    watching = await chat.connect(mod)
    await until(watching, "hello")
    ws = await chat.join(river, "lounge")
    await send(ws, type="send", room="lounge", body="I want to kill myself", client_id="k1")
    # The notice (tied to the send by its ref) and the message, in either order.
    got = await both(ws, "message", "notice")
    assert got["message"]["state"] == "visible"
    notice = got["notice"]
    assert notice["kind"] == "crisis_resources" and "988" in notice["html"]
    assert notice["ref"] == "k1"
    alert = await until(watching, "notice")
    assert alert["kind"] == "urgent_review" and alert["item"]


async def test_identifying_details_need_a_confirmation(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    await make_room(mod, "lounge")
    ws = await chat.join(river, "lounge")
    body = "call me on (415) 555-2671"
    await send(ws, type="send", room="lounge", body=body, client_id="p1")
    asked = await until(ws, "error")
    assert asked["code"] == "identifying_details" and asked["found"] == ["phone"]
    assert asked["ref"] == "p1"
    await send(ws, type="send", room="lounge", body=body, client_id="p1", confirm=True)
    assert (await messages(ws, 1))[0]["seq"] == 1


async def test_direct_conversations(chat: ChatWorld) -> None:
    river = await chat.member("river")
    lake = await chat.member("lake")
    await chat.member("newcomer", trust=0)
    newcomer = chat.clients[-1]
    refused = await newcomer.http.post("/direct", json={"handle": "river"})
    assert refused.status_code == 403
    started = await river.http.post("/direct", json={"handle": "lake"})
    assert started.status_code == 201
    slug = started.json()["slug"]
    again = await lake.http.post("/direct", json={"handle": "river"})
    assert again.json()["slug"] == slug  # one conversation per pair
    listed = (await lake.http.get("/direct")).json()["items"]
    assert [(d["slug"], d["with"]["handle"]) for d in listed] == [(slug, "river")]
    # Not listed among rooms, and invisible to others, moderators included.
    assert slug not in [r["slug"] for r in (await river.http.get("/rooms")).json()["items"]]
    assert (await newcomer.http.get(f"/rooms/{slug}/messages")).status_code == 404

    a = await chat.join(river, slug)
    b = await chat.join(lake, slug)
    await send(a, type="send", room=slug, body="hi lake", client_id="d1")
    assert (await messages(b, 1))[0]["html"] == "<p>hi lake</p>\n"

    assert (await lake.http.put("/members/river/block")).status_code == 204
    await send(a, type="send", room=slug, body="still there?", client_id="d2")
    assert (await until(a, "error"))["code"] == "forbidden"
    assert (await river.http.post("/direct", json={"handle": "lake"})).status_code == 403
    assert (await lake.http.delete("/members/river/block")).status_code == 204
    assert (await lake.http.delete(f"/direct/{slug}")).status_code == 204
    await send(a, type="send", room=slug, body="hello?", client_id="d3")
    left = await until(a, "error")
    assert left["code"] == "forbidden" and "left" in left["detail"]


async def test_flagged_messages_hide_and_moderators_decide_them(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    flaggers = [await chat.member(f"flagger-{i}", trust=2) for i in range(2)]
    await make_room(mod, "lounge")
    author = await chat.join(river, "lounge")
    reader = await chat.join(flaggers[0], "lounge")
    await send(author, type="send", room="lounge", body="buy pills here", client_id="f1")
    message = (await messages(reader, 1))[0]
    target = {"type": "message", "id": message["id"]}
    for flagger in flaggers:
        made = await flagger.http.post("/flags", json={"target": target, "reason": "spam"})
        assert made.status_code == 201, made.text
    hidden = await until(reader, "deleted")  # gone for readers at once
    assert hidden == {"type": "deleted", "room": "lounge", "seq": message["seq"]}
    own = await until(author, "edited")  # the author still sees it, marked hidden
    assert own["state"] == "hidden"
    history = (await flaggers[1].http.get("/rooms/lounge/messages")).json()["items"]
    assert history == []

    item = (await mod.http.get("/moderation/queue")).json()["items"][0]
    assert item["target"]["type"] == "message" and item["target"]["seq"] == message["seq"]
    assert {f["flagger"] for f in item["flags"]} == {"flagger-0", "flagger-1"}
    await mod.http.post(f"/moderation/queue/{item['id']}", json={"decision": "approve"})
    back = await until(reader, "edited")
    assert back["state"] == "visible" and back["html"] == "<p>buy pills here</p>\n"

    # Outsiders cannot flag what they cannot see.
    await make_room(mod, "hidden", visibility="private")
    secret = await chat.join(mod, "hidden")
    await send(secret, type="send", room="hidden", body="staff only", client_id="h1")
    hidden_id = (await messages(secret, 1))[0]["id"]
    refused = await river.http.post(
        "/flags", json={"target": {"type": "message", "id": hidden_id}, "reason": "spam"}
    )
    assert refused.status_code == 404


async def test_held_messages_reach_others_only_once_approved(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    lake = await chat.member("lake")
    await make_room(mod, "lounge")
    await mod.http.post("/moderation/watched-words", json={"pattern": "dealer", "action": "hold"})
    a = await chat.join(river, "lounge")
    b = await chat.join(lake, "lounge")
    await send(a, type="send", room="lounge", body="any dealer around?", client_id="w1")
    got = await both(a, "message", "notice")
    mine = got["message"]
    assert mine["state"] == "pending"
    assert got["notice"]["kind"] == "held_for_review"
    with pytest.raises(TimeoutError):
        await until(b, "message", wait=0.5)
    item = (await mod.http.get("/moderation/queue")).json()["items"][0]
    await mod.http.post(f"/moderation/queue/{item['id']}", json={"decision": "approve"})
    shown = await until(b, "edited")
    assert shown["seq"] == mine["seq"] and shown["state"] == "visible"


@pytest.mark.chat_settings(ws_queue_frames=16)
async def test_a_slow_reader_is_closed_and_others_keep_receiving(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    lake = await chat.member("lake")
    river = await chat.member("river")
    await make_room(mod, "lounge")
    # A client that stops reading: its own buffers are tiny, so TCP pushes back.
    slow = await chat.connect(river, max_queue=1, max_size=2**20)
    await until(slow, "hello")
    await send(slow, type="subscribe", room="lounge", since=None)
    await until(slow, "subscribed")
    fast = await chat.join(lake, "lounge")
    sender = await chat.join(mod, "lounge")
    body = "x" * 3900
    river_id = (await Member.get(handle="river")).id
    sent = 0
    while chat.community.hub.connections_of(river_id) and sent < 3000:
        for _ in range(20):
            await send(sender, type="send", room="lounge", body=body, client_id=f"b{sent}")
            sent += 1
        # The fast reader keeps up throughout.
        assert len(await messages(fast, 20)) == 20
    assert not chat.community.hub.connections_of(river_id), f"still open after {sent}"
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await frame(slow, wait=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408


async def test_a_lost_broker_connection_delays_but_never_loses(chat: ChatWorld) -> None:
    if chat.community.settings.database_engine != "postgres":
        pytest.skip("the in-memory broker of SQLite mode has no connection to lose")
    mod = await chat.member("mod-a", Role.MODERATOR)
    lake = await chat.member("lake")
    await make_room(mod, "lounge")
    reader = await chat.join(lake, "lounge")
    sender = await chat.join(mod, "lounge")
    broker = chat.community.broker
    assert broker is not None and broker.reconnects == 0
    conn = chat.community.database.connection()
    listening = await conn.execute_query_dict(
        "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
    )
    assert listening, "the broker listens on its own connection"
    await conn.execute_query("SELECT pg_terminate_backend($1)", [listening[0]["pid"]])
    for i in range(5):
        await send(sender, type="send", room="lounge", body=f"while down {i}", client_id=f"d{i}")
    got = await messages(reader, 5, wait=20)
    assert [m["seq"] for m in got] == [1, 2, 3, 4, 5]
    assert broker.reconnects >= 1


@pytest.mark.chat_settings(ws_idle_seconds=1, ws_connections_per_member=2)
async def test_idle_sockets_close_and_connections_per_member_are_limited(
    chat: ChatWorld,
) -> None:
    river = await chat.member("river")
    first = await chat.connect(river)
    await until(first, "hello")
    second = await chat.connect(river)
    await until(second, "hello")
    third = await chat.connect(river)
    with pytest.raises(ConnectionClosed) as closed:
        await frame(third)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
    # A client that pings stays; one that says nothing is closed.
    for _ in range(3):
        await send(second, type="ping")
        assert (await until(second, "pong"))["type"] == "pong"
        await asyncio.sleep(0.5)
    with pytest.raises(ConnectionClosed) as closed:
        await frame(first, wait=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


async def test_export_and_erasure_cover_chat(chat: ChatWorld) -> None:
    from alumni_community.chat.models import Reaction
    from alumni_community.rooms.models import RoomMembership

    river = await chat.member("river")
    lake = await chat.member("lake")
    slug = (await river.http.post("/direct", json={"handle": "lake"})).json()["slug"]
    # A direct conversation has no threads.
    threads = await river.http.post(f"/rooms/{slug}/threads", json={"title": "t", "body": "b"})
    assert threads.status_code == 404
    a = await chat.join(river, slug)
    b = await chat.join(lake, slug)
    await send(a, type="send", room=slug, body="my words", client_id="e1")
    seq = (await messages(b, 1))[0]["seq"]
    await send(a, type="react", room=slug, seq=seq, emoji="👍")
    await until(b, "reaction")
    export = (await river.http.get("/me/export")).json()
    assert [(m["room"], m["body"]) for m in export["messages"]] == [(slug, "my words")]

    erased = await river.http.request(
        "DELETE", "/me", json={"password": "a long enough passphrase", "delete_content": True}
    )
    assert erased.status_code == 204, erased.text
    assert await Reaction.all().count() == 0
    assert await RoomMembership.filter(room__slug=slug).count() == 1  # lake alone
    stored = await Message.get(seq=seq, room__slug=slug)
    assert (stored.body, stored.html, stored.state) == ("", "", "deleted")
    await send(b, type="send", room=slug, body="hello?", client_id="e2")
    assert "left" in (await until(b, "error"))["detail"]
