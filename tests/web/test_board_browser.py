"""The service board and sponsorship pages in a real browser (headless Debian chromium)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from alumni_community.identity.models import Member, Role
from alumni_community.notifications.models import Notification

from ..chat.conftest import PASSWORD, ChatWorld, Client
from .axe import axe_source, axe_violations, describe, overflow_width

# The headless Debian chromium fixture of the page tests.

pytestmark = pytest.mark.anyio

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}
SIGN_UP = re.compile(r"^Sign up for ")


async def listing(organizer: Client, capacity: int, slots: int = 1) -> dict[str, Any]:
    """A listing made over the API, its slots starting two days from now, a day apart."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2)
    made = await organizer.http.post(
        "/opportunities",
        json={
            "title": "Answer the phone line",
            "body": "Take calls from **newcomers**.",
            "location": "online",
            "tags": ["phone"],
            "slots": [
                {
                    "starts_at": (start + dt.timedelta(days=i)).isoformat(),
                    "ends_at": (start + dt.timedelta(days=i, hours=2)).isoformat(),
                    "capacity": capacity,
                }
                for i in range(slots)
            ],
        },
    )
    assert made.status_code == 201, made.text
    data: dict[str, Any] = made.json()
    return data


async def signed_in_page(browser: Any, chat: ChatWorld, handle: str) -> Any:
    """A browser context of its own, signed in through the sign-in page."""
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await page.goto(chat.base + "/community/signin")
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label("Password").fill(PASSWORD)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign in").click()
    return page


async def test_a_cancellation_promotes_the_waitlisted_member(chat: ChatWorld, browser: Any) -> None:
    organizer = await chat.member("phone-organizer", trust=2)
    made = await listing(organizer, capacity=1)
    url = f"{chat.base}/community/service/{made['id']}"
    for handle in ("first-caller", "second-caller"):
        await chat.community.accounts.create_member(handle, PASSWORD, Role.MEMBER)
    first = await signed_in_page(browser, chat, "first-caller")
    second = await signed_in_page(browser, chat, "second-caller")

    # Member 1 takes the last (only) seat.
    await first.goto(url)
    await first.get_by_role("button", name=SIGN_UP).click()
    await first.get_by_text("You're signed up: you have a place.").wait_for()

    # Member 2 is told the slot is full, signs up, and is wait-listed.
    await second.goto(url)
    await second.get_by_text("This slot is full").wait_for()
    await second.get_by_role("button", name=SIGN_UP).click()
    await second.get_by_text("You're #1 on the waitlist.").wait_for()
    assert await second.locator("ul.roster li").count() == 2

    # Member 1 cancels; the slot is full again, with member 2 in it.
    await first.get_by_role("button", name=re.compile(r"^Cancel my place")).click()
    await first.get_by_text("This slot is full").wait_for()
    assert await first.get_by_text("You're signed up").count() == 0

    await second.reload()
    await second.get_by_text("You're signed up: you have a place.").wait_for()
    assert await second.get_by_text("on the waitlist.").count() == 0
    promoted = await Member.get(handle="second-caller")
    told = await Notification.filter(member_id=promoted.id).values_list("kind", flat=True)
    assert list(told) == ["waitlist_promoted"]
    for page in (first, second):
        await page.context.close()


async def test_a_listing_is_made_with_the_form_from_the_keyboard_and_mouse(
    chat: ChatWorld, browser: Any
) -> None:
    await chat.community.accounts.create_member("form-organizer", PASSWORD, Role.MEMBER)
    await Member.filter(handle="form-organizer").update(trust_level=2)
    page = await signed_in_page(browser, chat, "form-organizer")
    await page.goto(chat.base + "/community/service")
    await page.get_by_role("link", name="List a way to serve").click()
    await page.get_by_label("Title").fill("Drive a newcomer")
    await page.get_by_label("Description").fill("To the **Tuesday** meeting.")
    await page.get_by_label("Kind").select_option("mentoring")
    await page.get_by_label("Tags").fill("driving")
    await page.get_by_label("Time zone of these times").fill("America/Chicago")
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    await page.locator("#slot-0-starts").fill(f"{start:%Y-%m-%dT18:00}")
    await page.locator("#slot-0-ends").fill(f"{start:%Y-%m-%dT19:30}")
    await page.locator("#slot-0-capacity").fill("2")
    await page.get_by_role("button", name="List it").click()
    await page.get_by_role("heading", name="Drive a newcomer", level=1).wait_for()
    assert re.search(r"/community/service/\d+$", page.url)
    # 18:00 in Chicago, shown in the community's zone (UTC): 23:00 or 00:00 by DST.
    when = await page.locator("section.slot h3").inner_text()
    assert re.search(r", (23|00):00 to (00|01):30$", when), when
    await page.get_by_role("link", name="Ways to serve").click()
    await page.get_by_role("link", name="Drive a newcomer").wait_for()
    await page.context.close()


async def _problems(page: Any, label: str) -> list[str]:
    """axe at desktop width, then sideways overflow at 360 px; what was found, as text."""
    found = []
    violations = await axe_violations(page)
    if violations:
        found.append(f"{label}: axe\n{describe(violations)}")
    await page.set_viewport_size(PHONE)
    wider = await overflow_width(page)
    if wider > 0:
        found.append(f"{label}: {wider} px wider than a 360 px screen")
    await page.set_viewport_size(DESKTOP)
    return found


async def _as(browser: Any, chat: ChatWorld, client: Client) -> Any:
    # bypass_csp: the pages forbid inline scripts, and axe is injected as one.
    context = await browser.new_context(viewport=DESKTOP, bypass_csp=True)
    name, _, value = client.cookie.partition("=")
    await context.add_cookies([{"name": name, "value": value, "url": chat.base}])
    return await context.new_page()


async def test_the_board_pages_pass_axe_and_fit_a_phone(chat: ChatWorld, browser: Any) -> None:
    axe_source()  # skips (fails in CI) when axe-core is not installed
    organizer = await chat.member("steady-organizer", trust=2)
    made = await listing(organizer, capacity=1, slots=2)
    slot_id = made["slots"][0]["id"]
    seeker = await chat.member("hopeful-seeker", trust=0)
    helper = await chat.member("willing-helper", trust=1)
    for client in (helper, seeker):
        assert (await client.http.post(f"/slots/{slot_id}/signups")).status_code == 201
    sober = dt.date.today() - dt.timedelta(days=800)
    await Member.filter(handle__in=["steady-organizer", "willing-helper"]).update(
        sobriety_date=sober
    )
    for client in (organizer, helper):
        offered = await client.http.post(
            "/sponsorship/offers", json={"capacity": 2, "note": "One day at a time."}
        )
        assert offered.status_code == 201, offered.text
    asked = await seeker.http.post(
        "/sponsorship/requests", json={"note": "Thirty days in.", "sponsor": "steady-organizer"}
    )
    assert asked.status_code == 201, asked.text
    matched = await organizer.http.post(f"/sponsorship/requests/{asked.json()['id']}/accept")
    assert matched.status_code == 201, matched.text
    again = await seeker.http.post("/sponsorship/requests", json={"note": "Another friend?"})
    assert again.status_code == 201, again.text

    problems: list[str] = []
    base = chat.base + "/community"
    page = await _as(browser, chat, organizer)
    for label, path in (
        ("board", "/service"),
        ("listing, organizer", f"/service/{made['id']}"),
        ("new listing", "/service/new"),
        ("sponsorship, sponsor", "/sponsorship"),
    ):
        response = await page.goto(base + path)
        assert response is not None and response.status == 200, label
        problems += await _problems(page, label)
    # The new-listing form sent back with its errors next to the fields.
    await page.goto(base + "/service/new")
    await page.get_by_label("Title").fill("x")
    await page.get_by_label("Time zone of these times").fill("Nowhere/Else")
    await page.get_by_role("button", name="List it").click()
    await page.get_by_text("Time zone: a time zone name").wait_for()
    problems += await _problems(page, "new listing, with errors")
    await page.context.close()

    page = await _as(browser, chat, seeker)
    for label, path in (
        ("listing, wait-listed", f"/service/{made['id']}"),
        ("my service", "/service/hours"),
        ("sponsorship, newcomer", "/sponsorship"),
    ):
        response = await page.goto(base + path)
        assert response is not None and response.status == 200, label
        problems += await _problems(page, label)
    await page.get_by_text("steady-organizer").first.wait_for()
    await page.context.close()

    assert not problems, "\n\n".join(problems)
