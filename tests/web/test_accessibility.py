"""Every page, in headless Chromium: axe-core finds nothing serious, and it fits 360 px.

One tour per role (a member, a moderator, someone signed out) visits each
page with content on it, runs axe-core (WCAG 2.x A/AA and best practices;
no serious or critical violation may remain), then narrows the window to
360 px and checks that nothing makes the page scroll sideways. The tour
also saves the screenshots the README shows (docs/screenshots/).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from alumni_community.identity.models import Member, Role
from alumni_community.moderation.trust import TrustRules

from ..chat.conftest import ChatWorld, Client, make_room, send, until
from .axe import axe_source, axe_violations, describe, overflow_width

pytestmark = pytest.mark.anyio


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The tour looks at pages, not at engines: SQLite only."""
    return f"sqlite://{tmp_path / 'community.sqlite3'}"


@pytest.fixture
async def axe_ready() -> str:
    return axe_source()  # skips (fails in CI) when axe-core is not installed


async def context_of(browser: Any, chat: ChatWorld, client: Client | None) -> Any:
    # bypass_csp: our pages forbid inline scripts, and axe is injected as one.
    context = await browser.new_context(viewport=DESKTOP, bypass_csp=True)
    if client is not None:
        name, _, value = client.cookie.partition("=")
        await context.add_cookies([{"name": name, "value": value, "url": chat.base}])
    return context


async def check(page: Any, label: str, screenshot: str | None = None) -> list[str]:
    """axe at desktop width, then sideways overflow at 360 px; the problems found, as text."""
    problems = []
    violations = await axe_violations(page)
    if violations:
        problems.append(f"{label}: axe\n{describe(violations)}")
    if screenshot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"), full_page=True)
    await page.set_viewport_size(PHONE)
    wider = await overflow_width(page)
    if wider > 0:
        problems.append(f"{label}: {wider} px wider than a 360 px screen")
    if screenshot:
        await page.screenshot(path=str(SCREENSHOTS / f"{screenshot}-phone.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)
    return problems


async def tour(page: Any, base: str, stops: list[tuple[str, str, str | None]]) -> list[str]:
    problems: list[str] = []
    for label, path, screenshot in stops:
        response = await page.goto(base + path)
        assert response is not None and response.status < 500, (label, response)
        await page.wait_for_load_state("networkidle")
        problems += await check(page, label, screenshot)
    return problems


@pytest.fixture
async def seeded(chat: ChatWorld) -> AsyncIterator[dict[str, Any]]:
    mod = await chat.member("river-mod", Role.MODERATOR, trust=3)
    member = await chat.member("sunrise-walker", trust=2)
    await make_room(
        mod,
        "morning-light",
        name="Morning light",
        description="Daily check-ins, gently.",
        moderation="new_members_reviewed",
    )
    thread = await member.http.post(
        "/rooms/morning-light/threads",
        json={"title": "Ninety days today", "body": "Thank you all for **showing up**."},
    )
    assert thread.status_code == 201, thread.text
    thread_id = thread.json()["thread"]["id"]
    reply = await mod.http.post(
        f"/threads/{thread_id}/posts", json={"body": "So glad you are here. One day at a time."}
    )
    assert reply.status_code == 201, reply.text
    for client, text in (
        (member, "Good morning, everyone. Coffee and the daily reader."),
        (mod, "Morning! **One day at a time.**"),
    ):
        ws = await chat.join(client, "morning-light")
        await send(
            ws, type="send", room="morning-light", body=text, client_id=f"hi-{client.handle}"
        )
        await until(ws, "message")
        await ws.close()
    # A newcomer's post waits in the review queue.
    newcomer = await chat.member("first-light", trust=0)
    held = await newcomer.http.post(
        f"/threads/{thread_id}/posts", json={"body": "Day three. Hard but here."}
    )
    assert held.status_code == 201, held.text
    start = dt.datetime.now(dt.UTC).replace(microsecond=0, second=0, minute=0)
    listed = await member.http.post(
        "/opportunities",
        json={
            "title": "Sunday dinner kitchen",
            "body": "Help cook for the **alumni dinner**.",
            "kind": "volunteer",
            "location": "Main house",
            "tags": ["kitchen"],
            "slots": [
                {
                    "starts_at": (start + dt.timedelta(days=2)).isoformat(),
                    "ends_at": (start + dt.timedelta(days=2, hours=3)).isoformat(),
                    "capacity": 4,
                }
            ],
        },
    )
    assert listed.status_code == 201, listed.text
    met = await mod.http.post(
        "/meetings",
        json={
            "name": "Morning Light Big Book",
            "day": (dt.date.today().isoweekday() % 7 + 1) % 7,
            "time": "07:30",
            "end_time": "08:30",
            "timezone": "UTC",
            "types": ["O", "B"],
            "location": "Main house, room 2",
        },
    )
    assert met.status_code == 201, met.text
    await Member.filter(handle="sunrise-walker").update(sobriety_date=dt.date(2025, 8, 1))
    started = await member.http.post("/direct", json={"handle": "river-mod"})
    assert started.status_code in (200, 201), started.text
    yield {
        "mod": mod,
        "member": member,
        "thread": thread_id,
        "room": "morning-light",
        "listing": listed.json()["id"],
        "meeting": met.json()["id"],
        "conversation": started.json()["slug"],
    }


@pytest.mark.chat_settings(trust=TrustRules(tl0_post_interval=1))
async def test_every_page_passes_axe_and_fits_a_phone(
    chat: ChatWorld, browser: Any, seeded: dict[str, Any], axe_ready: str
) -> None:
    problems: list[str] = []

    anonymous = await context_of(browser, chat, None)
    page = await anonymous.new_page()
    problems += await tour(
        page,
        chat.base,
        [
            ("home, signed out", "/community/", "home"),
            ("sign in", "/community/signin", "sign-in"),
            ("sign up", "/community/signup", None),
        ],
    )
    # The recovery codes page, as a new member sees it once.
    await page.goto(chat.base + "/community/signup")
    await page.get_by_label("Handle").fill("new-dawn")
    await page.get_by_label("Password").fill("a long enough passphrase")
    await page.get_by_role("button", name="Sign up").click()
    await page.get_by_text("Save these recovery codes now").wait_for()
    problems += await check(page, "recovery codes", "recovery-codes")
    await anonymous.close()

    context = await context_of(browser, chat, seeded["member"])
    page = await context.new_page()
    problems += await tour(
        page,
        chat.base,
        [
            ("rooms", "/community/rooms", "rooms"),
            ("room", f"/community/rooms/{seeded['room']}", "room"),
            ("thread", f"/community/threads/{seeded['thread']}", "thread"),
            ("not found", "/community/threads/999999", None),
            ("conversations", "/community/conversations", None),
            ("conversation", f"/community/conversations/{seeded['conversation']}", None),
            ("meetings", "/community/meetings", "meetings"),
            ("service board", "/community/service", "service-board"),
            ("listing", f"/community/service/{seeded['listing']}", "listing"),
            ("sponsorship", "/community/sponsorship", None),
            ("notifications", "/community/notifications", None),
            ("profile", "/community/me", "profile"),
            ("crisis help", "/community/crisis", "crisis-help"),
        ],
    )
    # A form sent back with its errors next to the fields.
    await page.goto(chat.base + f"/community/rooms/{seeded['room']}")
    await page.get_by_role("button", name="Start thread").click()  # browser validation first
    await page.get_by_label("Title").fill(" ")
    await page.get_by_label("Your message").fill("x")
    await page.evaluate("document.querySelectorAll('[required]').forEach(e => e.required = false)")
    await page.get_by_role("button", name="Start thread").click()
    await page.wait_for_load_state("networkidle")
    problems += await check(page, "room, form with errors")
    await context.close()

    moderator = await context_of(browser, chat, seeded["mod"])
    page = await moderator.new_page()
    problems += await tour(
        page,
        chat.base,
        [
            ("review queue", "/community/moderation", "moderation-queue"),
            ("member standing", "/community/moderation/members/first-light", None),
            ("audit log", "/community/moderation/log", None),
        ],
    )
    await moderator.close()

    assert not problems, "\n\n".join(problems)


async def test_the_checks_can_fail(chat: ChatWorld, browser: Any, axe_ready: str) -> None:
    """A page with an unlabelled field, low contrast and a wide block is caught by each check."""
    context = await context_of(browser, chat, None)
    page = await context.new_page()
    await page.goto(chat.base + "/community/signin")
    await page.evaluate(
        """() => {
            const main = document.querySelector('main');
            main.insertAdjacentHTML('beforeend',
              '<input id="nolabel"><p style="color:#bbb;background:#fff">faint</p>'
              + '<div style="width:900px">wide</div>');
        }"""
    )
    ids = {v["id"] for v in await axe_violations(page)}
    assert "label" in ids and "color-contrast" in ids
    await page.set_viewport_size(PHONE)
    assert await overflow_width(page) > 0
    await context.close()
