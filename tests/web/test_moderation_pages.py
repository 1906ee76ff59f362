"""The moderation pages, the flag forms and the edit form, over HTTP on both engines."""

from __future__ import annotations

import re
from types import SimpleNamespace

import httpx
import pytest
from starlette.requests import Request

from alumni_community.identity.models import Member, Role
from alumni_community.rooms.models import Post, Thread
from alumni_community.web.moderation_pages import thread_controls

from ..rooms.conftest import PASSWORD, World, make_room
from .test_pages import assert_harmless, csrf_of, page_client, post_form, signed_in

pytestmark = pytest.mark.anyio

QUEUE = "/community/moderation"
OWN_SCRIPT = re.compile(r'<script type="module" src="/community/static/[\w.-]+"></script>')


async def held_post(world: World, author: str = "newcomer-a") -> tuple[httpx.AsyncClient, int, int]:
    """A room that reviews newcomers, and a newcomer's held first post in it."""
    mod = await world.member("mod-setup", Role.MODERATOR)
    await make_room(mod, "reviewed", moderation="new_members_reviewed")
    newcomer = await world.member(author, trust=0)
    made = await newcomer.post(
        "/rooms/reviewed/threads", json={"title": "Hello", "body": "My first words here."}
    )
    assert made.status_code == 201, made.text
    assert made.json()["post"]["state"] == "pending"
    return newcomer, made.json()["thread"]["id"], made.json()["post"]["id"]


async def open_post(world: World, author: str, body: str) -> tuple[httpx.AsyncClient, int, int]:
    """A visible post by a trusted member in an open room of their own."""
    mod = await world.member(f"mod-{author}", Role.MODERATOR)
    await make_room(mod, f"open-{author}", moderation="open")
    writer = await world.member(author, trust=1)
    made = await writer.post(f"/rooms/open-{author}/threads", json={"title": "Hi", "body": body})
    assert made.status_code == 201, made.text
    assert made.json()["post"]["state"] == "visible"
    return writer, made.json()["thread"]["id"], made.json()["post"]["id"]


async def item_ids(world: World) -> list[int]:
    """The open queue's item ids, as the service orders them."""
    mods = await Member.filter(role=Role.MODERATOR).first()
    assert mods is not None
    items = await world.community.moderation.queue(mods, "open")
    return [item["id"] for item in items]


async def send(
    client: httpx.AsyncClient, page_url: str, url: str, fields: dict[str, str]
) -> httpx.Response:
    """Like ``post_form``, for forms with a field named ``action``."""
    token = await csrf_of(client, page_url)
    return await client.post(url, data={"csrf_token": token, **fields})


def items_on(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article class="mod-item[^"]*" id="item-(\d+)"', page)]


async def test_members_and_strangers_are_kept_out(world: World) -> None:
    await held_post(world)
    stranger = page_client(world.app, port=11)
    world.clients.append(stranger)
    for url in (QUEUE, f"{QUEUE}/log", f"{QUEUE}/watched-words", f"{QUEUE}/appeals"):
        away = await stranger.get(url)
        assert away.status_code == 303 and away.headers["location"] == "/community/signin"
    posted = await stranger.post(f"{QUEUE}/items/1/decide", data={"decision": "approve"})
    assert posted.status_code == 303 and posted.headers["location"] == "/community/signin"

    member = await signed_in(world, "curious-b", trust=2)
    # The nav has no Moderation entry for them, and each page is the service's refusal.
    rooms = await member.get("/community/rooms")
    assert f'href="{QUEUE}"' not in rooms.text
    for url in (
        QUEUE,
        f"{QUEUE}?status=resolved",
        f"{QUEUE}/appeals",
        f"{QUEUE}/log",
        f"{QUEUE}/watched-words",
        f"{QUEUE}/members/newcomer-a",
        f"{QUEUE}/members?handle=newcomer-a",
    ):
        page = await member.get(url)
        assert page.status_code == 403, url
        assert "Only moderators" in page.text, url
        assert "My first words here." not in page.text
    item = (await item_ids(world))[0]
    token = await csrf_of(member, "/community/rooms")
    for action, data in (
        (f"{QUEUE}/items/{item}/decide", {"decision": "approve"}),
        (f"{QUEUE}/items/{item}/claim", {}),
        (f"{QUEUE}/members/newcomer-a/actions", {"action": "warn", "reason": "x"}),
        (f"{QUEUE}/watched-words", {"pattern": "casino", "action": "block"}),
        (f"{QUEUE}/watched-words/1/remove", {}),
    ):
        refused = await member.post(action, data={"csrf_token": token, **data})
        assert refused.status_code == 403, (action, refused.text[:300])
    assert await item_ids(world) == [item]
    assert (await Member.get(handle="newcomer-a")).status == "active"


async def test_a_moderator_approves_a_held_post_from_the_queue(world: World) -> None:
    _, thread_id, post_id = await held_post(world)
    mod = await signed_in(world, "mod-b", Role.MODERATOR)
    rooms = await mod.get("/community/rooms")
    assert f'<a href="{QUEUE}">Moderation</a>' in rooms.text
    queue = await mod.get(QUEUE)
    assert queue.status_code == 200
    (item,) = items_on(queue.text)
    assert "Held for review" in queue.text and "My first words here." in queue.text
    assert f'href="/community/threads/{thread_id}#post-{post_id}"' in queue.text
    assert f'href="{QUEUE}/members/newcomer-a"' in queue.text
    assert '<label for="note-' in queue.text
    decided = await post_form(
        mod, QUEUE, f"{QUEUE}/items/{item}/decide", decision="approve", back="open"
    )
    assert decided.status_code == 303
    assert decided.headers["location"] == f"{QUEUE}?done=approve&item={item}#item-{item}"
    after = await mod.get(decided.headers["location"].split("#")[0])
    assert f"Done: item {item} approved." in after.text
    assert items_on(after.text) == []
    assert "Nothing is waiting" in after.text
    resolved = await mod.get(f"{QUEUE}?status=resolved")
    assert items_on(resolved.text) == [item] and "Resolved" in resolved.text
    assert 'name="decision"' not in resolved.text
    # Published: everyone sees it now.
    other = await signed_in(world, "reader-b", trust=1)
    thread = await other.get(f"/community/threads/{thread_id}")
    assert thread.status_code == 200 and "My first words here." in thread.text
    assert "Held for review" not in thread.text


async def test_crisis_items_come_first_and_are_marked_urgent(world: World) -> None:
    await held_post(world)
    world.advance(minutes=5)
    hurting = await world.member("hurting-b", trust=0)
    crisis = await hurting.post(
        "/rooms/reviewed/threads",
        json={"title": "Tonight", "body": "I keep thinking about suicide tonight."},
    )
    assert crisis.status_code == 201
    mod = await signed_in(world, "mod-c", Role.MODERATOR)
    queue = await mod.get(QUEUE)
    shown = items_on(queue.text)
    assert shown == await item_ids(world) and len(shown) == 2
    first = queue.text.rindex("<article", 0, queue.text.index(f'id="item-{shown[0]}"'))
    second = queue.text.rindex("<article", 0, queue.text.index(f'id="item-{shown[1]}"'))
    urgent = queue.text[first:second]
    assert "mod-urgent" in urgent and ">Urgent</span>" in urgent and "Crisis" in urgent
    assert "suicide tonight" in urgent
    assert "1 urgent item" in queue.text
    assert "Urgent</span>" not in queue.text[second:]


async def test_rejecting_asks_for_a_reason_the_author_is_shown(world: World) -> None:
    newcomer, thread_id, _ = await held_post(world)
    mod = await signed_in(world, "mod-d", Role.MODERATOR)
    (item,) = await item_ids(world)
    no_reason = await post_form(
        mod, QUEUE, f"{QUEUE}/items/{item}/decide", decision="reject", note="   "
    )
    assert no_reason.status_code == 422
    assert "Say why: the author is shown the reason" in no_reason.text
    assert f'id="note-{item}-error"' in no_reason.text
    assert 'aria-invalid="true"' in no_reason.text
    assert "validation_failed" not in no_reason.text
    with_nul = await post_form(
        mod, QUEUE, f"{QUEUE}/items/{item}/decide", decision="reject", note="bad\x00note"
    )
    assert with_nul.status_code == 422 and "NUL" in with_nul.text
    odd = await post_form(mod, QUEUE, f"{QUEUE}/items/{item}/decide", decision="delete")
    assert odd.status_code == 422 and "approve, reject or escalate" in odd.text
    assert await item_ids(world) == [item]
    note = "Please leave out <b>links</b> to shops."
    done = await post_form(mod, QUEUE, f"{QUEUE}/items/{item}/decide", decision="reject", note=note)
    assert done.status_code == 303
    own = await newcomer.get(f"/threads/{thread_id}")
    post = own.json()["posts"]["items"][0]
    assert post["state"] == "rejected" and post["moderation_note"] == note
    reader = await signed_in(world, "reader-d", trust=1)
    assert (await reader.get(f"/community/threads/{thread_id}")).status_code == 404


async def test_an_unknown_item_is_a_404_page(world: World) -> None:
    await held_post(world)
    mod = await signed_in(world, "mod-e", Role.MODERATOR)
    for what, data in (
        ("decide", {"decision": "approve"}),
        ("claim", {}),
        ("release", {}),
    ):
        missing = await post_form(mod, QUEUE, f"{QUEUE}/items/98765/{what}", **data)
        assert missing.status_code == 404, what
        assert "No such review item." in missing.text
    assert (await mod.get(f"{QUEUE}/items/1/decide")).status_code == 405


async def test_a_claimed_item_is_decided_only_by_its_claimant(world: World) -> None:
    await held_post(world)
    (item,) = await item_ids(world)
    first = await signed_in(world, "mod-f", Role.MODERATOR)
    second = await signed_in(world, "mod-g", Role.MODERATOR)
    claimed = await post_form(first, QUEUE, f"{QUEUE}/items/{item}/claim", back="open")
    assert claimed.status_code == 303
    assert claimed.headers["location"] == f"{QUEUE}?done=claim&item={item}#item-{item}"
    assert items_on((await first.get(QUEUE)).text) == []
    mine = await first.get(f"{QUEUE}?status=claimed")
    assert items_on(mine.text) == [item] and "Claimed by mod-f" in mine.text
    assert f'action="{QUEUE}/items/{item}/release"' in mine.text
    # The other moderator is told, in words, on the page they were on.
    taken = await post_form(
        second,
        f"{QUEUE}?status=claimed",
        f"{QUEUE}/items/{item}/decide",
        decision="approve",
        back="claimed",
    )
    assert taken.status_code == 409
    assert "Another moderator has claimed this item." in taken.text
    assert "conflict" not in taken.text
    again = await post_form(second, QUEUE, f"{QUEUE}/items/{item}/claim")
    assert again.status_code == 409 and "already claimed or resolved" in again.text
    not_theirs = await post_form(second, QUEUE, f"{QUEUE}/items/{item}/release", back="claimed")
    assert not_theirs.status_code == 403
    assert "Only the moderator who claimed it, or an admin, can release it." in not_theirs.text
    released = await post_form(first, QUEUE, f"{QUEUE}/items/{item}/release", back="claimed")
    assert released.status_code == 303
    assert released.headers["location"].startswith(f"{QUEUE}?status=claimed&done=release")
    assert items_on((await second.get(QUEUE)).text) == [item]
    # A tab that is not a view falls back to the open list; a forged "back" too.
    assert items_on((await second.get(f"{QUEUE}?status=everything")).text) == [item]
    escalated = await post_form(
        second, QUEUE, f"{QUEUE}/items/{item}/decide", decision="escalate", back="https://evil"
    )
    assert escalated.status_code == 303
    assert escalated.headers["location"].startswith(f"{QUEUE}?done=escalate")
    assert "Escalated</span>" in (await second.get(QUEUE)).text


async def test_moderation_forms_refuse_a_bad_csrf_token(world: World) -> None:
    await held_post(world)
    (item,) = await item_ids(world)
    mod = await signed_in(world, "mod-h", Role.MODERATOR)
    _, _, post_id = await open_post(world, "writer-h", "Something to flag.")
    for action, data in (
        (f"{QUEUE}/items/{item}/decide", {"decision": "approve"}),
        (f"{QUEUE}/items/{item}/claim", {}),
        (f"{QUEUE}/members/newcomer-a/actions", {"action": "ban", "reason": "spam"}),
        (f"{QUEUE}/watched-words", {"pattern": "casino", "action": "block"}),
        (f"/community/posts/{post_id}/flag", {"reason": "spam"}),
        ("/community/members/writer-h/flag", {"reason": "spam"}),
        (f"/community/posts/{post_id}/edit", {"body": "Changed"}),
    ):
        for token in ("", "not-the-token"):
            refused = await mod.post(action, data={"csrf_token": token, **data})
            assert refused.status_code == 403, action
            assert "This form has expired" in refused.text
    assert await item_ids(world) == [item]
    assert (await Member.get(handle="newcomer-a")).status == "active"
    assert await world.community.moderation.watched_words() == []


async def test_flagging_a_post_tells_the_moderators_and_thanks_the_member(world: World) -> None:
    _, thread_id, post_id = await open_post(world, "writer-i", "Buy cheap pills at my shop.")
    flagger = await signed_in(world, "flagger-i", trust=1)
    url = f"/community/posts/{post_id}/flag"
    form = await flagger.get(url)
    assert form.status_code == 200
    assert "Buy cheap pills" in form.text
    for reason in ("spam", "harassment", "identifying", "crisis", "other"):
        assert (
            f'<input type="radio" id="reason-{reason}" name="reason" value="{reason}"' in form.text
        )
        assert f'<label for="reason-{reason}">' in form.text
    assert "Someone may be in danger" in form.text and "A moderator is told at once" in form.text
    assert "988 Suicide &amp; Crisis Lifeline" in form.text
    assert f'href="/community/threads/{thread_id}#post-{post_id}"' in form.text
    other = await post_form(flagger, url, url, reason="other", note=" ")
    assert other.status_code == 422 and "Say what is wrong" in other.text
    assert 'id="reason-other" name="reason" value="other" aria-describedby' in other.text
    assert re.search(r'value="other"[^>]*checked', other.text)
    nul = await post_form(flagger, url, url, reason="spam", note="a\x00b")
    assert nul.status_code == 422 and "must not contain NUL characters" in nul.text
    sent = await post_form(flagger, url, url, reason="spam", note="An advert for a shop.")
    assert sent.status_code == 303 and sent.headers["location"] == f"{url}?sent=1"
    thanks = await flagger.get(sent.headers["location"])
    assert "Thank you. Your flag is with the moderators." in thanks.text
    assert 'name="reason"' not in thanks.text
    twice = await post_form(flagger, url, url, reason="spam")
    assert twice.status_code == 422 and "You have flagged this already" in twice.text
    # Moderators see the flag, its reason, note, weight and who flagged.
    mod = await signed_in(world, "mod-i", Role.MODERATOR)
    queue = await mod.get(QUEUE)
    assert "Flagged" in queue.text and "Buy cheap pills" in queue.text
    assert "<strong>Spam</strong>" in queue.text and "from flagger-i" in queue.text
    assert "weight 2" in queue.text and "An advert for a shop." in queue.text
    # The writer never sees who flagged.
    writer = await world.member("reader-i", trust=1)
    assert "flagger-i" not in (await writer.get(f"/threads/{thread_id}")).text


async def test_the_flag_that_hides_a_post_still_thanks_its_flagger(world: World) -> None:
    _, _, post_id = await open_post(world, "writer-z", "Something awful.")
    url = f"/community/posts/{post_id}/flag"
    first = await signed_in(world, "flagger-z1", trust=2)  # weight 3
    second = await signed_in(world, "flagger-z2", trust=1)  # weight 2: 5 hides it
    assert (await post_form(first, url, url, reason="harassment")).status_code == 303
    sent = await post_form(second, url, url, reason="harassment")
    assert sent.status_code == 303
    assert (await Post.get(id=post_id)).state == "hidden"
    thanks = await second.get(sent.headers["location"])
    assert thanks.status_code == 200
    assert "Thank you. Your flag is with the moderators." in thanks.text
    assert "Something awful." not in thanks.text
    # Without a flag just sent, a hidden post is not there for them.
    assert (await second.get(url)).status_code == 404


async def test_flags_the_service_refuses_are_explained(world: World) -> None:
    _, thread_id, post_id = await open_post(world, "writer-j", "Just a post.")
    newcomer = await signed_in(world, "newcomer-j", trust=0)
    url = f"/community/posts/{post_id}/flag"
    refused = await post_form(newcomer, url, url, reason="spam")
    assert refused.status_code == 403
    assert "New members cannot flag yet" in refused.text
    assert 'name="reason"' in refused.text  # the form is still there
    for missing in ("/community/posts/987654/flag", "/community/members/nobody-here/flag"):
        page = await newcomer.get(missing)
        assert page.status_code == 404, missing
        sent = await post_form(newcomer, "/community/rooms", missing, reason="spam")
        assert sent.status_code == 404, missing
    # A held post is not there for other members, to read or to flag.
    _, _, held = await held_post(world, "newcomer-k")
    assert (await newcomer.get(f"/community/posts/{held}/flag")).status_code == 404
    # Flagging is writing: a silenced member is told why they cannot.
    await Member.filter(handle="newcomer-j").update(trust_level=1, status="silenced")
    silenced = await post_form(newcomer, f"/community/threads/{thread_id}", url, reason="spam")
    assert silenced.status_code == 403 and "You can read but not post" in silenced.text


async def test_flagging_a_member_opens_an_item_about_them(world: World) -> None:
    await world.member("troubled-l", trust=1)
    flagger = await signed_in(world, "friend-l", trust=1)
    url = "/community/members/troubled-l/flag"
    form = await flagger.get(url)
    assert form.status_code == 200 and "<strong>troubled-l</strong>" in form.text
    sent = await post_form(
        flagger, url, url, reason="crisis", note="They said goodbye to everyone."
    )
    assert sent.status_code == 303
    assert "Thank you" in (await flagger.get(sent.headers["location"])).text
    mod = await signed_in(world, "mod-l", Role.MODERATOR)
    queue = await mod.get(QUEUE)
    assert ">Urgent</span>" in queue.text and "about troubled-l" in queue.text
    assert f'href="{QUEUE}/members/troubled-l"' in queue.text
    assert "<strong>Someone may be in danger</strong>" in queue.text


async def test_member_actions_with_a_reason_and_a_length(world: World) -> None:
    target, thread_id, _ = await open_post(world, "rowdy-m", "Hello all.")
    mod = await signed_in(world, "mod-m", Role.MODERATOR)
    url = f"{QUEUE}/members/rowdy-m"
    page = await mod.get(url)
    assert page.status_code == 200
    assert "Member: rowdy-m" in page.text and "<dd>Active</dd>" in page.text
    assert "No action has been taken" in page.text
    for action in ("warn", "silence", "suspend", "ban", "restore"):
        assert f'<label for="action-{action}">' in page.text
    assert '<label for="length">' in page.text and '<label for="reason">' in page.text
    action = f"{url}/actions"
    why = await send(mod, url, action, {"action": "silence", "length": "1d", "reason": " "})
    assert why.status_code == 422
    assert "Say why: it is kept in the audit log" in why.text
    assert re.search(r'value="silence"[^>]*checked', why.text)
    assert '<option value="1d" selected>1 day</option>' in why.text
    odd = await send(mod, url, action, {"action": "silence", "length": "forever", "reason": "x"})
    assert odd.status_code == 422 and "Choose one of the lengths offered" in odd.text
    nul = await send(mod, url, action, {"action": "warn", "reason": "a\x00b"})
    assert nul.status_code == 422 and "NUL" in nul.text
    done = await send(
        mod,
        url,
        action,
        {"action": "silence", "length": "1d", "reason": "Please cool off for a day."},
    )
    assert done.status_code == 303 and done.headers["location"] == f"{url}?done=silence"
    after = await mod.get(done.headers["location"])
    assert "They are silenced." in after.text
    assert "Silenced: can read, cannot post" in after.text and "2026-03-02 09:00 UTC" in after.text
    assert "<strong>silenced</strong>" in after.text and "Please cool off for a day." in after.text
    # The service applies it: the member cannot post now.
    world.advance(minutes=1)
    refused = await target.post(f"/threads/{thread_id}/posts", json={"body": "Still here"})
    assert refused.status_code == 403 and refused.json()["code"] == "silenced"
    assert (await Member.get(handle="rowdy-m")).status == "silenced"
    restored = await send(mod, url, action, {"action": "restore", "reason": ""})
    assert restored.status_code == 303
    assert "Their account is active again." in (await mod.get(restored.headers["location"])).text
    assert (await Member.get(handle="rowdy-m")).status == "active"


async def test_member_actions_the_service_refuses(world: World) -> None:
    await world.member("other-mod-n", Role.MODERATOR)
    mod = await signed_in(world, "mod-n", Role.MODERATOR)
    own = await send(
        mod,
        f"{QUEUE}/members/mod-n",
        f"{QUEUE}/members/mod-n/actions",
        {"action": "warn", "reason": "x"},
    )
    assert own.status_code == 403 and "You cannot act on your own account." in own.text
    peer = await send(
        mod,
        f"{QUEUE}/members/other-mod-n",
        f"{QUEUE}/members/other-mod-n/actions",
        {"action": "ban", "reason": "x"},
    )
    assert peer.status_code == 403 and "Only admins act on moderators and admins." in peer.text
    assert 'value="x"' in peer.text or ">x</textarea>" in peer.text
    for handle in ("nobody-n", "nul%00handle"):
        assert (await mod.get(f"{QUEUE}/members/{handle}")).status_code == 404, handle
    missing = await send(
        mod, QUEUE, f"{QUEUE}/members/nobody-n/actions", {"action": "warn", "reason": "x"}
    )
    assert missing.status_code == 404
    found = await mod.get(f"{QUEUE}/members?handle=OTHER-MOD-N")
    assert found.status_code == 303
    assert found.headers["location"] == f"{QUEUE}/members/other-mod-n"
    assert (await mod.get(f"{QUEUE}/members?handle=nobody-n")).status_code == 404


async def test_a_suspension_signs_the_member_out(world: World) -> None:
    member = await signed_in(world, "gone-o", trust=1)
    mod = await signed_in(world, "mod-o", Role.MODERATOR)
    done = await send(
        mod,
        f"{QUEUE}/members/gone-o",
        f"{QUEUE}/members/gone-o/actions",
        {"action": "suspend", "length": "3d", "reason": "Repeated harassment."},
    )
    assert done.status_code == 303
    after = await mod.get(done.headers["location"])
    assert "Suspended: cannot sign in" in after.text and "2026-03-04 09:00 UTC" in after.text
    away = await member.get("/community/rooms")
    assert away.status_code in (303, 403)


async def test_watched_words_are_added_and_removed(world: World) -> None:
    mod = await signed_in(world, "mod-p", Role.MODERATOR)
    url = f"{QUEUE}/watched-words"
    page = await mod.get(url)
    assert page.status_code == 200 and "No words are watched yet." in page.text
    assert '<label for="pattern">' in page.text
    assert "<legend>What happens to a post that contains it</legend>" in page.text
    assert '<label for="action-block">' in page.text
    added = await send(mod, url, url, {"pattern": "casino", "action": "block"})
    assert added.status_code == 303 and added.headers["location"] == f"{url}?done=added"
    listed = await mod.get(added.headers["location"])
    assert "<code>casino</code>" in listed.text and "Block: the post is refused" in listed.text
    # The service applies it at once.
    writer, _, _ = await open_post(world, "writer-p", "Fine words.")
    blocked = await writer.post(
        "/rooms/open-writer-p/threads", json={"title": "Hey", "body": "Visit the casino"}
    )
    assert blocked.status_code == 422
    for fields, field, words in (
        ({"pattern": "(a+)+", "is_regex": "yes", "action": "flag"}, "pattern", "Word or pattern"),
        ({"pattern": "x" * 201, "action": "flag"}, "pattern", "must be at most 200 characters"),
        ({"pattern": "bad\x00word", "action": "flag"}, "pattern", "must not contain NUL"),
        ({"pattern": "...", "action": "flag"}, "pattern", "must contain a letter or a digit"),
        ({"pattern": "fine", "action": "explode"}, "action", "One of block, hold, flag, censor"),
    ):
        refused = await send(mod, url, url, fields)
        assert refused.status_code == 422, fields
        assert words in refused.text, (fields, refused.text[-2000:])
        assert f'<p class="field-error" id="{field}-error">' in refused.text
        assert f'aria-describedby="{field}-error"' in refused.text or (
            f'aria-describedby="{field}-hint {field}-error" aria-invalid="true"' in refused.text
        )
    kept = await send(mod, url, url, {"pattern": "(a+)+", "is_regex": "yes", "action": "hold"})
    assert re.search(r'id="is_regex"[^>]*checked', kept.text)
    assert re.search(r'id="action-hold" name="action" value="hold" checked', kept.text)
    (word,) = await world.community.moderation.list_watched(await Member.get(handle="mod-p"))
    removed = await post_form(mod, url, f"{url}/{word['id']}/remove")
    assert removed.status_code == 303 and removed.headers["location"] == f"{url}?done=removed"
    assert "<code>casino</code>" not in (await mod.get(removed.headers["location"])).text
    again = await post_form(mod, url, f"{url}/{word['id']}/remove")
    assert again.status_code == 404 and "No such watched word." in again.text


async def test_the_audit_log_pages_back_with_a_cursor(world: World) -> None:
    await held_post(world)
    (item,) = await item_ids(world)
    mod_member = await world.community.accounts.create_member("mod-q2", "x" * 20, Role.MODERATOR)
    for _ in range(26):
        await world.community.moderation.claim(mod_member[0], item)
        await world.community.moderation.release(mod_member[0], item)
    mod = await signed_in(world, "mod-q", Role.MODERATOR)
    log = await mod.get(f"{QUEUE}/log")
    assert log.status_code == 200
    first = re.findall(r"<li>\s*<time", log.text)
    assert len(first) == 50
    assert "<strong>mod-q2</strong>" in log.text and "released" in log.text
    assert "review item" in log.text
    older = re.search(r'href="(/community/moderation/log\?cursor=\d+)">Older entries', log.text)
    assert older
    assert "Newest entries" not in log.text
    rest = await mod.get(older.group(1))
    assert len(re.findall(r"<li>\s*<time", rest.text)) == 2
    assert "Older entries" not in rest.text and "Newest entries" in rest.text
    bad = await mod.get(f"{QUEUE}/log?cursor=abc")
    assert bad.status_code == 422
    assert "That page link is not one this log gave out" in bad.text


async def test_appeals_go_to_another_moderator(world: World) -> None:
    newcomer, thread_id, post_id = await held_post(world)
    first = await signed_in(world, "mod-r", Role.MODERATOR)
    second = await signed_in(world, "mod-s", Role.MODERATOR)
    (item,) = await item_ids(world)
    rejected = await post_form(
        first, QUEUE, f"{QUEUE}/items/{item}/decide", decision="reject", note="Off topic."
    )
    assert rejected.status_code == 303
    appealed = await newcomer.post(
        "/appeals", json={"target": {"type": "post", "id": post_id}, "note": "It was on topic."}
    )
    assert appealed.status_code == 201, appealed.text
    appeal = appealed.json()["id"]
    page = await first.get(f"{QUEUE}/appeals")
    assert page.status_code == 200 and items_on(page.text) == [appeal]
    assert "It was on topic." in page.text and "Approve upholds the appeal" in page.text
    recused = await post_form(
        first,
        f"{QUEUE}/appeals",
        f"{QUEUE}/items/{appeal}/decide",
        decision="approve",
        back="appeals",
    )
    assert recused.status_code == 403
    assert "You made the decision under appeal" in recused.text
    assert "<h1>Appeals</h1>" in recused.text
    upheld = await post_form(
        second,
        f"{QUEUE}/appeals",
        f"{QUEUE}/items/{appeal}/decide",
        decision="approve",
        back="appeals",
    )
    assert upheld.status_code == 303
    assert upheld.headers["location"].startswith(f"{QUEUE}/appeals?done=approve")
    assert "No appeals are waiting." in (await second.get(f"{QUEUE}/appeals")).text
    reader = await signed_in(world, "reader-r", trust=1)
    assert "My first words here." in (await reader.get(f"/community/threads/{thread_id}")).text


async def test_the_author_edits_a_post_through_the_form(world: World) -> None:
    _, thread_id, post_id = await open_post(world, "writer-t", "First **draft**.")
    await Member.filter(handle="writer-t").update(trust_level=1)
    author = page_client(world.app, port=21)
    world.clients.append(author)
    signed = await author.post(
        "/community/signin", data={"handle": "writer-t", "password": PASSWORD}
    )
    assert signed.status_code == 303
    thread_url = f"/community/threads/{thread_id}"
    thread = await author.get(thread_url)
    assert f'href="/community/posts/{post_id}/edit"' in thread.text
    assert f'href="/community/posts/{post_id}/flag"' not in thread.text
    url = f"/community/posts/{post_id}/edit"
    form = await author.get(url)
    assert form.status_code == 200 and "Edit your post" in form.text
    assert ">First **draft**.</textarea>" in form.text
    empty = await post_form(author, url, url, body="  ")
    assert empty.status_code == 422 and "Your message is required" in empty.text
    long = await post_form(author, url, url, body="x" * 20001)
    assert long.status_code == 422 and "must be at most" in long.text
    nul = await post_form(author, url, url, body="a\x00b")
    assert nul.status_code == 422 and "NUL" in nul.text
    saved = await post_form(author, url, url, body="Second **version**.")
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{thread_url}#post-{post_id}"
    after = await author.get(thread_url)
    assert "<strong>version</strong>" in after.text and "(edited)" in after.text
    # Identifying details: asked first, then published as confirmed.
    details = "Call me on (415) 555-2671."
    asked = await post_form(author, url, url, body=details)
    assert asked.status_code == 409 and 'name="confirm"' in asked.text
    assert "phone number" in asked.text and details in asked.text
    confirmed = await post_form(author, url, url, body=details, confirm="yes")
    assert confirmed.status_code == 200
    assert "Your changes are saved." in confirmed.text
    assert "Published as you confirmed" in confirmed.text


async def test_an_edit_with_a_hold_word_is_held_and_said_so(world: World) -> None:
    _, thread_id, post_id = await open_post(world, "writer-u", "Nothing special.")
    mods = await Member.get(handle="mod-writer-u")
    await world.community.moderation.add_watched(mods, "raffle", False, "hold")
    author = page_client(world.app, port=22)
    world.clients.append(author)
    await author.post("/community/signin", data={"handle": "writer-u", "password": PASSWORD})
    url = f"/community/posts/{post_id}/edit"
    held = await post_form(author, url, url, body="Join the raffle")
    assert held.status_code == 200
    assert "A moderator will look at it shortly" in held.text
    assert "held for review" in held.text.lower()
    other = await signed_in(world, "reader-u", trust=1)
    assert "raffle" not in (await other.get(f"/community/threads/{thread_id}")).text


async def test_only_the_author_and_moderators_may_edit(world: World) -> None:
    _, thread_id, post_id = await open_post(world, "writer-v", "Mine.")
    other = await signed_in(world, "other-v", trust=2)
    url = f"/community/posts/{post_id}/edit"
    thread = await other.get(f"/community/threads/{thread_id}")
    assert f'href="{url}"' not in thread.text
    assert f'href="/community/posts/{post_id}/flag"' in thread.text
    page = await other.get(url)
    assert page.status_code == 403
    assert "Only the author or a moderator can change this post." in page.text
    tried = await post_form(other, f"/community/threads/{thread_id}", url, body="Yours now")
    assert tried.status_code == 403
    for missing in ("/community/posts/987654/edit",):
        assert (await other.get(missing)).status_code == 404
        assert (await post_form(other, "/community/rooms", missing, body="x")).status_code == 404
    mod = await signed_in(world, "mod-v", Role.MODERATOR)
    modpage = await mod.get(f"/community/threads/{thread_id}")
    assert f'href="{url}"' in modpage.text
    assert f'href="/community/posts/{post_id}/flag"' in modpage.text
    form = await mod.get(url)
    assert form.status_code == 200 and "Edit a post by writer-v" in form.text
    edited = await post_form(mod, url, url, body="Tidied by a moderator.")
    assert edited.status_code == 303
    assert "Tidied by a moderator." in (await other.get(f"/community/threads/{thread_id}")).text


async def test_what_members_wrote_is_harmless_on_the_moderation_pages(world: World) -> None:
    payloads = [
        '"><script>alert(1)</script>',
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
    ]
    _, _, post_id = await open_post(world, "writer-w", payloads[0] + " " + payloads[2])
    flagger = await signed_in(world, "flagger-w", trust=1)
    url = f"/community/posts/{post_id}/flag"
    await post_form(flagger, url, url, reason="other", note=payloads[1])
    mod = await signed_in(world, "mod-w", Role.MODERATOR)
    await send(
        mod,
        f"{QUEUE}/members/writer-w",
        f"{QUEUE}/members/writer-w/actions",
        {"action": "warn", "reason": payloads[0]},
    )
    await send(
        mod,
        f"{QUEUE}/watched-words",
        f"{QUEUE}/watched-words",
        {"pattern": payloads[1], "action": "flag"},
    )
    for page_url in (
        QUEUE,
        f"{QUEUE}/members/writer-w",
        f"{QUEUE}/log",
        f"{QUEUE}/watched-words",
        url,
        f"/community/posts/{post_id}/edit",
    ):
        page = await mod.get(page_url)
        assert page.status_code == 200, page_url
        # The layout's own script (from this site's static files) is not what members wrote.
        assert_harmless(OWN_SCRIPT.sub("", page.text))


@pytest.mark.parametrize("prefix", ["/community", ""])
async def test_moderation_pages_follow_the_mount(world: World, prefix: str) -> None:
    await held_post(world)
    _, _, post_id = await open_post(world, "writer-x", "A post.")
    mod = await signed_in(world, "mod-x", Role.MODERATOR, prefix=prefix)
    for url in (
        f"{prefix}/moderation",
        f"{prefix}/moderation?status=claimed",
        f"{prefix}/moderation/appeals",
        f"{prefix}/moderation/log",
        f"{prefix}/moderation/watched-words",
        f"{prefix}/moderation/members/newcomer-a",
        f"{prefix}/posts/{post_id}/flag",
        f"{prefix}/posts/{post_id}/edit",
        f"{prefix}/members/writer-x/flag",
    ):
        page = await mod.get(url)
        assert page.status_code == 200, url
        links = set(re.findall(r'(?:href|src|action)="([^"#]+)', page.text))
        own = {link for link in links if not link.startswith("https://")}
        assert all(link.startswith(f"{prefix}/") for link in own), (url, links)
        assert f"{prefix}/static/community.css" in links, url
    (item,) = await item_ids(world)
    decided = await post_form(
        mod, f"{prefix}/moderation", f"{prefix}/moderation/items/{item}/decide", decision="approve"
    )
    assert decided.headers["location"].startswith(f"{prefix}/moderation?done=approve")


async def test_thread_controls_name_the_rooms_own_moderators(world: World) -> None:
    _, thread_id, _ = await open_post(world, "writer-y", "A post.")
    site_mod = world.clients[-2]  # open_post's moderator, who made the room
    await world.member("helper-y", trust=2)
    appointed = await site_mod.put("/rooms/open-writer-y/moderators/helper-y")
    assert appointed.status_code == 204, appointed.text
    thread = await Thread.get(id=thread_id).select_related("room")
    app = SimpleNamespace(state=SimpleNamespace(community=world.community))
    request = Request({"type": "http", "app": app, "headers": []})
    for handle, expected in (("helper-y", True), ("writer-y", False), ("mod-writer-y", True)):
        member = await Member.get(handle=handle)
        assert await thread_controls(request, member, thread) == {"may_moderate_room": expected}


async def test_items_about_listings_and_chat_messages_are_shown(world: World) -> None:
    mod_client = await world.member("mod-z", Role.MODERATOR)
    await make_room(mod_client, "careful", moderation="all_reviewed")
    organizer, _ = await world.community.accounts.create_member(
        "organizer-z", PASSWORD, Role.MEMBER
    )
    await world.community.board.create(
        organizer,
        {
            "title": "Chair the <Tuesday> meeting",
            "body": "We need someone to **chair**.",
            "slots": [
                {
                    "starts_at": "2026-03-10T18:00:00+00:00",
                    "ends_at": "2026-03-10T19:00:00+00:00",
                    "capacity": 1,
                }
            ],
        },
    )
    # An all-reviewed room holds every member's chat message for a moderator.
    await world.community.chat.send(organizer, "careful", "Hello from chat", "c-1")
    mod = await signed_in(world, "mod-z2", Role.MODERATOR)
    queue = await mod.get(QUEUE)
    assert queue.status_code == 200
    assert len(items_on(queue.text)) == 2
    assert "a service listing" in queue.text
    assert "<strong>Chair the &lt;Tuesday&gt; meeting</strong>" in queue.text
    assert "<strong>chair</strong>" in queue.text
    assert "a chat message by organizer-z" in queue.text and "Hello from chat" in queue.text
    assert f'href="{QUEUE}/members/organizer-z"' in queue.text


async def test_a_member_asks_for_another_look_at_a_rejected_post(world: World) -> None:
    _, thread_id, post_id = await held_post(world, "newcomer-r")
    mod = await signed_in(world, "mod-r", Role.MODERATOR)
    (item,) = await item_ids(world)
    rejected = await post_form(
        mod, QUEUE, f"{QUEUE}/items/{item}/decide", decision="reject", note="Names a person."
    )
    assert rejected.status_code == 303
    writer = page_client(world.app, port=23)  # the author, signing in to the pages
    world.clients.append(writer)
    done = await writer.post(
        "/community/signin", data={"handle": "newcomer-r", "password": "a long enough passphrase"}
    )
    assert done.status_code == 303
    thread = await writer.get(f"/community/threads/{thread_id}")
    url = f"/community/posts/{post_id}/appeal"
    assert f'href="{url}"' in thread.text and "Ask for another look" in thread.text
    page = await writer.get(url)
    assert page.status_code == 200 and "Names a person." in page.text
    empty = await post_form(writer, url, url, note="  ")
    assert empty.status_code == 422 and "say why it should be looked at again" in empty.text
    nul = await post_form(writer, url, url, note="a\x00b")
    assert nul.status_code == 422
    sent = await post_form(writer, url, url, note="It names nobody: Sam is my dog.")
    assert sent.status_code == 303 and sent.headers["location"] == f"{url}?sent=1"
    assert "A different moderator will look" in (await writer.get(sent.headers["location"])).text
    again = await post_form(writer, url, url, note="Please?")
    assert again.status_code == 409 and "appealed already" in again.text
    # Someone else's post, or a visible one, has nothing to appeal.
    other = await signed_in(world, "other-r", trust=1)
    assert (await other.get(url)).status_code == 404
    _, _, visible = await open_post(world, "writer-r", "Fine.")
    assert (await other.get(f"/community/posts/{visible}/appeal")).status_code == 404
    # The appeal waits for a different moderator.
    queue = await mod.get(f"{QUEUE}/appeals")
    assert "It names nobody: Sam is my dog." in queue.text
