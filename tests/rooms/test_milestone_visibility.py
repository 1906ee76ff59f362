"""Who sees a member's milestone, through the API; resetting the date."""

from __future__ import annotations

import datetime as dt

import pytest

from alumni_community.identity.models import Member, Role

from .conftest import World, make_room


@pytest.mark.anyio
async def test_milestones_show_only_when_shared_and_reset_keeps_the_rest(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=2)
    other = await world.member("other", trust=1)
    await make_room(mod, "lounge", moderation="open")
    today = world.now[0].date()
    sober = (today - dt.timedelta(days=30)).isoformat()
    await river.patch("/me", json={"sobriety_date": sober})
    made = await river.post("/rooms/lounge/threads", json={"title": "t", "body": "b"})
    thread = made.json()["thread"]["id"]

    def shown(payload: dict[str, object]) -> object:
        return payload["milestone"]  # type: ignore[index]

    # Nobody sees it by default: not on the profile, not beside posts.
    assert shown((await other.get("/members/river")).json()["member"]) is None
    posts = (await other.get(f"/threads/{thread}")).json()["posts"]["items"]
    assert shown(posts[0]["author"]) is None
    assert (await other.get("/milestones/celebrating")).json()["items"] == []

    await river.patch("/me", json={"share_milestones": True})
    assert shown((await other.get("/members/river")).json()["member"]) == {
        "days": 30,
        "label": "30 days",
    }
    posts = (await other.get(f"/threads/{thread}")).json()["posts"]["items"]
    assert shown(posts[0]["author"]) == {"days": 30, "label": "30 days"}
    celebrating = (await other.get("/milestones/celebrating")).json()["items"]
    assert [m["handle"] for m in celebrating] == ["river"]  # reached 30 days today

    # A reset after a relapse: the count starts again; everything else stays.
    reset = await river.patch("/me", json={"sobriety_date": today.isoformat()})
    assert reset.status_code == 200
    assert shown((await other.get("/members/river")).json()["member"]) is None
    member = await Member.get(handle="river")
    assert member.trust_level == 2 and member.sobriety_date == today
    assert len((await other.get(f"/threads/{thread}")).json()["posts"]["items"]) == 1
