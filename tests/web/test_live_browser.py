"""Live chat, notifications and alerts in a real browser (headless Debian chromium),
served by a real uvicorn, so the pages' WebSocket is a real one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from alumni_community.identity.models import Member, Role

from ..chat.conftest import ChatWorld, Client, make_room
from .axe import axe_source, axe_violations, describe, overflow_width

pytestmark = pytest.mark.anyio

#: The fixture of the page tests: headless Debian chromium.

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

#: Seconds a page may take to show what it must; longer is a failure, not a hang.
WAIT = 10
LOUNGE = "/community/rooms/lounge"
BOX = "Message to the room"


async def open_page(
    browser: Any, chat: ChatWorld, client: Client, path: str, **options: Any
) -> tuple[Any, Any]:
    """A new browser context signed in as ``client``, at ``path``, its live socket open."""
    context = await browser.new_context(**options)
    context.set_default_timeout(WAIT * 1000)
    name, _, value = client.cookie.partition("=")
    await context.add_cookies([{"name": name, "value": value, "url": chat.base}])
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    await page.goto(chat.base + path)
    await until_connected(chat, client.handle)
    return context, page


async def until_connected(chat: ChatWorld, handle: str) -> None:
    """Wait until the server holds a socket of this member's (its alerts can reach it)."""
    member = await Member.get(handle=handle)
    for _ in range(WAIT * 20):
        if chat.community.hub.connections_of(member.id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle}'s page never opened its socket")


async def lounge(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    await make_room(mod, "lounge")


#: Sends the box's text at once, faster than typing (for the rate limit).
SUBMIT = """text => {
    const box = document.getElementById("chat-body");
    box.value = text;
    box.form.requestSubmit();
}"""
HAS_NOTIFICATIONS_PAGE = (
    "() => Boolean(document.getElementById('ac-live').dataset.notificationsPage)"
)
HAS_REVIEW_PAGE = "() => Boolean(document.getElementById('ac-live').dataset.reviewPage)"


def log(page: Any) -> Any:
    return page.locator("[data-chat-log] > li")


async def write(page: Any, text: str) -> None:
    """Type a message into the box and press Enter, as a person would."""
    box = page.get_by_label(BOX)
    await box.fill(text)
    await box.press("Enter")


async def test_two_members_chat_live_in_a_room(chat: ChatWorld, browser: Any) -> None:
    await lounge(chat)
    _, a = await open_page(browser, chat, await chat.member("river"), LOUNGE)
    _, b = await open_page(browser, chat, await chat.member("lake"), LOUNGE)
    for page in (a, b):
        await expect(page.locator("[data-chat-panel]")).to_have_attribute("data-state", "open")
        presence = page.locator("[data-chat-presence]")
        await expect(presence).to_contain_text("river")
        await expect(presence).to_contain_text("lake")

    await write(a, "Hello from **river**")
    await expect(a.get_by_label(BOX)).to_have_value("")
    mine = log(a).filter(has_text="Hello from river")
    await expect(mine.locator(".chat-delivery")).to_have_text("Sent")
    theirs = log(b).filter(has_text="Hello from river")
    await expect(theirs).to_have_count(1)
    await expect(theirs.locator("strong", has_text="river")).to_have_count(2)  # author, bold

    # Shift+Enter is a new line; Enter sends. Typing shows on the other page.
    box = b.get_by_label(BOX)
    await box.press_sequentially("line one")
    await expect(a.locator("[data-chat-typing]")).to_have_text("lake is typing…")
    await box.press("Shift+Enter")
    await box.press_sequentially("line two")
    assert await box.input_value() == "line one\nline two"
    await box.press("Enter")
    reply = log(a).filter(has_text="line two")
    await expect(reply).to_have_count(1)
    assert "line one" in await reply.inner_text()
    await expect(log(a)).to_have_count(2)
    await expect(log(b)).to_have_count(2)
    for page in (a, b):
        seqs = await log(page).evaluate_all("items => items.map(li => li.dataset.seq)")
        assert seqs == ["1", "2"]
        assert page.errors == []

    # A page opened now shows the history, rendered by the server or sent by it, once.
    _, c = await open_page(browser, chat, await chat.member("sea"), LOUNGE)
    await expect(c.locator("[data-chat-presence]")).to_contain_text("sea")
    await expect(log(c)).to_have_count(2)
    await expect(a.locator("[data-chat-presence]")).to_contain_text("sea")


async def test_missed_messages_arrive_once_in_order_after_going_offline(
    chat: ChatWorld, browser: Any
) -> None:
    await lounge(chat)
    _, a = await open_page(browser, chat, await chat.member("river"), LOUNGE)
    b_context, b = await open_page(browser, chat, await chat.member("lake"), LOUNGE)
    panel = b.locator("[data-chat-panel]")
    await expect(panel).to_have_attribute("data-state", "open")
    await write(a, "before")
    await expect(log(b).filter(has_text="before")).to_have_count(1)

    await b_context.set_offline(True)
    await expect(panel).to_have_attribute("data-state", "closed")
    await expect(b.locator("[data-chat-status]")).to_contain_text("reconnecting")
    for i in range(5):
        await write(a, f"while away {i}")
        await expect(
            log(a).filter(has_text=f"while away {i}").locator(".chat-delivery")
        ).to_have_text("Sent")
    await b.wait_for_timeout(500)
    await expect(log(b)).to_have_count(1)

    await b_context.set_offline(False)  # the page reconnects and resumes by itself
    await expect(log(b).filter(has_text="while away 4")).to_have_count(1)
    await expect(panel).to_have_attribute("data-state", "open")
    await write(a, "after")
    await expect(log(b).filter(has_text="after")).to_have_count(1)
    texts = [t.strip() for t in await log(b).locator(".chat-body").all_inner_texts()]
    assert texts == ["before", *(f"while away {i}" for i in range(5)), "after"]
    seqs = await log(b).evaluate_all("items => items.map(li => Number(li.dataset.seq))")
    assert seqs == list(range(1, 8))
    assert b.errors == []


async def test_a_message_written_offline_goes_out_once_when_back(
    chat: ChatWorld, browser: Any
) -> None:
    await lounge(chat)
    river = await chat.member("river")
    a_context, a = await open_page(browser, chat, river, LOUNGE)
    _, b = await open_page(browser, chat, await chat.member("lake"), LOUNGE)
    await a_context.set_offline(True)
    await expect(a.locator("[data-chat-panel]")).to_have_attribute("data-state", "closed")
    await write(a, "written offline")
    waiting = log(a).filter(has_text="written offline")
    await expect(waiting.locator(".chat-delivery")).to_have_text("Sending…")
    await a_context.set_offline(False)
    await expect(waiting.locator(".chat-delivery")).to_have_text("Sent")
    await expect(log(b).filter(has_text="written offline")).to_have_count(1)
    await expect(log(a)).to_have_count(1)
    stored = (await river.http.get("/rooms/lounge/messages")).json()["items"]
    assert [m["seq"] for m in stored] == [1]


async def test_a_conversation_page_continues_after_its_rendered_history(
    chat: ChatWorld, browser: Any
) -> None:
    river = await chat.member("river")
    lake = await chat.member("lake")
    started = await river.http.post("/direct", json={"handle": "lake"})
    slug = started.json()["slug"]
    for i in range(3):
        await say(chat, "river", slug, f"earlier {i}", f"e{i}")
    path = f"/community/conversations/{slug}"
    _, a = await open_page(browser, chat, river, path)
    _, b = await open_page(browser, chat, lake, path)
    for page in (a, b):
        await expect(page.locator("[data-chat-panel]")).to_have_attribute("data-state", "open")
        await expect(page.locator("[data-chat-presence]")).to_contain_text("lake")
        await expect(page.locator("[data-chat-presence]")).to_contain_text("river")
    box = b.get_by_label("Message to river")
    await box.fill("now live")
    await box.press("Enter")
    await expect(log(a).filter(has_text="now live")).to_have_count(1)
    for page in (a, b):
        texts = [t.strip() for t in await log(page).locator(".chat-body").all_inner_texts()]
        assert texts == ["earlier 0", "earlier 1", "earlier 2", "now live"]
        assert page.errors == []


async def say(chat: ChatWorld, handle: str, slug: str, body: str, client_id: str) -> None:
    member = await Member.get(handle=handle)
    await chat.community.chat.send(member, slug, body, client_id)


async def test_a_crisis_message_shows_help_and_alerts_a_moderator_anywhere(
    chat: ChatWorld, browser: Any
) -> None:
    await lounge(chat)
    moderator = await chat.member("mod-b", Role.MODERATOR, trust=3)
    _, watching = await open_page(browser, chat, moderator, "/community/rooms")
    urgent = watching.get_by_role("alert").filter(has_text="Someone may be in danger")
    await expect(urgent).to_have_count(0)
    _, author = await open_page(browser, chat, await chat.member("river"), LOUNGE)

    await write(author, "I want to kill myself")
    help_ = author.get_by_role("alert").filter(has_text="988")
    await expect(help_).to_have_count(1)
    await expect(help_).to_contain_text("You are not alone")
    await expect(log(author).filter(has_text="I want to kill myself")).to_have_count(1)

    # Without reloading: the moderator's rooms list shows the alert.
    await expect(urgent).to_have_count(1)
    await expect(urgent).to_be_visible()
    assert "kill" not in await urgent.inner_text()  # never what was written
    queue = urgent.get_by_role("link", name="Open the review queue")
    if await watching.evaluate(HAS_REVIEW_PAGE):
        await expect(queue).to_have_count(1)
    await urgent.get_by_role("button", name="Dismiss").click()
    await expect(urgent).to_have_count(0)
    # A member who is no moderator gets no such alert.
    assert await author.get_by_text("Someone may be in danger").count() == 0


async def test_refusals_are_sentences_and_identifying_details_ask_first(
    chat: ChatWorld, browser: Any
) -> None:
    await lounge(chat)
    river = await chat.member("river")
    _, page = await open_page(browser, chat, river, LOUNGE)
    await expect(page.locator("[data-chat-panel]")).to_have_attribute("data-state", "open")
    await write(page, "call me on (415) 555-2671")
    ask = page.locator("[data-chat-ask]")
    await expect(ask).to_contain_text("phone number")
    await expect(ask).not_to_contain_text("confirm: true")
    assert await page.get_by_label(BOX).input_value() == "call me on (415) 555-2671"
    await expect(log(page)).to_have_count(0)
    await ask.get_by_role("button", name="Send anyway").click()
    await expect(log(page).filter(has_text="555-2671").locator(".chat-delivery")).to_have_text(
        "Sent"
    )
    await expect(page.locator("[data-chat-notices]")).to_contain_text("confirmed")

    # A rate limit says how long to wait (a new member: 20 messages per 30 s, one sent above).
    await Member.filter(handle="river").update(trust_level=0)
    for i in range(20):
        await page.evaluate(SUBMIT, f"quick {i}")
    problem = page.locator("[data-chat-problem]").get_by_role("alert")
    await expect(problem).to_contain_text("Please wait")
    await expect(problem).to_contain_text("second")
    await expect(problem).not_to_contain_text("rate_limited")
    await expect(log(page).filter(has_text="quick 18")).to_have_count(1)
    # The refused text is back in the box, and not in the log.
    await expect(page.get_by_label(BOX)).to_have_value("quick 19")
    await expect(log(page).filter(has_text="quick 19")).to_have_count(0)


async def test_a_notification_is_counted_and_announced_on_any_page(
    chat: ChatWorld, browser: Any
) -> None:
    river = await chat.member("river")
    _, page = await open_page(browser, chat, river, "/community/rooms")
    member = await Member.get(handle="river")
    await chat.community.notifications.notify(member.id, "test", "<p>Your shift is confirmed.</p>")
    status = page.get_by_role("status").filter(has_text="New notification")
    await expect(status).to_contain_text("Your shift is confirmed.")
    if await page.evaluate(HAS_NOTIFICATIONS_PAGE):
        count = page.locator(".site-nav [data-live-count]")
        await expect(count).to_have_text("1 unread notification")
        await page.reload()  # the count comes from the server too
        await until_connected(chat, "river")
        await expect(count).to_have_text("1 unread notification")
        await chat.community.notifications.notify(member.id, "test", "<p>Another one.</p>")
        await expect(count).to_have_text("2 unread notifications")
        await expect(status).to_contain_text("Another one.")
    await status.get_by_role("button", name="Dismiss").click()
    await expect(status).to_have_count(0)
    assert page.errors == []


async def test_the_live_pages_pass_axe_and_fit_a_phone(chat: ChatWorld, browser: Any) -> None:
    axe_source()  # skips (fails in CI) when axe-core is not installed
    await lounge(chat)
    river = await chat.member("river")
    await chat.member("lake")
    started = await river.http.post("/direct", json={"handle": "lake"})
    slug = started.json()["slug"]
    host = await chat.member("host-a", Role.MODERATOR, trust=3)
    made = await host.http.post(
        "/meetings",
        json={
            "name": "Morning reflections",
            "day": [0, 1, 2, 3, 4, 5, 6],
            "time": "00:00",
            "end_time": "23:59",
            "types": ["O", "MED"],
            "conference_url": "https://meet.example.org/abc",
            "room": "lounge",
        },
    )
    assert made.status_code == 201, made.text
    # bypass_csp: our pages forbid inline scripts, and axe is injected as one.
    _, page = await open_page(browser, chat, river, LOUNGE, bypass_csp=True)
    await write(page, "A first message, with a [link](https://example.org).")
    await expect(log(page).locator(".chat-delivery")).to_have_text("Sent")
    problems = []
    _, hosting = await open_page(browser, chat, host, "/community/meetings/new", bypass_csp=True)
    for viewer, path in (
        (page, LOUNGE),
        (page, "/community/rooms"),
        (page, "/community/conversations"),
        (page, f"/community/conversations/{slug}"),
        (page, "/community/meetings"),
        (page, f"/community/meetings/{made.json()['id']}"),
        (hosting, "/community/meetings/new"),
    ):
        await viewer.goto(chat.base + path)
        await viewer.wait_for_load_state("networkidle")
        violations = await axe_violations(viewer)
        if violations:
            problems.append(f"{path}: axe\n{describe(violations)}")
        await viewer.set_viewport_size({"width": 360, "height": 740})
        wider = await overflow_width(viewer)
        if wider > 0:
            problems.append(f"{path}: {wider} px wider than a 360 px screen")
        await viewer.set_viewport_size({"width": 1280, "height": 860})
    assert not problems, "\n\n".join(problems)
