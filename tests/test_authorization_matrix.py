"""Every API route and every chat frame, tried by every kind of principal.

The expected answers are written out in ``tests/authz_table.py``; this
module builds one world per test (a private room, a thread, chat messages,
listings, a meeting, sponsorship, and ten principals made through the real
services: the silenced, suspended and banned ones by a moderator's action),
then sends each row's request as each principal and compares.

Why each check:

- The routes come from the served OpenAPI document, so a route added
  without a row (or a row left after its route went) fails the test.
- A refused principal must change nothing: for every unsafe method the
  database is fingerprinted before the refused cells run and after, and
  they run before the allowed ones, so that an allowed change never hides
  a refused one.
- A principal who may not see the private room (anonymous, outsider, the
  suspended and banned) must never find its name, its thread or its posts
  in any answer, whatever the status.

The chat frames run over a real uvicorn and real sockets (the ``chat``
fixture); a last test checks that a socket stops hearing a room whose
member can no longer see it (made private, or a conversation left), since
live delivery does not pass through the per-frame checks.

Both engines: what a principal may do is decided by queries (memberships,
statuses, ownership), and those run on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, get_args
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from alumni_community import Community
from alumni_community.chat import protocol
from alumni_community.identity.models import Member, Role
from alumni_community.moderation.models import ReviewItem
from alumni_community.opportunities.models import Signup, SignupStatus, Slot, SponsorRequest
from alumni_community.settings import Limit

from .authz_table import (
    API_ROWS,
    FRAME_ROWS,
    PASSWORD,
    PRINCIPALS,
    Call,
    FrameRow,
    Row,
)
from .chat.conftest import ChatWorld, chat  # noqa: F401  (the fixture, used by name)
from .conftest import PLANTED_IP, LeakWatch, clone_migrated, make_settings

pytestmark = pytest.mark.anyio

ROOM = "hushwillow"
#: Words only the private room holds: none may reach a principal outside it.
SECRETS = ("hushwillow", "quietcove", "lanternmoss")
OUTSIDE_THE_ROOM = ("anonymous", "outsider", "suspended", "banned")
HANDLES = {kind: "p-" + kind.replace("_", "") for kind in PRINCIPALS if kind != "anonymous"}
ROLES = {"moderator": Role.MODERATOR, "admin": Role.ADMIN}
IN_THE_ROOM = ("member", "silenced", "suspended", "banned", "organizer")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: Server frames that carry what is said in a room (or that something was).
CONTENT_FRAMES = {"message", "edited", "deleted", "reaction", "typing", "presence"}


@dataclass
class Principal:
    kind: str
    handle: str | None = None
    member_id: int | None = None
    #: The session cookie's token, and its CSRF token.
    token: str | None = None
    csrf: str | None = None
    codes: list[str] = field(default_factory=list)
    calendar_key: str | None = None
    #: False once a suspension or ban ended the session (the cookie is kept, dead).
    live: bool = True


class Stage:
    """A seeded community, whatever serves it; subclasses sign members in."""

    def __init__(self, community: Community) -> None:
        self.community = community
        self.principals: dict[str, Principal] = {"anonymous": Principal("anonymous", live=False)}
        self.ref: dict[str, Any] = {}
        self._counter = itertools.count(1)
        self._tables: list[str] = []

    def n(self) -> int:
        return next(self._counter)

    def now(self) -> dt.datetime:
        return self.community.settings.now()

    async def sign_in(self, handle: str) -> tuple[str, str]:
        raise NotImplementedError

    async def member(self, kind: str) -> Member:
        """A principal's member row as it is now (services take the row)."""
        return await Member.get(id=self.principals[kind].member_id)

    async def account(self, kind: str, handle: str) -> Principal:
        """A signed-in member of this kind, placed where the kind says (not yet restricted)."""
        c = self.community
        member, codes = await c.accounts.create_member(
            handle, PASSWORD, ROLES.get(kind, Role.MEMBER)
        )
        await c.accounts.set_trust(handle, 2 if kind == "organizer" else 1)
        if kind == "organizer":
            await c.accounts.set_meeting_host(handle, True)
        if "moderator" in self.principals:
            moderator = await self.member("moderator")
            if kind in IN_THE_ROOM:
                await c.rooms.invite(moderator, ROOM, handle)
            elif kind == "room_moderator":
                await c.rooms.set_room_moderator(moderator, ROOM, handle, appoint=True)
        token, csrf = await self.sign_in(handle)
        return Principal(kind, handle, member.id, token, csrf, codes)

    async def restrict(self, who: Principal) -> None:
        """Silence, suspend or ban, as a moderator does: through the moderation service."""
        action = {"silenced": "silence", "suspended": "suspend", "banned": "ban"}.get(who.kind)
        if action is None:
            return
        until = None if action == "ban" else (self.now() + dt.timedelta(days=30)).isoformat()
        await self.community.actions.act(
            await self.member("moderator"), who.handle or "", action, until=until, reason="matrix"
        )
        who.live = action == "silence"

    async def seed_people(self) -> None:
        c = self.community
        self.principals["moderator"] = await self.account("moderator", HANDLES["moderator"])
        await c.rooms.create_room(
            await self.member("moderator"),
            {
                "slug": ROOM,
                "name": "Hushwillow circle",
                "visibility": "private",
                "moderation": "open",
            },
        )
        self.ref["room"] = ROOM
        for kind in PRINCIPALS:
            if kind not in self.principals:
                self.principals[kind] = await self.account(kind, HANDLES[kind])
        # Chat messages, the silenced member's written before the silence.
        for kind, ref in (
            ("member", "member_message"),
            ("silenced", "silenced_message"),
            ("silenced", "silenced_spare_message"),
        ):
            sent = await c.chat.send(
                await self.member(kind), ROOM, "Lanternmoss check-in", f"seed-{self.n()}"
            )
            self.ref[ref] = sent.message.seq

    async def restrict_all(self) -> None:
        for kind in ("silenced", "suspended", "banned"):
            await self.restrict(self.principals[kind])

    async def fingerprint(self) -> dict[str, str]:
        """A digest of every table (sessions by who holds them, not when last seen).

        Failed sign-ins are left out: a wrong password is refused and still counted.
        """
        connection = self.community.database.connection()
        if not self._tables:
            if self.community.settings.database_engine == "postgres":
                query = (
                    "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
                )
            else:
                query = "SELECT name FROM sqlite_master WHERE type = 'table'"
            names = [r["name"] for r in await connection.execute_query_dict(query)]
            self._tables = sorted(
                name for name in names if name.startswith("ac_") and name != "ac_login_failure"
            )
        digests = {}
        for table in self._tables:
            columns = "id, member_id" if table == "ac_session" else "*"
            rows = await connection.execute_query_dict(f"SELECT {columns} FROM {table} ORDER BY id")
            digests[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return digests


# -- the API ------------------------------------------------------------------------


class ApiStage(Stage):
    """The community in-process, with a clock the test moves."""

    def __init__(self, community: Community, http: httpx.AsyncClient, clock: list[dt.datetime]):
        super().__init__(community)
        self.http = http
        self.clock = clock

    def advance(self, seconds: float = 31) -> None:
        """Let pacing pass: longer than any interval between posts (30 s for new members)."""
        self.clock[0] += dt.timedelta(seconds=seconds)

    async def send(self, who: Principal, method: str, path: str, call: Call) -> httpx.Response:
        headers = {}
        if who.token:
            headers["cookie"] = f"ac_session={who.token}"
        if who.csrf and method in UNSAFE:
            headers["x-csrf-token"] = who.csrf
        try:
            return await self.http.request(
                method, path, json=call.body, params=call.query, headers=headers
            )
        finally:
            # Each principal's cookie is sent by hand; answers must not mix them.
            self.http.cookies.clear()

    async def sign_in(self, handle: str) -> tuple[str, str]:
        signed = await self.send(
            Principal("anonymous"),
            "POST",
            "/session",
            Call(body={"handle": handle, "password": PASSWORD}),
        )
        assert signed.status_code == 200, signed.text
        token = signed.cookies.get("ac_session")
        assert token
        return token, signed.json()["csrf_token"]

    async def spawn(self, kind: str) -> Principal:
        """A new principal of this kind, for a route that uses up the caller's account."""
        if kind == "anonymous":
            return Principal("anonymous", live=False)
        who = await self.account(kind, f"s{self.n()}-{kind.replace('_', '')}")
        await self.restrict(who)
        return who

    async def stranger(self) -> Principal:
        """Someone's credentials, for a client without an account of its own."""
        return await self.account("outsider", f"stranger-{self.n()}")

    async def helper(self, label: str, *, room: bool = False) -> str:
        handle = f"{label}-{self.n()}"
        await self.community.accounts.create_member(handle, PASSWORD, Role.MEMBER)
        await self.community.accounts.set_trust(handle, 1)
        if room:
            await self.community.rooms.invite(await self.member("moderator"), ROOM, handle)
        return handle

    async def by_handle(self, handle: str) -> Member:
        return await self.community.accounts.get_by_handle(handle)

    async def seed_world(self) -> None:
        c = self.community
        await self.seed_people()
        moderator, member = await self.member("moderator"), await self.member("member")
        organizer, silenced = await self.member("organizer"), await self.member("silenced")
        # The forum: the member's thread; the silenced member's replies from before.
        thread, post, _ = await c.rooms.create_thread(
            member, ROOM, "Quietcove evenings", "Lanternmoss and tea.", confirm=False
        )
        self.ref.update(thread=thread.id, member_post=post.id)
        for ref in ("silenced_post", "silenced_spare_post"):
            self.advance()
            reply, _ = await c.rooms.reply(silenced, thread.id, "Lanternmoss too.", confirm=False)
            self.ref[ref] = reply.id
        self.ref["witness"] = await self.helper("witness", room=True)
        await c.rooms.create_room(
            moderator, {"slug": "review-desk", "name": "Review desk", "moderation": "all_reviewed"}
        )
        held, _, _ = await c.rooms.create_thread(
            await self.by_handle(self.ref["witness"]), "review-desk", "Hello", "Hi.", confirm=False
        )
        self.ref["review_thread"] = held.id
        for label in ("invitee", "appointee", "bystander", "blockee", "pal", "pal2", "worker"):
            self.ref[label] = await self.helper(label)
        self.ref["direct"] = (await c.chat.start_direct(member, self.ref["pal"])).slug
        self.ref["victim_session"] = await self.session_of(await self.account("outsider", "victim"))
        # The board: the organizer's listings; a slot that will have ended.
        now = self.now()

        def slot(starts: dt.timedelta, capacity: int) -> dict[str, Any]:
            return {
                "starts_at": (now + starts).isoformat(),
                "ends_at": (now + starts + dt.timedelta(hours=1)).isoformat(),
                "capacity": capacity,
            }

        listing, _ = await c.board.create(
            organizer,
            {
                "title": "Kitchen shift",
                "slots": [
                    slot(dt.timedelta(hours=1), 5),
                    slot(dt.timedelta(days=5), 50),
                    slot(dt.timedelta(days=6), 50),
                ],
            },
        )
        past, first, second = await Slot.filter(opportunity_id=listing.id).order_by("starts_at")
        self.ref.update(listing=listing.id, past_slot=past.id, slot=first.id, other_slot=second.id)
        to_close, _ = await c.board.create(
            organizer, {"title": "Phone list", "slots": [slot(dt.timedelta(days=3), 5)]}
        )
        self.ref["listing_to_close"] = to_close.id
        await c.board.sign_up(await self.by_handle(self.ref["worker"]), past.id)
        await c.board.sign_up(silenced, first.id)
        # A meeting the organizer hosts.
        meeting = await c.meetings.create(
            organizer,
            {
                "name": "Tuesday Big Book",
                "day": [0, 1, 2, 3, 4, 5, 6],
                "time": "19:00",
                "end_time": "20:00",
                "location": "Main house",
            },
        )
        self.ref["meeting"] = meeting.id
        # Sponsorship: the organizer is sober long enough and offers.
        await c.accounts.update_profile(organizer, {"sobriety_date": "2023-01-15"})
        await c.sponsorships.offer(organizer, 5, "Big Book study.")
        seekers = [await self.by_handle(await self.helper("seeker")) for _ in range(3)]
        general, _ = await c.sponsorships.request(seekers[0], "Three weeks in.")
        to_organizer, _ = await c.sponsorships.request(
            seekers[1], "Could you?", HANDLES["organizer"]
        )
        matched, _ = await c.sponsorships.request(seekers[2], "A month in.")
        match = await c.sponsorships.accept(await self.member("organizer"), matched.id)
        self.ref.update(
            general_request=general.id, request_to_organizer=to_organizer.id, match=match.id
        )
        # The calendar link of those about to lose their session.
        for kind in ("suspended", "banned"):
            who = self.principals[kind]
            link = await self.send(who, "GET", "/me/calendar", Call())
            who.calendar_key = parse_qs(urlsplit(link.json()["path"]).query)["key"][0]
        await self.restrict_all()
        self.advance(3 * 3600)  # the first slot has ended

    async def session_of(self, who: Principal) -> str:
        listed = await self.send(who, "GET", "/sessions", Call())
        public_id: str = listed.json()["items"][0]["id"]
        return public_id

    # -- objects a row uses up, one per cell ------------------------------------

    async def fresh_member_post(self) -> int:
        self.advance()
        post, _ = await self.community.rooms.reply(
            await self.member("member"), self.ref["thread"], "To be deleted.", confirm=False
        )
        return post.id

    async def fresh_witness_post(self) -> int:
        self.advance()
        post, _ = await self.community.rooms.reply(
            await self.by_handle(self.ref["witness"]), self.ref["thread"], "A reply.", confirm=False
        )
        return post.id

    async def fresh_review_item(self, *, claimed: bool) -> int:
        """A held post's review item (the review desk holds every post)."""
        self.advance()
        post, _ = await self.community.rooms.reply(
            await self.by_handle(self.ref["witness"]),
            self.ref["review_thread"],
            "Waiting for a look.",
            confirm=False,
        )
        item = await ReviewItem.get(post_id=post.id)
        if claimed:
            await self.community.moderation.claim(await self.member("moderator"), item.id)
        return item.id

    async def fresh_watched_word(self) -> int:
        row = await self.community.moderation.add_watched(
            await self.member("moderator"), f"zzqold{self.n()}", False, "flag"
        )
        return row.id

    async def fresh_meeting(self) -> int:
        meeting = await self.community.meetings.create(
            await self.member("moderator"),
            {"name": "Pop-up", "day": 3, "time": "12:00", "end_time": "13:00", "location": "Hall"},
        )
        return meeting.id

    async def fresh_participant(self) -> str:
        handle = await self.helper("participant")
        await self.community.board.sign_up(await self.by_handle(handle), self.ref["slot"])
        return handle

    async def fresh_room_moderator(self) -> str:
        handle = await self.helper("steward")
        await self.community.rooms.set_room_moderator(
            await self.member("moderator"), ROOM, handle, appoint=True
        )
        return handle

    async def _signed_up(self, who: Principal) -> bool:
        return await Signup.filter(
            slot_id=self.ref["slot"],
            member_id=who.member_id,
            status__in=[SignupStatus.CONFIRMED, SignupStatus.WAITLISTED],
        ).exists()

    async def join_slot(self, who: Principal) -> None:
        if who.live and not await self._signed_up(who):
            await self.community.board.sign_up(await self.member(who.kind), self.ref["slot"])

    async def leave_slot(self, who: Principal) -> None:
        # The silenced member's place stays: they could not take it again.
        if who.live and who.kind != "silenced" and await self._signed_up(who):
            await self.community.board.cancel(await self.member(who.kind), self.ref["slot"])

    async def ensure_offer(self) -> None:
        await self.community.sponsorships.offer(await self.member("organizer"), 5, "Big Book.")

    async def withdraw_requests(self, who: Principal) -> None:
        if who.member_id is None:
            return
        for request in await SponsorRequest.filter(member_id=who.member_id, open=True):
            await self.community.sponsorships.withdraw_request(
                await self.member(who.kind), request.id
            )

    async def open_request_of(self, kind: str) -> int:
        who = self.principals[kind]
        found = await SponsorRequest.filter(member_id=who.member_id, open=True).first()
        if found is not None:
            return found.id
        made, _ = await self.community.sponsorships.request(await self.member(kind), "Hello.")
        return made.id


@pytest.fixture
async def api_stage(database_url: str) -> AsyncIterator[ApiStage]:
    clock = [dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)]
    settings = make_settings(
        database_url,
        clock=lambda: clock[0],
        meeting_guide_feed=True,
        # The matrix signs many people up and in from one address.
        signup_limit_per_ip=Limit(10_000, 3600),
        login_limit_per_ip=Limit(10_000, 600),
        # Reminders would write between two fingerprints.
        reminder_interval_seconds=86_400,
    )
    await clone_migrated(database_url)
    community = Community(settings)
    watch = LeakWatch(Starlette(routes=[Mount("/community", app=community)]))
    async with community.lifespan():
        with community.database.activate():
            transport = httpx.ASGITransport(app=watch, client=(PLANTED_IP, 4000))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t/community/api/v1"
            ) as http:
                stage = ApiStage(community, http, clock)
                await stage.seed_world()
                yield stage
    watch.assert_clean()


def _problem(response: httpx.Response) -> tuple[str | None, str]:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None, ""
    body = response.json()
    return body.get("code"), str(body.get("detail", ""))


async def _run_row(
    stage: ApiStage, row: Row, success: int, failures: list[str], counted: list[int]
) -> None:
    cells = []
    for kind in PRINCIPALS:
        who = await stage.spawn(kind) if row.own_account else stage.principals[kind]
        cells.append((kind, who, await row.call(stage, who)))
    refused = [cell for cell in cells if not row.expect[cell[0]].allowed]
    allowed = [cell for cell in cells if row.expect[cell[0]].allowed]
    # Refused principals first, and nothing they send may change anything.
    watch = row.method in UNSAFE and refused
    before = await stage.fingerprint() if watch else {}
    for kind, who, call in refused:
        await _try(stage, row, success, kind, who, call, failures)
    if watch:
        after = await stage.fingerprint()
        changed = sorted(table for table in before if before[table] != after[table])
        if changed:
            kinds = [kind for kind, _, _ in refused]
            failures.append(f"{row.method} {row.path}: refused {kinds} changed {changed}")
    for kind, who, call in allowed:
        await _try(stage, row, success, kind, who, call, failures)
    counted.append(len(cells))


async def _try(
    stage: ApiStage,
    row: Row,
    success: int,
    kind: str,
    who: Principal,
    call: Call,
    failures: list[str],
) -> None:
    outcome = row.expect[kind]
    stage.advance()
    response = await stage.send(who, row.method, row.path.format(**call.params), call)
    code, detail = _problem(response)
    want = success if outcome.allowed else outcome.status
    if response.status_code != want or (outcome.code is not None and code != outcome.code):
        failures.append(
            f"{row.method} {row.path} as {kind}: expected {outcome} ({want}), "
            f"got {response.status_code} {code or ''} {detail}".rstrip()
        )
    if kind in OUTSIDE_THE_ROOM:
        text = response.text.lower()
        leaked = [word for word in SECRETS if word in text]
        if leaked:
            failures.append(f"{row.method} {row.path} as {kind}: shows {leaked}")


async def test_every_route_answers_each_principal_as_the_table_says(api_stage: ApiStage) -> None:
    document = (await api_stage.http.get("/openapi.json")).json()
    served = {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    rows = {(row.method, row.path): row for row in API_ROWS}
    assert len(rows) == len(API_ROWS), "a route has two rows"
    missing = sorted(set(served) - set(rows))
    extra = sorted(set(rows) - set(served))
    assert not missing and not extra, (
        f"routes without a row: {missing}; rows without a route: {extra}"
    )
    for row in API_ROWS:
        assert set(row.expect) == set(PRINCIPALS), f"{row.method} {row.path}: not every principal"

    failures: list[str] = []
    counted: list[int] = []
    for row in API_ROWS:
        statuses = [int(s) for s in served[(row.method, row.path)]["responses"] if s[0] == "2"]
        assert len(statuses) == 1, (row.method, row.path, statuses)
        await _run_row(api_stage, row, statuses[0], failures, counted)
    assert sum(counted) == len(API_ROWS) * len(PRINCIPALS)
    assert not failures, f"{len(failures)} of {sum(counted)} cells:\n" + "\n".join(failures)


# -- the WebSocket -------------------------------------------------------------------


class ChatStage(Stage):
    """The community behind a real uvicorn (the chat fixture), reached over real sockets."""

    def __init__(self, world: ChatWorld) -> None:
        super().__init__(world.community)
        self.world = world
        self.sockets: dict[str, ClientConnection] = {}

    async def sign_in(self, handle: str) -> tuple[str, str]:
        client = await self.world.sign_in(handle)
        return client.cookie.removeprefix("ac_session="), client.http.headers["x-csrf-token"]

    async def connect(self, who: Principal) -> ClientConnection:
        headers = {"Origin": self.world.base}
        if who.token:
            headers["Cookie"] = f"ac_session={who.token}"
        ws = await connect(self.world.ws_url, additional_headers=headers, compression=None)
        self.world.sockets.append(ws)
        return ws

    async def fresh_member_message(self) -> int:
        sent = await self.community.chat.send(
            await self.member("member"), ROOM, "To be deleted.", f"fresh-{self.n()}"
        )
        return sent.message.seq


async def _frames_until(
    ws: ClientConnection, done: Callable[[dict[str, Any]], bool], wait: float = 5
) -> list[dict[str, Any]]:
    """Frames up to and including the first for which ``done(frame)`` holds."""
    got = []
    while True:
        got.append(json.loads(await asyncio.wait_for(ws.recv(), wait)))
        if done(got[-1]):
            return got


async def _closed_with(ws: ClientConnection, fields: dict[str, Any]) -> int | None:
    """Send the frame to a socket expected to close; the close code it got."""
    try:
        await ws.send(json.dumps(fields))
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


async def _run_frame(
    stage: ChatStage, row: FrameRow, failures: list[str], counted: list[int]
) -> None:
    cells = [(kind, await row.fields(stage, stage.principals[kind])) for kind in PRINCIPALS]
    refused = [cell for cell in cells if not row.expect[cell[0]].allowed]
    allowed = [cell for cell in cells if row.expect[cell[0]].allowed]
    before = await stage.fingerprint()
    for kind, fields in refused:
        await _try_frame(stage, row, kind, fields, failures)
    after = await stage.fingerprint()
    changed = sorted(table for table in before if before[table] != after[table])
    if changed:
        kinds = [kind for kind, _ in refused]
        failures.append(f"{row.type}: refused {kinds} changed {changed}")
    for kind, fields in allowed:
        await _try_frame(stage, row, kind, fields, failures)
    counted.append(len(cells))


async def _try_frame(
    stage: ChatStage, row: FrameRow, kind: str, fields: dict[str, Any], failures: list[str]
) -> None:
    reply = row.expect[kind]
    ref = f"cell-{stage.n()}"
    frame = {"type": row.type, **fields, "ref": ref}
    if kind not in stage.sockets:
        code = await _closed_with(await stage.connect(stage.principals[kind]), frame)
        if code != reply.close:
            failures.append(f"{row.type} as {kind}: expected {reply}, socket closed {code}")
        return
    ws = stage.sockets[kind]
    sync = f"sync-{stage.n()}"
    await ws.send(json.dumps(frame))
    await ws.send(json.dumps({"type": "ping", "ref": sync}))
    # Frames are handled in order: a refusal comes before the pong of the ping after it.
    got = await _frames_until(ws, lambda f: f["type"] == "pong" and f.get("ref") == sync)
    errors = [f for f in got if f["type"] == "error" and f.get("ref") == ref]
    if reply.close is not None:
        failures.append(f"{row.type} as {kind}: expected {reply}, the socket is open")
    elif reply.allowed and errors:
        failures.append(f"{row.type} as {kind}: expected ok, got {errors}")
    elif not reply.allowed and [e["code"] for e in errors] != [reply.error]:
        failures.append(f"{row.type} as {kind}: expected {reply}, got {errors}")
    if reply.allowed and row.answer:

        def answered(f: dict[str, Any]) -> bool:
            if f["type"] != row.answer:
                return False
            if row.type == "send":
                return bool(f.get("client_id") == fields["client_id"])
            return f.get("ref") in (None, ref)

        if not any(answered(f) for f in got):
            try:
                got += await _frames_until(ws, answered)
            except TimeoutError:
                failures.append(f"{row.type} as {kind}: no {row.answer} frame")
    if kind in OUTSIDE_THE_ROOM:
        leaked = [word for word in SECRETS if word in json.dumps(got).lower()]
        if leaked:
            failures.append(f"{row.type} as {kind}: shows {leaked}")


async def test_every_chat_frame_answers_each_principal_as_the_table_says(
    chat: ChatWorld,  # noqa: F811
) -> None:
    stage = ChatStage(chat)
    await stage.seed_people()
    await stage.restrict_all()
    kinds = {frame_type.__name__.lower() for frame_type in get_args(protocol.ClientFrame)}
    rows = {row.type for row in FRAME_ROWS}
    assert len(rows) == len(FRAME_ROWS), "a frame type has two rows"
    assert kinds == rows, f"frame types without a row: {kinds - rows}; rows without: {rows - kinds}"
    for row in FRAME_ROWS:
        assert set(row.expect) == set(PRINCIPALS), f"{row.type}: not every principal"
    for kind, who in stage.principals.items():
        if who.live:
            ws = await stage.connect(who)
            await _frames_until(ws, lambda f: f["type"] == "hello")
            stage.sockets[kind] = ws

    failures: list[str] = []
    counted: list[int] = []
    for row in FRAME_ROWS:
        await _run_frame(stage, row, failures, counted)
    assert sum(counted) == len(FRAME_ROWS) * len(PRINCIPALS)
    assert not failures, f"{len(failures)} of {sum(counted)} cells:\n" + "\n".join(failures)


async def _heard_before_pong(ws: ClientConnection) -> list[dict[str, Any]]:
    """What the socket got before the answer to a ping sent now (frames go out in order)."""
    await ws.send(json.dumps({"type": "ping", "ref": "listen"}))
    got = await _frames_until(ws, lambda f: f["type"] == "pong" and f.get("ref") == "listen")
    return got[:-1]


async def test_a_subscriber_who_can_no_longer_see_a_room_hears_no_more_of_it(
    chat: ChatWorld,  # noqa: F811
) -> None:
    """Live delivery follows who may see a room now, not who could when they subscribed.

    A room turned private by a moderator, and a direct conversation its
    member left, must stop reaching the sockets that followed them.
    """
    mod = await chat.member("mod-a", Role.MODERATOR)
    river = await chat.member("river")
    lake = await chat.member("lake")
    made = await mod.http.post(
        "/rooms", json={"slug": "lounge", "name": "Lounge", "moderation": "open"}
    )
    assert made.status_code == 201, made.text
    started = await river.http.post("/direct", json={"handle": "lake"})
    direct = started.json()["slug"]
    river_lounge = await chat.join(river, "lounge")
    river_direct = await chat.join(river, direct)
    mod_lounge = await chat.join(mod, "lounge")
    lake_direct = await chat.join(lake, direct)
    said = await chat.community.chat.send(
        await Member.get(handle="lake"), direct, "Before you go.", "d1"
    )

    private = await mod.http.patch("/rooms/lounge", json={"visibility": "private"})
    assert private.status_code == 200, private.text
    left = await river.http.delete(f"/direct/{direct}")
    assert left.status_code == 204, left.text
    # The others see river go (the change has reached the hub, whatever the broker).
    for ws, room in ((mod_lounge, "lounge"), (lake_direct, direct)):
        try:
            await _frames_until(
                ws, lambda f: f["type"] == "presence" and "river" not in f["online"], wait=3
            )
        except TimeoutError:
            pytest.fail(f"river still follows {room} after losing sight of it")
    for ws in (river_lounge, river_direct):
        await _heard_before_pong(ws)

    await mod_lounge.send(
        json.dumps({"type": "send", "room": "lounge", "body": "Just us now.", "client_id": "m1"})
    )
    await _frames_until(mod_lounge, lambda f: f["type"] == "message")
    # Reactions and deletions still happen in a conversation one member left.
    for frame in (
        {"type": "react", "room": direct, "seq": said.message.seq, "emoji": "🙏"},
        {"type": "delete", "room": direct, "seq": said.message.seq},
    ):
        await lake_direct.send(json.dumps(frame))
    await _heard_before_pong(lake_direct)
    for ws in (river_lounge, river_direct):
        heard = [f for f in await _heard_before_pong(ws) if f["type"] in CONTENT_FRAMES]
        assert not heard, heard
