"""The moderation pages in a real browser (headless Debian chromium), served by a real uvicorn."""

from __future__ import annotations

from typing import Any

import pytest

from alumni_community.identity.models import Role

from ..chat.conftest import PASSWORD, ChatWorld, make_room
from .axe import axe_violations, describe, overflow_width

pytestmark = pytest.mark.anyio


async def sign_in(chat: ChatWorld, browser: Any, handle: str, **options: Any) -> tuple[Any, Any]:
    """A browser context of its own (its own cookies), signed in through the sign-in page."""
    context = await browser.new_context(**options)
    page = await context.new_page()
    await page.goto(chat.base + "/community/signin")
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/community/rooms")
    return context, page


async def test_a_held_post_is_approved_from_the_queue(chat: ChatWorld, browser: Any) -> None:
    mod_api = await chat.member("mod-a", Role.MODERATOR)
    await make_room(mod_api, "reviewed", moderation="new_members_reviewed")
    await chat.community.accounts.create_member("newcomer-a", PASSWORD, Role.MEMBER)
    await chat.community.accounts.create_member("mod-b", PASSWORD, Role.MODERATOR)

    member_context, member = await sign_in(chat, browser, "newcomer-a")
    await member.get_by_role("link", name="Reviewed").click()
    await member.get_by_label("Title").fill("My first post")
    await member.get_by_label("Your message").fill("Glad to have found this place.")
    await member.get_by_role("button", name="Start thread").click()
    await member.get_by_text("Thanks for posting. A moderator will look at it shortly").wait_for()
    # On the thread's own page, the post says plainly that it waits for a moderator.
    await member.goto(chat.base + "/community/rooms/reviewed")
    await member.get_by_role("link", name="My first post").click()
    await member.wait_for_url("**/community/threads/*")
    post = member.locator("li.post", has_text="Glad to have found this place.")
    await post.get_by_text("Held for review").wait_for()
    assert "post-pending" in (await post.get_attribute("class") or "")

    mod_context, mod = await sign_in(chat, browser, "mod-b")
    await mod.get_by_role("link", name="Moderation").click()
    await mod.wait_for_url("**/community/moderation")
    item = mod.locator("article.mod-item", has_text="Glad to have found this place.")
    await item.get_by_role("heading", name="Held for review").wait_for()
    await item.get_by_role("button", name="Approve").click()
    await mod.get_by_text("approved.").wait_for()
    assert await mod.locator("article.mod-item").count() == 0

    await member.reload()
    post = member.locator("li.post", has_text="Glad to have found this place.")
    await post.wait_for()
    assert "post-visible" in (await post.get_attribute("class") or "")
    assert await member.get_by_text("Held for review").count() == 0
    await member_context.close()
    await mod_context.close()


async def test_a_rejection_without_a_reason_is_explained_next_to_the_note(
    chat: ChatWorld, browser: Any
) -> None:
    mod_api = await chat.member("mod-c", Role.MODERATOR)
    await make_room(mod_api, "reviewed", moderation="new_members_reviewed")
    newcomer = await chat.member("newcomer-c", trust=0)
    made = await newcomer.http.post(
        "/rooms/reviewed/threads", json={"title": "Hi", "body": "Selling things cheaply."}
    )
    assert made.status_code == 201
    await chat.community.accounts.create_member("mod-d", PASSWORD, Role.MODERATOR)
    context, page = await sign_in(chat, browser, "mod-d")
    await page.goto(chat.base + "/community/moderation")
    item = page.locator("article.mod-item").first
    await item.get_by_role("button", name="Reject").click()
    item = page.locator("article.mod-item").first
    await item.get_by_text("Say why: the author is shown the reason").wait_for()
    note = item.get_by_label("Note")
    assert await note.get_attribute("aria-invalid") == "true"
    await note.fill("Please no selling here.")
    await item.get_by_role("button", name="Reject").click()
    await page.get_by_text("rejected.").wait_for()
    await context.close()


async def test_the_moderation_pages_pass_axe_at_360_pixels(chat: ChatWorld, browser: Any) -> None:
    mod_api = await chat.member("mod-e", Role.MODERATOR)
    await make_room(mod_api, "reviewed", moderation="new_members_reviewed")
    await make_room(mod_api, "open-room")
    hurting = await chat.member("hurting-e", trust=0)
    crisis = await hurting.http.post(
        "/rooms/reviewed/threads",
        json={"title": "Tonight", "body": "I keep thinking about suicide tonight."},
    )
    assert crisis.status_code == 201
    writer = await chat.member("writer-e", trust=1)
    made = await writer.http.post(
        "/rooms/open-room/threads",
        json={"title": "A long title " * 8, "body": "https://example.org/" + "x" * 120},
    )
    assert made.status_code == 201
    thread_id, post_id = made.json()["thread"]["id"], made.json()["post"]["id"]
    flagger = await chat.member("flagger-e", trust=1)
    flagged = await flagger.http.post(
        "/flags",
        json={"target": {"type": "post", "id": post_id}, "reason": "spam", "note": "An advert."},
    )
    assert flagged.status_code == 201, flagged.text
    warned = await mod_api.http.post(
        "/moderation/members/writer-e/actions", json={"action": "warn", "reason": "Be kind."}
    )
    assert warned.status_code == 200
    watched = await mod_api.http.post(
        "/moderation/watched-words", json={"pattern": "casino", "action": "block"}
    )
    assert watched.status_code == 201
    await chat.community.accounts.create_member("mod-f", PASSWORD, Role.MODERATOR)
    # bypass_csp: our pages forbid inline scripts, and axe is injected as one.
    context, page = await sign_in(
        chat, browser, "mod-f", viewport={"width": 360, "height": 740}, bypass_csp=True
    )
    for path in (
        "/community/moderation",
        "/community/moderation/appeals",
        "/community/moderation/members/writer-e",
        "/community/moderation/watched-words",
        "/community/moderation/log",
        f"/community/posts/{post_id}/flag",
        f"/community/posts/{post_id}/edit",
        "/community/members/writer-e/flag",
        f"/community/threads/{thread_id}",
    ):
        response = await page.goto(chat.base + path)
        assert response is not None and response.status == 200, path
        found = await axe_violations(page)
        assert found == [], f"{path}\n{describe(found)}"
        assert await overflow_width(page) == 0, path
    # The queue's urgent item is first and marked, and its controls are reachable by keyboard.
    await page.goto(chat.base + "/community/moderation")
    first = page.locator("article.mod-item").first
    assert "mod-urgent" in (await first.get_attribute("class") or "")
    await first.get_by_label("Note").focus()
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused == "Approve"
    await context.close()
