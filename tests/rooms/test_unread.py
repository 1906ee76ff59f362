"""Unread counts on the room list: exact up to 100 messages, then 100 ("100 or more")."""

from __future__ import annotations

import pytest

from alumni_community.chat.service import UNREAD_MAX
from alumni_community.identity.models import Member, Role

from .conftest import World, make_room

pytestmark = pytest.mark.anyio


async def _unread(client: object, slug: str) -> int:
    rooms = (await client.get("/rooms")).json()["items"]  # type: ignore[attr-defined]
    (count,) = [r["unread"] for r in rooms if r["slug"] == slug]
    return int(count)


async def test_unread_counts_are_exact_up_to_the_cap_then_the_cap(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    river = await world.member("river", trust=1)
    await make_room(mod, "lounge", moderation="open")
    await make_room(mod, "quiet", moderation="open")
    chat = world.community.chat
    moderator = await Member.get(handle="mod-a")
    reader = await Member.get(handle="river")
    assert await _unread(river, "lounge") == 0  # nothing said yet, no marker yet

    for i in range(3):
        await chat.send(moderator, "lounge", f"note {i}", f"c-{i}")
    assert await _unread(river, "lounge") == 3
    assert await _unread(river, "quiet") == 0
    # Two rooms behind: both counted in the one statement.
    await chat.send(moderator, "quiet", "hello", "q-0")
    assert (await _unread(river, "lounge"), await _unread(river, "quiet")) == (3, 1)
    await chat.read(reader, "quiet", 1)
    await chat.read(reader, "lounge", 2)
    assert await _unread(river, "lounge") == 1
    # A deleted message does not count.
    await chat.delete(moderator, "lounge", 3)
    assert await _unread(river, "lounge") == 0

    for i in range(3, 3 + UNREAD_MAX + 2):
        await chat.send(moderator, "lounge", f"note {i}", f"c-{i}")
    # 103 messages after the marker: the count stops at the cap.
    assert await _unread(river, "lounge") == UNREAD_MAX
    sent = await chat.send(reader, "lounge", "caught up", "r-1")
    assert sent.created
    assert await _unread(river, "lounge") == 0  # writing moves the marker
    await chat.send(moderator, "lounge", "welcome back", "c-last")
    assert await _unread(river, "lounge") == 1
