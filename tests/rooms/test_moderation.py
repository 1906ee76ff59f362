"""Flags, member actions and the audit log through the HTTP API, on both engines."""

from __future__ import annotations

import datetime as dt

import pytest

from alumni_community.identity.models import Member, Role
from alumni_community.moderation.models import AuditEntry, Flag

from .conftest import PASSWORD, World, make_room

pytestmark = pytest.mark.anyio


async def _post(world: World, author_trust: int = 1) -> tuple[int, int]:
    mod = await world.member("mod-a", Role.MODERATOR)
    author = await world.member("author", trust=author_trust)
    await make_room(mod, "open-room", moderation="open")
    made = await author.post("/rooms/open-room/threads", json={"title": "t", "body": "b"})
    return made.json()["thread"]["id"], made.json()["post"]["id"]


async def test_two_trusted_flags_hide_a_post_for_review(world: World) -> None:
    thread_id, post_id = await _post(world)
    first = await world.member("flagger-1", trust=2)
    second = await world.member("flagger-2", trust=2)
    reader = await world.member("reader", trust=1)
    target = {"type": "post", "id": post_id}
    made = await first.post("/flags", json={"target": target, "reason": "harassment"})
    assert made.status_code == 201 and made.json()["weight"] == 3
    assert (await reader.get(f"/threads/{thread_id}")).json()["posts"][
        "items"
    ]  # weight 3: still up
    await second.post("/flags", json={"target": target, "reason": "spam"})  # weight 6 >= 5
    assert (await reader.get(f"/threads/{thread_id}")).status_code == 404  # its only post is hidden
    author_view = await world.clients[1].get(f"/threads/{thread_id}")
    assert author_view.json()["posts"]["items"][0]["state"] == "hidden"

    mod = world.clients[0]
    queue = (await mod.get("/moderation/queue")).json()["items"]
    assert [(i["kind"], i["target"]["id"]) for i in queue] == [("flagged", post_id)]
    await mod.post(f"/moderation/queue/{queue[0]['id']}", json={"decision": "approve"})
    assert (await reader.get(f"/threads/{thread_id}")).status_code == 200
    assert set(await Flag.all().values_list("status", flat=True)) == {"disagreed"}
    actions = await AuditEntry.all().order_by("id").values_list("action", flat=True)
    assert actions == ["auto_hide", "approve"]


async def test_flag_refusals(world: World) -> None:
    _, post_id = await _post(world)
    newcomer = await world.member("newcomer", trust=0)
    flagger = await world.member("flagger", trust=1)
    target = {"type": "post", "id": post_id}
    assert (
        await newcomer.post("/flags", json={"target": target, "reason": "spam"})
    ).status_code == 403
    assert (
        await flagger.post("/flags", json={"target": target, "reason": "other"})
    ).status_code == 422  # "other" needs a note
    assert (
        await flagger.post("/flags", json={"target": target, "reason": "rude"})
    ).status_code == 422
    assert (
        await flagger.post(
            "/flags", json={"target": {"type": "post", "id": 999999}, "reason": "spam"}
        )
    ).status_code == 404
    assert (
        await flagger.post("/flags", json={"target": target, "reason": "spam"})
    ).status_code == 201
    again = await flagger.post("/flags", json={"target": target, "reason": "harassment"})
    assert again.status_code == 422 and "already" in again.json()["errors"]["target"][0]


async def test_a_crisis_flag_brings_an_urgent_item_and_never_hides(world: World) -> None:
    thread_id, post_id = await _post(world)
    mod = world.clients[0]
    flaggers = [await world.member(f"worried-{i}", trust=3) for i in range(2)]
    for client in flaggers:
        await client.post(
            "/flags", json={"target": {"type": "post", "id": post_id}, "reason": "crisis"}
        )
    reader = await world.member("reader", trust=1)
    assert (await reader.get(f"/threads/{thread_id}")).status_code == 200
    queue = (await mod.get("/moderation/queue")).json()["items"]
    assert queue[0]["kind"] == "crisis" and queue[0]["urgency"] == 100


async def test_member_actions_follow_the_ladder_and_are_audited(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    member = await world.member("river", trust=1)
    await make_room(mod, "open-room", moderation="open")

    silenced = await mod.post(
        "/moderation/members/river/actions", json={"action": "silence", "reason": "cooling off"}
    )
    assert silenced.json()["status"] == "silenced"
    assert silenced.json()["until"] == (world.now[0] + dt.timedelta(days=1)).isoformat()
    refused = await member.post("/rooms/open-room/threads", json={"title": "a", "body": "b"})
    assert refused.status_code == 403 and refused.json()["code"] == "silenced"

    suspended = await mod.post(
        "/moderation/members/river/actions", json={"action": "suspend", "reason": "again"}
    )
    assert suspended.json()["until"] == (world.now[0] + dt.timedelta(days=3)).isoformat()
    assert (await member.get("/session")).status_code == 401  # sessions ended
    login = await member.post("/session", json={"handle": "river", "password": PASSWORD})
    assert login.status_code == 403 and login.json()["code"] == "account_inactive"
    world.advance(days=3, seconds=1)  # the suspension ends at its time
    back = await member.post("/session", json={"handle": "river", "password": PASSWORD})
    assert back.status_code == 200

    restored = await mod.post("/moderation/members/river/actions", json={"action": "restore"})
    assert restored.json()["status"] == "active"
    log = (await mod.get("/moderation/log")).json()["items"]
    for cursor in ("x", "\u00b2", "99999999999"):
        assert (await mod.get("/moderation/log", params={"cursor": cursor})).status_code == 422
    assert [(e["action"], e["target"]["type"], e["actor"]["handle"]) for e in log] == [
        ("restore", "member", "mod-a"),
        ("suspend", "member", "mod-a"),
        ("silence", "member", "mod-a"),
    ]


async def test_member_action_refusals(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    other_mod = await world.member("mod-b", Role.MODERATOR)
    member = await world.member("river", trust=3)
    assert (
        await member.post(
            "/moderation/members/mod-a/actions", json={"action": "ban", "reason": "x"}
        )
    ).status_code == 403
    assert (await member.get("/moderation/log")).status_code == 403
    assert (
        await mod.post("/moderation/members/mod-b/actions", json={"action": "ban", "reason": "x"})
    ).status_code == 403
    assert (
        await mod.post("/moderation/members/mod-a/actions", json={"action": "ban", "reason": "x"})
    ).status_code == 403
    assert (
        await mod.post("/moderation/members/nobody/actions", json={"action": "ban", "reason": "x"})
    ).status_code == 404
    assert (
        await mod.post("/moderation/members/river/actions", json={"action": "ban"})
    ).status_code == 422
    assert (
        await mod.post(
            "/moderation/members/river/actions",
            json={"action": "silence", "reason": "x", "until": "2020-01-01T00:00:00+00:00"},
        )
    ).status_code == 422
    assert (await Member.get(handle="river")).status == "active"
    assert other_mod is not None


async def test_the_audit_log_cannot_be_altered(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await world.member("river", trust=1)
    await mod.post("/moderation/members/river/actions", json={"action": "warn", "reason": "tone"})
    entry = await AuditEntry.get(action="warn")
    with pytest.raises(Exception) as update:  # the database's own refusal
        await AuditEntry.filter(id=entry.id).update(reason="nothing happened")
    assert "append-only" in str(update.value)
    with pytest.raises(Exception) as delete:
        await AuditEntry.filter(id=entry.id).delete()
    assert "append-only" in str(delete.value)
    assert (await AuditEntry.get(id=entry.id)).reason == "tone"


async def test_watched_words_block_hold_flag_and_censor(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    member = await world.member("river", trust=2)
    await make_room(mod, "open-room", moderation="open")
    for pattern, action, is_regex in (
        ("scamcoin", "block", False),
        ("dealer", "hold", False),
        ("pills?", "flag", True),
        ("darn", "censor", False),
    ):
        made = await mod.post(
            "/moderation/watched-words",
            json={"pattern": pattern, "action": action, "is_regex": is_regex},
        )
        assert made.status_code == 201, made.text
    bad = await mod.post(
        "/moderation/watched-words", json={"pattern": "(a+)+", "action": "hold", "is_regex": True}
    )
    assert bad.status_code == 422
    assert (await member.get("/moderation/watched-words")).status_code == 403

    async def post(body: str) -> dict:
        world.advance(seconds=20)
        response = await member.post("/rooms/open-room/threads", json={"title": "t", "body": body})
        return {"status": response.status_code, **response.json()}

    blocked = await post("buy SCAMCOIN now")
    assert blocked["status"] == 422 and "body" in blocked["errors"]
    held = await post("I know a dealer")
    assert held["post"]["state"] == "pending"
    flagged = await post("selling pills")
    assert flagged["post"]["state"] == "visible"
    censored = await post("Oh darn it")
    assert censored["post"]["html"] == "<p>Oh ■■■ it</p>\n"
    kinds = sorted(i["kind"] for i in (await mod.get("/moderation/queue")).json()["items"])
    assert kinds == ["flagged", "held"]
    words = (await mod.get("/moderation/watched-words")).json()["items"]
    assert (await mod.delete(f"/moderation/watched-words/{words[0]['id']}")).status_code == 204
    assert (await post("buy scamcoin now"))["status"] == 201
    actions = await AuditEntry.all().values_list("action", flat=True)
    assert actions.count("watch_word") == 4 and actions.count("unwatch_word") == 1


async def test_outsiders_cannot_flag_in_a_private_room(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    insider = await world.member("insider", trust=1)
    outsider = await world.member("outsider", trust=2)
    await make_room(mod, "circle", visibility="private", moderation="open")
    await mod.post("/rooms/circle/members", json={"handle": "insider"})
    made = await insider.post("/rooms/circle/threads", json={"title": "t", "body": "b"})
    flag = await outsider.post(
        "/flags",
        json={"target": {"type": "post", "id": made.json()["post"]["id"]}, "reason": "spam"},
    )
    assert flag.status_code == 404


async def test_a_member_who_cannot_post_still_gets_help_in_a_crisis(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    member = await world.member("river", trust=1)
    await make_room(mod, "open-room", moderation="open")
    await mod.post("/moderation/members/river/actions", json={"action": "silence", "reason": "x"})
    refused = await member.post(
        "/rooms/open-room/threads", json={"title": "t", "body": "I want to end my life"}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "silenced"
    assert refused.json()["notices"][0]["kind"] == "crisis_resources"
    top = (await mod.get("/moderation/queue")).json()["items"][0]
    assert top["kind"] == "crisis" and top["target"]["member"]["handle"] == "river"
    assert "end my life" in top["reason"]  # the matched phrase, not the member's text
    assert any(item.kind == "crisis" for item in world.reviews)


async def test_crisis_posts_pass_pace_caps_and_the_identifying_question(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    await make_room(mod, "open-room", moderation="open")
    first = await newcomer.post("/rooms/open-room/threads", json={"title": "t", "body": "hi"})
    assert first.status_code == 201
    crisis = await newcomer.post(
        f"/threads/{first.json()['thread']['id']}/posts",
        json={"body": "I want to kill myself, call me at (415) 555-2671"},
    )  # within 30 s of the first post, with a phone number, unconfirmed
    assert crisis.status_code == 201 and crisis.json()["post"]["state"] == "visible"
    kinds = [i["kind"] for i in (await mod.get("/moderation/queue")).json()["items"]]
    assert kinds == ["crisis", "identifying"]


async def test_confirming_identifying_details_is_not_paced(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    await make_room(mod, "open-room", moderation="open")
    body = {"title": "t", "body": "text me at (415) 555-2671"}
    assert (await newcomer.post("/rooms/open-room/threads", json=body)).status_code == 409
    confirmed = await newcomer.post("/rooms/open-room/threads", json={**body, "confirm": True})
    assert confirmed.status_code == 201


async def test_edits_pass_the_same_rules(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    author = await world.member("author", trust=2)
    await make_room(mod, "open-room", moderation="open")
    await mod.post("/moderation/watched-words", json={"pattern": "dealer", "action": "hold"})
    made = await author.post("/rooms/open-room/threads", json={"title": "t", "body": "fine"})
    post_id = made.json()["post"]["id"]
    assert (
        await author.patch(f"/posts/{post_id}", json={"body": "call (415) 555-2671"})
    ).status_code == 409
    crisis = await author.patch(f"/posts/{post_id}", json={"body": "I want to die tonight"})
    assert crisis.json()["notices"][0]["kind"] == "crisis_resources"
    held = await author.patch(f"/posts/{post_id}", json={"body": "ask the dealer"})
    assert held.json()["post"]["state"] == "pending"


async def test_the_author_sees_why_a_post_was_rejected(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    await make_room(mod, "welcome")
    made = await newcomer.post("/rooms/welcome/threads", json={"title": "t", "body": "ad"})
    item = (await mod.get("/moderation/queue")).json()["items"][0]
    await mod.post(
        f"/moderation/queue/{item['id']}",
        json={"decision": "reject", "note": "No advertising, please."},
    )
    mine = (await newcomer.get(f"/threads/{made.json()['thread']['id']}")).json()
    assert mine["posts"]["items"][0]["moderation_note"] == "No advertising, please."


async def test_the_export_holds_the_members_posts(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    author = await world.member("author", trust=1)
    await make_room(mod, "open-room", moderation="open")
    await author.post("/rooms/open-room/threads", json={"title": "Mine", "body": "my *words*"})
    posts = (await author.get("/me/export")).json()["posts"]
    assert [(p["room"], p["body"], p["thread_title"]) for p in posts] == [
        ("open-room", "my *words*", "Mine")
    ]


async def test_hand_made_cursors_are_refused_clearly(world: World) -> None:
    import base64
    import json

    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    made = await mod.post("/rooms/open-room/threads", json={"title": "t", "body": "b"})
    for path, values in (
        ("/rooms/open-room/threads", [1, "x", 2]),
        (f"/threads/{made.json()['thread']['id']}", ["abc"]),
    ):
        cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
        response = await mod.get(path, params={"cursor": cursor})
        assert response.status_code == 422 and response.json()["code"] == "validation_failed"


async def test_a_claimed_item_is_decided_by_its_claimant(world: World) -> None:
    first = await world.member("mod-a", Role.MODERATOR)
    second = await world.member("mod-b", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    await make_room(first, "welcome")
    await newcomer.post("/rooms/welcome/threads", json={"title": "t", "body": "b"})
    item = (await first.get("/moderation/queue")).json()["items"][0]
    claimed = await first.post(f"/moderation/queue/{item['id']}/claim")
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "mod-a"
    assert (await second.post(f"/moderation/queue/{item['id']}/claim")).status_code == 409
    assert (
        await second.post(f"/moderation/queue/{item['id']}", json={"decision": "approve"})
    ).status_code == 409
    claimed_list = (await second.get("/moderation/queue", params={"status": "claimed"})).json()
    assert [i["claimed_by"] for i in claimed_list["items"]] == ["mod-a"]
    assert (
        await first.post(f"/moderation/queue/{item['id']}", json={"decision": "approve"})
    ).status_code == 200


async def test_an_appeal_goes_to_a_different_moderator(world: World) -> None:
    first = await world.member("mod-a", Role.MODERATOR)
    second = await world.member("mod-b", Role.MODERATOR)
    newcomer = await world.member("newcomer")
    await make_room(first, "welcome")
    made = await newcomer.post("/rooms/welcome/threads", json={"title": "t", "body": "b"})
    post_id = made.json()["post"]["id"]
    item = (await first.get("/moderation/queue")).json()["items"][0]
    await first.post(f"/moderation/queue/{item['id']}", json={"decision": "reject", "note": "no"})

    target = {"type": "post", "id": post_id}
    assert (await newcomer.post("/appeals", json={"target": target})).status_code == 422
    appealed = await newcomer.post("/appeals", json={"target": target, "note": "It was fine."})
    assert appealed.status_code == 201
    again = await newcomer.post("/appeals", json={"target": target, "note": "Please?"})
    assert again.status_code == 409  # once
    appeal_id = appealed.json()["id"]
    assert (
        await first.post(f"/moderation/queue/{appeal_id}", json={"decision": "approve"})
    ).status_code == 403
    assert (await first.post(f"/moderation/queue/{appeal_id}/claim")).status_code == 403
    upheld = await second.post(f"/moderation/queue/{appeal_id}", json={"decision": "approve"})
    assert upheld.status_code == 200
    post = (await newcomer.get(f"/threads/{made.json()['thread']['id']}")).json()
    assert post["posts"]["items"][0]["state"] == "visible"


async def test_a_silence_can_be_appealed_once(world: World) -> None:
    first = await world.member("mod-a", Role.MODERATOR)
    second = await world.member("mod-b", Role.MODERATOR)
    member = await world.member("river", trust=1)
    other = await world.member("other", trust=1)
    assert (
        await other.post("/appeals", json={"target": {"type": "silence"}, "note": "x"})
    ).status_code == 404
    await first.post("/moderation/members/river/actions", json={"action": "silence", "reason": "x"})
    appealed = await member.post(
        "/appeals", json={"target": {"type": "silence"}, "note": "I was misread."}
    )
    assert appealed.status_code == 201
    appeal_id = appealed.json()["id"]
    assert (
        await first.post(f"/moderation/queue/{appeal_id}", json={"decision": "approve"})
    ).status_code == 403
    await second.post(f"/moderation/queue/{appeal_id}", json={"decision": "approve"})
    assert (await Member.get(handle="river")).status == "active"


async def test_review_fixes_crisis_weights_censoring_and_hidden_posts(world: World) -> None:
    """Crisis flags never count towards hiding; censoring applies beside other actions;
    someone else's held post cannot be flagged; a locked thread still brings help."""
    mod = await world.member("mod-a", Role.MODERATOR)
    author = await world.member("author", trust=1)
    newcomer = await world.member("newcomer")
    flaggers = [await world.member(f"f-{i}", trust=2) for i in range(2)]
    await make_room(mod, "open-room", moderation="open")
    await make_room(mod, "welcome")
    made = await author.post("/rooms/open-room/threads", json={"title": "t", "body": "b"})
    thread_id, post_id = made.json()["thread"]["id"], made.json()["post"]["id"]
    target = {"type": "post", "id": post_id}
    await flaggers[0].post("/flags", json={"target": target, "reason": "crisis"})  # weight 3
    await flaggers[1].post("/flags", json={"target": target, "reason": "spam"})  # weight 3
    assert (await newcomer.get(f"/threads/{thread_id}")).status_code == 200  # 3 < 5: still up

    await mod.post("/moderation/watched-words", json={"pattern": "darn", "action": "censor"})
    await mod.post("/moderation/watched-words", json={"pattern": "pills", "action": "flag"})
    world.advance(seconds=10)
    both = await author.post(f"/threads/{thread_id}/posts", json={"body": "darn pills"})
    assert both.json()["post"]["html"] == "<p>■■■ pills</p>\n"

    held = await newcomer.post("/rooms/welcome/threads", json={"title": "t", "body": "b"})
    hidden_target = {"type": "post", "id": held.json()["post"]["id"]}
    assert (
        await flaggers[0].post("/flags", json={"target": hidden_target, "reason": "spam"})
    ).status_code == 404

    await mod.patch(f"/threads/{thread_id}", json={"locked": True})
    world.advance(seconds=10)
    locked = await author.post(f"/threads/{thread_id}/posts", json={"body": "I want to die"})
    assert locked.status_code == 403
    assert locked.json()["notices"][0]["kind"] == "crisis_resources"


async def test_an_upheld_silence_appeal_does_not_lift_a_later_ban(world: World) -> None:
    first = await world.member("mod-a", Role.MODERATOR)
    second = await world.member("mod-b", Role.MODERATOR)
    member = await world.member("river", trust=1)
    await first.post("/moderation/members/river/actions", json={"action": "silence", "reason": "x"})
    appealed = await member.post("/appeals", json={"target": {"type": "silence"}, "note": "why"})
    await first.post("/moderation/members/river/actions", json={"action": "ban", "reason": "y"})
    await second.post(f"/moderation/queue/{appealed.json()['id']}", json={"decision": "approve"})
    assert (await Member.get(handle="river")).status == "banned"


async def test_an_expired_silence_cannot_be_appealed(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    member = await world.member("river", trust=1)
    await mod.post("/moderation/members/river/actions", json={"action": "silence", "reason": "x"})
    world.advance(days=2)
    late = await member.post("/appeals", json={"target": {"type": "silence"}, "note": "why"})
    assert late.status_code == 404
