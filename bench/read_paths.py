"""Read paths at scale: p50/p99 of the hot read endpoints at 10k, 100k and 1M posts.

For each engine (SQLite, PostgreSQL) and each size N (posts), a fresh
database is built, then one uvicorn process serves it and one client reads:

- Seeding. The library's own migrations make the schema; the members (a
  cheap password hash: signing in is not measured here), the rooms and the
  readers' sessions are made through the services. Then the bulk of the
  world is written directly, one transaction (SQLite: ``executemany`` with
  ``synchronous=OFF``; PostgreSQL: ``COPY`` through asyncpg), every column
  filled as the services fill it: titles escaped, bodies rendered to
  sanitized HTML (a pool of distinct texts, each rendered once), a thread's
  ``post_count`` (its visible posts) and ``last_post_at``, a room's chat
  ``last_seq``, slots' confirmed and waiting counts with their sign-ups.
  The shape: six rooms, threads of long-tailed lengths (most under ten
  posts, a few in the hundreds) and one thread holding 5% of all posts
  (the deep thread page is 90% of the way into it); a few pinned threads;
  about 1% of posts hidden, pending or deleted; N/10 chat messages in one
  room (200 in each other room); N/1000 service opportunities (at least
  100, so the smallest size fills the page too) with one to four slots each. Then ``ANALYZE``.
- Measuring. Each size is served by its own uvicorn process, all started
  together once every size is seeded. A member (trust level 1, not a
  moderator: the queries carry the "visible, or my own" conditions) reads
  through the real API at ``/community/api/v1``, one keep-alive connection
  per server, one request at a time (latency, not throughput): each
  endpoint is warmed up, then each round reads every endpoint from every
  size in turn, ``--requests`` rounds. Interleaving the sizes puts whatever
  else the machine is doing on every size alike, so the ratios hold on a
  shared machine better than the absolute numbers do. Deep pages use the
  cursor the API gives out (the one its own ``next`` would carry there);
  the script checks that cursor against one the API handed out. Two readers
  read the room list: one whose chat read markers are near the end of every
  room, one who never opened the chat (their unread counts cover every
  message).
- Plans. Before the server starts, each endpoint is called once in process
  with the ORM's SQL log on, and every statement it ran is explained with
  the same parameters: ``EXPLAIN QUERY PLAN`` on SQLite,
  ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL. The plans of the largest
  size go to ``bench/results/read_paths-plans-<engine>.txt``.

Targets: per endpoint, p99 at the largest size at most 1.3x the p99 at the
smallest; a thread page (first and deep) under 5 ms p50 on SQLite.

Usage (``make bench`` runs it with the defaults)::

    .venv/bin/python bench/read_paths.py --wait-quiet 300
    .venv/bin/python bench/read_paths.py --sizes 2000,20000 --engines sqlite --requests 100
    .venv/bin/python bench/read_paths.py --replot bench/results/read_paths.json   # chart only

Results go to ``bench/results/read_paths.json`` and the chart to
``docs/images/read_paths.png``. The CPU used by the server (and PostgreSQL),
this process and everything else over each measured window is reported: a
busy "other" column means the run shared the machine.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import random
import re
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chat_fanout import RESULTS, cpu_seconds, free_port, machine, percentile, wait_quiet
from bench.load import (
    CHAT_LINES,
    HASH_ENV,
    MOUNT,
    PASSWORD,
    SENTENCES,
    TITLES,
    machine_busy_seconds,
    start_server,
    stop_server,
    throwaway_postgres,
    tree_cpu_seconds,
    wait_healthy,
)

HERE = Path(__file__).resolve().parent
CHART = HERE.parent / "docs" / "images" / "read_paths.png"
API = "/api/v1"
#: Rooms: slug, name, share of the threads (the first also holds the chat history).
ROOMS = [
    ("general", "General", 0.35),
    ("check-in", "Daily check-in", 0.2),
    ("gratitude", "Gratitude", 0.15),
    ("family-and-friends", "Family & friends", 0.1),
    ("newcomers", "Newcomers", 0.1),
    ("step-work", "Step work", 0.1),
]
#: Share of all posts in the one long thread.
LONG_THREAD_SHARE = 0.05
#: How far into a list the deep pages are.
DEEP = 0.9
#: Chat: messages in the first room per post, and in each other room.
CHAT_PER_POST = 0.1
CHAT_OTHER_ROOMS = 200
#: The early chat page: the 50 messages before this seq.
EARLY_SEQ = 101
#: Endpoints measured: key, label, reader ("caught_up" or "new").
ENDPOINTS = [
    ("thread_first", "thread page 1", "caught_up"),
    ("thread_deep", "thread page at 90%", "caught_up"),
    ("rooms", "rooms (chat read)", "caught_up"),
    ("rooms_unread", "rooms (chat never read)", "new"),
    ("room_threads_first", "room threads page 1", "caught_up"),
    ("room_threads_deep", "room threads at 90%", "caught_up"),
    ("chat_latest", "chat latest", "caught_up"),
    ("chat_early", f"chat before={EARLY_SEQ}", "caught_up"),
    ("opportunities", "opportunities", "caught_up"),
]
LABELS = {key: label for key, label, _ in ENDPOINTS}
RATIO_TARGET = 1.3
THREAD_P50_TARGET_MS = 5.0
CHUNK = 20_000
#: Distinct post and chat bodies (each rendered once, then reused).
TEXT_POOL = 400


# -- the world ------------------------------------------------------------------------


@dataclass
class World:
    engine: str
    database_url: str
    secret: str
    posts: int
    #: reader name -> session cookie
    cookies: dict[str, str]
    #: endpoint key -> (path under the mount, query params)
    requests: dict[str, tuple[str, dict[str, str]]]
    counts: dict[str, int]
    seconds: dict[str, float]
    #: the API's own next-page cursors, to check ours against
    check: dict[str, tuple[str, str | None]] = field(default_factory=dict)


def thread_lengths(rng: random.Random, posts: int) -> list[int]:
    """The long thread first, then long-tailed lengths until every post has a thread."""
    long_thread = max(31, int(posts * LONG_THREAD_SHARE))
    lengths = [long_thread]
    left = posts - long_thread
    while left > 0:
        roll = rng.random()
        if roll < 0.6:
            n = rng.randint(1, 10)
        elif roll < 0.9:
            n = rng.randint(11, 45)
        elif roll < 0.99:
            n = rng.randint(46, 200)
        else:
            n = rng.randint(201, 1000)
        n = min(n, left)
        lengths.append(n)
        left -= n
    return lengths


def text_pool(rng: random.Random, low: int, high: int) -> list[tuple[str, str]]:
    """(Markdown, rendered HTML) pairs, rendered as the services render them."""
    from alumni_community.content import render_markdown

    pool = []
    for i in range(TEXT_POOL):
        words = rng.sample(SENTENCES, rng.randint(low, high))
        if i % 5 == 0:
            words[0] = f"**{words[0]}**"
        if i % 7 == 0:
            words.append("\n\n- one day at a time\n- keep coming back")
        body = " ".join(words)
        pool.append((body, render_markdown(body)))
    return pool


class Stamps:
    """Microsecond times as each engine's column wants them (never a whole second:
    Tortoise writes SQLite times without the fraction then, which sorts apart)."""

    def __init__(self, engine: str) -> None:
        self.sqlite = engine == "sqlite"

    def __call__(self, us: int) -> Any:
        when = dt.datetime.fromtimestamp((us | 1) / 1e6, dt.UTC)
        if self.sqlite:
            return f"{when:%Y-%m-%d %H:%M:%S.%f}+00:00"
        return when


@dataclass
class Plan:
    """What the bulk part of the world holds, before it is written."""

    #: per post: thread index, state code (0 visible, 1 pending, 2 hidden, 3 deleted)
    owner: array.array[int]
    state: array.array[int]
    thread_rows: list[tuple[Any, ...]]
    first_post_id: int
    first_thread_id: int


STATES = ("visible", "pending", "hidden", "deleted")


def plan_posts(
    rng: random.Random,
    posts: int,
    room_ids: list[int],
    authors: list[int],
    first_thread_id: int,
    first_post_id: int,
    start_us: int,
    step_us: int,
    stamp: Stamps,
) -> Plan:
    lengths = thread_lengths(rng, posts)
    owner = array.array("i")
    for index, length in enumerate(lengths):
        owner.extend([index] * length)
    # The long thread runs through the whole history, as do all: a shuffle
    # interleaves every thread's posts in time.
    order = list(owner)
    rng.shuffle(order)
    owner = array.array("i", order)
    del order
    state = array.array("b", bytes(posts))
    seen = bytearray(len(lengths))
    created = [0] * len(lengths)
    last = [0] * len(lengths)
    visible = [0] * len(lengths)
    author_of = [rng.choice(authors) for _ in lengths]
    for k in range(posts):
        t = owner[k]
        us = start_us + k * step_us
        if not seen[t]:
            # The opening post: visible (a held thread would be hidden from readers).
            seen[t] = 1
            created[t] = us
        else:
            roll = rng.random()
            code = 0 if roll >= 0.01 else (1 if roll < 0.003 else (2 if roll < 0.006 else 3))
            state[k] = code
        if state[k] != 1:
            # Pending posts do not move their thread; hidden and deleted ones
            # were visible (and moved it) when posted.
            last[t] = us
        if state[k] == 0:
            visible[t] += 1
    rooms_by_share = rng.choices(
        room_ids[1:], weights=[share for *_, share in ROOMS[1:]], k=len(lengths)
    )
    thread_rows = []
    for t in range(len(lengths)):
        room = room_ids[0] if t == 0 or rng.random() < ROOMS[0][2] else rooms_by_share[t]
        thread_rows.append(
            (
                first_thread_id + t,
                room,
                author_of[t],
                rng.choice(TITLE_POOL),
                stamp(created[t]),
                stamp(last[t]),
                visible[t],
                t < len(ROOMS) * 2 and rng.random() < 0.5,  # a few pinned
                rng.random() < 0.01,  # locked
                False,
            )
        )
    return Plan(owner, state, thread_rows, first_post_id, first_thread_id)


def _title_pool() -> list[str]:
    from alumni_community.content import render_title

    return [render_title(f"{title} ({i})") for i, title in enumerate(TITLES * 4)]


TITLE_POOL: list[str] = []

THREAD_COLUMNS = [
    "id",
    "room_id",
    "author_id",
    "title",
    "created_at",
    "last_post_at",
    "post_count",
    "pinned",
    "locked",
    "deleted",
]
POST_COLUMNS = [
    "id",
    "thread_id",
    "author_id",
    "body",
    "html",
    "state",
    "moderation_note",
    "created_at",
    "edited_at",
]
MESSAGE_COLUMNS = [
    "id",
    "room_id",
    "seq",
    "author_id",
    "client_id",
    "body",
    "html",
    "state",
    "created_at",
    "edited_at",
]
OPPORTUNITY_COLUMNS = [
    "id",
    "organizer_id",
    "title",
    "body",
    "html",
    "kind",
    "location",
    "tags",
    "min_sober_days",
    "status",
    "created_at",
]
SLOT_COLUMNS = [
    "id",
    "opportunity_id",
    "starts_at",
    "ends_at",
    "capacity",
    "confirmed_count",
    "waitlisted_count",
    "reminded",
]
SIGNUP_COLUMNS = [
    "id",
    "slot_id",
    "member_id",
    "status",
    "queued_at",
    "hidden",
    "attended",
    "hours",
]


def post_chunks(
    plan: Plan,
    rng: random.Random,
    authors: list[int],
    pool: list[tuple[str, str]],
    start_us: int,
    step_us: int,
    stamp: Stamps,
) -> Iterator[list[tuple[Any, ...]]]:
    thread_author = [row[2] for row in plan.thread_rows]
    seen = bytearray(len(plan.thread_rows))
    chunk: list[tuple[Any, ...]] = []
    for k in range(len(plan.owner)):
        t = plan.owner[k]
        if seen[t]:
            author = rng.choice(authors)
        else:
            seen[t] = 1
            author = thread_author[t]
        body, html = pool[rng.randrange(len(pool))]
        chunk.append(
            (
                plan.first_post_id + k,
                plan.first_thread_id + t,
                author,
                body,
                html,
                STATES[plan.state[k]],
                "",
                stamp(start_us + k * step_us),
                None,
            )
        )
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def message_chunks(
    rng: random.Random,
    rooms: list[tuple[int, int]],
    first_id: int,
    authors: list[int],
    pool: list[tuple[str, str]],
    end_us: int,
    stamp: Stamps,
) -> Iterator[list[tuple[Any, ...]]]:
    """Chat rows for (room id, message count) pairs, seq 1.. per room, over the past 30 days."""
    ident = first_id
    chunk: list[tuple[Any, ...]] = []
    span = 30 * 86_400 * 1_000_000
    for room_id, count in rooms:
        step = span // max(1, count)
        for seq in range(1, count + 1):
            body, html = pool[rng.randrange(len(pool))]
            state = "deleted" if rng.random() < 0.005 else "visible"
            chunk.append(
                (
                    ident,
                    room_id,
                    seq,
                    rng.choice(authors),
                    f"seed-{room_id}-{seq}",
                    body,
                    html,
                    state,
                    stamp(end_us - span + seq * step),
                    None,
                )
            )
            ident += 1
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def board_rows(
    rng: random.Random,
    count: int,
    organizers: list[int],
    members: list[int],
    now_us: int,
    stamp: Stamps,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Opportunities, their slots and the slots' sign-ups (counts kept as the service does)."""
    from alumni_community.content import render_markdown, render_title

    hour = 3_600 * 1_000_000
    kinds = ["volunteer", "meeting_service", "mentoring", "other"]
    opportunities, slots, signups = [], [], []
    for i in range(1, count + 1):
        body = " ".join(rng.sample(SENTENCES, rng.randint(2, 4)))
        roll = rng.random()
        status = "open" if roll < 0.85 else ("closed" if roll < 0.95 else "cancelled")
        created = now_us - rng.randint(1, 24 * 180) * hour
        tags = sorted(rng.sample(["kitchen", "driving", "greeter", "phone", "set-up"], 2))
        opportunities.append(
            (
                i,
                rng.choice(organizers),
                render_title(f"{rng.choice(['Greeter', 'Coffee', 'Set-up'])} help, week {i}"),
                body,
                render_markdown(body),
                kinds[i % len(kinds)],
                render_title(rng.choice(["Main hall", "Online", "Garden room"])),
                json.dumps(tags),
                None,
                status,
                stamp(created),
            )
        )
        for _ in range(rng.randint(1, 4)):
            # Past slots, or slots two days out and later: the reminder job
            # (every minute in the server) has nothing to send while measured.
            if rng.random() < 0.3:
                starts = now_us - rng.randint(24, 24 * 30) * hour
            else:
                starts = now_us + rng.randint(48, 24 * 60) * hour
            capacity = rng.randint(2, 10)
            confirmed = rng.randint(0, capacity)
            waiting = rng.randint(0, 2) if confirmed == capacity else 0
            slot_id = len(slots) + 1
            slots.append(
                (
                    slot_id,
                    i,
                    stamp(starts),
                    stamp(starts + 2 * hour),
                    capacity,
                    confirmed,
                    waiting,
                    "1h" if starts < now_us else "",
                )
            )
            for n, member in enumerate(rng.sample(members, confirmed + waiting)):
                signups.append(
                    (
                        len(signups) + 1,
                        slot_id,
                        member,
                        "confirmed" if n < confirmed else "waitlisted",
                        stamp(created + (n + 1) * hour // 7),
                        False,
                        None,
                        None,
                    )
                )
    return opportunities, slots, signups


# -- seeding ----------------------------------------------------------------------------


def settings_for(database_url: str, secret: str) -> Any:
    from alumni_community import Settings

    return Settings(
        database_url=database_url,
        secret_key=secret,
        cookie_secure=False,
        password_hash_memory_kib=int(HASH_ENV["ALUMNI_COMMUNITY_PASSWORD_HASH_MEMORY_KIB"]),
        password_hash_passes=int(HASH_ENV["ALUMNI_COMMUNITY_PASSWORD_HASH_PASSES"]),
    )


async def seed_services(
    database_url: str, secret: str, members: int, rng: random.Random
) -> tuple[dict[str, int], list[int], list[int], dict[str, str], dict[str, int]]:
    """Migrate, then members, rooms and the readers' sessions through the services.

    Returns room ids by slug, member ids, organizer ids (trust 2+), reader
    cookies and reader member ids.
    """
    from alumni_community import Community
    from alumni_community.db import migrate
    from alumni_community.identity.models import Member, Role

    settings = settings_for(database_url, secret)
    await migrate(settings)
    community = Community(settings)
    async with community.lifespan():
        with community.database.activate():
            accounts = community.accounts
            moderator, _ = await accounts.create_member("bench-mod", PASSWORD, Role.MODERATOR)
            rooms = {}
            for slug, name, _ in ROOMS:
                room = await community.rooms.create_room(
                    moderator,
                    {
                        "slug": slug,
                        "name": name,
                        "description": f"{name}: talk & support.",
                        "moderation": "open",
                    },
                )
                rooms[slug] = room.id
            ids, organizers = [], []
            for i in range(members):
                member, _ = await accounts.create_member(f"m{i:05d}", PASSWORD, Role.MEMBER)
                ids.append(member.id)
            levels = [rng.choices([0, 1, 2, 3], weights=[1, 5, 3, 1])[0] for _ in ids]
            for level in range(4):
                chosen = [m for m, lv in zip(ids, levels, strict=True) if lv == level]
                await Member.filter(id__in=chosen).update(trust_level=level)
                if level >= 2:
                    organizers.extend(chosen)
            cookies, readers = {}, {}
            for name in ("caught_up", "new"):
                reader, _ = await accounts.create_member(f"reader-{name}", PASSWORD, Role.MEMBER)
                await Member.filter(id=reader.id).update(trust_level=1)
                token, _ = await accounts._new_session(reader, "bench", via_host=False)
                cookies[name] = f"ac_session={token}"
                readers[name] = reader.id
    return rooms, ids, organizers or ids, cookies, readers


async def seed(engine: str, database_url: str, posts: int, seed_value: int) -> World:
    rng = random.Random(f"{seed_value}-{posts}")
    secret = secrets.token_urlsafe(48)
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    members = min(1000, max(100, posts // 1000))
    rooms, member_ids, organizers, cookies, readers = await seed_services(
        database_url, secret, members, rng
    )
    seconds["services"] = time.perf_counter() - began

    if not TITLE_POOL:
        TITLE_POOL.extend(_title_pool())
    stamp = Stamps(engine)
    now_us = int(time.time() * 1e6) - 3_600_000_000
    start_us = now_us - 365 * 86_400 * 1_000_000
    step_us = (now_us - start_us) // posts
    room_ids = [rooms[slug] for slug, *_ in ROOMS]
    began = time.perf_counter()
    plan = plan_posts(rng, posts, room_ids, member_ids, 1, 1, start_us, step_us, stamp)
    post_pool = text_pool(rng, 1, 4)
    chat_pool = [(line, html) for line, html in _chat_pool()]
    chat_rooms = [(room_ids[0], max(1000, int(posts * CHAT_PER_POST)))]
    chat_rooms += [(room_id, CHAT_OTHER_ROOMS) for room_id in room_ids[1:]]
    opportunities, slots, signups = board_rows(
        rng, max(100, posts // 1000), organizers, member_ids, now_us, stamp
    )
    seconds["plan"] = time.perf_counter() - began
    markers = [
        (i + 1, count - 5, readers["caught_up"], room_id)
        for i, (room_id, count) in enumerate(chat_rooms)
    ]

    began = time.perf_counter()
    posts_bar = tqdm(total=posts, unit="post", desc=f"  {engine} {posts:,} posts", leave=False)
    messages = sum(count for _, count in chat_rooms)
    post_rows = post_chunks(plan, rng, member_ids, post_pool, start_us, step_us, stamp)
    chat = message_chunks(rng, chat_rooms, 1, member_ids, chat_pool, now_us, stamp)
    tables: list[tuple[str, list[str], Any]] = [
        ("ac_thread", THREAD_COLUMNS, [plan.thread_rows]),
        ("ac_post", POST_COLUMNS, _counted(post_rows, posts_bar)),
        ("ac_message", MESSAGE_COLUMNS, chat),
        ("ac_read_marker", ["id", "seq", "member_id", "room_id"], [markers]),
        ("ac_opportunity", OPPORTUNITY_COLUMNS, [opportunities]),
        ("ac_slot", SLOT_COLUMNS, [slots]),
        ("ac_signup", SIGNUP_COLUMNS, [signups]),
    ]
    last_seq = {room_id: count for room_id, count in chat_rooms}
    if engine == "sqlite":
        bulk_sqlite(database_url, tables, last_seq)
    else:
        await bulk_postgres(database_url, tables, last_seq)
    posts_bar.close()
    seconds["bulk"] = time.perf_counter() - began
    began = time.perf_counter()
    await analyze(engine, database_url)
    seconds["analyze"] = time.perf_counter() - began

    # The deep pages' cursors, encoded as the API encodes its own: 90% of the way
    # in, but always with a full page after them (a short last page would be
    # cheaper to serve, and make a small database look slower in the ratios).
    from alumni_community.rooms.service import PAGE_SIZE, _encode

    def deep(rows: int) -> int:
        return max(0, min(int(rows * DEEP), rows - PAGE_SIZE - 1))

    long_posts = [
        plan.first_post_id + k for k in range(posts) if plan.owner[k] == 0 and plan.state[k] == 0
    ]
    thread_deep = _encode([long_posts[deep(len(long_posts))]])
    general = sorted(
        (row for row in plan.thread_rows if row[1] == room_ids[0] and row[6] > 0),
        key=lambda row: (row[7], _as_datetime(row[5]), row[0]),
        reverse=True,
    )
    deep_row = general[deep(len(general))]
    room_deep = _encode([deep_row[7], _as_datetime(deep_row[5]).isoformat(), deep_row[0]])
    long_id = plan.first_thread_id
    slug = ROOMS[0][0]
    requests = {
        "thread_first": (f"{API}/threads/{long_id}", {}),
        "thread_deep": (f"{API}/threads/{long_id}", {"cursor": thread_deep}),
        "rooms": (f"{API}/rooms", {}),
        "rooms_unread": (f"{API}/rooms", {}),
        "room_threads_first": (f"{API}/rooms/{slug}/threads", {}),
        "room_threads_deep": (f"{API}/rooms/{slug}/threads", {"cursor": room_deep}),
        "chat_latest": (f"{API}/rooms/{slug}/messages", {}),
        "chat_early": (f"{API}/rooms/{slug}/messages", {"before": str(EARLY_SEQ)}),
        "opportunities": (f"{API}/opportunities", {}),
    }
    counts = {
        "members": members + 3,
        "rooms": len(ROOMS),
        "threads": len(plan.thread_rows),
        "posts": posts,
        "long_thread_posts": len(long_posts),
        "general_threads": len(general),
        "chat_messages": messages,
        "opportunities": len(opportunities),
        "slots": len(slots),
        "signups": len(signups),
    }
    # Our cursors must be the API's: page 1's "next" is checked against the
    # cursor built the same way from the 30th row.
    check: dict[str, tuple[str, str | None]] = {
        "thread": (f"{API}/threads/{long_id}", _encode([long_posts[29]])),
        "room": (
            f"{API}/rooms/{slug}/threads",
            _encode([general[29][7], _as_datetime(general[29][5]).isoformat(), general[29][0]])
            if len(general) > 30
            else None,
        ),
    }
    return World(engine, database_url, secret, posts, cookies, requests, counts, seconds, check)


def _chat_pool() -> list[tuple[str, str]]:
    from alumni_community.content import render_markdown

    return [(line, render_markdown(line)) for line in CHAT_LINES]


def _as_datetime(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _counted(chunks: Iterator[list[tuple[Any, ...]]], bar: Any) -> Iterator[list[tuple[Any, ...]]]:
    for chunk in chunks:
        yield chunk
        bar.update(len(chunk))


def _sqlite_path(database_url: str) -> str:
    return database_url.removeprefix("sqlite://")


def bulk_sqlite(
    database_url: str, tables: list[tuple[str, list[str], Any]], last_seq: dict[int, int]
) -> None:
    con = sqlite3.connect(_sqlite_path(database_url), isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-1000000")
        con.execute("PRAGMA temp_store=MEMORY")
        con.execute("BEGIN")
        for table, columns, chunks in tables:
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            statement = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
            for chunk in chunks:
                con.executemany(statement, chunk)
        con.executemany(
            'UPDATE "ac_room" SET "last_seq" = ? WHERE "id" = ?',
            [(seq, room_id) for room_id, seq in last_seq.items()],
        )
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


async def bulk_postgres(
    database_url: str, tables: list[tuple[str, list[str], Any]], last_seq: dict[int, int]
) -> None:
    import asyncpg

    con = await asyncpg.connect(database_url)
    try:
        async with con.transaction():
            for table, columns, chunks in tables:
                for chunk in chunks:
                    await con.copy_records_to_table(table, records=chunk, columns=columns)
                # Ids were given: move the sequence past them, as inserts would have.
                await con.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f'(SELECT COALESCE(MAX("id"), 0) + 1 FROM "{table}"), false)'
                )
            await con.executemany(
                'UPDATE "ac_room" SET "last_seq" = $1 WHERE "id" = $2',
                [(seq, room_id) for room_id, seq in last_seq.items()],
            )
    finally:
        await con.close()


async def analyze(engine: str, database_url: str) -> None:
    if engine == "sqlite":
        con = sqlite3.connect(_sqlite_path(database_url))
        try:
            con.execute("ANALYZE")
        finally:
            con.close()
        return
    import asyncpg

    con = await asyncpg.connect(database_url)
    try:
        await con.execute("VACUUM ANALYZE")
    finally:
        await con.close()


# -- plans --------------------------------------------------------------------------------


class Captured(logging.Handler):
    """The ORM's statements and parameters, as its client logs them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, list[Any]]] = []
        #: Only the request's statements (not those of background jobs).
        self.task: asyncio.Task[Any] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if asyncio.current_task() is not self.task:
                return
        except RuntimeError:  # no event loop: not the request's
            return
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], str):
            sql, values = args
            if sql.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE")):
                self.statements.append((sql, list(values or [])))


async def capture_sql(world: World) -> dict[str, list[tuple[str, list[Any]]]]:
    """Each endpoint called once in process: the statements it ran, in order."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from alumni_community import Community

    community = Community(settings_for(world.database_url, world.secret))
    app = Starlette(routes=[Mount(MOUNT, app=community)])
    logger = logging.getLogger("tortoise.db_client")
    handler = Captured()
    level = logger.level
    found: dict[str, list[tuple[str, list[Any]]]] = {}
    async with community.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1" + MOUNT
        ) as client:
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
            try:
                for key, _, reader in ENDPOINTS:
                    path, params = world.requests[key]
                    handler.statements = []
                    handler.task = asyncio.current_task()
                    response = await client.get(
                        path, params=params, headers={"Cookie": world.cookies[reader]}
                    )
                    if response.status_code != 200:
                        raise RuntimeError(f"{key}: {response.status_code} {response.text[:200]}")
                    found[key] = handler.statements
            finally:
                logger.removeHandler(handler)
                logger.setLevel(level)
    return found


async def explain(
    world: World, captured: dict[str, list[tuple[str, list[Any]]]]
) -> dict[str, list[dict[str, Any]]]:
    plans: dict[str, list[dict[str, Any]]] = {}
    if world.engine == "sqlite":
        con = sqlite3.connect(_sqlite_path(world.database_url))
        try:
            for key, statements in captured.items():
                plans[key] = []
                for sql, values in statements:
                    rows = con.execute("EXPLAIN QUERY PLAN " + sql, values).fetchall()
                    plan = "\n".join(f"{'  ' * _depth(rows, r)}{r[3]}" for r in rows)
                    plans[key].append({"sql": sql, "values": _shown(values), "plan": plan})
        finally:
            con.close()
        return plans
    import asyncpg

    con = await asyncpg.connect(world.database_url)
    try:
        for key, statements in captured.items():
            plans[key] = []
            for sql, values in statements:
                if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue  # no ANALYZE of writes (a session's last-seen touch)
                rows = await con.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *values)
                plan = _redacted("\n".join(r[0] for r in rows))
                plans[key].append({"sql": sql, "values": _shown(values), "plan": plan})
    finally:
        await con.close()
    return plans


_TOKEN_HASH = re.compile(r"\b([0-9a-f]{8})[0-9a-f]{56}\b")


def _redacted(plan: str) -> str:
    """A session token's hash, as PostgreSQL prints it in a filter, cut to 8 digits."""
    return _TOKEN_HASH.sub(r"\1...", plan)


def _depth(rows: list[tuple[Any, ...]], row: tuple[Any, ...]) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent in parents:
        depth, parent = depth + 1, parents[parent]
    return depth


def _shown(values: Sequence[Any]) -> list[Any]:
    """Parameters as text; session token hashes are cut (they are secrets)."""
    out = []
    for value in values:
        text = value.isoformat() if isinstance(value, dt.datetime) else value
        if isinstance(text, str) and len(text) == 64:
            text = text[:8] + "..."
        out.append(text if isinstance(text, int | float | bool | None) else str(text))
    return out


# -- measuring ------------------------------------------------------------------------------


async def check_cursors(client: httpx.AsyncClient, world: World) -> None:
    headers = {"Cookie": world.cookies["caught_up"]}
    for name, (path, ours) in world.check.items():
        body = (await client.get(path, headers=headers)).json()
        given = body["posts"]["next"] if name == "thread" else body["next"]
        if given != ours:
            raise RuntimeError(f"the {name} cursor differs from the API's: {given} != {ours}")


async def measure(
    targets: list[tuple[str, World]], requests: int, warmup: int
) -> list[dict[str, list[float]]]:
    """Every size's server at once, the requests interleaved: endpoint by endpoint,
    size by size, one at a time, so whatever else the machine does falls on all alike.
    ``targets`` are (server base URL, world) pairs; one keep-alive client each."""
    latencies: list[dict[str, list[float]]] = [{key: [] for key, *_ in ENDPOINTS} for _ in targets]
    clients = [
        httpx.AsyncClient(
            base_url=base,
            timeout=60,
            trust_env=False,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        for base, _ in targets
    ]
    calls = [
        [
            (key, world.requests[key][0], world.requests[key][1], world.cookies[reader])
            for key, _, reader in ENDPOINTS
        ]
        for _, world in targets
    ]

    async def get(
        client: httpx.AsyncClient, key: str, path: str, params: Any, cookie: str
    ) -> float:
        began = time.perf_counter()
        response = await client.get(path, params=params, headers={"Cookie": cookie})
        took = time.perf_counter() - began
        if response.status_code != 200:
            raise RuntimeError(f"{key}: {response.status_code} {response.text[:300]}")
        return took * 1000

    try:
        for client, (_, world) in zip(clients, targets, strict=True):
            await check_cursors(client, world)
        for client, mine in zip(clients, calls, strict=True):
            for call in mine:
                for _ in range(warmup):
                    await get(client, *call)
        for _ in range(requests):
            for index in range(len(ENDPOINTS)):
                for n, client in enumerate(clients):
                    call = calls[n][index]
                    latencies[n][call[0]].append(await get(client, *call))
    finally:
        for client in clients:
            await client.aclose()
    return latencies


async def prepare(
    engine: str, posts: int, args: argparse.Namespace, database_url: str
) -> tuple[World, float, dict[str, list[dict[str, Any]]]]:
    began = time.perf_counter()
    world = await seed(engine, database_url, posts, args.seed)
    seeded = time.perf_counter() - began
    print(
        f"  {engine} {posts:,}: seeded in {seeded:.1f} s ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in world.seconds.items())
        + "): "
        + ", ".join(f"{v:,} {k}" for k, v in world.counts.items()),
        flush=True,
    )
    plans: dict[str, list[dict[str, Any]]] = {}
    if args.explain:
        plans = await explain(world, await capture_sql(world))
    return world, seeded, plans


async def run_engine(engine: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each size in its own fresh database (PostgreSQL: its own server), each served by
    its own uvicorn process; all measured together."""
    with contextlib.ExitStack() as stack:
        prepared = []
        for posts in args.sizes:
            pg_data = None
            if engine == "postgres":
                database_url, pg_data = stack.enter_context(throwaway_postgres())
            else:
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ac-read-"))
                database_url = f"sqlite://{Path(tmp) / 'community.sqlite3'}"
            prepared.append((posts, pg_data, *await prepare(engine, posts, args, database_url)))
        quiet = None
        if args.wait_quiet:
            waited = time.perf_counter()
            quiet = await wait_quiet(args.wait_quiet)
            state = "quiet" if quiet else "still busy"
            print(
                f"  the machine was {state} after {time.perf_counter() - waited:.0f} s", flush=True
            )
        servers = []
        for posts, pg_data, world, _, _ in prepared:
            log_path = RESULTS / f"read_paths-{engine}-{posts}.log"
            server = start_server(world.database_url, world.secret, free_port(), log_path)
            stack.callback(stop_server, server)
            if pg_data is not None:
                server.database_pid = int((pg_data / "postmaster.pid").read_text().split()[0])
            servers.append(server)
        for server in servers:
            await wait_healthy(server)
        wall0, busy0 = time.perf_counter(), machine_busy_seconds()
        server0 = [cpu_seconds(s.proc.pid) for s in servers]
        db0 = [tree_cpu_seconds(s.database_pid) for s in servers]
        bench0 = time.process_time()
        latencies = await measure(
            [(s.base, p[2]) for s, p in zip(servers, prepared, strict=True)],
            args.requests,
            args.warmup,
        )
        wall = time.perf_counter() - wall0
        server_cpu = [cpu_seconds(s.proc.pid) - c for s, c in zip(servers, server0, strict=True)]
        db_cpu = [tree_cpu_seconds(s.database_pid) - c for s, c in zip(servers, db0, strict=True)]
        bench_cpu = time.process_time() - bench0
        busy = machine_busy_seconds() - busy0
        for server in servers:
            stop_server(server)
    other = 100 * (busy - sum(server_cpu) - sum(db_cpu) - bench_cpu) / wall
    print(
        f"  {engine}: measured {args.requests} x {len(ENDPOINTS)} requests x "
        f"{len(args.sizes)} sizes in {wall:.1f} s; "
        f"cpu: servers {100 * sum(server_cpu) / wall:.0f}%,"
        f" database {100 * sum(db_cpu) / wall:.0f}%, bench {100 * bench_cpu / wall:.0f}%, "
        f"other {other:.0f}%",
        flush=True,
    )
    rows = []
    for n, (posts, _, world, seeded, plans) in enumerate(prepared):
        endpoints = {}
        for key, values in latencies[n].items():
            values.sort()
            endpoints[key] = {
                "p50_ms": percentile(values, 0.5),
                "p99_ms": percentile(values, 0.99),
                "max_ms": values[-1],
                "mean_ms": sum(values) / len(values),
            }
        rows.append(
            {
                "engine": engine,
                "posts": posts,
                "seed_s": seeded,
                "seed_parts_s": world.seconds,
                "counts": world.counts,
                "endpoints": endpoints,
                # The window is shared by all sizes of this engine.
                "window_s": wall,
                "server_cpu_percent": 100 * server_cpu[n] / wall,
                "database_cpu_percent": 100 * db_cpu[n] / wall,
                "bench_cpu_percent": 100 * bench_cpu / wall,
                "other_cpu_percent": other,
                "quiet_start": quiet,
                "plans": plans,
            }
        )
    return rows


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for engine in args.engines:
        rows.extend(await run_engine(engine, args))
    return rows


# -- reporting ------------------------------------------------------------------------------


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    verdicts: dict[str, dict[str, Any]] = {}
    for engine in args.engines:
        mine = sorted((r for r in rows if r["engine"] == engine), key=lambda r: r["posts"])
        if not mine:
            continue
        small, large = mine[0], mine[-1]
        sizes = [r["posts"] for r in mine]
        head = f"{'endpoint':<26}" + "".join(f"{_size(n):>16}" for n in sizes)
        head += f"{'p99 ratio':>11}  target"
        print(f"\n{engine}: p50 / p99 ms")
        print(head)
        print("-" * len(head))
        verdicts[engine] = {}
        for key, label, _ in ENDPOINTS:
            cells = "".join(
                f"{r['endpoints'][key]['p50_ms']:>7.2f} /{r['endpoints'][key]['p99_ms']:>7.2f}"
                for r in mine
            )
            ratio = large["endpoints"][key]["p99_ms"] / small["endpoints"][key]["p99_ms"]
            met = ratio <= RATIO_TARGET
            notes = [f"<= {RATIO_TARGET}x {'met' if met else 'MISSED'}"]
            verdict: dict[str, Any] = {"p99_ratio": ratio, "ratio_met": met}
            if engine == "sqlite" and key.startswith("thread_"):
                p50 = large["endpoints"][key]["p50_ms"]
                fast = p50 < THREAD_P50_TARGET_MS
                verdict["p50_met"] = fast
                notes.append(f"p50 < {THREAD_P50_TARGET_MS:g} ms {'met' if fast else 'MISSED'}")
            verdicts[engine][key] = verdict
            print(f"{label:<26}{cells}{ratio:>10.2f}x  {'; '.join(notes)}")
        for r in mine:
            print(
                f"  {_size(r['posts'])}: seeded in {r['seed_s']:.0f} s; cpu over the window: "
                f"its server {r['server_cpu_percent']:.0f}%, "
                f"its database {r['database_cpu_percent']:.0f}%"
            )
        print(
            f"  all sizes: bench {large['bench_cpu_percent']:.0f}%, "
            f"other {large['other_cpu_percent']:.0f}% over {large['window_s']:.0f} s"
        )
    return {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "command": " ".join([".venv/bin/python", "bench/read_paths.py", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "sizes": args.sizes,
            "engines": args.engines,
            "requests": args.requests,
            "warmup": args.warmup,
            "seed": args.seed,
        },
        "targets": {"p99_ratio": RATIO_TARGET, "thread_p50_ms_sqlite": THREAD_P50_TARGET_MS},
        "verdicts": verdicts,
        "runs": rows,
    }


def _size(posts: int) -> str:
    if posts >= 1_000_000 and posts % 1_000_000 == 0:
        return f"{posts // 1_000_000}M"
    if posts >= 1000 and posts % 1000 == 0:
        return f"{posts // 1000}k"
    return str(posts)


def write_plans(rows: list[dict[str, Any]]) -> list[Path]:
    written = []
    for engine in dict.fromkeys(r["engine"] for r in rows):
        largest = max((r for r in rows if r["engine"] == engine), key=lambda r: r["posts"])
        if not largest["plans"]:
            continue
        out = [f"# {engine}, {largest['posts']:,} posts: the statements each endpoint runs\n"]
        for key, statements in largest["plans"].items():
            out.append(f"## {LABELS[key]}\n")
            for s in statements:
                out.append(f"{s['sql']}\n  -- {json.dumps(s['values'])}\n{s['plan']}\n")
        path = RESULTS / f"read_paths-plans-{engine}.txt"
        path.write_text("\n".join(out))
        written.append(path)
    return written


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    engines = list(dict.fromkeys(r["engine"] for r in rows))
    fig, axes = plt.subplots(1, len(engines), figsize=(8, 4.5), dpi=100, sharey=True, squeeze=False)
    for ax, engine in zip(axes[0], engines, strict=True):
        mine = sorted((r for r in rows if r["engine"] == engine), key=lambda r: r["posts"])
        sizes = [r["posts"] for r in mine]
        for key, label, _ in ENDPOINTS:
            ax.plot(sizes, [r["endpoints"][key]["p99_ms"] for r in mine], marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(
            FixedLocator([2, 5, 10, 15, 20, 30, 50, 70, 100, 200, 500, 1000])
        )
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(engine)
        ax.set_xlabel("posts in the database")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("p99 latency (ms)")
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Read paths: p99 per endpoint as the database grows")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="posts per database, comma separated (10000,100000,1000000); "
        "the first is the baseline",
    )
    parser.add_argument(
        "--engines", default="sqlite,postgres", help="sqlite and/or postgres (both)"
    )
    parser.add_argument("--requests", type=int, default=500, help="per endpoint (500)")
    parser.add_argument("--warmup", type=int, default=20, help="per endpoint, unmeasured (20)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the world (1)")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each measurement, wait up to this long for the machine to be idle; "
        "0: do not wait",
    )
    parser.add_argument(
        "--no-explain", dest="explain", action="store_false", help="skip the query plans"
    )
    parser.add_argument(
        "--no-chart", dest="chart", action="store_false", help=f"do not write {CHART.name}"
    )
    parser.add_argument("--output", type=Path, help="JSON results (bench/results/read_paths.json)")
    parser.add_argument(
        "--replot", type=Path, metavar="JSON", help="only draw the chart from an earlier run's JSON"
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes: whole numbers, comma separated")
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not args.sizes or min(args.sizes) < 1000:
        parser.error("--sizes: at least 1000 posts each")
    if not args.engines or set(args.engines) - {"sqlite", "postgres"}:
        parser.error("--engines: sqlite and/or postgres")
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be at least 1, --warmup at least 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.replot:
        chart(json.loads(args.replot.read_text())["runs"], CHART)
        print(f"chart: {CHART.relative_to(HERE.parent)}")
        return
    print(
        f"read paths: {', '.join(f'{n:,}' for n in args.sizes)} posts on "
        f"{' and '.join(args.engines)}, {args.requests} requests per endpoint",
        flush=True,
    )
    rows = asyncio.run(run(args))
    summary = report(rows, args)
    output = args.output or RESULTS / "read_paths.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    for path in write_plans(rows):
        print(f"plans: {path.relative_to(HERE.parent)}")
    if args.chart and len(args.sizes) > 1:
        chart(rows, CHART)
        print(f"chart: {CHART.relative_to(HERE.parent)}")
    print(f"written to {output}")
    if any(math.isnan(r["endpoints"][k]["p99_ms"]) for r in rows for k in r["endpoints"]):
        print("some endpoints have no measurements")


if __name__ == "__main__":
    main()
