"""The pages in a real browser (headless Debian chromium), served by a real uvicorn."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from alumni_community.identity.models import Role
from alumni_community.moderation.trust import TrustRules

from ..chat.conftest import PASSWORD, ChatWorld, make_room
from ..conftest import missing

pytestmark = pytest.mark.anyio

playwright_api = pytest.importorskip("playwright.async_api")


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    executable = shutil.which("chromium")
    if executable is None:
        missing("chromium not found on PATH; install the chromium package")
    async with playwright_api.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


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
