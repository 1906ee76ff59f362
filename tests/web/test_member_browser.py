"""The member's own pages in a real browser (headless Debian chromium), served by a real uvicorn."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from alumni_community.identity.models import Member, Role

from ..chat.conftest import PASSWORD, ChatWorld
from .axe import axe_source, axe_violations, describe, overflow_width

pytestmark = pytest.mark.anyio


async def sign_in(chat: ChatWorld, chromium: Any, handle: str) -> tuple[Any, Any]:
    """A new browser context signed in as ``handle`` through the sign-in page."""
    context = await chromium.new_context()
    page = await context.new_page()
    await page.goto(chat.base + "/community/signin")
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label("Password").fill(PASSWORD)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Signed in as").wait_for()
    return context, page


async def test_a_shared_bio_and_milestone_reach_another_member_and_other_devices_sign_out(
    chat: ChatWorld,
    browser: Any,
) -> None:
    accounts = chat.community.accounts
    await accounts.create_member("writer-a", PASSWORD, Role.MEMBER)
    await accounts.create_member("reader-a", PASSWORD, Role.MEMBER)
    mine, page = await sign_in(chat, browser, "writer-a")
    theirs, reader = await sign_in(chat, browser, "reader-a")
    laptop, elsewhere = await sign_in(chat, browser, "writer-a")
    try:
        await page.get_by_role("link", name="Profile").click()
        await page.get_by_role("heading", name="Your profile", level=1).wait_for()
        await page.get_by_label("Bio").fill("Walking **every** morning.")
        await page.get_by_role("button", name="Save bio").click()
        await page.get_by_text("Your bio is saved.").wait_for()

        # Far enough back for "1 year" and short of "18 months", whatever today is.
        sober = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=400)).isoformat()
        await page.get_by_label("Sobriety date").fill(sober)
        await page.get_by_label("Share my milestones with other members").check()
        await page.get_by_role("button", name="Save milestones and sharing").click()
        await page.get_by_text("Your milestone and sharing choices are saved.").wait_for()
        assert await page.get_by_label("Share my milestones with other members").is_checked()

        await reader.goto(chat.base + "/community/members/writer-a")
        await reader.get_by_role("heading", name="writer-a", level=1).wait_for()
        assert await reader.locator(".member-bio strong").inner_text() == "every"
        assert (await reader.locator(".member-milestone").inner_text()).startswith("1 year")
        assert sober not in await reader.content()

        # Two devices of the writer's are listed; ending the others signs the laptop out.
        assert await page.locator(".member-sessions li").count() == 2
        await page.get_by_role("button", name="Sign out everywhere else").click()
        await page.get_by_text("You are signed out everywhere else.").wait_for()
        assert await page.locator(".member-sessions li").count() == 1
        await elsewhere.reload()
        await elsewhere.get_by_role("heading", name="Sign in", level=1).wait_for()
        assert elsewhere.url.endswith("/community/signin")
        # This device is still signed in.
        await page.reload()
        await page.get_by_role("heading", name="Your profile", level=1).wait_for()
    finally:
        for context in (mine, theirs, laptop):
            await context.close()


async def test_the_crisis_page_needs_no_sign_in_and_its_numbers_can_be_called(
    chat: ChatWorld,
    browser: Any,
) -> None:
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = await context.new_page()
        await page.goto(chat.base + "/community/")
        await page.get_by_role("link", name="Crisis help").click()
        await page.get_by_role("heading", name="If things are hard right now").wait_for()
        call = page.get_by_role("link", name="988", exact=True)
        assert await call.get_attribute("href") == "tel:988"
        # Nothing spills sideways on a small phone.
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
        assert not overflow
    finally:
        await context.close()


async def test_the_member_pages_pass_axe_and_fit_a_small_phone(
    chat: ChatWorld,
    browser: Any,
) -> None:
    axe_source()  # skips (fails in CI) when axe-core is not installed
    writer = await chat.member("writer-b")
    await chat.member("reader-b")
    member = await Member.get(handle="writer-b")
    await writer.http.patch(
        "/me", json={"bio": "Hello *all*.", "sobriety_date": "2024-01-01", "share_milestones": True}
    )
    await chat.community.notifications.notify(member.id, "warning", "<p>Unread news</p>")
    read = await chat.community.notifications.notify(member.id, "warning", "<p>Old news</p>")
    await chat.community.notifications.mark_read(member, [read.id], False)
    # bypass_csp: our pages forbid inline scripts, and axe is injected as one.
    context = await browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
    name, _, value = writer.cookie.partition("=")
    await context.add_cookies([{"name": name, "value": value, "url": chat.base}])
    problems: list[str] = []
    try:
        page = await context.new_page()
        for path in (
            "/me",
            "/me/erase",
            "/members/reader-b",
            "/members/writer-b",
            "/notifications",
            "/crisis",
            "/recover",
        ):
            response = await page.goto(chat.base + "/community" + path)
            assert response is not None and response.status == 200, path
            violations = await axe_violations(page)
            if violations:
                problems.append(f"{path}: axe\n{describe(violations)}")
            await page.set_viewport_size({"width": 360, "height": 740})
            wider = await overflow_width(page)
            if wider > 0:
                problems.append(f"{path}: {wider} px wider than a 360 px screen")
            await page.set_viewport_size({"width": 1280, "height": 860})
    finally:
        await context.close()
    assert not problems, "\n".join(problems)
