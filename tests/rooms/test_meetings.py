"""Meetings through the API: weekly expansion across DST, exceptions, the feed, iCalendar."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest

from alumni_community.identity.models import Member, Role

from .conftest import World

pytestmark = pytest.mark.anyio


async def meeting(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Tuesday Night Big Book",
        "day": 2,
        "time": "19:00",
        "end_time": "20:00",
        "timezone": "America/Chicago",
        "types": ["O", "B", "D"],
        "location": "Main house, room 2",
        **fields,
    }
    made = await client.post("/meetings", json=body)
    assert made.status_code == 201, made.text
    data: dict[str, Any] = made.json()
    return data


async def between(client: httpx.AsyncClient, start: str, end: str) -> list[dict[str, Any]]:
    got = await client.get("/meetings", params={"from": start, "to": end})
    assert got.status_code == 200, got.text
    items: list[dict[str, Any]] = got.json()["items"]
    return items


async def test_weekly_expansion_across_dst_in_two_time_zones(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await meeting(mod)  # Chicago, Tuesdays 19:00
    await meeting(
        mod,
        name="Sunday Speaker",
        day=0,
        time="10:30",
        end_time="11:30",
        timezone="Europe/London",
        types=["SP"],
    )
    # The US changes on 8 March 2026, the UK on 29 March: a week on each side.
    items = await between(mod, "2026-03-01T00:00:00+00:00", "2026-04-08T00:00:00+00:00")
    chicago = [i["starts_at"] for i in items if i["meeting"]["timezone"] == "America/Chicago"]
    london = [i["starts_at"] for i in items if i["meeting"]["timezone"] == "Europe/London"]
    # The moderator's zone is the community's (UTC): the wall time holds, UTC moves.
    assert chicago == [
        "2026-03-04T01:00:00+00:00",  # 3 March 19:00 CST (UTC-6)
        "2026-03-11T00:00:00+00:00",  # 10 March 19:00 CDT (UTC-5)
        "2026-03-18T00:00:00+00:00",
        "2026-03-25T00:00:00+00:00",
        "2026-04-01T00:00:00+00:00",
    ]
    assert london == [
        "2026-03-01T10:30:00+00:00",
        "2026-03-08T10:30:00+00:00",
        "2026-03-15T10:30:00+00:00",
        "2026-03-22T10:30:00+00:00",
        "2026-03-29T09:30:00+00:00",  # BST from 29 March
        "2026-04-05T09:30:00+00:00",
    ]
    # A member in Tokyo sees the same instants in their own zone.
    tokyo = await world.member("tokyo", trust=1)
    await tokyo.patch("/me", json={"timezone": "Asia/Tokyo"})
    seen = await between(tokyo, "2026-03-10T00:00:00+00:00", "2026-03-12T00:00:00+00:00")
    assert [i["starts_at"] for i in seen] == ["2026-03-11T09:00:00+09:00"]


async def test_cancelled_and_changed_dates(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    made = await meeting(mod)
    assert (
        await mod.post(
            f"/meetings/{made['id']}/exceptions", json={"date": "2026-03-17", "cancelled": True}
        )
    ).status_code == 201
    changed = await mod.post(
        f"/meetings/{made['id']}/exceptions",
        json={"date": "2026-03-24", "time": "18:00", "end_time": "19:30", "location": "Garden"},
    )
    assert changed.status_code == 201
    wrong_day = await mod.post(
        f"/meetings/{made['id']}/exceptions", json={"date": "2026-03-25", "cancelled": True}
    )
    assert wrong_day.status_code == 422
    items = await between(mod, "2026-03-15T00:00:00+00:00", "2026-03-30T00:00:00+00:00")
    assert [(i["starts_at"], i["changed"], i["location"]) for i in items] == [
        ("2026-03-24T23:00:00+00:00", True, "Garden"),
    ]


async def test_meetings_in_progress_and_who_may_schedule(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=2)
    refused = await river.post("/meetings", json={"name": "x", "day": 1, "time": "10:00"})
    assert refused.status_code == 403
    await Member.filter(handle="river").update(meeting_host=True)  # what the CLI grants
    hosted = await meeting(river, name="River's meeting", day=3)
    assert hosted["slug"] == "river-s-meeting"
    # The world's clock: Sunday 1 March 2026, 09:00 UTC.
    await meeting(mod, name="Now", day=0, time="08:30", end_time="09:30", timezone="UTC")
    items = await river.get("/meetings")
    first = items.json()["items"][0]
    assert (first["meeting"]["name"], first["in_progress"]) == ("Now", True)
    for bad in (
        {"day": 7},
        {"time": "25:00"},
        {"types": ["NOPE"]},
        {"timezone": "Mars/Base"},
        {"conference_url": "http://insecure.example"},
        {"location": "", "conference_url": ""},
    ):
        sent = await mod.post(
            "/meetings",
            json={
                "name": "n",
                "day": 1,
                "time": "10:00",
                "end_time": "11:00",
                "location": "here",
                **bad,
            },
        )
        assert sent.status_code == 422, bad


async def test_the_meeting_guide_feed(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await meeting(mod, public=True, notes="Use the side door.")
    await meeting(
        mod,
        name="Online Step Study",
        day=[1, 4],
        time="07:00",
        end_time="08:00",
        location="",
        conference_url="https://meet.example.org/abc",
        types=["ST", "C"],
        public=True,
    )
    await meeting(mod, name="Staff only", public=False)
    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app), base_url="http://t/community/api/v1"
    )
    world.clients.append(anonymous)
    assert (await anonymous.get("/meetings/feed.json")).status_code == 404  # off by default
    object.__setattr__(world.community.settings, "meeting_guide_feed", True)
    feed = (await anonymous.get("/meetings/feed.json")).json()
    assert [m["name"] for m in feed] == ["Tuesday Night Big Book", "Online Step Study"]
    from alumni_community.meetings.service import TYPE_CODES

    slugs = set()
    for entry in feed:
        # The spec's field rules.
        assert isinstance(entry["name"], str) and entry["name"]
        assert re.fullmatch(r"[a-z0-9-]+", entry["slug"]) and entry["slug"] not in slugs
        slugs.add(entry["slug"])
        days = entry["day"] if isinstance(entry["day"], list) else [entry["day"]]
        assert all(isinstance(d, int) and 0 <= d <= 6 for d in days)
        assert re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", entry["time"])
        assert re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", entry["end_time"])
        assert all(t in TYPE_CODES for t in entry["types"])
        assert entry.get("formatted_address") or entry.get("conference_url")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", entry["updated"])
        # Anonymity: nothing about any member.
        assert not {"created_by", "organizer", "member", "handle"} & set(entry)
    assert "mod-a" not in str(feed)


async def test_icalendar_parses_back_with_two_libraries(world: World) -> None:
    import icalendar
    import vobject

    mod = await world.member("mod-a", Role.MODERATOR)
    made = await meeting(mod)
    await mod.post(
        f"/meetings/{made['id']}/exceptions", json={"date": "2026-03-10", "cancelled": True}
    )
    await mod.post(
        f"/meetings/{made['id']}/exceptions", json={"date": "2026-03-17", "time": "18:00"}
    )
    got = await mod.get("/meetings.ics")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(got.content)
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == 2  # the series and the changed date
    series = next(e for e in events if "RECURRENCE-ID" not in e)
    assert series["RRULE"]["FREQ"] == ["WEEKLY"] and series["RRULE"]["BYDAY"] == ["TU"]
    assert str(series.decoded("DTSTART").tzinfo) == "America/Chicago"
    assert series.decoded("DTSTART").time() == dt.time(19, 0)
    assert [d.dt.date() for d in series["EXDATE"].dts] == [dt.date(2026, 3, 10)]

    parsed = vobject.readOne(got.text)
    vevents = parsed.vevent_list
    assert len(vevents) == 2
    first = next(v for v in vevents if not hasattr(v, "recurrence_id"))
    starts = list(
        first.getrruleset().between(
            dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 25, tzinfo=dt.UTC)
        )
    )
    # 3 and 17 March (UTC dates 4 and 18): 10 March is cancelled; the 17th's
    # override event carries its new time.
    assert [x.astimezone(dt.UTC).date() for x in starts] == [
        dt.date(2026, 3, 4),
        dt.date(2026, 3, 18),
    ]
    moved = next(v for v in vevents if hasattr(v, "recurrence_id"))
    assert moved.dtstart.value.hour == 18

    # A calendar app cannot sign in: the personal key works, a wrong one does not.
    path = (await mod.get("/me/calendar")).json()["path"]
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app), base_url="http://t")
    world.clients.append(anonymous)
    assert (await anonymous.get(path)).status_code == 200
    assert (await anonymous.get(path[:-2] + "00")).status_code == 401
    assert (await anonymous.get("/community/api/v1/meetings.ics")).status_code == 401
    for key in ("\u00b2.x", "99999999999999.x", "-1.x", ".x"):
        refused = await anonymous.get("/community/api/v1/meetings.ics", params={"key": key})
        assert refused.status_code == 401, key
