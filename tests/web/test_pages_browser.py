"""The pages in a real browser (headless Debian chromium), served by a real uvicorn."""

from __future__ import annotations

import pytest

from alumni_community.identity.models import Member, Role
from alumni_community.moderation.models import Flag
from alumni_community.moderation.trust import TrustRules

from ..chat.conftest import PASSWORD, ChatWorld, make_room

pytestmark = pytest.mark.anyio


# A person types slower than a test: a short pace between the thread and the reply.
@pytest.mark.chat_settings(trust=TrustRules(tl0_post_interval=1))
async def test_sign_up_start_a_thread_and_reply(chat: ChatWorld, browser: object) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room")
    context = await browser.new_context()  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(chat.base + "/community/signup")
    await page.get_by_label("Handle").fill("browser-friend")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await page.get_by_text("Save these recovery codes now").wait_for()
    assert await page.locator("ol.codes li").count() == 10
    await page.get_by_role("link", name="I have saved them").click()
    await page.get_by_role("link", name="Open-Room").click()
    await page.get_by_label("Title").fill("First steps")
    await page.get_by_label("Your message").fill("Glad to be **here**.")
    await page.get_by_role("button", name="Start thread").click()
    await page.get_by_role("heading", name="First steps").wait_for()
    assert "/community/threads/" in page.url
    await page.wait_for_timeout(1100)
    await page.get_by_label("Your reply").fill("And a reply from me.")
    await page.get_by_role("button", name="Post reply").click()
    await page.locator("li.post", has_text="And a reply from me.").wait_for()
    assert await page.locator("li.post").count() == 2
    await context.close()


async def test_the_sign_in_form_works_from_the_keyboard(chat: ChatWorld, browser: object) -> None:
    await chat.community.accounts.create_member("keys-a", PASSWORD, Role.MEMBER)
    context = await browser.new_context()  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(chat.base + "/community/signin")
    for _ in range(15):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "handle":
            break
    assert await page.evaluate("document.activeElement.id") == "handle"
    await page.keyboard.type("keys-a")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "password"
    await page.keyboard.type(PASSWORD)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert page.url.endswith("/community/rooms")
    await page.get_by_text("Signed in as").wait_for()
    await context.close()


@pytest.mark.chat_settings(trust=TrustRules(tl0_post_interval=1))
async def test_a_new_member_posts_flags_and_is_seen_live_in_chat(
    chat: ChatWorld, browser: object
) -> None:
    """Sign up, start a thread, reply, flag; another member's open room page sees the chat live."""
    mod = await chat.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room")
    river = await chat.member("river", trust=1)
    made = await river.http.post(
        "/rooms/open-room/threads", json={"title": "Sunday walk", "body": "Who is coming?"}
    )
    assert made.status_code == 201, made.text
    river_thread = made.json()["thread"]["id"]

    # River keeps the room open in a browser of their own.
    watching = await browser.new_context()  # type: ignore[attr-defined]
    name, _, value = river.cookie.partition("=")
    await watching.add_cookies([{"name": name, "value": value, "url": chat.base}])
    river_page = await watching.new_page()
    await river_page.goto(chat.base + "/community/rooms/open-room")
    await river_page.locator('[data-chat-panel][data-state="open"]').wait_for()

    context = await browser.new_context()  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(chat.base + "/community/signup")
    await page.get_by_label("Handle").fill("browser-friend")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await page.get_by_role("link", name="I have saved them").click()
    await page.get_by_role("link", name="Open-Room").click()
    await page.get_by_label("Title").fill("First steps")
    await page.get_by_label("Your message").fill("Glad to be here.")
    await page.get_by_role("button", name="Start thread").click()
    await page.get_by_role("heading", name="First steps").wait_for()
    await page.wait_for_timeout(1100)  # the newcomers' pace between posts
    await page.get_by_label("Your reply").fill("One more thing.")
    await page.get_by_role("button", name="Post reply").click()
    await page.locator("li.post", has_text="One more thing.").wait_for()

    # Flagging takes trust level 1, which comes with time; here it is given.
    await Member.filter(handle="browser-friend").update(trust_level=1)
    await page.goto(chat.base + f"/community/threads/{river_thread}")
    await page.get_by_role("link", name="Flag this post by river").click()
    await page.get_by_label("Spam").check()
    await page.get_by_role("button", name="Send the flag").click()
    await page.get_by_text("Your flag is with the moderators.").wait_for()
    flagged = await Flag.filter(flagger__handle="browser-friend").count()
    assert flagged == 1

    # Back in the room, a chat message reaches River's open page without a reload.
    await page.goto(chat.base + "/community/rooms/open-room")
    await page.locator('[data-chat-panel][data-state="open"]').wait_for()
    box = page.get_by_label("Message to the room")
    await box.fill("Hi all, I just started a thread.")
    await box.press("Enter")
    seen = river_page.locator("[data-chat-log] > li", has_text="I just started a thread.")
    await seen.wait_for()
    assert await seen.count() == 1
    assert "browser-friend" in await seen.inner_text()
    await context.close()
    await watching.close()
