"""The service board through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest

from alumni_community.identity.models import Member, Role
from alumni_community.opportunities.models import Signup, Slot

from ..rooms.conftest import World

pytestmark = pytest.mark.anyio


def slot_at(
    world: World, hours_from_now: float, capacity: int, length: float = 2
) -> dict[str, Any]:
    start = world.now[0] + dt.timedelta(hours=hours_from_now)
    return {
        "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=length)).isoformat(),
        "capacity": capacity,
    }


async def listing(client: httpx.AsyncClient, world: World, **extra: Any) -> dict[str, Any]:
    made = await client.post(
        "/opportunities",
        json={
            "title": "Kitchen shift",
            "body": "Help cook **Sunday** dinner.",
            "kind": "volunteer",
            "location": "Main house",
            "tags": ["kitchen"],
            "slots": [slot_at(world, 48, 2)],
            **extra,
        },
    )
    assert made.status_code == 201, made.text
    data: dict[str, Any] = made.json()
    return data


async def test_the_full_flow(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    organizer = await world.member("organizer", trust=1)
    members = [await world.member(f"m-{i}", trust=1) for i in range(4)]

    held = await listing(organizer, world)
    assert held["status"] == "pending_review"
    assert held["notices"][0]["kind"] == "held_for_review"
    assert (await members[0].get(f"/opportunities/{held['id']}")).status_code == 404
    assert (await members[0].get("/opportunities")).json()["items"] == []
    item = (await mod.get("/moderation/queue")).json()["items"][0]
    assert item["target"]["type"] == "opportunity"
    await mod.post(f"/moderation/queue/{item['id']}", json={"decision": "approve"})
    listed = (await members[0].get("/opportunities")).json()["items"]
    assert [o["title"] for o in listed] == ["Kitchen shift"] and listed[0]["open_seats"] == 2

    slot_id = held["slots"][0]["id"]
    answers = [(await m.post(f"/slots/{slot_id}/signups")).json() for m in members]
    assert answers == [
        {"status": "confirmed", "position": None},
        {"status": "confirmed", "position": None},
        {"status": "waitlisted", "position": 1},
        {"status": "waitlisted", "position": 2},
    ]
    detail = (await members[3].get(f"/opportunities/{held['id']}")).json()
    slot = detail["slots"][0]
    assert (slot["confirmed_count"], slot["waitlisted_count"]) == (2, 2)
    assert slot["my_signup"] == {"status": "waitlisted", "position": 2, "hidden": False}
    assert [(r["handle"], r["status"]) for r in slot["roster"]] == [
        ("m-0", "confirmed"),
        ("m-1", "confirmed"),
        ("m-2", "waitlisted"),
        ("m-3", "waitlisted"),
    ]
    assert set(slot["roster"][0]) == {"handle", "status"}  # handles only

    # Cancelling promotes the first wait-listed, who is told; positions stay 1, 2...
    assert (await members[0].delete(f"/slots/{slot_id}/signups/me")).status_code == 204
    mine = (await members[3].get(f"/opportunities/{held['id']}")).json()["slots"][0]
    assert mine["my_signup"]["position"] == 1
    promoted = (await members[2].get("/notifications")).json()["items"]
    assert [n["kind"] for n in promoted] == ["waitlist_promoted"]

    # After the slot: attendance and hours (default: the slot's length).
    world.advance(hours=51)
    for who in (organizer, members[1], members[2]):
        relog = await who.post(
            "/session",
            json={"handle": (await _handle(who)), "password": "a long enough passphrase"},
        )
        who.headers["x-csrf-token"] = relog.json()["csrf_token"]
    marked = await organizer.post(
        f"/slots/{slot_id}/attendance", json={"handle": "m-1", "attended": True}
    )
    assert marked.status_code == 200 and marked.json()["hours"] == 2.0
    await organizer.post(
        f"/slots/{slot_id}/attendance", json={"handle": "m-2", "attended": True, "hours": 1.5}
    )
    service = (await members[1].get("/me/service")).json()
    assert service["total_hours"] == 2.0 and service["shared"] is False
    assert (await members[2].get("/me/service")).json()["total_hours"] == 1.5


async def _handle(client: httpx.AsyncClient) -> str:
    me = await client.get("/me")
    handle: str = me.json()["member"]["handle"]
    return handle


async def test_refusals(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    organizer = await world.member("organizer", trust=2)
    river = await world.member("river", trust=1)
    sponsorish = await listing(organizer, world, kind="sponsorship", min_sober_days=365)
    assert sponsorish["status"] == "open"  # trust level 2 lists without review
    slot_id = sponsorish["slots"][0]["id"]
    refused = await river.post(f"/slots/{slot_id}/signups")
    assert refused.status_code == 403 and "365 days" in refused.json()["detail"]
    await river.patch("/me", json={"sobriety_date": "2024-01-01"})
    assert (await river.post(f"/slots/{slot_id}/signups")).status_code == 201
    twice = await river.post(f"/slots/{slot_id}/signups")
    assert twice.status_code == 409

    # Someone else's listing cannot be changed; hours cannot be self-confirmed.
    assert (
        await river.patch(f"/opportunities/{sponsorish['id']}", json={"status": "closed"})
    ).status_code == 403
    own = await listing(organizer, world)
    own_slot = own["slots"][0]["id"]
    await organizer.post(f"/slots/{own_slot}/signups")
    world.advance(hours=51)
    relog = await organizer.post(
        "/session", json={"handle": "organizer", "password": "a long enough passphrase"}
    )
    organizer.headers["x-csrf-token"] = relog.json()["csrf_token"]
    selfish = await organizer.post(
        f"/slots/{own_slot}/attendance", json={"handle": "organizer", "attended": True}
    )
    assert selfish.status_code == 403
    # Past slots take no sign-ups.
    relog = await river.post(
        "/session", json={"handle": "river", "password": "a long enough passphrase"}
    )
    river.headers["x-csrf-token"] = relog.json()["csrf_token"]
    late = await river.post(f"/slots/{own_slot}/signups")
    assert late.status_code == 409
    # Suspended members are refused by the service.
    await mod.post("/moderation/members/river/actions", json={"action": "silence", "reason": "x"})
    fresh = await listing(organizer, world)
    assert (await river.post(f"/slots/{fresh['slots'][0]['id']}/signups")).status_code == 403

    for bad in (
        {"slots": []},
        {"slots": [{"starts_at": "2020-01-01T00:00:00+00:00", "ends_at": "x", "capacity": 1}]},
        {"slots": [slot_at(world, 5, 0)]},
        # Past the two-year horizon, and at the edge of what a datetime holds.
        {"slots": [slot_at(world, 24 * 800, 1)]},
        {
            "slots": [
                {
                    "starts_at": "9999-12-31T20:00:00-06:00",
                    "ends_at": "9999-12-31T21:00:00-06:00",
                    "capacity": 1,
                }
            ]
        },
        {"kind": "party"},
        {"tags": ["Not A Tag!"]},
        {"title": ""},
    ):
        made = await organizer.post(
            "/opportunities",
            json={"title": "t", "kind": "volunteer", "slots": [slot_at(world, 5, 1)], **bad},
        )
        assert made.status_code == 422, bad


async def test_hidden_members_are_hidden_from_other_participants(world: World) -> None:
    organizer = await world.member("organizer", trust=2)
    shy = await world.member("shy", trust=1)
    other = await world.member("other", trust=1)
    made = await listing(organizer, world)
    slot_id = made["slots"][0]["id"]
    await shy.post(f"/slots/{slot_id}/signups")
    await other.post(f"/slots/{slot_id}/signups")
    assert (
        await shy.patch(f"/slots/{slot_id}/signups/me", json={"hidden": True})
    ).status_code == 200

    def roster(data: dict[str, Any]) -> list[str]:
        return [r["handle"] for r in data["slots"][0]["roster"]]

    assert roster((await other.get(f"/opportunities/{made['id']}")).json()) == ["other"]
    assert roster((await shy.get(f"/opportunities/{made['id']}")).json()) == ["shy", "other"]
    seen = (await organizer.get(f"/opportunities/{made['id']}")).json()["slots"][0]["roster"]
    assert [(r["handle"], r["hidden"]) for r in seen] == [("shy", True), ("other", False)]


async def test_concurrent_sign_ups_never_overbook(world: World) -> None:
    organizer = await world.member("organizer", trust=2)
    made = await listing(organizer, world, slots=[slot_at(world, 48, 10)])
    slot_id = made["slots"][0]["id"]
    board = world.community.board
    await asyncio.gather(
        *(
            world.community.accounts.create_member(
                f"c-{i}", "a long enough passphrase", Role.MEMBER
            )
            for i in range(60)
        )
    )
    await Member.filter(handle__startswith="c-").update(trust_level=1)
    people = await Member.filter(handle__startswith="c-").order_by("id")
    results = await asyncio.gather(*(board.sign_up(p, slot_id) for p in people))
    assert sum(r.status == "confirmed" for r in results) == 10
    assert sorted(r.position for r in results if r.position is not None) == list(range(1, 51))
    slot = await Slot.get(id=slot_id)
    assert (slot.confirmed_count, slot.waitlisted_count) == (10, 50)

    # Five cancellations at once: the first five wait-listed are promoted, in order.
    confirmed = await Signup.filter(slot_id=slot_id, status="confirmed").limit(5)
    waiting = await Signup.filter(slot_id=slot_id, status="waitlisted").order_by("queued_at", "id")
    by_id = {p.id: p for p in people}
    await asyncio.gather(*(board.cancel(by_id[s.member_id], slot_id) for s in confirmed))
    now_confirmed = set(
        await Signup.filter(slot_id=slot_id, status="confirmed").values_list("member_id", flat=True)
    )
    assert {w.member_id for w in waiting[:5]} <= now_confirmed
    assert len(now_confirmed) == 10
    slot = await Slot.get(id=slot_id)
    assert (slot.confirmed_count, slot.waitlisted_count) == (10, 45)


async def test_sponsorship_offer_request_accept_and_end(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    sponsor = await world.member("sponsor", trust=2)
    newcomer = await world.member("newcomer", trust=0)
    other = await world.member("other", trust=1)
    refused = await sponsor.post("/sponsorship/offers", json={"capacity": 1, "note": "hi"})
    assert refused.status_code == 403  # no sobriety date yet
    await sponsor.patch("/me", json={"sobriety_date": "2020-05-01"})
    await other.patch("/me", json={"sobriety_date": "2026-02-01"})
    assert (
        await other.post("/sponsorship/offers", json={"capacity": 1})
    ).status_code == 403  # a month is not a year
    made = await sponsor.post(
        "/sponsorship/offers", json={"capacity": 1, "note": "Big Book study on Tuesdays"}
    )
    assert made.status_code == 201

    listed = (await newcomer.get("/sponsorship")).json()
    assert [s["member"]["handle"] for s in listed["sponsors"]] == ["sponsor"]
    asked = await newcomer.post(
        "/sponsorship/requests", json={"note": "Three weeks in, scared.", "sponsor": "sponsor"}
    )
    assert asked.status_code == 201
    assert (await newcomer.post("/sponsorship/requests", json={"note": "again"})).status_code == 409
    # The note is seen by the sponsor asked, not by other members.
    assert (await other.get("/sponsorship")).json()["requests"] == []
    requests = (await sponsor.get("/sponsorship")).json()["requests"]
    assert [(r["note"], r["asked_you"]) for r in requests] == [("Three weeks in, scared.", True)]

    accepted = await sponsor.post(f"/sponsorship/requests/{asked.json()['id']}/accept")
    assert accepted.status_code == 201
    room = accepted.json()["room"]
    assert room.startswith("dm-")
    # A direct conversation for the two, even though the newcomer is trust level 0.
    assert (await newcomer.get(f"/rooms/{room}/messages")).status_code == 200
    assert (await other.get(f"/rooms/{room}/messages")).status_code == 404
    kinds = [n["kind"] for n in (await newcomer.get("/notifications")).json()["items"]]
    assert "sponsorship_matched" in kinds
    # The match: seen by the two and moderators, not others.
    assert len((await newcomer.get("/sponsorship")).json()["matches"]) == 1
    assert (await other.get("/sponsorship")).json()["matches"] == []
    matches = (await mod.get("/sponsorship")).json()["matches"]
    assert [(m["sponsor"]["handle"], m["sponsee"]["handle"], m["room"]) for m in matches] == [
        ("sponsor", "newcomer", None)
    ]
    # Capacity 1: a second request cannot be accepted.
    second = await other.post("/sponsorship/requests", json={"note": "me too"})
    full = await sponsor.post(f"/sponsorship/requests/{second.json()['id']}/accept")
    assert full.status_code == 409
    assert (await other.post(f"/sponsorship/matches/{matches[0]['id']}/end")).status_code == 404
    assert (await newcomer.post(f"/sponsorship/matches/{matches[0]['id']}/end")).status_code == 204
    assert (await newcomer.get("/sponsorship")).json()["matches"] == []


async def test_a_sponsor_declines_a_request_asked_of_them(world: World) -> None:
    sponsor = await world.member("sponsor", trust=2)
    newcomer = await world.member("newcomer", trust=0)
    other = await world.member("other", trust=1)
    await sponsor.patch("/me", json={"sobriety_date": "2020-05-01"})
    await sponsor.post("/sponsorship/offers", json={"capacity": 2})
    asked = (
        await newcomer.post("/sponsorship/requests", json={"note": "hi", "sponsor": "sponsor"})
    ).json()["id"]
    general = (await other.post("/sponsorship/requests", json={"note": "anyone"})).json()["id"]
    # Only the sponsor asked may decline, and only a request asked of them by name.
    assert (await other.post(f"/sponsorship/requests/{asked}/decline")).status_code == 404
    assert (await sponsor.post(f"/sponsorship/requests/{general}/decline")).status_code == 404
    assert (await sponsor.post(f"/sponsorship/requests/{asked}/decline")).status_code == 204
    assert (await sponsor.post(f"/sponsorship/requests/{asked}/decline")).status_code == 404
    assert (await sponsor.post(f"/sponsorship/requests/{asked}/accept")).status_code == 404
    notes = (await newcomer.get("/notifications")).json()["items"]
    assert [n["kind"] for n in notes] == ["sponsorship_declined"]
    assert "@sponsor" in notes[0]["html"]
    # Closed, so the newcomer may ask again.
    again = await newcomer.post("/sponsorship/requests", json={"note": "anyone?"})
    assert again.status_code == 201


async def test_reminders_go_out_once(world: World) -> None:
    organizer = await world.member("organizer", trust=2)
    river = await world.member("river", trust=1)
    made = await listing(organizer, world, slots=[slot_at(world, 30, 5)])
    await river.post(f"/slots/{made['slots'][0]['id']}/signups")
    board = world.community.board
    assert await board.send_reminders() == 0  # 30 hours away
    world.advance(hours=7)
    results = await asyncio.gather(*(board.send_reminders() for _ in range(5)))
    assert sum(results) == 1  # five rounds at once: one reminder
    world.advance(hours=22, minutes=30)
    assert await board.send_reminders() == 1  # the 1-hour one
    assert await board.send_reminders() == 0
    kinds = [n["kind"] for n in (await river.get("/notifications")).json()["items"]]
    assert kinds.count("slot_reminder") == 2


async def test_flagged_listings_leave_the_board(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    organizer = await world.member("organizer", trust=2)
    flaggers = [await world.member(f"f-{i}", trust=2) for i in range(2)]
    made = await listing(organizer, world)
    for flagger in flaggers:
        flagged = await flagger.post(
            "/flags", json={"target": {"type": "opportunity", "id": made["id"]}, "reason": "spam"}
        )
        assert flagged.status_code == 201
    assert (await flaggers[0].get(f"/opportunities/{made['id']}")).status_code == 404
    item = (await mod.get("/moderation/queue")).json()["items"][0]
    assert item["target"]["type"] == "opportunity" and len(item["flags"]) == 2
    await mod.post(f"/moderation/queue/{item['id']}", json={"decision": "reject", "note": "spam"})
    assert (await organizer.get(f"/opportunities/{made['id']}")).json()["status"] == "rejected"


async def test_service_hours_are_private_unless_shared(world: World) -> None:
    river = await world.member("river", trust=1)
    other = await world.member("other", trust=1)
    assert "service_hours" not in (await other.get("/members/river")).json()
    changed = await river.patch("/me", json={"share_service_hours": True, "timezone": "Asia/Tokyo"})
    assert changed.status_code == 200 and changed.json()["timezone"] == "Asia/Tokyo"
    assert (await other.get("/members/river")).json()["service_hours"] == 0
    assert (await river.patch("/me", json={"timezone": "Mars/Olympus"})).status_code == 422


async def test_an_erased_member_gives_up_their_seat(world: World) -> None:
    organizer = await world.member("organizer", trust=2)
    leaving = await world.member("leaving", trust=1)
    waiting = await world.member("waiting", trust=1)
    made = await listing(organizer, world, slots=[slot_at(world, 48, 1)])
    slot_id = made["slots"][0]["id"]
    await leaving.post(f"/slots/{slot_id}/signups")
    assert (await waiting.post(f"/slots/{slot_id}/signups")).json()["status"] == "waitlisted"
    await leaving.patch("/me", json={"timezone": "Europe/Paris"})
    erased = await leaving.request("DELETE", "/me", json={"password": "a long enough passphrase"})
    assert erased.status_code == 204
    mine = (await waiting.get(f"/opportunities/{made['id']}")).json()["slots"][0]["my_signup"]
    assert mine["status"] == "confirmed"
    gone = await Member.get(id=(await Signup.get(status="cancelled")).member_id)
    assert gone.timezone == "" and gone.share_service_hours is False


async def test_moving_keeps_the_place_and_the_choice_to_be_hidden(world: World) -> None:
    organizer = await world.member("organizer", trust=2)
    shy = await world.member("shy", trust=1)
    made = await listing(organizer, world, slots=[slot_at(world, 48, 2), slot_at(world, 72, 2)])
    first, second = (s["id"] for s in made["slots"])
    await shy.post(f"/slots/{first}/signups")
    await shy.post(f"/slots/{second}/signups")
    refused = await organizer.post(f"/slots/{first}/signups/shy/move", json={"to_slot": second})
    assert refused.status_code == 409
    still = (await shy.get(f"/opportunities/{made['id']}")).json()["slots"][0]["my_signup"]
    assert still["status"] == "confirmed"  # a refused move leaves them where they were
    await shy.delete(f"/slots/{second}/signups/me")
    await shy.patch(f"/slots/{first}/signups/me", json={"hidden": True})
    moved = await organizer.post(f"/slots/{first}/signups/shy/move", json={"to_slot": second})
    assert moved.status_code == 200 and moved.json()["status"] == "confirmed"
    now = (await shy.get(f"/opportunities/{made['id']}")).json()["slots"][1]["my_signup"]
    assert now["hidden"] is True


async def test_a_sponsorship_request_in_crisis_brings_help(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    newcomer = await world.member("newcomer", trust=0)
    asked = await newcomer.post(
        "/sponsorship/requests", json={"note": "I need help, I want to end my life"}
    )
    assert asked.status_code == 201
    assert asked.json()["notices"][0]["kind"] == "crisis_resources"
    top = (await mod.get("/moderation/queue")).json()["items"][0]
    assert top["kind"] == "crisis" and "sponsorship request" in top["reason"]


async def test_the_export_holds_the_members_service(world: World) -> None:
    organizer = await world.member("organizer", trust=2)
    river = await world.member("river", trust=1)
    made = await listing(organizer, world)
    await river.post(f"/slots/{made['slots'][0]['id']}/signups")
    mine = (await river.get("/me/export")).json()
    assert [(s["opportunity"], s["status"]) for s in mine["signups"]] == [
        ("Kitchen shift", "confirmed")
    ]
    theirs = (await organizer.get("/me/export")).json()
    assert [o["title"] for o in theirs["listings"]] == ["Kitchen shift"]
    assert theirs["sponsorship"] == {"offer": None, "requests": [], "matches": []}


async def test_filters_and_pages(world: World) -> None:
    organizer = await world.member("organizer", trust=2)
    river = await world.member("river", trust=1)
    for i in range(35):
        await listing(
            organizer,
            world,
            title=f"L{i}",
            tags=["phone"] if i % 5 == 0 else ["kitchen"],
            kind="mentoring" if i == 7 else "volunteer",
        )
    first = (await river.get("/opportunities")).json()
    assert len(first["items"]) == 30 and first["next"]
    rest = (await river.get("/opportunities", params={"cursor": first["next"]})).json()
    titles = [o["title"] for o in first["items"] + rest["items"]]
    assert titles == [f"L{i}" for i in reversed(range(35))] and rest["next"] is None
    # A tag filter fills its page from further down the board.
    phone = (await river.get("/opportunities", params={"tag": "phone"})).json()
    assert [o["title"] for o in phone["items"]] == [f"L{i}" for i in (30, 25, 20, 15, 10, 5, 0)]
    kind = (await river.get("/opportunities", params={"kind": "mentoring"})).json()
    assert [o["title"] for o in kind["items"]] == ["L7"]
    assert (await river.get("/opportunities", params={"kind": "party"})).status_code == 422
    for cursor in ("x", "\u00b2", "99999999999", "2147483648"):
        refused = await river.get("/opportunities", params={"cursor": cursor})
        assert refused.status_code == 422, cursor
    seats = (await river.get("/opportunities", params={"open_seats": "true"})).json()
    assert len(seats["items"]) == 30
    # A yes-or-no filter takes true/1 or false/0, nothing else, on the API and the page.
    for value in ("null", "yes", "on"):
        refused = await river.get("/opportunities", params={"upcoming": value})
        assert refused.status_code == 422 and "upcoming" in refused.json()["errors"], value
    off = (await river.get("/opportunities", params={"open_seats": "0"})).json()
    assert len(off["items"]) == 30
    page = await river.get("http://t/community/service", params={"open_seats": "maybe"})
    assert page.status_code == 422
