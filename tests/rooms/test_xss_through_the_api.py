"""Corpus payloads through every field that is shown: served HTML stays harmless."""

from __future__ import annotations

import pytest

from alumni_community.identity.models import Role

from ..test_content import load_corpora, problems
from .conftest import World, make_room

pytestmark = pytest.mark.anyio

#: Every 4th payload of each corpus, plus Markdown vectors: the content
#: tests run them all against the renderer; this shows the API stores and
#: serves what the renderer made, for each field.
PAYLOADS = [payload for _, index, payload in load_corpora() if index % 4 == 0] + [
    "[x](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "<javascript:alert(1)>",
    "[x][r]\n\n[r]: javascript:alert(1)",
]


async def test_payloads_in_posts_titles_room_names_and_bios(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    served: list[str] = []
    for i, payload in enumerate(PAYLOADS):
        made = await mod.post(
            "/rooms/open-room/threads",
            json={"title": payload[:200] or "x", "body": payload or "x", "confirm": True},
        )
        if made.status_code == 201:
            served += [made.json()["thread"]["title"], made.json()["post"]["html"]]
        room = await mod.post(
            "/rooms", json={"slug": f"r-{i}", "name": payload[:120] or "x", "description": payload}
        )
        if room.status_code == 201:
            served += [room.json()["name"], room.json()["description"]]
        bio = await mod.patch("/me", json={"bio": payload[:2000]})
        if "\x00" in payload:
            # NUL is refused everywhere with 422 (PostgreSQL cannot store it).
            assert bio.status_code == 422
            continue
        assert bio.status_code == 200, (bio.status_code, bio.text[:300])
        served.append(bio.json()["bio_html"])
    threads = (await mod.get("/rooms/open-room/threads")).json()["items"]
    served += [t["title"] for t in threads]
    assert len(served) > 3 * len(PAYLOADS)
    for fragment in served:
        assert problems(fragment) == [], fragment
