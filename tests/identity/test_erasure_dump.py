"""After an erasure with ``delete_content``, a dump of the whole database holds none of it.

A member writes a distinct marker into everything erasure promises to
remove (docs/topics/privacy.md, "Erasure"), erases their account, and then
the database is dumped the way an operator would dump it: ``pg_dump`` on
PostgreSQL, ``iterdump`` and the raw bytes of the files on SQLite. The
markers of what erasure documents it keeps (a flag's note) are checked to
be there, so the test notices when the dump misses a table, and the
documentation stays honest in both directions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from alumni_community.identity.models import Member, Role

from ..conftest import _pg_bin, missing
from ..rooms.conftest import PASSWORD, World, make_room

pytestmark = pytest.mark.anyio

HANDLE = "quillon_vess"
#: Everything erasure with delete_content removes, one marker each.
GONE = {
    "handle": HANDLE,
    "bio": "GONE-bio-5521",
    "sobriety date": "2019-07-13",
    "thread title": "GONE-title-8812",
    "post body": "GONE-post-3390",
    "earlier post version": "GONE-first-draft-1147",
    "reply": "GONE-reply-6603",
    "chat message": "GONE-chat-2208",
    "earlier chat version": "GONE-chat-draft-9931",
    "deleted chat message": "GONE-chat-deleted-4417",
}
#: Documented to stay after erasure: the note of a flag the member made.
KEPT = "KEPT-flag-note-7070"


async def dump(world: World) -> bytes:
    url = world.community.settings.database_url
    if world.community.settings.database_engine == "sqlite":
        path = Path(url.removeprefix("sqlite://"))
        with sqlite3.connect(path) as conn:
            logical = "\n".join(conn.iterdump()).encode()
        conn.close()
        raw = b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
        return logical + raw
    pg_dump = _pg_bin("pg_dump")
    if pg_dump is None:
        missing("pg_dump not found; install postgresql-client")
        raise AssertionError("unreachable")
    done = await anyio.run_process(
        [pg_dump, "--no-owner", url.replace("postgres://", "postgresql://", 1)]
    )
    return done.stdout


async def test_a_database_dump_after_erasure_holds_nothing_of_the_member(world: World) -> None:
    mod = await world.member("mod-dump", Role.MODERATOR)
    other = await world.member("other-dump", trust=1)
    leaving = await world.member(HANDLE, trust=1)
    await make_room(mod, "dump-room", moderation="open")

    profile = await leaving.patch(
        "/me", json={"bio": GONE["bio"], "sobriety_date": GONE["sobriety date"]}
    )
    assert profile.status_code == 200, profile.text
    made = await leaving.post(
        "/rooms/dump-room/threads",
        json={"title": GONE["thread title"], "body": GONE["earlier post version"]},
    )
    assert made.status_code == 201, made.text
    thread_id, post_id = made.json()["thread"]["id"], made.json()["post"]["id"]
    edited = await leaving.patch(f"/posts/{post_id}", json={"body": GONE["post body"]})
    assert edited.status_code == 200, edited.text
    world.advance(seconds=30)  # past the posting rate limit
    replied = await leaving.post(f"/threads/{thread_id}/posts", json={"body": GONE["reply"]})
    assert replied.status_code == 201, replied.text
    others_reply = await other.post(f"/threads/{thread_id}/posts", json={"body": "mine stays"})
    assert others_reply.status_code == 201
    flagged = await leaving.post(
        "/flags",
        json={
            "target": {"type": "post", "id": others_reply.json()["post"]["id"]},
            "reason": "other",
            "note": KEPT,
        },
    )
    assert flagged.status_code == 201, flagged.text

    world.advance(seconds=30)
    chat = world.community.chat
    member = await Member.get(handle=HANDLE)
    sent = await chat.send(member, "dump-room", GONE["earlier chat version"], "c1")
    await chat.edit(member, "dump-room", sent.message.seq, GONE["chat message"])
    gone = await chat.send(member, "dump-room", GONE["deleted chat message"], "c2")
    await chat.delete(member, "dump-room", gone.message.seq)

    before = await dump(world)
    # The dump sees every marker while the member is there: it can fail.
    assert [name for name, marker in GONE.items() if marker.encode() not in before] == []
    assert KEPT.encode() in before

    erased = await leaving.request(
        "DELETE", "/me", json={"password": PASSWORD, "delete_content": True}
    )
    assert erased.status_code == 204, erased.text

    after = await dump(world)
    assert [name for name, marker in GONE.items() if marker.encode() in after] == []
    assert KEPT.encode() in after
    assert b"mine stays" in after
