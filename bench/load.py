"""Load: N members browsing, posting and chatting against one uvicorn process, for a while.

What it builds: the community mounted at ``/community`` in a Starlette app,
one uvicorn process on loopback, SQLite in a temporary folder (or, with
``--database postgres``, a throwaway PostgreSQL server started here and
removed afterwards). Before the server starts, this process seeds a world
through the services themselves, with a clock moved through the past month:
rooms (open ones, one ``new_members_reviewed``, one ``all_reviewed``),
threads whose replies run to several pages, chat history, service
opportunities with slots (some full, with a waiting list; some starting
within a day, so the reminder job has work), weekly meetings,
notifications, and N members of mixed trust levels.

Members are made directly in the database, and the server runs with a
cheap password hash (``ALUMNI_COMMUNITY_PASSWORD_HASH_MEMORY_KIB=64``,
``..._PASSES=1``): signing in is not what this measures (its cost is the
hash, measured on its own). Each member signs in once over HTTP
(``POST /api/v1/session``, a few at a time: the per-address limit counts
attempts in flight) and keeps its cookie and CSRF token.

Then, for ``--duration`` seconds, every member loops: think (exponential,
mean ``--think`` seconds), then one action drawn by weight (``ACTIONS``):
mostly reading (rooms, a room's threads, a thread page, later pages as
they read on, opportunities, meetings, notifications, their profile),
sometimes a reply, rarely a new thread or a slot sign-up or cancellation.
A share of members (``--pages``) use the HTML pages, as a browser does
(forms with the CSRF field, following the 303 after a post); the rest use
the JSON API. A share (``--chatters``) also keep a WebSocket open,
subscribed to one room, ping every 20-25 s as clients do, and send a
message now and then (exponential, mean ``--chat-every`` seconds); the time
from a ``send`` to the sender's own ``message`` frame (matched by
``client_id``) is the chat latency. Members answered 429 do not retry;
429s are counted apart: they are the server's pace rules, not errors.

Reported per endpoint (method and path template): count, 2xx, 3xx (the
pages' redirects after a form), 4xx, 429, 5xx, client-side errors
(timeouts, connection errors), p50, p99 and max latency; then the overall
5xx rate, chat latency, and the CPU the server, this process and the rest
of the machine used. The JSON goes to ``bench/results/load-<date>.json``
and the server's log beside it (``.log``). The exit status is 1 when a
target is missed: any 5xx (or chat ``server_error``), any client-side
error or lost chat message, or a p99 of reads at or over ``--read-p99-ms``
(all reads together, and each read endpoint with at least 50 requests);
``--no-fail`` only reports.

Usage::

    .venv/bin/python bench/load.py --wait-quiet 600    # 500 members, 120 s, SQLite
    .venv/bin/python bench/load.py --members 50 --duration 20     # a small check
    .venv/bin/python bench/load.py --database postgres --output bench/results/load-pg.json

One load process drives it: at about 2-3 ms of its CPU per request (chat
included), 500 members thinking 5 s (about 100 requests a second) need a
quarter of a core; the run reports this process's CPU and how late its
event loop woke (a busy generator inflates the latencies it measures).
The "everything else" CPU says whether the run shared the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import glob
import json
import math
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chat_fanout import cpu_seconds, free_port, origin_of, percentile, serve_community

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MOUNT = "/community"
PASSWORD = "a long enough passphrase for load tests"
#: The cheap hash the server and the seeding both use (see the docstring).
HASH_ENV = {
    "ALUMNI_COMMUNITY_PASSWORD_HASH_MEMORY_KIB": "64",
    "ALUMNI_COMMUNITY_PASSWORD_HASH_PASSES": "1",
}
#: Sign-ins in flight at once: the per-address login limit (20 in 10
#: minutes) counts an attempt until it succeeds.
SIGN_IN_AT_ONCE = 8
#: What a member does after thinking, and how often (weights, not percent).
ACTIONS: dict[str, float] = {
    "rooms": 10,
    "room": 20,
    "thread": 30,
    "opportunities": 5,
    "opportunity": 5,
    "meetings": 5,
    "notifications": 8,
    "profile": 4,
    "reply": 4,
    "new_thread": 0.5,
    "slot": 1,
}
WRITES = {"reply", "new_thread", "slot"}
#: Rooms: slug, name, moderation after seeding, share of chatters in it.
ROOMS = [
    ("general", "General", "open", 0.35),
    ("check-in", "Daily check-in", "open", 0.2),
    ("gratitude", "Gratitude", "open", 0.1),
    ("family-and-friends", "Family and friends", "open", 0.1),
    ("newcomers", "Newcomers", "new_members_reviewed", 0.15),
    ("step-work", "Step work", "all_reviewed", 0.1),
]
#: Trust levels of the seeded members, by share.
TRUST = [(0, 0.1), (1, 0.5), (2, 0.3), (3, 0.1)]

TITLES = [
    "Ninety days today",
    "How do you handle weekends?",
    "Gratitude list for this week",
    "First meeting after a long break",
    "Tips for sleeping better",
    "Talking with a sponsor for the first time",
    "Family dinners and boundaries",
    "Questions about step four",
    "Morning routines that help",
    "Coffee after the Tuesday meeting",
    "Finding a home group",
    "Walking club on Saturdays",
    "Books that helped you",
    "Going back to work",
    "Holidays coming up",
    "Small wins this month",
]
SENTENCES = [
    "Thank you all for sharing this.",
    "One day at a time has been my anchor this week.",
    "I went to the Thursday meeting and it helped a lot.",
    "Calling my sponsor before the weekend made a difference.",
    "The walk this morning cleared my head.",
    "I am grateful for this group.",
    "Does anyone have a good reading for step three?",
    "Keep coming back, it works if you work it.",
    "Today I chose to rest instead of pushing through.",
    "My family noticed the change and said so.",
    "Service at the coffee table keeps me connected.",
    "I wrote my gratitude list before breakfast.",
    "Boundaries are hard but worth it.",
    "It was a rough day, but I stayed with the plan.",
    "Hearing your stories reminds me I am not alone.",
    "The speaker last night said something I keep thinking about.",
    "I started journaling again and it is helping.",
    "Sleep is better now that I keep a routine.",
    "Reaching out is still the hardest part for me.",
    "Congratulations on the milestone, that is wonderful news.",
]
CHAT_LINES = [
    "Good morning everyone",
    "Heading to the noon meeting",
    "Thanks for the support yesterday",
    "Anyone going to the Friday meeting tonight?",
    "Made it through another day",
    "Coffee and a gratitude list to start",
    "Hi all, new here",
    "Sending good thoughts your way",
    "That reading hit home",
    "See you at the park walk",
    "Taking it easy today",
    "Proud of you, keep going",
]
NOTIFICATION_KINDS = [
    ("slot_reminder", "<p>Reminder: a service slot you signed up for starts soon.</p>"),
    ("waitlist_promoted", "<p>A place opened up: you are now confirmed for a slot.</p>"),
    ("flag_outcome", "<p>Thank you: a moderator looked at the post you flagged.</p>"),
]
_CURSOR = re.compile(r"\?cursor=([A-Za-z0-9_\-%]+)")
_THREAD_PATH = re.compile(r"/threads/(\d+)")


# -- the server (this same file, run as a subprocess) ---------------------------------


def die_with_parent() -> None:
    """In a child: SIGTERM when the process that started it goes, even if killed outright."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def serve(port: int, parent: int) -> None:
    """The community at /community in one uvicorn process, configured from the environment."""
    die_with_parent()
    if os.getppid() != parent:
        return
    from alumni_community import Settings

    serve_community(Settings.from_env(), port)


def server_env(database_url: str, secret: str, port: int) -> dict[str, str]:
    """The server's environment: ours, with no ALUMNI_COMMUNITY_* leaking in from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALUMNI_COMMUNITY_")}
    env.update(
        {
            "ALUMNI_COMMUNITY_DATABASE_URL": database_url,
            "ALUMNI_COMMUNITY_SECRET_KEY": secret,
            "ALUMNI_COMMUNITY_COOKIE_SECURE": "false",
            "ALUMNI_COMMUNITY_ALLOWED_ORIGINS": origin_of(port),
            "ALUMNI_COMMUNITY_MIGRATE_ON_START": "false",
            **HASH_ENV,
        }
    )
    return env


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    #: PostgreSQL's postmaster, when this run started one.
    database_pid: int | None = None

    @property
    def base(self) -> str:
        return origin_of(self.port) + MOUNT


def start_server(
    database_url: str,
    secret: str,
    port: int,
    log_path: Path,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """This file's server on ``port``; ``extra_env`` adds settings (a broker, say)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        "--port",
        str(port),
        "--parent",
        str(os.getpid()),
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        # Its own session: a Ctrl-C here reaches this process only, which then
        # stops the server in order (after the clients have let go).
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**server_env(database_url, secret, port), **(extra_env or {})},
            start_new_session=True,
        )
    return Server(port, proc, log_path)


def stop_server(server: Server, timeout: float = 30) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


async def wait_healthy(server: Server, within: float = 60) -> None:
    deadline = time.perf_counter() + within
    async with httpx.AsyncClient(trust_env=False, timeout=2) as client:
        while time.perf_counter() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {server.proc.returncode}; see {server.log_path}"
                )
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(server.base + "/api/v1/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {within} s; see {server.log_path}")


# -- PostgreSQL, when asked for -------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL server in a temporary folder with one empty database; its URL and
    data folder (whose ``postmaster.pid`` names the process to charge its CPU to).

    Durability is off (``fsync``, ``synchronous_commit``, ``full_page_writes``),
    as in the test suite: this measures the application, not the disk.
    """
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise SystemExit("PostgreSQL server binaries (initdb, pg_ctl) not found")
    base = Path(tempfile.mkdtemp(prefix="ac-load-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root; Debian's package brings a postgres user.
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    started = False
    try:
        initialize = [*run_as, initdb, "-D", str(data), "-U", "postgres", "-A", "trust"]
        subprocess.run(
            [*initialize, "-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        control = [*run_as, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log")]
        subprocess.run([*control, "-w", "-t", "60", "start"], check=True, capture_output=True)
        started = True
        createdb = [*run_as, _pg_bin("createdb") or "createdb", "-h", "127.0.0.1"]
        subprocess.run(
            [*createdb, "-p", str(port), "-U", "postgres", "load"], check=True, capture_output=True
        )
        yield f"postgres://postgres@127.0.0.1:{port}/load", data
    finally:
        if started:
            subprocess.run(
                [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
            )
        shutil.rmtree(base, ignore_errors=True)


# -- seeding ----------------------------------------------------------------------------


@dataclass
class World:
    """What the members know of the seeded world (ids, slugs, their own sign-ups)."""

    handles: list[str]
    trust: dict[str, int]
    rooms: list[str]
    threads: list[int]
    thread_room: dict[int, str]
    opportunities: list[int]
    #: slot id -> its listing, for the slots that start after the run.
    slot_listing: dict[int, int]
    signups: dict[str, set[int]]
    counts: dict[str, int]
    #: Threads with recent activity, newest first (replies and new threads move them up).
    hot: deque[int] = field(default_factory=lambda: deque(maxlen=20))


def text_of(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.sample(SENTENCES, rng.randint(low, high)))


def thread_lengths(rng: random.Random, threads: int) -> list[int]:
    """Posts per thread: most short, some over one page (30), a few over three."""
    lengths = []
    for _ in range(threads):
        roll = rng.random()
        if roll < 0.6:
            lengths.append(rng.randint(1, 10))
        elif roll < 0.9:
            lengths.append(rng.randint(11, 45))
        else:
            lengths.append(rng.randint(46, 100))
    return lengths


async def seed(database_url: str, args: argparse.Namespace, rng: random.Random) -> World:
    """Migrate, then build the world through the services, on a clock moving through the past."""
    from alumni_community import Community, Settings
    from alumni_community.db import migrate
    from alumni_community.identity.models import Member, Role
    from alumni_community.moderation.detection import find_crisis, find_identifying
    from alumni_community.notifications.models import Notification
    from alumni_community.opportunities.models import Slot

    for phrase in (*TITLES, *SENTENCES, *CHAT_LINES):
        # The world is ordinary talk: no crisis resources, no held posts, no questions.
        assert not find_crisis(phrase) and not find_identifying(phrase), phrase

    real_now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    clock = [real_now - dt.timedelta(days=90)]
    settings = Settings(
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        cookie_secure=False,
        password_hash_memory_kib=int(HASH_ENV["ALUMNI_COMMUNITY_PASSWORD_HASH_MEMORY_KIB"]),
        password_hash_passes=int(HASH_ENV["ALUMNI_COMMUNITY_PASSWORD_HASH_PASSES"]),
        clock=lambda: clock[0],
    )
    await migrate(settings)
    community = Community(settings)
    counts: dict[str, int] = {}
    async with community.lifespan():
        with community.database.activate():
            accounts = community.accounts
            moderator, _ = await accounts.create_member("load-mod", PASSWORD, Role.MODERATOR)
            organizer, _ = await accounts.create_member("load-host", PASSWORD, Role.MODERATOR)
            handles = [f"m{i:05d}" for i in range(args.members)]
            members: dict[str, Member] = {}
            for handle in handles:
                members[handle], _ = await accounts.create_member(handle, PASSWORD, Role.MEMBER)
                clock[0] += dt.timedelta(minutes=5)
            levels, shares = [level for level, _ in TRUST], [share for _, share in TRUST]
            trust = {handle: rng.choices(levels, weights=shares)[0] for handle in handles}
            for level, _ in TRUST:
                ids = [members[h].id for h in handles if trust[h] == level]
                await Member.filter(id__in=ids).update(trust_level=level)
            sober = [h for h in handles if rng.random() < 0.4]
            for handle in sober:
                await Member.filter(id=members[handle].id).update(
                    sobriety_date=(real_now - dt.timedelta(days=rng.randint(10, 3000))).date(),
                    share_milestones=True,
                )
            for handle in handles:
                members[handle].trust_level = trust[handle]
            counts["members"] = len(handles)

            # Rooms open while seeded; their moderation is set afterwards.
            for slug, name, _, _ in ROOMS:
                await community.rooms.create_room(
                    moderator,
                    {"slug": slug, "name": name, "description": f"{name}: talk and support."},
                )
            posters = [h for h in handles if trust[h] >= 1] or handles
            lengths = thread_lengths(rng, args.threads * len(ROOMS))
            total = sum(lengths) + 1
            start = real_now - dt.timedelta(days=30)
            step = max(dt.timedelta(seconds=20), (real_now - start) / (total + 2))
            clock[0] = start
            threads: list[int] = []
            thread_room: dict[int, str] = {}
            for i in range(len(lengths)):
                slug = ROOMS[i % len(ROOMS)][0]
                thread, _, _ = await community.rooms.create_thread(
                    members[rng.choice(posters)],
                    slug,
                    rng.choice(TITLES),
                    text_of(rng, 1, 4),
                    confirm=False,
                )
                threads.append(thread.id)
                thread_room[thread.id] = slug
                clock[0] += step
            replies = [threads[i] for i, n in enumerate(lengths) for _ in range(n - 1)]
            rng.shuffle(replies)
            for thread_id in replies:
                await community.rooms.reply(
                    members[rng.choice(posters)], thread_id, text_of(rng, 1, 3), confirm=False
                )
                clock[0] += step
            counts["threads"], counts["posts"] = len(threads), total - 1
            counts["threads_over_one_page"] = sum(n > 30 for n in lengths)
            for slug, _, moderation, _ in ROOMS:
                if moderation != "open":
                    await community.rooms.update_room(moderator, slug, {"moderation": moderation})

            # Chat history: the last day, some messages per room.
            clock[0] = real_now - dt.timedelta(days=1)
            for slug, *_ in ROOMS:
                for n in range(args.chat_history):
                    author = members[rng.choice(handles)]
                    await community.chat.send(
                        author, slug, rng.choice(CHAT_LINES), f"seed-{slug}-{n}"
                    )
                    clock[0] += dt.timedelta(seconds=30)
            counts["chat_messages"] = args.chat_history * len(ROOMS)

            # Opportunities, with slots after the run (a few within a day: reminders).
            clock[0] = real_now - dt.timedelta(hours=12)
            opportunities: list[int] = []
            slot_listing: dict[int, int] = {}
            signups: dict[str, set[int]] = {h: set() for h in handles}
            kinds = ["volunteer", "meeting_service", "mentoring", "other"]
            for i in range(args.opportunities):
                slots = []
                for _ in range(rng.randint(1, 4)):
                    starts = real_now + dt.timedelta(hours=rng.randint(6, 24 * 30))
                    slots.append(
                        {
                            "starts_at": starts.isoformat(),
                            "ends_at": (starts + dt.timedelta(hours=2)).isoformat(),
                            "capacity": rng.randint(2, 10),
                        }
                    )
                opportunity, _ = await community.board.create(
                    organizer,
                    {
                        "title": f"{rng.choice(['Greeter', 'Coffee', 'Set-up', 'Phone line'])} "
                        f"help, week {i % 5 + 1}",
                        "body": text_of(rng, 2, 4),
                        "kind": kinds[i % len(kinds)],
                        "location": rng.choice(["Main hall", "Online", "Garden room"]),
                        "slots": slots,
                    },
                )
                opportunities.append(opportunity.id)
                for slot in await Slot.filter(opportunity_id=opportunity.id).order_by("id"):
                    slot_listing[slot.id] = opportunity.id
                    # Some slots fill up and keep a waiting list.
                    for handle in rng.sample(handles, min(len(handles), slot.capacity + 2)):
                        if rng.random() < 0.6:
                            await community.board.sign_up(members[handle], slot.id)
                            signups[handle].add(slot.id)
            counts["opportunities"], counts["slots"] = len(opportunities), len(slot_listing)
            counts["signups"] = sum(len(s) for s in signups.values())

            for i in range(args.meetings):
                online = i % 3 == 0
                hour = rng.choice([7, 12, 18, 19, 20])
                await community.meetings.create(
                    moderator,
                    {
                        "name": f"{rng.choice(['Morning', 'Noon', 'Evening'])} group {i + 1}",
                        "day": sorted(rng.sample(range(7), rng.randint(1, 3))),
                        "time": f"{hour:02d}:00",
                        "end_time": f"{hour + 1:02d}:00",
                        "timezone": "America/Chicago",
                        "types": rng.sample(["O", "C", "D", "SP", "ST", "BE"], 2),
                        **(
                            {"conference_url": "https://meet.example.org/group"}
                            if online
                            else {"location": "Main hall"}
                        ),
                        "notes": "All welcome.",
                        "public": True,
                        "room": rng.choice(ROOMS)[0],
                    },
                )
            counts["meetings"] = args.meetings

            notes = []
            for handle in handles:
                for _ in range(rng.randint(0, 12)):
                    kind, html = rng.choice(NOTIFICATION_KINDS)
                    created = real_now - dt.timedelta(minutes=rng.randint(1, 60 * 24 * 20))
                    notes.append(
                        Notification(
                            member_id=members[handle].id,
                            kind=kind,
                            html=html,
                            created_at=created,
                            read_at=created if rng.random() < 0.7 else None,
                        )
                    )
            await Notification.bulk_create(notes, batch_size=500)
            counts["notifications"] = len(notes)
    return World(
        handles=handles,
        trust=trust,
        rooms=[slug for slug, *_ in ROOMS],
        threads=threads,
        thread_room=thread_room,
        opportunities=opportunities,
        slot_listing=slot_listing,
        signups=signups,
        counts=counts,
    )


# -- what is measured ---------------------------------------------------------------------


@dataclass
class Endpoint:
    count: int = 0
    s2xx: int = 0
    s3xx: int = 0
    s4xx: int = 0
    s429: int = 0
    s5xx: int = 0
    timeouts: int = 0
    connection_errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    #: The first few 5xx answers (status and body), to find them in the server log.
    failures: list[str] = field(default_factory=list)


class Stats:
    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}

    def of(self, key: str) -> Endpoint:
        found = self.endpoints.get(key)
        if found is None:
            found = self.endpoints[key] = Endpoint()
        return found

    def answered(self, key: str, response: httpx.Response, took: float) -> None:
        e = self.of(key)
        e.count += 1
        e.latencies_ms.append(took * 1000)
        status = response.status_code
        if status == 429:
            e.s429 += 1
        elif status >= 500:
            e.s5xx += 1
            if len(e.failures) < 5:
                e.failures.append(f"{status} {response.text[:300]}")
        elif status >= 400:
            e.s4xx += 1
        elif status >= 300:
            e.s3xx += 1
        else:
            e.s2xx += 1

    def failed(self, key: str, error: Exception) -> None:
        e = self.of(key)
        e.count += 1
        if isinstance(error, httpx.TimeoutException):
            e.timeouts += 1
        else:
            e.connection_errors += 1
        if len(e.failures) < 5:
            e.failures.append(f"{type(error).__name__}: {error}")


@dataclass
class ChatStats:
    connected: int = 0
    connect_failures: int = 0
    join_s: float = 0.0
    sent: int = 0
    echoed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    #: Message frames received in the window, the member's own echoes included.
    deliveries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    other_errors: dict[str, int] = field(default_factory=dict)
    closes: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    lost: int = 0
    first_errors: list[str] = field(default_factory=list)


# -- the members ---------------------------------------------------------------------------


@dataclass
class Sim:
    handle: str
    pages: bool
    http: httpx.AsyncClient
    rng: random.Random
    csrf: str = ""
    #: thread id -> (cursor of the page last read, cursor of the next page)
    read_to: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)
    #: room slug -> cursor of its next page of threads
    room_next: dict[str, str | None] = field(default_factory=dict)
    slots: set[int] = field(default_factory=set)
    chat_room: str | None = None
    #: After a 429 on a write, no writing before this time (the answer's Retry-After).
    write_after: float = 0.0


class Load:
    def __init__(self, server: Server, world: World, args: argparse.Namespace) -> None:
        self.server = server
        self.world = world
        self.args = args
        self.stats = Stats()
        self.chat = ChatStats()
        self.deadline = math.inf
        #: Set when the measured window opens (the chatters wait for it to talk).
        self.opened = asyncio.Event()
        self.sims: list[Sim] = []
        self._names = list(ACTIONS)
        self._weights = [ACTIONS[n] for n in self._names]
        self.actions: dict[str, Callable[[Sim], Coroutine[Any, Any, None]]] = {
            name: getattr(self, f"do_{name}") for name in ACTIONS
        }
        self.action_counts = dict.fromkeys(ACTIONS, 0)
        #: GETs sent again after the server closed their keep-alive connection.
        self.keepalive_retries = 0

    # -- requests ------------------------------------------------------------

    async def call(
        self, sim: Sim, method: str, template: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        key = f"{method} {template}"
        began = time.perf_counter()
        for attempt in (1, 2):
            try:
                response = await sim.http.request(method, url, **kwargs)
                break
            except httpx.RemoteProtocolError as error:
                # The server closed an idle keep-alive connection just as it was
                # reused (uvicorn closes them after 5 s, the mean think time): a
                # browser sends an idempotent request again, and so does this,
                # counted, with both attempts in its latency.
                if method == "GET" and attempt == 1:
                    self.keepalive_retries += 1
                    continue
                self.stats.failed(key, error)
                return None
            except httpx.HTTPError as error:
                self.stats.failed(key, error)
                return None
        self.stats.answered(key, response, time.perf_counter() - began)
        if response.status_code == 429:
            with contextlib.suppress(ValueError):
                wait = float(response.headers.get("retry-after", "5"))
                sim.write_after = max(sim.write_after, time.perf_counter() + wait)
        return response

    async def form(
        self, sim: Sim, template: str, url: str, data: dict[str, str], then: str
    ) -> httpx.Response | None:
        """A page's form: POST it with the CSRF field; after a 303, load the page, as a browser."""
        response = await self.call(
            sim, "POST", template, url, data={**data, "csrf_token": sim.csrf}
        )
        if response is not None and response.status_code == 303:
            location = response.headers.get("location", "").split("#", 1)[0]
            await self.call(sim, "GET", then, location.removeprefix(MOUNT))
        return response

    # -- choices --------------------------------------------------------------

    def pick_thread(self, sim: Sim) -> int:
        """Recently active threads draw most readers; the rest share what is left."""
        hot = self.world.hot
        if hot and sim.rng.random() < 0.4:
            return sim.rng.choice(hot)
        return sim.rng.choice(self.world.threads)

    def pick_room(self, sim: Sim) -> str:
        return sim.rng.choices(self.world.rooms, weights=[r[3] for r in ROOMS])[0]

    def touched(self, thread_id: int) -> None:
        hot = self.world.hot
        with contextlib.suppress(ValueError):
            hot.remove(thread_id)
        hot.appendleft(thread_id)

    # -- actions --------------------------------------------------------------

    async def do_rooms(self, sim: Sim) -> None:
        if sim.pages:
            await self.call(sim, "GET", "/rooms", "/rooms")
        else:
            await self.call(sim, "GET", "/api/v1/rooms", "/api/v1/rooms")

    async def do_room(self, sim: Sim) -> None:
        """A room's threads; now and then the older ones (the next page), if seen before."""
        slug = self.pick_room(sim)
        cursor = sim.room_next.get(slug) if sim.rng.random() < 0.25 else None
        params = {"cursor": cursor} if cursor else None
        if sim.pages:
            response = await self.call(sim, "GET", "/rooms/{slug}", f"/rooms/{slug}", params=params)
            if response is not None and response.status_code == 200:
                found = _CURSOR.search(response.text)
                sim.room_next[slug] = found.group(1) if found else None
        else:
            response = await self.call(
                sim,
                "GET",
                "/api/v1/rooms/{slug}/threads",
                f"/api/v1/rooms/{slug}/threads",
                params=params,
            )
            if response is not None and response.status_code == 200:
                sim.room_next[slug] = response.json().get("next")

    async def do_thread(self, sim: Sim) -> None:
        """A thread: page one the first time, then on to later pages; back at the last
        page read when there are no more (to see new replies)."""
        thread_id = self.pick_thread(sim)
        last, following = sim.read_to.get(thread_id, (None, None))
        cursor = following or last
        params = {"cursor": cursor} if cursor else None
        if sim.pages:
            response = await self.call(
                sim, "GET", "/threads/{id}", f"/threads/{thread_id}", params=params
            )
            if response is not None and response.status_code == 200:
                found = _CURSOR.search(response.text)
                sim.read_to[thread_id] = (cursor, found.group(1) if found else None)
        else:
            response = await self.call(
                sim, "GET", "/api/v1/threads/{id}", f"/api/v1/threads/{thread_id}", params=params
            )
            if response is not None and response.status_code == 200:
                sim.read_to[thread_id] = (cursor, response.json()["posts"].get("next"))

    async def do_opportunities(self, sim: Sim) -> None:
        if sim.pages:
            await self.call(sim, "GET", "/service", "/service")
        else:
            await self.call(sim, "GET", "/api/v1/opportunities", "/api/v1/opportunities")

    async def do_opportunity(self, sim: Sim) -> None:
        listing = sim.rng.choice(self.world.opportunities)
        if sim.pages:
            await self.call(sim, "GET", "/service/{id}", f"/service/{listing}")
        else:
            await self.call(
                sim, "GET", "/api/v1/opportunities/{id}", f"/api/v1/opportunities/{listing}"
            )

    async def do_meetings(self, sim: Sim) -> None:
        if sim.pages:
            await self.call(sim, "GET", "/meetings", "/meetings")
        else:
            await self.call(sim, "GET", "/api/v1/meetings", "/api/v1/meetings")

    async def do_notifications(self, sim: Sim) -> None:
        if sim.pages:
            await self.call(sim, "GET", "/notifications", "/notifications")
        else:
            await self.call(sim, "GET", "/api/v1/notifications", "/api/v1/notifications")

    async def do_profile(self, sim: Sim) -> None:
        if sim.pages:
            await self.call(sim, "GET", "/me", "/me")
        else:
            await self.call(sim, "GET", "/api/v1/me", "/api/v1/me")

    async def do_reply(self, sim: Sim) -> None:
        thread_id = self.pick_thread(sim)
        body = text_of(sim.rng, 1, 3)
        if sim.pages:
            response = await self.form(
                sim,
                "/threads/{id}/posts",
                f"/threads/{thread_id}/posts",
                {"body": body},
                then="/threads/{id}",
            )
            ok = response is not None and response.status_code in (201, 303)
        else:
            response = await self.call(
                sim,
                "POST",
                "/api/v1/threads/{id}/posts",
                f"/api/v1/threads/{thread_id}/posts",
                json={"body": body},
            )
            ok = response is not None and response.status_code == 201
        if ok:
            self.touched(thread_id)

    async def do_new_thread(self, sim: Sim) -> None:
        slug = self.pick_room(sim)
        title, body = sim.rng.choice(TITLES), text_of(sim.rng, 1, 4)
        thread_id = None
        if sim.pages:
            response = await self.form(
                sim,
                "/rooms/{slug}/threads",
                f"/rooms/{slug}/threads",
                {"title": title, "body": body},
                then="/threads/{id}",
            )
            if response is not None and response.status_code == 303:
                found = _THREAD_PATH.search(response.headers.get("location", ""))
                thread_id = int(found.group(1)) if found else None
        else:
            response = await self.call(
                sim,
                "POST",
                "/api/v1/rooms/{slug}/threads",
                f"/api/v1/rooms/{slug}/threads",
                json={"title": title, "body": body},
            )
            if response is not None and response.status_code == 201:
                data = response.json()
                if data["post"]["state"] == "visible":
                    thread_id = data["thread"]["id"]
        if thread_id is not None:
            self.world.threads.append(thread_id)
            self.world.thread_room[thread_id] = slug
            self.touched(thread_id)

    async def do_slot(self, sim: Sim) -> None:
        """Cancel one of one's sign-ups, or sign up for a slot one is not in."""
        if sim.slots and sim.rng.random() < 0.5:
            slot = sim.rng.choice(sorted(sim.slots))
            if sim.pages:
                response = await self.form(
                    sim,
                    "/service/slots/{id}/cancel",
                    f"/service/slots/{slot}/cancel",
                    {},
                    then="/service/{id}",
                )
                done = response is not None and response.status_code == 303
            else:
                response = await self.call(
                    sim,
                    "DELETE",
                    "/api/v1/slots/{id}/signups/me",
                    f"/api/v1/slots/{slot}/signups/me",
                )
                done = response is not None and response.status_code == 204
            if done:
                sim.slots.discard(slot)
            return
        free = [s for s in self.world.slot_listing if s not in sim.slots]
        if not free:
            return
        slot = sim.rng.choice(free)
        if sim.pages:
            response = await self.form(
                sim,
                "/service/slots/{id}/signup",
                f"/service/slots/{slot}/signup",
                {},
                then="/service/{id}",
            )
            done = response is not None and response.status_code == 303
        else:
            response = await self.call(
                sim, "POST", "/api/v1/slots/{id}/signups", f"/api/v1/slots/{slot}/signups"
            )
            done = response is not None and response.status_code == 201
        if done:
            sim.slots.add(slot)

    # -- a member's loop ----------------------------------------------------------

    async def member(self, sim: Sim) -> None:
        mean = self.args.think
        while True:
            think = sim.rng.expovariate(1 / mean) if mean > 0 else 0.0
            if time.perf_counter() + think >= self.deadline:
                return
            await asyncio.sleep(think)
            name = sim.rng.choices(self._names, weights=self._weights)[0]
            if name in WRITES and time.perf_counter() < sim.write_after:
                name = "thread"  # told to slow down: read instead, as a person would
            self.action_counts[name] += 1
            await self.actions[name](sim)

    # -- chat ---------------------------------------------------------------------

    async def chatter(self, sim: Sim, ready: asyncio.Event, joined: asyncio.Semaphore) -> None:
        """One open socket in one room: read everything, ping, send now and then; reconnect
        (after a second) if the server closes it during the run."""
        assert sim.chat_room is not None
        url = f"ws://127.0.0.1:{self.server.port}{MOUNT}/ws"
        cookie = "; ".join(f"{k}={v}" for k, v in sim.http.cookies.items())
        headers = {"Origin": origin_of(self.server.port), "Cookie": cookie}
        pending: dict[str, float] = {}
        first = True
        count = 0
        while first or time.perf_counter() < self.deadline:
            try:
                async with joined:
                    ws = await connect(
                        url,
                        additional_headers=headers,
                        compression=None,
                        proxy=None,
                        open_timeout=30,
                        close_timeout=2,
                        max_queue=4096,
                    )
            except Exception as error:  # any failure to connect is counted, not raised
                self.chat.connect_failures += 1
                self._chat_error(f"connect: {type(error).__name__}: {error}")
                if first:
                    ready.set()
                    return
                await asyncio.sleep(1)
                continue
            if not first:
                self.chat.reconnects += 1
            subscribed, drained = asyncio.Event(), asyncio.Event()
            reader = asyncio.create_task(self._read(ws, pending, subscribed, drained))
            await ws.send(json.dumps({"type": "subscribe", "room": sim.chat_room, "since": None}))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscribed.wait(), 30)
            if first:
                if subscribed.is_set():
                    self.chat.connected += 1
                else:
                    self.chat.connect_failures += 1
                first = False
                ready.set()
            try:
                # Wait for the window to open (all sockets joined), then talk.
                await self.opened.wait()
                next_ping = time.perf_counter() + sim.rng.uniform(20, 25)
                next_send = time.perf_counter() + sim.rng.expovariate(1 / self.args.chat_every)
                while not reader.done():
                    now = time.perf_counter()
                    if now >= self.deadline:
                        break
                    if now >= next_send:
                        count += 1
                        client_id = f"{sim.handle}-{count}"
                        pending[client_id] = time.perf_counter()
                        self.chat.sent += 1
                        await ws.send(
                            json.dumps(
                                {
                                    "type": "send",
                                    "room": sim.chat_room,
                                    "body": sim.rng.choice(CHAT_LINES),
                                    "client_id": client_id,
                                }
                            )
                        )
                        next_send = now + sim.rng.expovariate(1 / self.args.chat_every)
                    if now >= next_ping:
                        await ws.send('{"type":"ping"}')
                        next_ping = now + sim.rng.uniform(20, 25)
                    wake = min(next_send, next_ping, self.deadline) - time.perf_counter()
                    await asyncio.wait({reader}, timeout=max(0.0, wake))
                if reader.done():
                    # The server closed the socket during the run: count it, come back.
                    code = str(ws.close_code)
                    self.chat.closes[code] = self.chat.closes.get(code, 0) + 1
                    await asyncio.sleep(1)
                    continue
                # The run is over: wait a little for echoes still on their way.
                if pending:
                    drained.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(drained.wait(), 5)
                break
            except ConnectionClosed:
                code = str(ws.close_code)
                self.chat.closes[code] = self.chat.closes.get(code, 0) + 1
                await asyncio.sleep(1)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
                with contextlib.suppress(Exception):
                    await ws.close()
        self.chat.lost += len(pending)

    async def _read(
        self,
        ws: ClientConnection,
        pending: dict[str, float],
        subscribed: asyncio.Event,
        drained: asyncio.Event,
    ) -> None:
        """Everything the socket receives; ``drained`` is set when no sent message awaits
        its echo (so the end of the run waits for the last ones only as long as needed)."""
        with contextlib.suppress(ConnectionClosed):
            async for data in ws:
                now = time.perf_counter()
                if not isinstance(data, str):
                    continue
                if data.startswith('{"type":"message"'):
                    if self.opened.is_set():  # not the history replayed on subscribing
                        self.chat.deliveries += 1
                    if '"client_id"' in data:
                        client_id = json.loads(data).get("client_id")
                        sent = pending.pop(client_id, None)
                        if sent is not None:
                            self.chat.echoed += 1
                            self.chat.latencies_ms.append((now - sent) * 1000)
                            if not pending:
                                drained.set()
                elif data.startswith('{"type":"subscribed"'):
                    subscribed.set()
                elif data.startswith('{"type":"error"'):
                    frame = json.loads(data)
                    pending.pop(str(frame.get("ref")), None)
                    if not pending:
                        drained.set()
                    code = frame.get("code", "?")
                    if code == "rate_limited":
                        self.chat.rate_limited += 1
                    elif code == "server_error":
                        self.chat.server_errors += 1
                        self._chat_error(data)
                    else:
                        self.chat.other_errors[code] = self.chat.other_errors.get(code, 0) + 1
                        self._chat_error(data)

    def _chat_error(self, text: str) -> None:
        if len(self.chat.first_errors) < 5:
            self.chat.first_errors.append(text[:300])


# -- the run ---------------------------------------------------------------------------


def tree_cpu_seconds(pid: int | None) -> float:
    """CPU time of ``pid``, its exited children (which it waited for) and its live ones:
    PostgreSQL's postmaster and its backends. 0 without a pid."""
    if pid is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == pid:
                total += sum(int(v) for v in fields[11:15]) / ticks
            elif int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def machine_busy_seconds() -> float:
    """All CPUs' busy time since boot (not idle, I/O wait or stolen), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    steal = values[7] if len(values) > 7 else 0
    return (sum(values[:8]) - values[3] - values[4] - steal) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit: float, busy_cores: float = 0.15, calm: int = 5) -> bool:
    """Wait up to ``limit`` seconds for ``calm`` seconds in a row with the machine using
    under ``busy_cores`` CPUs (nothing of this run is busy yet): on a shared machine."""
    deadline, streak = time.monotonic() + limit, 0
    before = machine_busy_seconds()
    while streak < calm:
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
        after = machine_busy_seconds()
        streak = streak + 1 if after - before < busy_cores else 0
        before = after
    return True


async def loop_lag(samples: list[float], every: float = 0.05) -> None:
    """How late this process's event loop wakes up: whether one process keeps up."""
    while True:
        began = time.perf_counter()
        await asyncio.sleep(every)
        samples.append((time.perf_counter() - began - every) * 1000)


async def sign_in(load: Load, handles: list[str], pages_share: float, seed: int) -> list[Sim]:
    """A client per member (one connection pool each, as browsers have), signed in once."""
    import ssl

    # One TLS context for all (unused on plain http, but every client would build its own).
    context = ssl.create_default_context()
    at_once = asyncio.Semaphore(SIGN_IN_AT_ONCE)
    sims = []
    for i, handle in enumerate(handles):
        rng = random.Random(f"{seed}-{handle}")
        http = httpx.AsyncClient(
            base_url=load.server.base,
            timeout=load.args.timeout,
            trust_env=False,
            verify=context,
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        )
        # Spread evenly: member i uses the pages when the running share steps up at i.
        pages = math.floor((i + 1) * pages_share) > math.floor(i * pages_share)
        sims.append(Sim(handle, pages=pages, http=http, rng=rng))

    async def one(sim: Sim) -> None:
        async with at_once:
            response = await load.call(
                sim,
                "POST",
                "/api/v1/session",
                "/api/v1/session",
                json={"handle": sim.handle, "password": PASSWORD},
            )
        if response is None or response.status_code != 200:
            detail = "no answer" if response is None else f"{response.status_code} {response.text}"
            raise RuntimeError(f"{sim.handle} could not sign in: {detail[:300]}")
        sim.csrf = response.json()["csrf_token"]
        sim.http.headers["x-csrf-token"] = sim.csrf

    await asyncio.gather(*(one(sim) for sim in sims))
    return sims


async def drive(server: Server, world: World, args: argparse.Namespace) -> dict[str, Any]:
    load = Load(server, world, args)
    rng = random.Random(args.seed)
    lag: list[float] = []
    lag_task = asyncio.create_task(loop_lag(lag))
    members: list[asyncio.Task[None]] = []
    chatters: list[asyncio.Task[None]] = []
    try:
        began = time.perf_counter()
        load.sims = await sign_in(load, world.handles, args.pages, args.seed)
        sign_in_s = time.perf_counter() - began
        signed = load.stats.endpoints.pop("POST /api/v1/session")
        print(
            f"  {len(load.sims)} members signed in in {sign_in_s:.1f} s "
            f"(p50 {percentile(sorted(signed.latencies_ms), 0.5):.0f} ms)",
            flush=True,
        )
        for sim in load.sims:
            sim.slots = set(world.signups.get(sim.handle, ()))

        # Chatters join before the window opens.
        talking = rng.sample(load.sims, round(len(load.sims) * args.chatters))
        joined = asyncio.Semaphore(25)
        began = time.perf_counter()
        readies = []
        for sim in talking:
            sim.chat_room = load.pick_room(sim)
            ready = asyncio.Event()
            readies.append(ready)
            chatters.append(asyncio.create_task(load.chatter(sim, ready, joined)))
        for ready in readies:
            await ready.wait()
        load.chat.join_s = time.perf_counter() - began
        if talking:
            print(
                f"  {load.chat.connected} chat sockets subscribed in {load.chat.join_s:.1f} s "
                f"({load.chat.connect_failures} failed)",
                flush=True,
            )
        await asyncio.sleep(1)  # let presence settle
        lag.clear()

        server_cpu0, load_cpu0 = cpu_seconds(server.proc.pid), time.process_time()
        database_cpu0 = tree_cpu_seconds(server.database_pid)
        busy0, wall0 = machine_busy_seconds(), time.perf_counter()
        load.deadline = wall0 + args.duration
        load.opened.set()
        print(f"  measuring for {args.duration:g} s ...", flush=True)
        members = [asyncio.create_task(load.member(sim)) for sim in load.sims]
        await asyncio.gather(*members)
        wall1 = time.perf_counter()
        server_cpu = cpu_seconds(server.proc.pid) - server_cpu0
        database_cpu = tree_cpu_seconds(server.database_pid) - database_cpu0
        load_cpu = time.process_time() - load_cpu0
        busy = machine_busy_seconds() - busy0
        window = wall1 - wall0
        await asyncio.gather(*chatters)
    finally:
        lag_task.cancel()
        for task in (*members, *chatters):
            task.cancel()
        await asyncio.gather(lag_task, *members, *chatters, return_exceptions=True)
        await asyncio.gather(*(sim.http.aclose() for sim in load.sims), return_exceptions=True)

    lag.sort()
    return {
        "load": load,
        "window_s": window,
        "sign_in_s": sign_in_s,
        "server_cpu_percent": 100 * server_cpu / window,
        "load_cpu_percent": 100 * load_cpu / window,
        "database_cpu_percent": 100 * database_cpu / window,
        "other_cpu_percent": 100 * (busy - server_cpu - database_cpu - load_cpu) / window,
        "load_cpu_ms_per_request": None,
        "loop_lag_p50_ms": percentile(lag, 0.5),
        "loop_lag_p99_ms": percentile(lag, 0.99),
        "loop_lag_max_ms": lag[-1] if lag else math.nan,
    }


# -- the report ------------------------------------------------------------------------------


def endpoint_row(key: str, e: Endpoint) -> dict[str, Any]:
    ordered = sorted(e.latencies_ms)
    return {
        "endpoint": key,
        "count": e.count,
        "2xx": e.s2xx,
        "3xx": e.s3xx,
        "4xx": e.s4xx,
        "429": e.s429,
        "5xx": e.s5xx,
        "timeouts": e.timeouts,
        "connection_errors": e.connection_errors,
        "p50_ms": percentile(ordered, 0.5),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1] if ordered else math.nan,
        "failures": e.failures,
    }


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def server_errors(log_path: Path, limit: int = 200) -> list[str]:
    """The server log's error records (tracebacks included), at most ``limit`` lines."""
    if not log_path.exists():
        return []
    kept: list[str] = []
    traceback = False
    for line in log_path.read_text(errors="replace").splitlines():
        if traceback:
            kept.append(line)
            # A traceback ends with the first line that is not indented: the exception.
            traceback = line.startswith((" ", "\t")) or not line.strip()
        elif line.startswith("Traceback"):
            kept.append(line)
            traceback = True
        elif "error" in line.lower() or "exception" in line.lower():
            kept.append(line)
        if len(kept) >= limit:
            break
    return kept


def finite(value: Any) -> Any:
    """NaN (a percentile of nothing) as null: the JSON stays standard."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def report(
    measured: dict[str, Any], world: World, args: argparse.Namespace, log_path: Path
) -> tuple[dict[str, Any], list[str]]:
    load: Load = measured.pop("load")
    window = measured["window_s"]
    rows = [endpoint_row(k, e) for k, e in load.stats.endpoints.items()]
    rows.sort(key=lambda r: -r["count"])
    reads = sorted(
        x for k, e in load.stats.endpoints.items() if k.startswith("GET ") for x in e.latencies_ms
    )
    writes = sorted(
        x
        for k, e in load.stats.endpoints.items()
        if not k.startswith("GET ")
        for x in e.latencies_ms
    )
    total = sum(r["count"] for r in rows)
    fives = sum(r["5xx"] for r in rows)
    limited = sum(r["429"] for r in rows)
    client_errors = sum(r["timeouts"] + r["connection_errors"] for r in rows)
    chat = load.chat
    chat_ms = sorted(chat.latencies_ms)
    measured["load_cpu_ms_per_request"] = (
        10 * measured["load_cpu_percent"] * window / total if total else math.nan
    )

    print()
    print(
        "| endpoint | count | 2xx | 3xx | 4xx | 429 | 5xx | client errors | p50 ms | p99 ms "
        "| max ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| `{r['endpoint']}` | {r['count']:,} | {r['2xx']:,} | {r['3xx']:,} | {r['4xx']:,} "
            f"| {r['429']:,} | {r['5xx']:,} | {r['timeouts'] + r['connection_errors']:,} "
            f"| {fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} | {fmt(r['max_ms'])} |"
        )
    print(
        f"| **all reads** | {len(reads):,} | | | | | | | {fmt(percentile(reads, 0.5))} "
        f"| **{fmt(percentile(reads, 0.99))}** | {fmt(reads[-1] if reads else math.nan)} |"
    )
    print(
        f"| **all writes** | {len(writes):,} | | | | | | | {fmt(percentile(writes, 0.5))} "
        f"| {fmt(percentile(writes, 0.99))} | {fmt(writes[-1] if writes else math.nan)} |"
    )
    print()
    print(
        f"requests: {total:,} in {window:.1f} s ({total / window:.1f}/s); "
        f"5xx: {fives} ({100 * fives / total if total else 0:.3f}%); "
        f"429: {limited} ({100 * limited / total if total else 0:.2f}%); "
        f"client-side errors: {client_errors}; "
        f"GETs sent again on a closed keep-alive connection: {load.keepalive_retries}"
    )
    print(
        f"chat: {chat.connected} sockets, {chat.sent} sent, {chat.echoed} echoed, "
        f"{chat.lost} lost; send->echo p50 {fmt(percentile(chat_ms, 0.5))} ms, "
        f"p99 {fmt(percentile(chat_ms, 0.99))} ms, max {fmt(chat_ms[-1] if chat_ms else math.nan)}"
        f" ms; {chat.deliveries:,} message frames delivered; rate limited {chat.rate_limited}, "
        f"server errors {chat.server_errors}, other errors {chat.other_errors or 0}, "
        f"closes {chat.closes or 0}, reconnects {chat.reconnects}"
    )
    print(
        f"CPU over the window (percent of one core): server {measured['server_cpu_percent']:.0f}%"
        + (
            f", PostgreSQL {measured['database_cpu_percent']:.0f}%"
            if args.database == "postgres"
            else ""
        )
        + f", load generator {measured['load_cpu_percent']:.0f}% "
        f"({measured['load_cpu_ms_per_request']:.2f} ms per request, chat included), "
        f"everything else {measured['other_cpu_percent']:.0f}%; load generator's event loop "
        f"late by p50 {fmt(measured['loop_lag_p50_ms'])} ms, "
        f"p99 {fmt(measured['loop_lag_p99_ms'])} ms"
    )

    failures: list[str] = []
    if fives:
        failures.append(f"{fives} HTTP 5xx")
    if chat.server_errors:
        failures.append(f"{chat.server_errors} chat server_error frames")
    if client_errors:
        failures.append(f"{client_errors} client-side errors (timeouts, connection errors)")
    if chat.lost or chat.connect_failures:
        failures.append(
            f"{chat.lost} chat messages never echoed, {chat.connect_failures} sockets not joined"
        )
    target = args.read_p99_ms
    if reads and percentile(reads, 0.99) >= target:
        failures.append(f"p99 of all reads {percentile(reads, 0.99):.0f} ms >= {target:g} ms")
    for r in rows:
        if r["endpoint"].startswith("GET ") and r["count"] >= 50 and r["p99_ms"] >= target:
            failures.append(f"p99 of {r['endpoint']} {r['p99_ms']:.0f} ms >= {target:g} ms")
    warnings = []
    if total and limited / total > 0.02:
        warnings.append(f"429s are {100 * limited / total:.1f}% of requests: pace rules shape it")
    if measured["load_cpu_percent"] > 70 or measured["loop_lag_p99_ms"] > 50:
        warnings.append(
            "the load generator was busy (CPU or event-loop lag): latencies include its delay"
        )
    errors_logged = server_errors(log_path)

    summary = {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "command": " ".join([".venv/bin/python", "bench/load.py", *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "uvicorn": version("uvicorn"),
            "httpx": version("httpx"),
            "websockets": version("websockets"),
        },
        "settings": {
            "members": args.members,
            "duration_s": args.duration,
            "think_mean_s": args.think,
            "pages_share": args.pages,
            "chatters_share": args.chatters,
            "chat_every_s": args.chat_every,
            "database": args.database,
            "seed": args.seed,
            "actions": ACTIONS,
            "server_environment": {
                **HASH_ENV,
                "note": "cheap password hash: sign-ins are not what this measures",
            },
        },
        "world": world.counts,
        "actions_done": load.action_counts,
        "totals": {
            "requests": total,
            "requests_per_s": total / window,
            "5xx": fives,
            "5xx_rate": fives / total if total else 0.0,
            "429": limited,
            "client_errors": client_errors,
            "keepalive_retries": load.keepalive_retries,
            "reads": len(reads),
            "reads_p50_ms": percentile(reads, 0.5),
            "reads_p99_ms": percentile(reads, 0.99),
            "writes": len(writes),
            "writes_p50_ms": percentile(writes, 0.5),
            "writes_p99_ms": percentile(writes, 0.99),
        },
        "endpoints": rows,
        "chat": {
            "sockets": chat.connected,
            "connect_failures": chat.connect_failures,
            "join_s": chat.join_s,
            "sent": chat.sent,
            "echoed": chat.echoed,
            "lost": chat.lost,
            "echo_p50_ms": percentile(chat_ms, 0.5),
            "echo_p99_ms": percentile(chat_ms, 0.99),
            "echo_max_ms": chat_ms[-1] if chat_ms else math.nan,
            "message_frames_delivered": chat.deliveries,
            "rate_limited": chat.rate_limited,
            "server_errors": chat.server_errors,
            "other_errors": chat.other_errors,
            "closes": chat.closes,
            "reconnects": chat.reconnects,
            "first_errors": chat.first_errors,
        },
        **measured,
        "targets": {
            "read_p99_ms": target,
            "met": not failures,
            "missed": failures,
            "warnings": warnings,
        },
        "server_log": str(log_path.relative_to(HERE.parent))
        if log_path.is_relative_to(HERE.parent)
        else str(log_path),
        "server_errors_logged": errors_logged,
    }
    for warning in warnings:
        print(f"note: {warning}")
    if errors_logged:
        print(f"\nthe server logged errors ({log_path}):")
        print("\n".join("    " + line for line in errors_logged[:40]))
    return summary, failures


# -- entry point -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--members", type=int, default=500, help="simulated members (500)")
    parser.add_argument("--duration", type=float, default=120, help="measured seconds (120)")
    parser.add_argument(
        "--think", type=float, default=5.0, help="mean think time between actions, s (5)"
    )
    parser.add_argument(
        "--pages",
        type=float,
        default=0.5,
        help="share of members using the HTML pages; the rest use the JSON API (0.5)",
    )
    parser.add_argument(
        "--chatters", type=float, default=0.3, help="share of members with a chat socket (0.3)"
    )
    parser.add_argument(
        "--chat-every",
        type=float,
        default=30.0,
        help="mean seconds between a chatter's messages (30)",
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--threads", type=int, default=40, help="seeded threads per room (40)")
    parser.add_argument(
        "--chat-history", type=int, default=40, help="seeded chat messages per room (40)"
    )
    parser.add_argument("--opportunities", type=int, default=12, help="seeded listings (12)")
    parser.add_argument("--meetings", type=int, default=10, help="seeded weekly meetings (10)")
    parser.add_argument("--timeout", type=float, default=10.0, help="request timeout, s (10)")
    parser.add_argument(
        "--read-p99-ms", type=float, default=500.0, help="target: p99 of reads under this (500)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="after seeding, wait up to this long for the machine to be idle "
        "(on a shared machine); 0: do not wait",
    )
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even if targets are missed")
    parser.add_argument(
        "--output", type=Path, help="JSON results (bench/results/load-<date>.json); log beside it"
    )
    # How this file runs the server in a subprocess.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.members < 1 or args.duration <= 0 or args.think < 0 or args.chat_every <= 0:
        parser.error("--members and --duration must be positive, --think at least 0")
    if not (0 <= args.pages <= 1 and 0 <= args.chatters <= 1):
        parser.error("--pages and --chatters are shares between 0 and 1")
    return args


def raise_fd_limit(members: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 6 * members + 100:
        raise SystemExit(f"RLIMIT_NOFILE is {hard}: too few files for {members} members")


def run(args: argparse.Namespace) -> int:
    raise_fd_limit(args.members)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    output: Path = args.output or RESULTS / f"load-{today}.json"
    log_path = output.with_suffix(".log")
    rng = random.Random(args.seed)
    print(
        f"load: {args.members} members for {args.duration:g} s, think {args.think:g} s, "
        f"{args.pages:.0%} on pages, {args.chatters:.0%} chatting, {args.database}\n"
        f"  the server hashes passwords cheaply "
        f"({' '.join(f'{k}={v}' for k, v in HASH_ENV.items())}): sign-ins are not measured here",
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        pg_data: Path | None = None
        if args.database == "postgres":
            database_url, pg_data = stack.enter_context(throwaway_postgres())
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ac-load-"))
            database_url = f"sqlite://{Path(tmp) / 'community.sqlite3'}"
        began = time.perf_counter()
        world = asyncio.run(seed(database_url, args, rng))
        print(
            f"  seeded in {time.perf_counter() - began:.1f} s: "
            + ", ".join(f"{v:,} {k}" for k, v in world.counts.items()),
            flush=True,
        )
        quiet = None
        if args.wait_quiet:
            began = time.perf_counter()
            quiet = wait_quiet(args.wait_quiet)
            state = "quiet" if quiet else "still busy"
            print(
                f"  the machine was {state} after {time.perf_counter() - began:.0f} s", flush=True
            )
        port = free_port()
        server = start_server(database_url, secrets.token_urlsafe(48), port, log_path)
        stack.callback(stop_server, server)
        if pg_data is not None:
            server.database_pid = int((pg_data / "postmaster.pid").read_text().split()[0])

        async def measure() -> dict[str, Any]:
            await wait_healthy(server)
            return await drive(server, world, args)

        measured = asyncio.run(measure())
        measured["quiet_start"] = quiet
        stop_server(server)
    summary, failures = report(measured, world, args, log_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(finite(summary), indent=2, allow_nan=False) + "\n")
    print(f"\nwritten to {output} (server log: {log_path})")
    if failures:
        print("targets MISSED: " + "; ".join(failures))
        return 0 if args.no_fail else 1
    print(f"targets met: no 5xx, p99 of reads under {args.read_p99_ms:g} ms")
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve:
        serve(args.port, args.parent)
        return

    def terminated(*_: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM cleans up as Ctrl-C does: the server, PostgreSQL and the temporary folders.
    signal.signal(signal.SIGTERM, terminated)
    try:
        sys.exit(run(args))
    except KeyboardInterrupt:
        print(
            "\ninterrupted: the server (if started) is stopped, temporary files removed",
            file=sys.stderr,
        )
        sys.exit(130)


if __name__ == "__main__":
    main()
