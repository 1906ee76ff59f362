"""What members hear, how trust grows, appeals of suspensions, claims, room settings.

Through the HTTP API on both engines.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from alumni_community.identity.models import Member, Role
from alumni_community.moderation.models import AuditEntry, Flag, FlagStatus, ReviewItem
from alumni_community.notifications.models import Notification
from alumni_community.rooms.models import Post, PostState

from .conftest import PASSWORD, World, make_room

pytestmark = pytest.mark.anyio


async def _notes(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/notifications")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def _sign_in_again(client: httpx.AsyncClient, handle: str) -> None:
    """After the clock moved past the session's idle limit."""
    signed = await client.post("/session", json={"handle": handle, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    client.headers["x-csrf-token"] = signed.json()["csrf_token"]


async def _thread(client: httpx.AsyncClient, room: str, body: str = "b", **extra: Any) -> Any:
    made = await client.post(
        f"/rooms/{room}/threads", json={"title": extra.pop("title", "t"), "body": body, **extra}
    )
    assert made.status_code == 201, made.text
    return made.json()


# -- notifications -------------------------------------------------------------


async def test_authors_and_flaggers_hear_the_outcome_and_never_who_flagged(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    author = await world.member("author", trust=1)
    flaggers = [await world.member(f"flagger-{i}", trust=2) for i in range(2)]
    await make_room(mod, "open-room", moderation="open")
    post_id = (await _thread(author, "open-room"))["post"]["id"]
    for flagger in flaggers:
        made = await flagger.post(
            "/flags", json={"target": {"type": "post", "id": post_id}, "reason": "spam"}
        )
        assert made.status_code == 201
    hidden = (await _notes(author))["items"]
    assert [n["kind"] for n in hidden] == ["post_hidden"]
    assert hidden[0]["target"] == {"type": "post", "id": post_id}
    assert not any(f"flagger-{i}" in hidden[0]["html"] for i in range(2))

    item = (await mod.get("/moderation/queue")).json()["items"][0]
    # The queue shows the moderator who flagged, why, and the weight.
    assert {(f["flagger"], f["reason"], f["weight"]) for f in item["flags"]} == {
        ("flagger-0", "spam", 3),
        ("flagger-1", "spam", 3),
    }
    decided = await mod.post(
        f"/moderation/queue/{item['id']}",
        json={"decision": "reject", "note": "Selling <b>pills</b>"},
    )
    assert decided.status_code == 200
    page = await _notes(author)
    assert [n["kind"] for n in page["items"]] == ["post_rejected", "post_hidden"]
    assert "Selling &lt;b&gt;pills&lt;/b&gt;" in page["items"][0]["html"]  # escaped
    assert page["unread"] == 2
    for flagger in flaggers:
        outcome = (await _notes(flagger))["items"]
        assert [n["kind"] for n in outcome] == ["flag_outcome"]
        assert "agreed" in outcome[0]["html"] and "author" not in outcome[0]["html"]
    assert set(await Flag.all().values_list("status", flat=True)) == {FlagStatus.AGREED}


async def test_marking_notifications_read(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=1)
    other = await world.member("other", trust=1)
    for _ in range(3):
        await mod.post("/moderation/members/river/actions", json={"action": "warn", "reason": "x"})
    await mod.post("/moderation/members/other/actions", json={"action": "warn", "reason": "y"})
    mine = await _notes(river)
    assert mine["unread"] == 3 and [n["kind"] for n in mine["items"]] == ["warning"] * 3
    others = (await _notes(other))["items"]

    # Someone else's ids are ignored, not an error that confirms they exist.
    marked = await river.post(
        "/notifications/read", json={"ids": [mine["items"][0]["id"], others[0]["id"]]}
    )
    assert marked.status_code == 200 and marked.json() == {"unread": 2}
    assert (await _notes(other))["unread"] == 1
    assert (await river.post("/notifications/read", json={"all": True})).json() == {"unread": 0}
    assert all(n["read"] for n in (await _notes(river))["items"])

    for bad in ({}, {"ids": []}, {"ids": ["1"]}, {"ids": [True]}, {"all": "yes"}):
        refused = await river.post("/notifications/read", json=bad)
        assert refused.status_code == 422, bad
    # Not digits, digits int() refuses, past what a database integer holds: 422, never 500.
    for cursor in ("x1", "\u00b2", "999999999999", "2147483648", "-1"):
        refused = await river.get("/notifications", params={"cursor": cursor})
        assert refused.status_code == 422, cursor
    assert (await river.get("/notifications", params={"cursor": "2147483647"})).status_code == 200


async def test_notifications_page_by_cursor(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=1)
    for i in range(55):
        await world.community.notifications.notify(
            (await Member.get(handle="river")).id, "warning", f"<p>{i}</p>"
        )
    first = await _notes(river)
    assert len(first["items"]) == 50 and first["next"]
    rest = (await river.get("/notifications", params={"cursor": first["next"]})).json()
    seen = [n["html"] for n in first["items"] + rest["items"]]
    assert seen == [f"<p>{i}</p>" for i in reversed(range(55))] and rest["next"] is None
    assert (await _notes(mod))["items"] == []


async def test_erasing_an_account_removes_its_notifications(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=1)
    await mod.post("/moderation/members/river/actions", json={"action": "warn", "reason": "x"})
    export = (await river.get("/me/export")).json()
    assert [n["kind"] for n in export["notifications"]] == ["warning"]
    assert (await river.request("DELETE", "/me", json={"password": PASSWORD})).status_code == 204
    assert await Notification.all().count() == 0


# -- flag weight and trust -----------------------------------------------------


async def _record(member: str, agreed: int, disagreed: int) -> None:
    flagger = await Member.get(handle=member)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(agreed + disagreed):
        await Flag.create(
            flagger=flagger,
            target_type="member",
            target_id=10_000 + i,
            reason="spam",
            weight=1,
            created_at=now,
            status=FlagStatus.AGREED if i < agreed else FlagStatus.DISAGREED,
        )


async def test_accurate_flaggers_weigh_more_and_inaccurate_ones_less(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    author = await world.member("author", trust=1)
    await make_room(mod, "open-room", moderation="open")
    await _thread(author, "open-room")
    target = {"type": "member", "id": "author"}  # flags on members never hide anything
    cases = [
        ("sharp", 2, 5, 0, 4),
        ("spiteful", 2, 1, 4, 2),
        ("fresh", 2, 4, 0, 3),
        ("veteran", 3, 9, 1, 4),  # 5 would hide a post alone: one member never does
    ]
    for handle, trust, agreed, disagreed, weight in cases:
        client = await world.member(handle, trust=trust)
        await _record(handle, agreed, disagreed)
        made = await client.post("/flags", json={"target": target, "reason": "spam"})
        assert made.status_code == 201
        assert made.json()["weight"] == weight, handle  # "fresh": 4 decided, below the minimum


async def test_a_steady_member_reaches_trust_level_two(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=1)
    await make_room(mod, "open-room", moderation="open")
    thread = await _thread(river, "open-room")
    member = await Member.get(handle="river")
    await Post.bulk_create(
        [
            Post(
                thread_id=thread["thread"]["id"],
                author=member,
                body="x",
                html="<p>x</p>",
                state=PostState.VISIBLE,
                created_at=world.now[0],
            )
            for _ in range(18)
        ]
    )  # 19 visible posts in all
    world.advance(days=15, seconds=1)
    await _sign_in_again(river, "river")
    reply = await river.post(f"/threads/{thread['thread']['id']}/posts", json={"body": "20th"})
    assert reply.status_code == 201
    assert (await Member.get(handle="river")).trust_level == 2
    assert [n["kind"] for n in (await _notes(river))["items"]] == ["trust_level"]


async def test_an_upheld_flag_delays_trust_level_two(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=1)
    await make_room(mod, "open-room", moderation="open")
    thread = await _thread(river, "open-room")
    member = await Member.get(handle="river")
    await Post.bulk_create(
        [
            Post(
                thread_id=thread["thread"]["id"],
                author=member,
                body="x",
                html="<p>x</p>",
                state=PostState.VISIBLE,
                created_at=world.now[0],
            )
            for _ in range(25)
        ]
    )
    world.advance(days=20)
    await _sign_in_again(river, "river")
    await Flag.create(
        flagger=await Member.get(handle="mod-a"),
        target_type="post",
        target_id=thread["post"]["id"],
        reason="harassment",
        weight=5,
        created_at=world.now[0] - dt.timedelta(days=10),
        status=FlagStatus.AGREED,
    )
    reply = await river.post(f"/threads/{thread['thread']['id']}/posts", json={"body": "more"})
    assert reply.status_code == 201
    assert (await Member.get(handle="river")).trust_level == 1
    world.advance(days=21)  # the upheld flag is now 31 days old
    await _sign_in_again(river, "river")
    reply = await river.post(f"/threads/{thread['thread']['id']}/posts", json={"body": "again"})
    assert (await Member.get(handle="river")).trust_level == 2


async def test_new_members_have_first_day_caps(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    await make_room(mod, "open-room", moderation="open")
    threads = []
    for i in range(3):
        threads.append((await _thread(newcomer, "open-room", title=f"t{i}"))["thread"]["id"])
        world.advance(seconds=31)
    fourth = await newcomer.post("/rooms/open-room/threads", json={"title": "t", "body": "b"})
    assert fourth.status_code == 429 and fourth.json()["code"] == "rate_limited"
    assert "first day" in fourth.json()["detail"]
    retry = int(fourth.headers["retry-after"])
    assert 23 * 3600 < retry <= 24 * 3600
    for i in range(10):
        made = await newcomer.post(f"/threads/{threads[0]}/posts", json={"body": f"r{i}"})
        assert made.status_code == 201, (i, made.text)
        world.advance(seconds=31)
    eleventh = await newcomer.post(f"/threads/{threads[0]}/posts", json={"body": "r10"})
    assert eleventh.status_code == 429
    # A crisis is never capped.
    crisis = await newcomer.post(f"/threads/{threads[0]}/posts", json={"body": "I want to die"})
    assert crisis.status_code == 201
    world.advance(days=1)
    await _sign_in_again(newcomer, "newcomer")
    assert (
        await newcomer.post(f"/threads/{threads[0]}/posts", json={"body": "next day"})
    ).status_code == 201


# -- appeals of suspensions, claims --------------------------------------------


async def test_a_suspended_member_appeals_with_their_credentials(world: World) -> None:
    first = await world.member("mod-a", Role.MODERATOR)
    second = await world.member("mod-b", Role.MODERATOR)
    await world.member("river", trust=1)
    await world.member("calm", trust=1)
    await first.post("/moderation/members/river/actions", json={"action": "suspend", "reason": "x"})
    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app), base_url="http://t/community/api/v1"
    )
    world.clients.append(anonymous)
    body = {"handle": "river", "password": PASSWORD, "note": "I was provoked."}
    assert (
        await anonymous.post("/session", json={"handle": "river", "password": PASSWORD})
    ).status_code == 403
    wrong = await anonymous.post("/appeals/suspension", json={**body, "password": "not it at all"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    not_suspended = await anonymous.post("/appeals/suspension", json={**body, "handle": "calm"})
    assert not_suspended.status_code == 404
    assert (
        await anonymous.post("/appeals/suspension", json={**body, "note": " "})
    ).status_code == 422
    appealed = await anonymous.post("/appeals/suspension", json=body)
    assert appealed.status_code == 201
    assert (await anonymous.post("/appeals/suspension", json=body)).status_code == 409
    appeal_id = appealed.json()["id"]
    assert (
        await first.post(f"/moderation/queue/{appeal_id}", json={"decision": "approve"})
    ).status_code == 403  # the moderator who suspended does not judge the appeal
    assert (
        await second.post(f"/moderation/queue/{appeal_id}", json={"decision": "approve"})
    ).status_code == 200
    signed = await anonymous.post("/session", json={"handle": "river", "password": PASSWORD})
    assert signed.status_code == 200
    kinds = [n["kind"] for n in (await anonymous.get("/notifications")).json()["items"]]
    assert kinds == ["appeal_decided", "account_suspend"]


async def test_claims_can_be_released(world: World) -> None:
    first = await world.member("mod-a", Role.MODERATOR)
    second = await world.member("mod-b", Role.MODERATOR)
    admin = await world.member("admin", Role.ADMIN)
    member = await world.member("river", trust=1)
    newcomer = await world.member("newcomer")
    await make_room(first, "welcome")
    await _thread(newcomer, "welcome")
    item_id = (await first.get("/moderation/queue")).json()["items"][0]["id"]
    path = f"/moderation/queue/{item_id}/claim"
    assert (await first.delete(path)).status_code == 409  # nothing to release
    assert (await first.post(path)).status_code == 200
    assert (await second.delete(path)).status_code == 403
    assert (await member.delete(path)).status_code == 403
    released = await first.delete(path)
    assert released.status_code == 200 and released.json()["claimed_by"] is None
    assert (await second.post(path)).status_code == 200
    assert (await admin.delete(path)).status_code == 200  # an admin frees a stuck claim
    assert (await first.delete("/moderation/queue/999999/claim")).status_code == 404
    actions = await AuditEntry.filter(target_type="review_item").values_list("action", flat=True)
    assert actions == ["claim", "release", "claim", "release"]


# -- crisis beyond post bodies ---------------------------------------------------


async def test_crisis_words_in_titles_bios_and_flag_notes_bring_help(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=1)
    flagger = await world.member("flagger", trust=1)
    await make_room(mod, "open-room", moderation="open")
    titled = await _thread(river, "open-room", body="just that", title="I want to end my life")
    assert titled["post"]["state"] == "visible"
    assert [n["kind"] for n in titled["notices"]] == ["crisis_resources"]

    bio = await river.patch("/me", json={"bio": "Some days I want to kill myself."})
    assert bio.status_code == 200 and bio.json()["notices"][0]["kind"] == "crisis_resources"
    calm = await river.patch("/me", json={"bio": "Some days I want to kill myself."})
    assert "notices" not in calm.json()  # unchanged: no second alarm

    other = await _thread(flagger, "open-room", title="ok", body="fine")
    world.advance(seconds=20)
    flagged = await flagger.post(
        "/flags",
        json={
            "target": {"type": "post", "id": titled["post"]["id"]},
            "reason": "other",
            "note": "they sound suicidal to me",
        },
    )
    assert flagged.status_code == 201, flagged.text
    queue = (await mod.get("/moderation/queue")).json()["items"]
    urgent = [(i["kind"], i["urgency"]) for i in queue if i["urgency"] >= 100]
    assert urgent == [("crisis", 100), ("crisis", 100), ("flagged", 100)]
    assert other["post"]["state"] == "visible"


async def test_silenced_members_cannot_change_their_bio(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=1)
    await mod.post("/moderation/members/river/actions", json={"action": "silence", "reason": "x"})
    refused = await river.patch("/me", json={"bio": "new"})
    assert refused.status_code == 403 and refused.json()["code"] == "silenced"
    assert (await Member.get(handle="river")).bio == ""
    # Other profile fields are private and stay the member's to change.
    assert (await river.patch("/me", json={"share_milestones": True})).status_code == 200


async def test_block_words_are_refused_in_bios(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=1)
    await mod.post("/moderation/watched-words", json={"pattern": "dealer", "action": "block"})
    refused = await river.patch("/me", json={"bio": "best dealer in town"})
    assert refused.status_code == 422 and "bio" in refused.json()["errors"]


# -- room settings and room moderators -----------------------------------------


async def test_room_moderators_change_settings_and_site_moderators_appoint_them(
    world: World,
) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    keeper = await world.member("keeper", trust=2)
    river = await world.member("river", trust=1)
    await make_room(mod, "open-room", moderation="open")
    await make_room(mod, "hidden", visibility="private")

    assert (
        await river.patch("/rooms/open-room", json={"slow_mode_seconds": 60})
    ).status_code == 403
    assert (await river.put("/rooms/open-room/moderators/keeper")).status_code == 403
    assert (await river.patch("/rooms/hidden", json={"archived": True})).status_code == 404
    assert (await mod.put("/rooms/open-room/moderators/nobody")).status_code == 404
    assert (await mod.put("/rooms/open-room/moderators/keeper")).status_code == 204
    listed = (await river.get("/rooms/open-room/moderators")).json()["items"]
    assert {m["handle"] for m in listed} == {"mod-a", "keeper"}

    changed = await keeper.patch(
        "/rooms/open-room", json={"slow_mode_seconds": 60, "moderation": "all_reviewed"}
    )
    assert changed.status_code == 200
    assert changed.json()["slow_mode_seconds"] == 60
    assert changed.json()["moderation"] == "all_reviewed"
    assert (
        await keeper.patch("/rooms/open-room", json={"visibility": "private"})
    ).status_code == 403
    for bad in (
        {"slow_mode_seconds": -1},
        {"slow_mode_seconds": True},
        {"moderation": "anything"},
        {"archived": "yes"},
        {"name": ""},
        {"colour": "red"},
    ):
        refused = await keeper.patch("/rooms/open-room", json=bad)
        assert refused.status_code == 422, bad

    posted = await river.post("/rooms/open-room/threads", json={"title": "t", "body": "b"})
    assert posted.json()["post"]["state"] == "pending"  # all_reviewed now
    assert (await keeper.patch("/rooms/open-room", json={"archived": True})).status_code == 200
    closed = await river.post("/rooms/open-room/threads", json={"title": "t2", "body": "b"})
    assert closed.status_code == 403

    assert (await mod.delete("/rooms/open-room/moderators/keeper")).status_code == 204
    assert (await keeper.patch("/rooms/open-room", json={"archived": False})).status_code == 403
    log = (
        await AuditEntry.filter(target_type__in=["room", "member"])
        .order_by("id")
        .values_list("action", "reason")
    )
    assert [a for a, _ in log] == [
        "room_moderator",
        "room_settings",
        "room_settings",
        "room_moderator_removed",
    ]
    assert "slow_mode_seconds=60" in log[1][1]
    assert all("keeper" not in reason for _, reason in log)  # members by id, not handle
    # Standing down someone who is not a room moderator adds nobody to the room.
    assert (await mod.delete("/rooms/hidden/moderators/river")).status_code == 404
    assert (await river.get("/rooms/hidden")).status_code == 404


async def test_review_items_are_not_left_behind_by_room_changes(world: World) -> None:
    """A held post in a room that is then archived can still be decided."""
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    await make_room(mod, "welcome")
    await _thread(newcomer, "welcome")
    assert (await mod.patch("/rooms/welcome", json={"archived": True})).status_code == 200
    item = await ReviewItem.get(kind="held")
    decided = await mod.post(f"/moderation/queue/{item.id}", json={"decision": "approve"})
    assert decided.status_code == 200 and decided.json()["target"]["state"] == "visible"


def test_trust_rules_refuse_values_that_would_break_flagging() -> None:
    from alumni_community import TrustRules

    for bad in ({"tl1_flags_per_day": 0}, {"hide_weight": 0}, {"accurate_percent": 30}):
        with pytest.raises(ValueError):
            TrustRules(**bad)
    # No decided flags and no minimum: the weight is the plain one, no division by zero.
    assert TrustRules(accuracy_min_flags=0).flag_weight(1, 0, 0) == 2


async def test_answers_about_one_item_show_its_flags(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    author = await world.member("author", trust=1)
    flagger = await world.member("flagger", trust=1)
    await make_room(mod, "open-room", moderation="open")
    post_id = (await _thread(author, "open-room"))["post"]["id"]
    await flagger.post(
        "/flags",
        json={"target": {"type": "post", "id": post_id}, "reason": "other", "note": "rude"},
    )
    item_id = (await mod.get("/moderation/queue")).json()["items"][0]["id"]
    claimed = (await mod.post(f"/moderation/queue/{item_id}/claim")).json()
    assert [(f["flagger"], f["note"]) for f in claimed["flags"]] == [("flagger", "rude")]


async def test_a_refused_bio_still_brings_crisis_help(world: World) -> None:
    river = await world.member("river", trust=1)
    refused = await river.patch(
        "/me", json={"bio": "I want to end my life", "share_milestones": "yes"}
    )
    assert refused.status_code == 422
    assert refused.json()["notices"][0]["kind"] == "crisis_resources"


async def test_an_upheld_appeal_settles_the_flags_that_hid_the_post(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    author = await world.member("author", trust=1)
    flaggers = [await world.member(f"f-{i}", trust=2) for i in range(3)]
    await make_room(mod, "open-room", moderation="open")
    post_id = (await _thread(author, "open-room"))["post"]["id"]
    target = {"type": "post", "id": post_id}
    for flagger in flaggers[:2]:
        await flagger.post("/flags", json={"target": target, "reason": "spam"})
    appealed = await author.post("/appeals", json={"target": target, "note": "Not spam."})
    assert appealed.status_code == 201
    await mod.post(f"/moderation/queue/{appealed.json()['id']}", json={"decision": "approve"})
    assert set(await Flag.all().values_list("status", flat=True)) == {FlagStatus.DISAGREED}
    # A third flag alone does not hide it again at once.
    await flaggers[2].post("/flags", json={"target": target, "reason": "spam"})
    assert (await Post.get(id=post_id)).state == PostState.VISIBLE
