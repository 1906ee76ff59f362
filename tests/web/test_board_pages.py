"""The service board and sponsorship pages, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alumni_community.identity.models import Member, Role
from alumni_community.notifications.models import Notification
from alumni_community.opportunities.models import (
    Opportunity,
    Signup,
    SignupStatus,
    SponsorOffer,
    SponsorRequest,
    Sponsorship,
)
from alumni_community.web.board_pages import _conversation_link

from ..rooms.conftest import World
from .test_pages import assert_harmless, csrf_of, post_form, signed_in

pytestmark = pytest.mark.anyio

NEW = "/community/service/new"
SLOT = re.compile(r'<section class="slot" id="slot-(\d+)"')


def slot_fields(world: World, row: int, hours_ahead: float, capacity: int) -> dict[str, str]:
    start = world.now[0] + dt.timedelta(hours=hours_ahead)
    return {
        f"slot-{row}-starts": f"{start:%Y-%m-%dT%H:%M}",
        f"slot-{row}-ends": f"{start + dt.timedelta(hours=2):%Y-%m-%dT%H:%M}",
        f"slot-{row}-capacity": str(capacity),
    }


def listing_fields(
    world: World, *, capacity: int = 1, slots: int = 1, **extra: str
) -> dict[str, str]:
    fields = {
        "title": "Kitchen shift",
        "body": "Help cook **Sunday** dinner.",
        "kind": "volunteer",
        "location": "Main house",
        "tags": "kitchen, Driving",
        "min_sober_days": "",
        "timezone": "UTC",
    }
    for row in range(slots):
        fields |= slot_fields(world, row, 48 + 24 * row, capacity)
    return fields | extra


async def list_it(client: httpx.AsyncClient, world: World, **options: Any) -> int:
    """A listing made through the new-listing form; its id."""
    made = await post_form(client, NEW, NEW, **listing_fields(world, **options))
    assert made.status_code == 303, made.text
    found = re.fullmatch(r"/community/service/(\d+)", made.headers["location"])
    assert found
    return int(found.group(1))


async def slots_of(client: httpx.AsyncClient, listing_id: int) -> list[int]:
    page = await client.get(f"/community/service/{listing_id}")
    assert page.status_code == 200, page.text
    return [int(i) for i in SLOT.findall(page.text)]


async def act(
    client: httpx.AsyncClient, listing_id: int, action: str, **fields: str
) -> httpx.Response:
    """A form on the listing's page, sent with that page's CSRF token."""
    return await post_form(client, f"/community/service/{listing_id}", action, **fields)


async def kinds_told(handle: str) -> list[str]:
    member = await Member.get(handle=handle)
    kinds = (
        await Notification.filter(member_id=member.id).order_by("id").values_list("kind", flat=True)
    )
    return [str(kind) for kind in kinds]


# -- signed out, CSRF, unknown ids ------------------------------------------------------


async def test_every_board_page_asks_a_signed_out_visitor_to_sign_in(world: World) -> None:
    member = await signed_in(world, "friend-a", trust=2)
    listing_id = await list_it(member, world)
    (slot_id,) = await slots_of(member, listing_id)
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"origin": "http://t"}
    ) as visitor:
        for url in (
            "/community/service",
            NEW,
            "/community/service/hours",
            f"/community/service/{listing_id}",
            "/community/sponsorship",
        ):
            page = await visitor.get(url)
            assert page.status_code == 303, url
            assert page.headers["location"] == "/community/signin"
            assert "Kitchen shift" not in page.text
        for url in (
            f"/community/service/slots/{slot_id}/signup",
            NEW,
            "/community/sponsorship/offer",
        ):
            posted = await visitor.post(url, data={"csrf_token": "x"})
            assert posted.status_code == 303 and posted.headers["location"] == "/community/signin"
    assert await Signup.all().count() == 0


async def test_a_form_without_the_right_csrf_token_changes_nothing(world: World) -> None:
    organizer = await signed_in(world, "organizer-b", trust=2)
    listing_id = await list_it(organizer, world)
    (slot_id,) = await slots_of(organizer, listing_id)
    member = await signed_in(world, "friend-b", trust=1)
    # Another session's token is no better than none.
    foreign = await csrf_of(organizer, f"/community/service/{listing_id}")
    for token in ("", "not-the-token", foreign):
        for url, data in (
            (f"/community/service/slots/{slot_id}/signup", {}),
            (NEW, listing_fields(world, title="Sneaky")),
            (f"/community/service/{listing_id}/message", {"text": "Hi"}),
            ("/community/sponsorship/offer", {"capacity": "1"}),
            ("/community/sponsorship/requests", {"note": "Please"}),
        ):
            refused = await member.post(url, data={"csrf_token": token, **data})
            assert refused.status_code == 403, (url, refused.text)
            assert "This form has expired" in refused.text
    assert await Signup.all().count() == 0
    assert await Opportunity.all().count() == 1
    assert await SponsorRequest.all().count() == 0


async def test_unknown_listings_and_slots_are_404(world: World) -> None:
    member = await signed_in(world, "friend-c", trust=1)
    member.headers["accept"] = "text/html"  # as a browser asks: a page, not a problem document
    assert (await member.get("/community/service/999999")).status_code == 404
    assert (await member.get("/community/service/not-a-number")).status_code == 404
    # An id no database row can have (PostgreSQL refuses it) is unknown too.
    assert (await member.get("/community/service/99999999999")).status_code == 404
    for url in (
        "/community/service/slots/999999/signup",
        "/community/service/slots/999999/cancel",
        "/community/service/slots/99999999999/signup",
        "/community/service/999999/message",
        "/community/service/99999999999/message",
        "/community/service/999999/status",
        "/community/service/99999999999/status",
    ):
        refused = await post_form(member, "/community/service", url, text="x", status="closed")
        assert refused.status_code == 404, url
        assert "<h1>" in refused.text
    accepted = await post_form(
        member, "/community/sponsorship", "/community/sponsorship/requests/999999/accept"
    )
    assert accepted.status_code in (403, 404)
    for url in (
        "/community/sponsorship/requests/99999999999/withdraw",
        "/community/sponsorship/requests/99999999999/decline",
        "/community/sponsorship/matches/99999999999/end",
    ):
        refused = await post_form(member, "/community/sponsorship", url)
        assert refused.status_code == 404, url
        # No route takes an id past what the database holds: the router's own 404 page.
        assert "Nothing is at this address." in refused.text


async def test_bad_board_filters_say_what_is_wrong(world: World) -> None:
    member = await signed_in(world, "friend-d", trust=1)
    for query in ("cursor=%C2%B2", "cursor=abc", "kind=nonsense", "cursor=%00"):
        page = await member.get(f"/community/service?{query}")
        assert page.status_code == 422, query
        assert 'class="form-problem"' in page.text
        assert "validation_failed" not in page.text


# -- listing a way to serve --------------------------------------------------------


async def test_a_trusted_member_lists_a_way_to_serve_and_it_is_on_the_board(world: World) -> None:
    organizer = await signed_in(world, "organizer-e", trust=2)
    form = await organizer.get(NEW)
    assert form.status_code == 200
    assert "looked at by a moderator" not in form.text  # no hint at trust level 2
    for name in ("title", "body", "kind", "location", "tags", "timezone", "slot-0-starts"):
        assert f'<label for="{name}"' in form.text, name
    fields = listing_fields(world, capacity=3, slots=2, timezone="America/Chicago")
    made = await post_form(organizer, NEW, NEW, **fields)
    assert made.status_code == 303
    listing_url = made.headers["location"]
    # 2026-03-03 09:00 in Chicago is 15:00 UTC, the community's zone.
    page = await organizer.get(listing_url)
    assert "<h1>Kitchen shift</h1>" in page.text
    assert "<strong>Sunday</strong>" in page.text
    assert "Tue 3 Mar 2026, 15:00 to 17:00" in page.text
    assert "Times are shown in UTC." in page.text
    assert page.text.count('<section class="slot"') == 2
    assert "0 of 3 places taken" in page.text
    assert "Organizer's tools" in page.text

    reader = await signed_in(world, "reader-e", trust=1)
    await Member.filter(handle="reader-e").update(timezone="Europe/London")
    board = await reader.get("/community/service")
    assert board.status_code == 200
    assert "Kitchen shift</a>" in board.text and "by organizer-e" in board.text
    assert "Next: <time" in board.text and "Tue 3 Mar 2026, 15:00" in board.text
    assert "6 places left" in board.text
    assert "Times are shown in Europe/London." in board.text
    assert '<li class="tag">driving</li>' in board.text
    assert "Kitchen shift</a>" in (await reader.get("/community/service?tag=driving")).text
    other = await reader.get("/community/service?tag=gardening&upcoming=1")
    assert "Kitchen shift" not in other.text and "Nothing listed that matches" in other.text
    assert 'id="filter-upcoming" name="upcoming" value="1" checked' in other.text
    assert "Kitchen shift" not in (await reader.get("/community/service?kind=mentoring")).text
    assert "Kitchen shift" in (await reader.get("/community/service?open_seats=1")).text
    listing = await reader.get(listing_url)
    assert "Organizer's tools" not in listing.text
    assert listing.text.count(">Sign up<span") == 2


async def test_a_newer_members_listing_is_held_and_says_so(world: World) -> None:
    newcomer = await signed_in(world, "newcomer-f", trust=0)
    form = await newcomer.get(NEW)
    assert "looked at by a moderator before others see them" in form.text
    made = await post_form(newcomer, NEW, NEW, **listing_fields(world))
    assert made.status_code == 201, made.text
    assert 'class="notice notice-held_for_review" role="status"' in made.text
    assert "A moderator will look at it shortly" in made.text
    assert "Held for review" in made.text
    assert ">Sign up<" not in made.text
    listing_id = (await Opportunity.get(title="Kitchen shift")).id
    again = await newcomer.get(f"/community/service/{listing_id}")
    assert "Held for review" in again.text
    own_board = await newcomer.get("/community/service")
    assert "Kitchen shift" in own_board.text and "waiting for review" in own_board.text
    other = await signed_in(world, "other-f", trust=1)
    assert (await other.get(f"/community/service/{listing_id}")).status_code == 404
    assert "Kitchen shift" not in (await other.get("/community/service")).text


async def test_listing_form_errors_are_next_to_the_fields_and_keep_what_was_typed(
    world: World,
) -> None:
    organizer = await signed_in(world, "organizer-g", trust=2)
    token = await csrf_of(organizer, NEW)
    cases: list[tuple[dict[str, str], str, str]] = [
        ({"title": "x" * 201}, "title", "Title: 1 to 200 characters"),
        ({"title": "Nul\x00title"}, "title", "Title must not contain NUL characters"),
        ({"body": "y" * 20_001}, "body", "Description: text of at most 20000 characters"),
        ({"tags": "not a tag!"}, "tags", "Tags: up to 10 tags of letters"),
        ({"min_sober_days": "ninety"}, "min_sober_days", "Minimum days sober: a whole number"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Time zone: a time zone name"),
        ({"slot-0-starts": "tomorrow"}, "slot-0", "Slot 1: write the dates and times like"),
        ({"slot-0-ends": ""}, "slot-0", "Slot 1: give both a start and an end"),
        ({"slot-0-capacity": "0"}, "slot-0", "Slot 1: capacity is 1 to 1000"),
        ({"slot-0-capacity": "many"}, "slot-0", "Slot 1: places is a whole number"),
        ({"slot-0-starts": "2026-02-01T10:00"}, "slot-0", "Slot 1: a start within"),
        ({"slot-0-starts": "2026-03-03T10:00\x00"}, "slot-0", "Slot 1: must not contain NUL"),
        ({"slot-0-starts": "", "slot-0-ends": ""}, "slots", "Give at least one slot"),
    ]
    for change, field, message in cases:
        fields = listing_fields(world, title="Phone line") | change
        refused = await organizer.post(NEW, data={"csrf_token": token, **fields})
        assert refused.status_code == 422, (change, refused.text[:500])
        assert message in refused.text, (change, message)
        assert f'id="{field}-error"' in refused.text, field
        assert "validation_failed" not in refused.text
        if field != "title":
            assert 'value="Phone line"' in refused.text  # what they typed is kept
    # A later slot row's error names that row.
    fields = listing_fields(world) | slot_fields(world, 2, 72, 0)
    refused = await organizer.post(NEW, data={"csrf_token": token, **fields})
    assert refused.status_code == 422 and "Slot 3: capacity is 1 to 1000" in refused.text
    assert 'id="slot-2-error"' in refused.text
    assert await Opportunity.all().count() == 0


async def test_titles_and_descriptions_are_harmless_on_the_pages(world: World) -> None:
    organizer = await signed_in(world, "organizer-h", trust=2)
    payload = '<img src=x onerror=alert(1)>"><script>alert(1)</script>'
    listing_id = await list_it(
        organizer, world, title=payload[:200], body=f"[x](javascript:alert(1)) {payload}"
    )
    for url in ("/community/service", f"/community/service/{listing_id}"):
        page = await organizer.get(url)
        assert page.status_code == 200
        # The page's own content; the layout may load the site's own scripts.
        assert_harmless(page.text.split('<main id="main">')[1].split("</main>")[0])
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text


# -- signing up, the waitlist, cancelling -----------------------------------------------


async def test_a_full_slot_waitlists_and_a_cancellation_promotes_the_first_in_line(
    world: World,
) -> None:
    organizer = await signed_in(world, "organizer-i", trust=2)
    listing_id = await list_it(organizer, world, capacity=1)
    (slot_id,) = await slots_of(organizer, listing_id)
    first, second, third = [await signed_in(world, f"m-{i}", trust=1) for i in "123"]
    listing_url = f"/community/service/{listing_id}"
    signup = f"/community/service/slots/{slot_id}/signup"
    cancel = f"/community/service/slots/{slot_id}/cancel"

    done = await act(first, listing_id, signup)
    assert done.status_code == 303
    assert done.headers["location"] == f"{listing_url}#slot-{slot_id}"
    assert "You're signed up: you have a place." in (await first.get(listing_url)).text
    full = await second.get(listing_url)
    assert "This slot is full: signing up puts you on its waitlist." in full.text
    assert (await act(second, listing_id, signup)).status_code == 303
    assert (await act(third, listing_id, signup)).status_code == 303
    assert "You're #1 on the waitlist." in (await second.get(listing_url)).text
    page = await third.get(listing_url)
    assert "You're #2 on the waitlist." in page.text
    assert "1 of 1 place taken" in page.text and "2 on the waitlist" in page.text
    # Handles only on the roster, in queue order.
    roster = page.text.split('<ul class="roster">')[1].split("</ul>")[0]
    assert re.findall(r"<strong>([^<]+)</strong>", roster) == ["m-1", "m-2", "m-3"]
    assert "Take m-1 off" not in page.text

    # Signing up twice is refused in words.
    twice = await act(second, listing_id, signup)
    assert twice.status_code == 409
    assert "You are signed up for this slot already." in twice.text
    assert "conflict" not in twice.text.lower().replace("conflicts", "")

    cancelled = await act(first, listing_id, cancel)
    assert cancelled.status_code == 303
    assert "You're signed up: you have a place." in (await second.get(listing_url)).text
    assert "You're #1 on the waitlist." in (await third.get(listing_url)).text
    assert await kinds_told("m-2") == ["waitlist_promoted"]
    assert await kinds_told("m-3") == []
    # Cancelling twice.
    again = await act(first, listing_id, cancel)
    assert again.status_code == 404
    assert "Not signed up for this slot." in again.text
    assert "<h1>Kitchen shift</h1>" in again.text

    # Hiding one's handle: others no longer see it, the organizer still does.
    hidden = await act(third, listing_id, f"/community/service/slots/{slot_id}/hide", hidden="yes")
    assert hidden.status_code == 303
    assert "<strong>m-3</strong>" not in (await second.get(listing_url)).text
    assert "Your handle is hidden" in (await third.get(listing_url)).text
    assert "hidden from others" in (await organizer.get(listing_url)).text

    # My service lists the places and positions.
    hours = await third.get("/community/service/hours")
    assert hours.status_code == 200
    assert "you're #1 on the waitlist" in hours.text
    assert f"{listing_url}#slot-{slot_id}" in hours.text
    assert "you have a place" in (await second.get("/community/service/hours")).text
    assert "not signed up for anything" in (await first.get("/community/service/hours")).text


# -- the organizer's tools ------------------------------------------------------------


async def test_only_the_organizer_gets_the_roster_tools(world: World) -> None:
    organizer = await signed_in(world, "organizer-j", trust=2)
    listing_id = await list_it(organizer, world, capacity=1, slots=2)
    first_slot, second_slot = await slots_of(organizer, listing_id)
    member, other = await signed_in(world, "member-j", trust=1), await signed_in(world, "other-j")
    await act(member, listing_id, f"/community/service/slots/{first_slot}/signup")
    await act(other, listing_id, f"/community/service/slots/{first_slot}/signup")

    seen = await other.get(f"/community/service/{listing_id}")
    assert "Take member-j off" not in seen.text and "Message everyone" not in seen.text
    for url, data in (
        (f"/community/service/slots/{first_slot}/remove", {"handle": "member-j"}),
        (
            f"/community/service/slots/{first_slot}/move",
            {"handle": "member-j", "to_slot": str(second_slot)},
        ),
        (f"/community/service/{listing_id}/status", {"status": "cancelled"}),
    ):
        refused = await act(other, listing_id, url, **data)
        assert refused.status_code == 403, url
        assert "Only" in refused.text and "organizer" in refused.text
    told = await act(other, listing_id, f"/community/service/{listing_id}/message", text="Hi")
    assert told.status_code == 403
    assert await kinds_told("member-j") == []

    page = await organizer.get(f"/community/service/{listing_id}")
    assert "Take member-j off this slot" in page.text
    assert 'label for="move-' in page.text
    # Message everyone signed up.
    too_long = await act(
        organizer, listing_id, f"/community/service/{listing_id}/message", text="z" * 2001
    )
    assert too_long.status_code == 422
    assert "Your message: 1 to 2000 characters" in too_long.text
    assert 'id="text-error"' in too_long.text and "z" * 2001 in too_long.text
    nul = await act(
        organizer, listing_id, f"/community/service/{listing_id}/message", text="a\x00b"
    )
    assert nul.status_code == 422 and "Your message must not contain NUL" in nul.text
    sent = await act(
        organizer, listing_id, f"/community/service/{listing_id}/message", text="See you **soon**"
    )
    assert sent.status_code == 303
    assert (
        "Your message went to 2 members signed up."
        in (await organizer.get(sent.headers["location"])).text
    )
    # Move the confirmed member: the first in line takes the freed seat.
    moved = await act(
        organizer,
        listing_id,
        f"/community/service/slots/{first_slot}/move",
        handle="member-j",
        to_slot=str(second_slot),
    )
    assert moved.status_code == 303
    assert await kinds_told("member-j") == ["organizer_message", "signup_moved"]
    assert await kinds_told("other-j") == ["organizer_message", "waitlist_promoted"]
    bad_move = await act(
        organizer,
        listing_id,
        f"/community/service/slots/{first_slot}/move",
        handle="other-j",
        to_slot="soon",
    )
    assert bad_move.status_code == 422 and "Move to: choose another slot" in bad_move.text
    # Take a participant off: they are told, and cannot sign up again.
    removed = await act(
        organizer, listing_id, f"/community/service/slots/{first_slot}/remove", handle="other-j"
    )
    assert removed.status_code == 303
    assert (await kinds_told("other-j"))[-1] == "signup_removed"
    back = await act(other, listing_id, f"/community/service/slots/{first_slot}/signup")
    assert back.status_code == 403 and "The organizer took you off this slot." in back.text
    nobody = await act(
        organizer, listing_id, f"/community/service/slots/{first_slot}/remove", handle="nobody-x"
    )
    assert nobody.status_code == 404 and "No member has that handle." in nobody.text
    # Close it: no more sign-up buttons.
    closed = await act(
        organizer, listing_id, f"/community/service/{listing_id}/status", status="closed"
    )
    assert closed.status_code == 303
    page = await other.get(f"/community/service/{listing_id}")
    assert "Closed: it takes no more sign-ups." in page.text and ">Sign up<" not in page.text


async def test_attendance_and_hours_after_the_slot(world: World) -> None:
    organizer = await signed_in(world, "organizer-k", trust=2)
    listing_id = await list_it(organizer, world, capacity=2)
    (slot_id,) = await slots_of(organizer, listing_id)
    member = await signed_in(world, "member-k", trust=1)
    await act(member, listing_id, f"/community/service/slots/{slot_id}/signup")
    attendance = f"/community/service/slots/{slot_id}/attendance"
    early = await act(organizer, listing_id, attendance, handle="member-k", attended="yes")
    assert early.status_code == 409 and "after the slot has ended" in early.text
    assert 'name="attended"' not in (await organizer.get(f"/community/service/{listing_id}")).text

    world.advance(hours=51)
    page = await organizer.get(f"/community/service/{listing_id}")
    assert '<label for="came-' in page.text and '<label for="hours-' in page.text
    for hours, message in (
        ("lots", "Hours: a number of hours, such as 2 or 1.5"),
        ("500", "Hours: a number of hours, 0 to 168"),
        ("nan", "Hours: a number of hours, such as 2 or 1.5"),
    ):
        refused = await act(
            organizer, listing_id, attendance, handle="member-k", attended="yes", hours=hours
        )
        assert refused.status_code == 422 and message in refused.text, hours
    self_mark = await act(organizer, listing_id, attendance, handle="organizer-k", attended="yes")
    assert self_mark.status_code in (403, 404)
    marked = await act(
        organizer, listing_id, attendance, handle="member-k", attended="yes", hours="1.5"
    )
    assert marked.status_code == 303
    assert "came, 1.5 hours" in (await organizer.get(f"/community/service/{listing_id}")).text
    mine = await member.get("/community/service/hours")
    assert "Total: <strong>1.5</strong> hours." in mine.text
    assert "<td>Kitchen shift</td>" in mine.text
    assert "Your hours are private" in mine.text
    # Too late to cancel, and said so.
    late = await act(member, listing_id, f"/community/service/slots/{slot_id}/cancel")
    assert late.status_code == 409 and "tell the organizer instead" in late.text


# -- sponsorship ---------------------------------------------------------------------


async def sober_since(handle: str, days: int) -> None:
    await Member.filter(handle=handle).update(
        sobriety_date=dt.date(2026, 3, 1) - dt.timedelta(days=days)
    )


async def test_offering_to_sponsor_follows_the_sobriety_rule(world: World) -> None:
    member = await signed_in(world, "sponsor-l", trust=1)
    page = await member.get("/community/sponsorship")
    assert page.status_code == 200
    assert "at least 365 days of sobriety" in page.text
    offer = "/community/sponsorship/offer"
    early = await post_form(
        member, "/community/sponsorship", offer, capacity="2", note="Happy to help"
    )
    assert early.status_code == 403
    assert "Offering to sponsor asks for at least 365 days of sobriety" in early.text
    assert ">Happy to help</textarea>" in early.text
    assert "forbidden" not in early.text
    await sober_since("sponsor-l", 400)
    for capacity, note, field, message in (
        ("11", "ok", "capacity", "How many you can sponsor: 1 to 10 sponsees"),
        ("two", "ok", "capacity", "How many you can sponsor: 1 to 10 sponsees"),
        ("2", "n" * 501, "offer_note", "Note: text of at most 500 characters"),
        ("2", "a\x00b", "offer_note", "Note must not contain NUL characters"),
    ):
        refused = await post_form(
            member, "/community/sponsorship", offer, capacity=capacity, note=note
        )
        assert refused.status_code == 422, capacity
        assert message in refused.text and f'id="{field}-error"' in refused.text
    made = await post_form(member, "/community/sponsorship", offer, capacity="2", note="Hi")
    assert made.status_code == 303 and made.headers["location"] == "/community/sponsorship"
    page = await member.get("/community/sponsorship")
    assert "You are listed as a sponsor, for up to 2 sponsees." in page.text
    assert "Members asking for a sponsor" in page.text
    other = await signed_in(world, "looking-l", trust=0)
    listed = await other.get("/community/sponsorship")
    assert "<strong>sponsor-l</strong>" in listed.text and "2 places open" in listed.text
    assert '<option value="sponsor-l">' in listed.text
    assert "Members asking for a sponsor" not in listed.text
    withdrawn = await post_form(
        member, "/community/sponsorship", "/community/sponsorship/offer/withdraw"
    )
    assert withdrawn.status_code == 303
    assert "<strong>sponsor-l</strong>" not in (await other.get("/community/sponsorship")).text
    twice = await post_form(
        member, "/community/sponsorship", "/community/sponsorship/offer/withdraw"
    )
    assert twice.status_code == 404 and "You have no offer to withdraw." in twice.text


async def test_a_request_to_one_sponsor_is_accepted_and_the_match_ended(world: World) -> None:
    sponsor = await signed_in(world, "sponsor-m", trust=2)
    await sober_since("sponsor-m", 800)
    await post_form(sponsor, "/community/sponsorship", "/community/sponsorship/offer", capacity="1")
    newcomer = await signed_in(world, "newcomer-m", trust=0)
    bystander = await signed_in(world, "bystander-m", trust=1)
    await sober_since("bystander-m", 800)
    await post_form(
        bystander, "/community/sponsorship", "/community/sponsorship/offer", capacity="1"
    )
    requests = "/community/sponsorship/requests"
    unknown = await post_form(
        newcomer, "/community/sponsorship", requests, sponsor="nobody-here", note="Hello"
    )
    assert unknown.status_code == 404 and "No listed sponsor has that handle." in unknown.text
    assert ">Hello</textarea>" in unknown.text
    nul = await post_form(newcomer, "/community/sponsorship", requests, note="x\x00")
    assert nul.status_code == 422 and 'id="request_note-error"' in nul.text
    long = await post_form(newcomer, "/community/sponsorship", requests, note="n" * 1001)
    assert long.status_code == 422 and "Note: text of at most 1000 characters" in long.text
    asked = await post_form(
        newcomer, "/community/sponsorship", requests, sponsor="sponsor-m", note="Ninety days in"
    )
    assert asked.status_code == 303
    mine = await newcomer.get("/community/sponsorship")
    assert "You asked on 2026-03-01" in mine.text and "Withdraw my request" in mine.text
    assert 'action="/community/sponsorship/requests"' not in mine.text
    assert await kinds_told("sponsor-m") == ["sponsorship_asked"]
    # Only the sponsor asked sees it.
    assert "Ninety days in" not in (await bystander.get("/community/sponsorship")).text
    page = await sponsor.get("/community/sponsorship")
    assert "<strong>newcomer-m</strong>" in page.text and "asked you" in page.text
    request_id = (await SponsorRequest.get(note="Ninety days in")).id
    stolen = await post_form(bystander, "/community/sponsorship", f"{requests}/{request_id}/accept")
    assert stolen.status_code == 404 and "No open request with that id." in stolen.text
    accepted = await post_form(sponsor, "/community/sponsorship", f"{requests}/{request_id}/accept")
    assert accepted.status_code == 303
    assert (
        "You sponsor <strong>newcomer-m</strong>"
        in (await sponsor.get("/community/sponsorship")).text
    )
    theirs = await newcomer.get("/community/sponsorship")
    assert "<strong>sponsor-m</strong> sponsors you" in theirs.text
    # A link to the two members' conversation only where this site has that page.
    link = re.search(r'<a href="([^"]+)">Your conversation', theirs.text)
    room = (await Sponsorship.get()).room_slug
    assert room and (link is None or link.group(1).endswith(f"/{room}"))
    assert await kinds_told("newcomer-m") == ["sponsorship_matched"]
    assert "newcomer-m" not in (await bystander.get("/community/sponsorship")).text
    match_id = (await Sponsorship.get()).id
    not_theirs = await post_form(
        bystander, "/community/sponsorship", f"/community/sponsorship/matches/{match_id}/end"
    )
    assert not_theirs.status_code == 404
    ended = await post_form(
        newcomer, "/community/sponsorship", f"/community/sponsorship/matches/{match_id}/end"
    )
    assert ended.status_code == 303
    assert await kinds_told("sponsor-m") == ["sponsorship_asked", "sponsorship_ended"]
    assert "sponsors you" not in (await newcomer.get("/community/sponsorship")).text


async def test_a_sponsor_declines_a_request_and_the_newcomer_may_ask_again(
    world: World,
) -> None:
    sponsor = await signed_in(world, "sponsor-n", trust=2)
    await sober_since("sponsor-n", 800)
    await post_form(sponsor, "/community/sponsorship", "/community/sponsorship/offer", capacity="1")
    newcomer = await signed_in(world, "newcomer-n", trust=0)
    requests = "/community/sponsorship/requests"
    await post_form(
        newcomer, "/community/sponsorship", requests, sponsor="sponsor-n", note="Could you?"
    )
    request_id = (await SponsorRequest.get(note="Could you?")).id
    page = await sponsor.get("/community/sponsorship")
    assert f"{requests}/{request_id}/decline" in page.text
    declined = await post_form(
        sponsor, "/community/sponsorship", f"{requests}/{request_id}/decline"
    )
    assert declined.status_code == 303
    assert not (await SponsorRequest.get(id=request_id)).open
    assert await kinds_told("newcomer-n") == ["sponsorship_declined"]
    again = await post_form(sponsor, "/community/sponsorship", f"{requests}/{request_id}/decline")
    assert again.status_code == 404 and "No open request to you with that id." in again.text
    # A general request is not theirs to decline: it stays open for others.
    asked = await post_form(newcomer, "/community/sponsorship", requests, note="Anyone?")
    assert asked.status_code == 303
    general = (await SponsorRequest.get(note="Anyone?")).id
    page = await sponsor.get("/community/sponsorship")
    assert "Anyone?" in page.text and f"{requests}/{general}/decline" not in page.text
    refused = await post_form(sponsor, "/community/sponsorship", f"{requests}/{general}/decline")
    assert refused.status_code == 404 and (await SponsorRequest.get(id=general)).open
    withdrawn = await post_form(
        newcomer, "/community/sponsorship", f"{requests}/{general}/withdraw"
    )
    assert withdrawn.status_code == 303 and not (await SponsorRequest.get(id=general)).open
    assert await SponsorOffer.filter(active=True).count() == 1


async def test_a_moderator_sees_who_sponsors_whom_and_nothing_more(world: World) -> None:
    sponsor = await signed_in(world, "sponsor-o", trust=2)
    await sober_since("sponsor-o", 800)
    await post_form(sponsor, "/community/sponsorship", "/community/sponsorship/offer", capacity="1")
    newcomer = await signed_in(world, "newcomer-o", trust=0)
    await post_form(
        newcomer, "/community/sponsorship", "/community/sponsorship/requests", note="Secret-note-o"
    )
    request_id = (await SponsorRequest.get(note="Secret-note-o")).id
    await post_form(
        sponsor, "/community/sponsorship", f"/community/sponsorship/requests/{request_id}/accept"
    )
    mod = await signed_in(world, "mod-o", Role.MODERATOR, trust=3)
    page = await mod.get("/community/sponsorship")
    assert "<strong>sponsor-o</strong> sponsors <strong>newcomer-o</strong>" in page.text
    assert "Secret-note-o" not in page.text
    assert "End this sponsorship" not in page.text


# -- the mount, and the conversation link --------------------------------------------------


@pytest.mark.parametrize("prefix", ["/community", ""])
async def test_board_pages_follow_the_mount(world: World, prefix: str) -> None:
    member = await signed_in(world, "walker-p", trust=2, prefix=prefix)
    new = f"{prefix}/service/new"
    made = await post_form(member, new, new, **listing_fields(world))
    assert made.status_code == 303
    listing_url = made.headers["location"]
    assert re.fullmatch(rf"{prefix}/service/\d+", listing_url)
    for url in (
        f"{prefix}/service",
        new,
        f"{prefix}/service/hours",
        listing_url,
        f"{prefix}/sponsorship",
    ):
        page = await member.get(url)
        assert page.status_code == 200, url
        links = set(re.findall(r'(?:href|src|action)="([^"#]+)', page.text))
        assert all(link.startswith(f"{prefix}/") for link in links), (url, links)
        assert f"{prefix}/static/community.css" in links
        assert '<a href="' + f'{prefix}/service" aria-current="page">Service</a>' in page.text or (
            "sponsorship" in url
        )


def _request_for(app: Starlette) -> Request:
    return Request(
        {
            "type": "http",
            "app": app,
            "router": app.router,
            "method": "GET",
            "scheme": "http",
            "server": ("t", 80),
            "root_path": "/community",
            "path": "/community/sponsorship",
            "query_string": b"",
            "headers": [],
        }
    )


def test_the_conversation_link_is_given_only_when_that_page_exists() -> None:
    async def nothing(request: Request) -> Response:
        return Response()

    without = Starlette(routes=[Route("/sponsorship", nothing, name="page:sponsorship")])
    assert _conversation_link(_request_for(without), "dm-abc") is None
    with_page = Starlette(
        routes=[Route("/conversations/{slug}", nothing, name="page:conversation")]
    )
    link = _conversation_link(_request_for(with_page), "dm-abc")
    assert link == "/community/conversations/dm-abc"
    assert _conversation_link(_request_for(with_page), None) is None
    assert _conversation_link(_request_for(with_page), "") is None


async def test_signups_are_counted_once_in_the_database(world: World) -> None:
    """What the pages showed is what the service stored (one confirmed, one waiting)."""
    organizer = await signed_in(world, "organizer-q", trust=2)
    listing_id = await list_it(organizer, world, capacity=1)
    (slot_id,) = await slots_of(organizer, listing_id)
    for handle in ("q-1", "q-2"):
        client = await signed_in(world, handle, trust=1)
        await act(client, listing_id, f"/community/service/slots/{slot_id}/signup")
    statuses = await Signup.filter(slot_id=slot_id).order_by("id").values_list("status", flat=True)
    assert statuses == [SignupStatus.CONFIRMED, SignupStatus.WAITLISTED]
