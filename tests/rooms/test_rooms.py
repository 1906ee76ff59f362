"""Rooms, threads and posts through the HTTP API, with the posting rules, on both engines."""

from __future__ import annotations

import logging

import pytest

from alumni_community.identity.models import Member, MemberStatus, Role
from alumni_community.moderation.models import ReviewItem
from alumni_community.rooms.models import Thread

from .conftest import World, make_room

pytestmark = pytest.mark.anyio


async def test_only_moderators_create_rooms_and_fields_are_checked(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    member = await world.member("river", trust=1)
    refused = await member.post("/rooms", json={"slug": "x-room", "name": "X"})
    assert refused.status_code == 403
    bad = await mod.post(
        "/rooms",
        json={"slug": "Bad Slug!", "name": "", "visibility": "hidden", "moderation": "maybe"},
    )
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"slug", "name", "visibility", "moderation"}
    room = await make_room(mod, "welcome", name="<script>alert(1)</script> Welcome")
    assert "<script>" not in room["name"] and "&lt;script&gt;" in room["name"]
    assert room["moderation"] == "new_members_reviewed" and room["visibility"] == "members"
    taken = await mod.post("/rooms", json={"slug": "welcome", "name": "Again"})
    assert taken.status_code == 422


async def test_a_private_room_does_not_exist_for_outsiders(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    insider = await world.member("insider", trust=1)
    outsider = await world.member("outsider", trust=2)
    await make_room(mod, "circle", visibility="private", moderation="open")
    assert (await mod.post("/rooms/circle/members", json={"handle": "insider"})).status_code == 204
    created = await insider.post("/rooms/circle/threads", json={"title": "Hi", "body": "hello"})
    assert created.status_code == 201
    thread_id = created.json()["thread"]["id"]
    post_id = created.json()["post"]["id"]

    assert "circle" not in [r["slug"] for r in (await outsider.get("/rooms")).json()["items"]]
    assert "circle" in [r["slug"] for r in (await insider.get("/rooms")).json()["items"]]
    for response in (
        await outsider.get("/rooms/circle"),
        await outsider.get("/rooms/circle/threads"),
        await outsider.post("/rooms/circle/threads", json={"title": "x", "body": "y"}),
        await outsider.get(f"/threads/{thread_id}"),
        await outsider.post(f"/threads/{thread_id}/posts", json={"body": "y"}),
        await outsider.patch(f"/posts/{post_id}", json={"body": "y"}),
        await outsider.get(f"/posts/{post_id}/revisions"),
        await outsider.get("/rooms/no-such-room"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    # Inviting needs the room's moderators, and the room stays hidden meanwhile.
    assert (
        await outsider.post("/rooms/circle/members", json={"handle": "outsider"})
    ).status_code == 404


async def test_a_new_members_first_posts_are_held_then_approved(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    reader = await world.member("reader", trust=1)
    await make_room(mod, "welcome")

    held = await newcomer.post("/rooms/welcome/threads", json={"title": "Hello", "body": "First!"})
    assert held.status_code == 201
    assert held.json()["post"]["state"] == "pending"
    assert [n["kind"] for n in held.json()["notices"]] == ["held_for_review"]
    thread_id = held.json()["thread"]["id"]
    # Others do not see it yet; the author does.
    assert (await reader.get("/rooms/welcome/threads")).json()["items"] == []
    assert (await reader.get(f"/threads/{thread_id}")).status_code == 404
    assert (await newcomer.get(f"/threads/{thread_id}")).json()["posts"]["items"][0][
        "state"
    ] == "pending"

    queue = (await mod.get("/moderation/queue")).json()["items"]
    assert [(i["kind"], i["target"]["author"]["handle"]) for i in queue] == [("held", "newcomer")]
    assert (await reader.get("/moderation/queue")).status_code == 403
    approved = await mod.post(f"/moderation/queue/{queue[0]['id']}", json={"decision": "approve"})
    assert approved.status_code == 200 and approved.json()["state"] == "resolved"
    thread = (await reader.get(f"/threads/{thread_id}")).json()
    assert thread["thread"]["post_count"] == 1 and thread["posts"]["items"][0]["state"] == "visible"
    again = await mod.post(f"/moderation/queue/{queue[0]['id']}", json={"decision": "approve"})
    assert again.status_code == 422


async def test_after_three_approved_posts_and_two_days_a_member_is_trusted(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    await make_room(mod, "welcome")
    for i in range(3):
        world.advance(minutes=1)
        made = await newcomer.post("/rooms/welcome/threads", json={"title": f"T{i}", "body": "hi"})
        assert made.json()["post"]["state"] == "pending"
    world.advance(days=2)
    for item in (await mod.get("/moderation/queue")).json()["items"]:
        await mod.post(f"/moderation/queue/{item['id']}", json={"decision": "approve"})
    assert (await Member.get(handle="newcomer")).trust_level == 1
    fourth = await newcomer.post("/rooms/welcome/threads", json={"title": "T4", "body": "hi"})
    assert fourth.json()["post"]["state"] == "visible" and "notices" not in fourth.json()


async def test_rejection_needs_a_reason_and_hides_the_post(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    await make_room(mod, "welcome")
    made = await newcomer.post("/rooms/welcome/threads", json={"title": "Buy", "body": "spam"})
    item = (await mod.get("/moderation/queue")).json()["items"][0]
    no_reason = await mod.post(f"/moderation/queue/{item['id']}", json={"decision": "reject"})
    assert no_reason.status_code == 422
    rejected = await mod.post(
        f"/moderation/queue/{item['id']}",
        json={"decision": "reject", "note": "Advertising is not allowed."},
    )
    assert rejected.json()["target"]["state"] == "rejected"
    mine = (await newcomer.get(f"/threads/{made.json()['thread']['id']}")).json()
    assert mine["posts"]["items"][0]["state"] == "rejected"


async def test_room_moderation_modes(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    trusted = await world.member("trusted", trust=2)
    newcomer = await world.member("newcomer")
    await make_room(mod, "open-room", moderation="open")
    await make_room(mod, "careful", moderation="all_reviewed")
    opened = await newcomer.post("/rooms/open-room/threads", json={"title": "a", "body": "b"})
    assert opened.json()["post"]["state"] == "visible"
    careful = await trusted.post("/rooms/careful/threads", json={"title": "a", "body": "b"})
    assert careful.json()["post"]["state"] == "pending"


async def test_silenced_members_are_refused_until_the_silence_ends(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    member = await world.member("river", trust=1)
    await make_room(mod, "open-room", moderation="open")
    made = await member.post("/rooms/open-room/threads", json={"title": "a", "body": "b"})
    thread_id = made.json()["thread"]["id"]
    until = world.now[0] + __import__("datetime").timedelta(days=1)
    await Member.filter(handle="river").update(status=MemberStatus.SILENCED, status_until=until)
    for response in (
        await member.post("/rooms/open-room/threads", json={"title": "a", "body": "b"}),
        await member.post(f"/threads/{thread_id}/posts", json={"body": "reply"}),
        await member.patch(f"/posts/{made.json()['post']['id']}", json={"body": "edit"}),
    ):
        assert response.status_code == 403 and response.json()["code"] == "silenced"
    # Reading still works.
    assert (await member.get(f"/threads/{thread_id}")).status_code == 200
    world.advance(days=1, seconds=1)
    assert (
        await member.post(f"/threads/{thread_id}/posts", json={"body": "back"})
    ).status_code == 201


async def test_a_crisis_post_is_published_with_help_and_an_urgent_item(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    reader = await world.member("reader", trust=1)
    await make_room(mod, "welcome")
    await newcomer.post("/rooms/welcome/threads", json={"title": "Hi", "body": "ordinary"})
    world.advance(minutes=1)
    crisis = await newcomer.post(
        "/rooms/welcome/threads",
        json={"title": "Tonight", "body": "I relapsed and I want to kill myself."},
    )
    assert crisis.status_code == 201
    # Not held, even for a new member in a reviewed room: it must not vanish.
    assert crisis.json()["post"]["state"] == "visible"
    notice = crisis.json()["notices"][0]
    assert notice["kind"] == "crisis_resources" and "988" in notice["html"]
    thread_id = crisis.json()["thread"]["id"]
    assert (await reader.get(f"/threads/{thread_id}")).status_code == 200
    queue = (await mod.get("/moderation/queue")).json()["items"]
    assert [i["kind"] for i in queue] == ["crisis", "held"]  # crisis first, though newer
    assert any(item.kind == "crisis" for item in world.reviews)  # pushed to listeners


async def test_identifying_details_need_confirmation(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    member = await world.member("river", trust=1)
    await make_room(mod, "open-room", moderation="open")
    body = "Call me at (415) 555-2671 or write to river.real@example.com"
    asked = await member.post("/rooms/open-room/threads", json={"title": "Hi", "body": body})
    assert asked.status_code == 409
    assert asked.json()["code"] == "identifying_details"
    assert asked.json()["found"] == ["email", "phone"]
    assert await ReviewItem.all().count() == 0
    world.advance(minutes=1)
    confirmed = await member.post(
        "/rooms/open-room/threads", json={"title": "Hi", "body": body, "confirm": True}
    )
    assert confirmed.status_code == 201
    assert [n["kind"] for n in confirmed.json()["notices"]] == ["identifying_details_confirmed"]
    assert [i["kind"] for i in (await mod.get("/moderation/queue")).json()["items"]] == [
        "identifying"
    ]


async def test_new_members_are_paced_and_limited_in_links(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    await make_room(mod, "open-room", moderation="open")
    links = "see https://a.example https://b.example https://c.example"
    assert (
        await newcomer.post("/rooms/open-room/threads", json={"title": "x", "body": links})
    ).status_code == 422
    first = await newcomer.post("/rooms/open-room/threads", json={"title": "x", "body": "hi"})
    assert first.status_code == 201
    second = await newcomer.post(
        f"/threads/{first.json()['thread']['id']}/posts", json={"body": "b"}
    )
    assert second.status_code == 429 and int(second.headers["retry-after"]) == 30
    world.advance(seconds=31)
    third = await newcomer.post(
        f"/threads/{first.json()['thread']['id']}/posts", json={"body": "c"}
    )
    assert third.status_code == 201


async def test_edits_keep_revisions_for_the_author_and_moderators(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    author = await world.member("author", trust=1)
    other = await world.member("other", trust=1)
    await make_room(mod, "open-room", moderation="open")
    made = await author.post("/rooms/open-room/threads", json={"title": "x", "body": "first text"})
    post_id = made.json()["post"]["id"]
    edited = await author.patch(f"/posts/{post_id}", json={"body": "second **text**"})
    assert edited.status_code == 200
    assert "<strong>text</strong>" in edited.json()["post"]["html"]
    assert edited.json()["post"]["edited_at"] is not None
    assert (await other.patch(f"/posts/{post_id}", json={"body": "vandal"})).status_code == 403
    assert (await other.get(f"/posts/{post_id}/revisions")).status_code == 403
    for viewer in (author, mod):
        revisions = (await viewer.get(f"/posts/{post_id}/revisions")).json()["items"]
        assert [r["html"] for r in revisions] == ["<p>first text</p>\n"]


async def test_deleting_a_post_updates_its_thread(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    author = await world.member("author", trust=1)
    await make_room(mod, "open-room", moderation="open")
    made = await author.post("/rooms/open-room/threads", json={"title": "x", "body": "a"})
    thread_id = made.json()["thread"]["id"]
    world.advance(seconds=6)
    reply = await author.post(f"/threads/{thread_id}/posts", json={"body": "b"})
    assert (await author.delete(f"/posts/{reply.json()['post']['id']}")).status_code == 204
    thread = (await author.get(f"/threads/{thread_id}")).json()
    assert thread["thread"]["post_count"] == 1 and len(thread["posts"]["items"]) == 1
    assert (await author.delete(f"/posts/{reply.json()['post']['id']}")).status_code == 404


async def test_moderators_pin_lock_and_move_threads(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    member = await world.member("river", trust=1)
    await make_room(mod, "open-room", moderation="open")
    await make_room(mod, "other-room", moderation="open")
    made = await member.post("/rooms/open-room/threads", json={"title": "x", "body": "a"})
    thread_id = made.json()["thread"]["id"]
    assert (await member.patch(f"/threads/{thread_id}", json={"locked": True})).status_code == 403
    locked = await mod.patch(f"/threads/{thread_id}", json={"locked": True, "pinned": True})
    assert locked.json()["locked"] is True and locked.json()["pinned"] is True
    world.advance(seconds=6)
    assert (await member.post(f"/threads/{thread_id}/posts", json={"body": "b"})).status_code == 403
    moved = await mod.patch(f"/threads/{thread_id}", json={"room": "other-room"})
    assert moved.status_code == 200
    listed = (await member.get("/rooms/other-room/threads")).json()["items"]
    assert [t["id"] for t in listed] == [thread_id]


async def test_posts_and_threads_page_by_cursor_without_gaps(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    made = await mod.post("/rooms/open-room/threads", json={"title": "long", "body": "0"})
    thread_id = made.json()["thread"]["id"]
    for i in range(1, 65):
        await mod.post(f"/threads/{thread_id}/posts", json={"body": str(i)})
    for i in range(40):
        world.advance(seconds=1)
        await mod.post("/rooms/open-room/threads", json={"title": f"t{i}", "body": "x"})
    seen, cursor = [], None
    while True:
        page = (
            await mod.get(f"/threads/{thread_id}", params={"cursor": cursor} if cursor else {})
        ).json()["posts"]
        seen += [int(p["html"][3:-5]) for p in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == list(range(65))
    titles, cursor = [], None
    while True:
        page = (
            await mod.get("/rooms/open-room/threads", params={"cursor": cursor} if cursor else {})
        ).json()
        titles += [t["title"] for t in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert titles == [f"t{i}" for i in reversed(range(40))] + ["long"]
    bad = await mod.get("/rooms/open-room/threads", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422


async def test_thread_pages_keep_the_order_across_pins_and_equal_times(world: World) -> None:
    """Pages of a room's threads, walked by cursor, are exactly the list in one piece: pinned
    first, then by last activity, ties broken by id, with a page edge inside a run of threads
    active at the same second and another at the pinned/unpinned boundary."""
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "busy", moderation="open")
    ids = []
    for i in range(70):
        if i % 7 == 0:
            world.advance(seconds=1)  # runs of seven threads share a time
        made = await mod.post("/rooms/busy/threads", json={"title": f"t{i}", "body": "x"})
        ids.append(made.json()["thread"]["id"])
    pinned = [ids[3], ids[40], ids[41]]
    for thread_id in pinned:
        assert (await mod.patch(f"/threads/{thread_id}", json={"pinned": True})).status_code == 200
    rows = await Thread.filter(room__slug="busy").values_list("id", "pinned", "last_post_at")
    expected = [r[0] for r in sorted(rows, key=lambda r: (r[1], r[2], r[0]), reverse=True)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"cursor": cursor} if cursor else {}
        page = (await mod.get("/rooms/busy/threads", params=params)).json()
        seen += [t["id"] for t in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == expected
    assert seen[:3] == sorted(pinned, reverse=True)


async def test_listing_threads_costs_the_same_queries_for_5_or_25(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "few", moderation="open")
    await make_room(mod, "many", moderation="open")
    authors = [await world.member(f"author-{i}", trust=1) for i in range(5)]
    for slug, count in (("few", 5), ("many", 25)):
        for i in range(count):
            world.advance(seconds=20)
            await authors[i % 5].post(f"/rooms/{slug}/threads", json={"title": "t", "body": "b"})

    async def queries(path: str) -> int:
        await mod.get("/session")  # the session's once-a-minute touch happens here, not below
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
            assert (await mod.get(path)).status_code == 200
        return len([r for r in caplog.records if r.name == "tortoise.db_client"])

    assert await queries("/rooms/few/threads") == await queries("/rooms/many/threads")


async def test_erasing_with_content_removes_the_text_of_posts(world: World) -> None:
    from alumni_community.rooms.models import Post, PostRevision, Thread

    mod = await world.member("mod-a", Role.MODERATOR)
    leaving = await world.member("leaving", trust=1)
    staying = await world.member("staying", trust=1)
    await make_room(mod, "open-room", moderation="open")
    made = await leaving.post(
        "/rooms/open-room/threads", json={"title": "MARKER-title", "body": "MARKER-body"}
    )
    thread_id = made.json()["thread"]["id"]
    await leaving.patch(f"/posts/{made.json()['post']['id']}", json={"body": "MARKER-edit"})
    await staying.post(f"/threads/{thread_id}/posts", json={"body": "a reply that stays"})
    erased = await leaving.request(
        "DELETE", "/me", json={"password": "a long enough passphrase", "delete_content": True}
    )
    assert erased.status_code == 204
    rows = [*(await Post.all().values("body", "html")), *(await Thread.all().values("title"))]
    assert "MARKER" not in str(rows)
    assert await PostRevision.all().count() == 0
    thread = (await staying.get(f"/threads/{thread_id}")).json()
    assert [p["html"] for p in thread["posts"]["items"]] == ["<p>a reply that stays</p>\n"]
    assert thread["thread"]["post_count"] == 1
