"""Login storm: chat latency in an idle room while 50 sign-ins hash at once, against none.

One server of ours, in its own subprocess: the community mounted at
``/community`` in a Starlette app, one uvicorn process (``websockets-sansio``,
no compression), SQLite, as ``bench/chat_fanout.py`` runs it, except that
passwords are hashed at the library's default argon2id cost (64 MiB,
3 passes, 4 lanes: ``Settings.password_hash_memory_kib`` and
``password_hash_passes`` left alone) and the sign-in limits are raised
(``login_limit_per_ip`` and ``login_limit_per_handle`` set to a million an
hour: a setting, not code), since the storm signs the same members in again
and again from one address.

Seeding (before the server starts): a moderator, one room and N members with
a session each, as chat_fanout seeds them (their own cheap hashes: they
never sign in with a password), then S more members made through the
accounts service at the default cost, so verifying their password does the
full argon2id work and needs no rehash.

The N clients (``compression=None``, the server's own ``Origin``) subscribe to
the room and sit idle (an application ping every 20 s). One sender (the
moderator: not rate limited) sends M messages at a fixed rate, open loop;
each body carries its send time; latency is receive time minus send time,
over every delivery (chat_fanout's method). Phases alternate in the same
server: ``calm`` (no sign-ins), then ``storm``: S sign-in loops, one per
seeded member, each ``POST /community/api/v1/session`` with the member's
handle and password over HTTP (its own connection, no cookie kept), then at
once the next, so S sign-ins are in flight for the whole phase; the storm
starts ``--storm-lead`` seconds before the first message and stops (each
loop finishes its sign-in in flight) after the last delivery. ``--repeat R``
runs R calm/storm pairs (calm, storm, calm, storm...) to cancel drift; the
headline is the median over rounds of each phase's p99, and the ratio
p99(storm) / p99(calm) against the target (at most 1.25).

Also per phase: sign-ins answered per second and their latency (over the
sign-ins that ended within the window), the server's CPU split into the
event loop thread and the rest (the hashing threads), the loop thread's
time waiting for a CPU while runnable (``/proc/PID/task/PID/schedstat``:
the direct measure of hash threads crowding it out) and its involuntary
context switches, this process's CPU, and everything else on the machine
("other": a busy value means the run shared the machine).

``--variant`` picks how the server hashes; several run one after another,
each with its own server and database, in the same invocation:

- ``library``: as the library is: ``password_hash_workers`` threads (2 by
  default) under ``SCHED_IDLE``, so any other thread that wakes preempts a
  hash at once; argon2's lane threads (it starts 4 per slice of each pass)
  inherit it.
- ``normal``: the same pool at normal priority, as the library hashed until
  2026-11-28 (the pool's initializer patched away in the server subprocess
  only): the baseline the fix is measured against.
- ``niced``: the pool at nice 19 instead (only weighs a hash down).
- ``bounded``: ``normal`` with ``password_hash_workers = max(1, cores - 1)``
  (a setting).

The clients run in this process, on the same machine: hash threads crowd
them out too, which a remote client would not see. ``--client-nice -10``
(root only) raises this process's priority so the latency is more the
server's own; the clients' own CPU wait is reported either way.

Usage (``make bench`` runs the first)::

    .venv/bin/python bench/login_storm.py                      # N=100, S=50, M=300 at 10/s, R=2
    .venv/bin/python bench/login_storm.py --variant normal library niced --wait-quiet 600
    .venv/bin/python bench/login_storm.py --messages 50 --repeat 1     # a small check
    .venv/bin/python bench/login_storm.py --profile    # py-spy the server over the first storm

Results go to ``bench/results/login_storm.json`` (and the server log to
``login_storm_<variant>.log``); ``--profile`` writes py-spy's raw stacks
(``--threads --idle``) to ``login_storm_<variant>_profile.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import gc
import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chat_fanout import (
    MOUNT,
    PASSWORD,
    RESULTS,
    SECRET_ENV,
    Client,
    Probe,
    Server,
    community_settings,
    cpu_seconds,
    free_port,
    join,
    keep_alive,
    machine,
    machine_ticks,
    median,
    open_client,
    percentile,
    raise_fd_limit,
    seed,
    send_messages,
    serve_community,
    settle,
    stop_server,
    wait_for,
    wait_listening,
    wait_quiet,
)

TARGET = 1.25
SIGN_IN_PATH = MOUNT + "/api/v1/session"
#: Handles of the members who sign in during storms (chat_fanout's are m00000...).
STORM_HANDLE = "s{:05d}"
#: A limit no storm reaches: a million an hour.
NO_LIMIT = (1_000_000, 3600)
VARIANTS = ("library", "normal", "niced", "bounded")
_TO_LETTERS = str.maketrans("0123456789", "abcdefghij")
_TO_DIGITS = str.maketrans("abcdefghij", "0123456789")
_STAMP = re.compile(r"(calm|storm)([a-j]+) (\d+) ([a-j]+)")
HERE = Path(__file__).resolve()


# -- the server (runs as a subprocess of this same file) ------------------------------


def storm_settings(db_path: str, port: int, variant: str) -> Any:
    """chat_fanout's settings with the default argon2id cost and no sign-in limits."""
    from alumni_community import Settings
    from alumni_community.settings import Limit

    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    changes: dict[str, Any] = {
        "password_hash_memory_kib": defaults["password_hash_memory_kib"],
        "password_hash_passes": defaults["password_hash_passes"],
        "login_limit_per_ip": Limit(*NO_LIMIT),
        "login_limit_per_handle": Limit(*NO_LIMIT),
    }
    if variant.startswith("bounded"):
        changes["password_hash_workers"] = max(1, (os.cpu_count() or 1) - 1)
    return dataclasses.replace(community_settings(db_path, port), **changes)


def hash_priority(variant: str) -> None:
    """Patch the hasher pool's thread initializer: normal priority, or nice 19.

    Both are per thread on Linux, and inherited by the threads argon2 starts.
    """
    import threading

    from alumni_community.identity import passwords

    def normal() -> None:
        pass

    def niced() -> None:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)

    passwords._yield_to_everything_else = niced if variant == "niced" else normal


def serve(port: int, db_path: str, variant: str) -> None:
    if os.getpriority(os.PRIO_PROCESS, 0) != 0:
        # Not the clients' priority (--client-nice): the server runs as a host's would.
        os.setpriority(os.PRIO_PROCESS, 0, 0)
    if variant != "library":
        hash_priority(variant)
    settings = storm_settings(db_path, port, variant)
    print(
        f"argon2id {settings.password_hash_memory_kib} KiB x {settings.password_hash_passes} "
        f"passes, {settings.password_hash_workers} hashing threads, variant {variant}",
        file=sys.stderr,
        flush=True,
    )
    serve_community(settings, port)


def start_server(port: int, db_path: str, variant: str, env: dict[str, str]) -> Server:
    command = [sys.executable, str(HERE), "--serve", "--port", str(port), "--db", db_path]
    command += ["--variant", variant]
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"login_storm_{variant}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    return Server("ours", port, f"ws://127.0.0.1:{port}{MOUNT}/ws", proc, log_path)


async def seed_storm(db_path: str, port: int, members: int) -> list[str]:
    """S members whose passwords are hashed at the default cost; their handles."""
    from alumni_community import Community
    from alumni_community.identity.models import Role

    community = Community(storm_settings(db_path, port, "library"))
    handles = [STORM_HANDLE.format(i) for i in range(members)]
    async with community.lifespan():
        with community.database.activate():
            for handle in handles:
                await community.accounts.create_member(handle, PASSWORD, Role.MEMBER)
    return handles


# -- what is read from /proc --------------------------------------------------------


@dataclasses.dataclass
class Snapshot:
    wall: float
    server_cpu: float
    loop_cpu: float
    loop_wait: float
    loop_involuntary: int
    bench_cpu: float
    bench_wait: float
    busy_ticks: int
    steal_ticks: int

    @classmethod
    def take(cls, pid: int) -> Snapshot:
        task = Path(f"/proc/{pid}/task/{pid}")
        ran, waited, _ = (int(v) for v in (task / "schedstat").read_text().split())
        own = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat").read_text().split()
        involuntary = 0
        for line in (task / "status").read_text().splitlines():
            if line.startswith("nonvoluntary_ctxt_switches:"):
                involuntary = int(line.split()[1])
        busy, _, steal = machine_ticks()
        return cls(
            wall=time.perf_counter(),
            server_cpu=cpu_seconds(pid),
            loop_cpu=ran / 1e9,
            loop_wait=waited / 1e9,
            loop_involuntary=involuntary,
            bench_cpu=time.process_time(),
            bench_wait=int(own[1]) / 1e9,
            busy_ticks=busy,
            steal_ticks=steal,
        )


def usage(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU in percent of one CPU over the window between two snapshots."""
    wall = after.wall - before.wall
    tick = os.sysconf("SC_CLK_TCK")
    server = after.server_cpu - before.server_cpu
    loop = after.loop_cpu - before.loop_cpu
    bench = after.bench_cpu - before.bench_cpu
    return {
        "window_s": wall,
        "server_cpu_percent": 100 * server / wall,
        "loop_cpu_percent": 100 * loop / wall,
        "hash_cpu_percent": 100 * max(0.0, server - loop) / wall,
        # How long the loop thread was runnable but not running, per second of window.
        "loop_wait_ms_per_s": 1000 * (after.loop_wait - before.loop_wait) / wall,
        "loop_involuntary_switches": after.loop_involuntary - before.loop_involuntary,
        "bench_cpu_percent": 100 * bench / wall,
        # The same for this process's loop thread (the clients): a measuring error.
        "bench_wait_ms_per_s": 1000 * (after.bench_wait - before.bench_wait) / wall,
        "other_cpu_percent": 100 * (after.busy_ticks - before.busy_ticks) / tick / wall
        - 100 * (server + bench) / wall,
        "steal_percent": 100 * (after.steal_ticks - before.steal_ticks) / tick / wall,
    }


# -- the storm ------------------------------------------------------------------------


@dataclasses.dataclass
class Storm:
    """S sign-in loops, one member each; every sign-in as (start, end, status)."""

    server: Server
    handles: list[str]
    timeout: float
    stop: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    done: list[tuple[float, float, int]] = dataclasses.field(default_factory=list)
    tasks: list[asyncio.Task[None]] = dataclasses.field(default_factory=list)
    first_error: str | None = None

    def start(self) -> None:
        self.stop.clear()
        self.tasks = [asyncio.create_task(self._loop(h)) for h in self.handles]

    async def finish(self) -> None:
        """Each loop ends after its sign-in in flight (so the server's queue drains)."""
        self.stop.set()
        await asyncio.gather(*self.tasks)

    async def once(self) -> None:
        """One sign-in per member, all at once (a warm-up)."""
        self.stop.clear()
        await asyncio.gather(*(self._loop(h, once=True) for h in self.handles))

    async def _loop(self, handle: str, once: bool = False) -> None:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.server.port}",
            headers={"Origin": self.server.origin},
            timeout=self.timeout,
            trust_env=False,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        ) as http:
            while not self.stop.is_set():
                began = time.perf_counter()
                try:
                    response = await http.post(
                        SIGN_IN_PATH, json={"handle": handle, "password": PASSWORD}
                    )
                    status = response.status_code
                    if status != 200 and self.first_error is None:
                        self.first_error = f"{status} {response.text[:200]}"
                except httpx.HTTPError as error:
                    status = -1
                    if self.first_error is None:
                        self.first_error = type(error).__name__
                self.done.append((began, time.perf_counter(), status))
                # A fresh browser each time: the next sign-in ends no previous session.
                http.cookies.clear()
                if once:
                    break


# -- one variant's run ----------------------------------------------------------------


def letters(number: int) -> str:
    return str(number).translate(_TO_LETTERS)


async def phase(
    kind: str,
    round_: int,
    server: Server,
    clients: list[Client],
    sender: Client,
    probe: Probe,
    storm: Storm,
    args: argparse.Namespace,
) -> dict[str, Any]:
    n, m = len(clients), args.messages
    for client in clients:
        client.received.clear()
    storm.done.clear()
    before = probe.deliveries
    gc.collect()
    gc.freeze()
    gc.disable()
    profiler: subprocess.Popen[bytes] | None = None
    try:
        if kind == "storm":
            storm.start()
            await asyncio.sleep(args.storm_lead)
        start = Snapshot.take(server.proc.pid)
        if kind == "storm" and args.profile and round_ == 1:
            profiler = start_profiler(server, args)
        await send_messages(sender.ws, f"{kind}{letters(round_)}", m, args.rate)
        complete = await wait_for(probe, before + n * m, args.drain_timeout)
        end = Snapshot.take(server.proc.pid)
        if profiler is not None:
            profiler.wait()
        if kind == "storm":
            await storm.finish()
    finally:
        gc.enable()
        gc.unfreeze()
    if not complete:
        end.wall -= args.drain_timeout

    latencies: list[float] = []
    for client in clients:
        for received_at, data in client.received:
            stamp = _STAMP.search(data)
            if stamp is None:
                continue
            sent = int(stamp.group(4).translate(_TO_DIGITS))
            latencies.append((received_at - sent) / 1e6)
    latencies.sort()
    # Sign-ins that ended inside the measured window.
    window = [(b, e, s) for b, e, s in storm.done if start.wall <= e <= end.wall]
    login_ms = sorted(1000 * (e - b) for b, e, s in window if s == 200)
    row: dict[str, Any] = {
        "phase": kind,
        "round": round_,
        "messages": m,
        "expected_deliveries": n * m,
        "deliveries": len(latencies),
        "lost": n * m - len(latencies),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": latencies[-1] if latencies else math.nan,
        "mean_ms": sum(latencies) / len(latencies) if latencies else math.nan,
        "logins": len(login_ms),
        "login_failures": sum(1 for *_, s in window if s != 200),
        "logins_per_s": len(login_ms) / (end.wall - start.wall),
        "login_p50_ms": percentile(login_ms, 0.50),
        "login_p99_ms": percentile(login_ms, 0.99),
        **usage(start, end),
    }
    return row


def start_profiler(server: Server, args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    seconds = max(1, int(args.messages / args.rate) if args.rate else 10)
    out = RESULTS / f"login_storm_{args.current_variant}_profile.txt"
    command = [py_spy, "record", "-p", str(server.proc.pid), "-d", str(seconds), "-r", "200"]
    command += ["--threads", "--idle", "--nonblocking", "--format", "raw", "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run_variant(
    variant: str, tmp: str, env: dict[str, str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    args.current_variant = variant
    port = free_port()
    db_path = str(Path(tmp) / f"storm-{variant}.sqlite3")
    began = time.perf_counter()
    sender_cookie, cookies = await seed(db_path, port, args.clients)
    handles = await seed_storm(db_path, port, args.logins)
    print(
        f"  {variant}: seeded {args.clients} members and {args.logins} at the default "
        f"argon2id cost in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    quiet = None
    if args.wait_quiet:
        began = time.perf_counter()
        quiet = await wait_quiet(args.wait_quiet)
        state = "quiet" if quiet else "still busy"
        print(f"  {variant}: the machine was {state} after {time.perf_counter() - began:.0f} s")
    server = start_server(port, db_path, variant, env)
    probe = Probe()
    clients: list[Client] = []
    sender: Client | None = None
    pinger = asyncio.create_task(keep_alive(clients))
    rows: list[dict[str, Any]] = []
    try:
        await wait_listening(server)
        for start in range(0, args.clients, 50):
            batch = range(start, min(args.clients, start + 50))
            clients.extend(
                await asyncio.gather(
                    *(join(server.ws_url, server.origin, cookies[i], probe) for i in batch)
                )
            )
        sender = await open_client(server.ws_url, server.origin, sender_cookie, Probe())
        await settle(probe, 1.0, 120)
        # Warm both paths: a few messages, and one sign-in per storm member.
        await send_messages(sender.ws, "warmup", 5, args.rate)
        await wait_for(probe, probe.deliveries + 5 * args.clients, args.drain_timeout)
        storm = Storm(server, handles, args.login_timeout)
        await storm.once()
        if storm.first_error:
            raise RuntimeError(f"a warm-up sign-in failed: {storm.first_error}")
        await settle(probe, 1.0, 120)
        print(f"  {variant}: {args.clients} clients subscribed, warmed up", flush=True)
        for round_ in range(1, args.repeat + 1):
            for kind in ("calm", "storm"):
                row = await phase(kind, round_, server, clients, sender, probe, storm, args)
                row = {"variant": variant, **row, "quiet_start": quiet}
                rows.append(row)
                print(
                    f"  {variant} {kind} {round_}: p50 {row['p50_ms']:.1f} ms, "
                    f"p99 {row['p99_ms']:.1f} ms, max {row['max_ms']:.1f} ms, "
                    f"{row['logins_per_s']:.1f} sign-ins/s, other cpu "
                    f"{row['other_cpu_percent']:.0f}%",
                    flush=True,
                )
                if storm.first_error:
                    print(f"  {variant}: a sign-in failed: {storm.first_error}", flush=True)
                    storm.first_error = None
                await settle(probe, 1.0, 120)
    finally:
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinger
        everyone = [*clients, *([sender] if sender else [])]
        for client in everyone:
            client.ws.transport.abort()
        await asyncio.gather(*(c.task for c in everyone), return_exceptions=True)
        print(f"  {variant}: server stopped in {stop_server(server):.1f} s", flush=True)
    return rows


# -- the report -----------------------------------------------------------------------


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per variant and phase: the median of each number over rounds; the p99 ratio."""
    out: dict[str, Any] = {}
    for variant in dict.fromkeys(r["variant"] for r in rows):
        phases: dict[str, Any] = {}
        for kind in ("calm", "storm"):
            mine = [r for r in rows if r["variant"] == variant and r["phase"] == kind]
            phases[kind] = {
                key: median([float(r[key]) for r in mine])
                for key, value in mine[0].items()
                if isinstance(value, int | float) and not isinstance(value, bool)
                if key != "round"
            }
        ratio = phases["storm"]["p99_ms"] / phases["calm"]["p99_ms"]
        out[variant] = {**phases, "p99_ratio": ratio, "target_met": ratio <= TARGET}
    return out


def print_table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    header = (
        f"{'variant':<8} {'phase':<6} {'round':>6} {'deliv':>6} {'lost':>4} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'login/s':>7} {'lg p50':>7} {'lg p99':>7} "
        f"{'srv cpu':>7} {'loop':>5} {'hash':>5} {'wait/s':>7} {'bench':>6} {'b wait':>7} "
        f"{'other':>6}"
    )
    print(header)
    print("-" * len(header))
    medians = [
        {"variant": v, "phase": k, "round": "median", **s[k]}
        for v, s in summary.items()
        for k in ("calm", "storm")
    ]
    for row in [*rows, *medians]:
        print(
            f"{row['variant']:<8} {row['phase']:<6} {row['round']!s:>6} "
            f"{row['deliveries']:>6.0f} {row['lost']:>4.0f} {row['p50_ms']:>7.1f} "
            f"{row['p99_ms']:>7.1f} {row['max_ms']:>7.1f} {row['logins_per_s']:>7.1f} "
            f"{row['login_p50_ms']:>7.0f} {row['login_p99_ms']:>7.0f} "
            f"{row['server_cpu_percent']:>6.0f}% {row['loop_cpu_percent']:>4.0f}% "
            f"{row['hash_cpu_percent']:>4.0f}% {row['loop_wait_ms_per_s']:>5.1f}ms "
            f"{row['bench_cpu_percent']:>5.0f}% {row['bench_wait_ms_per_s']:>5.1f}ms "
            f"{row['other_cpu_percent']:>5.0f}%"
        )
    print("(lg: sign-in latency in ms; loop/hash: the server's event loop thread and its other")
    print(" threads; wait/s: ms per second the loop thread was runnable but had no CPU;")
    print(" b wait: the same for this process, the clients' side)")
    print()
    for variant, s in summary.items():
        state = "met" if s["target_met"] else "MISSED"
        print(
            f"{variant}: p99 storm/calm {s['p99_ratio']:.3f}x "
            f"({s['storm']['p99_ms']:.1f} / {s['calm']['p99_ms']:.1f} ms, medians over rounds; "
            f"target <= {TARGET}x: {state})"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=100, help="idle subscribers (100)")
    parser.add_argument("--logins", type=int, default=50, help="sign-ins in flight (50)")
    parser.add_argument("--messages", type=int, default=300, help="messages per phase (300)")
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second (10)")
    parser.add_argument("--repeat", type=int, default=2, help="calm/storm pairs (2)")
    parser.add_argument(
        "--storm-lead",
        type=float,
        default=2.0,
        help="seconds the storm runs before the first message (2)",
    )
    parser.add_argument(
        "--variant",
        nargs="+",
        choices=VARIANTS,
        default=["normal", "library"],
        help="how the server hashes: library (as is: SCHED_IDLE hash threads), normal "
        "(normal priority, the library before), niced (nice 19), bounded (normal, "
        "max(1, cores-1) threads); several run in turn (normal library)",
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=0,
        metavar="N",
        help="run this process (the clients) at nice N; below 0 needs root (0)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="give up after this many seconds without a delivery (30)",
    )
    parser.add_argument(
        "--login-timeout", type=float, default=300.0, help="one sign-in's timeout (300)"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each server starts, wait up to this long for the machine to be idle; "
        "0: do not wait",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy (--threads --idle, raw) the server over the first storm phase",
    )
    parser.add_argument("--output", type=Path, help="JSON results (bench/results/login_storm.json)")
    # How this file runs the server in a subprocess.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.clients, args.logins, args.messages, args.repeat) < 1 or args.rate <= 0:
        parser.error("--clients, --logins, --messages and --repeat must be at least 1, --rate > 0")
    return args


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    limit = raise_fd_limit()
    if limit < 2 * (args.clients + args.logins) + 100:
        raise SystemExit(f"RLIMIT_NOFILE is {limit}: too few files")
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, SECRET_ENV: secrets.token_urlsafe(48)}
    os.environ[SECRET_ENV] = env[SECRET_ENV]
    if args.client_nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, args.client_nice)
        except PermissionError:
            print(f"  cannot run at nice {args.client_nice}; staying at 0", flush=True)
            args.client_nice = 0
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ac-bench-") as tmp:
        for variant in args.variant:
            rows.extend(await run_variant(variant, tmp, env, args))
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve:
        serve(args.port, args.db, args.variant[0])
        return
    print(
        f"login storm: {args.clients} idle clients, {args.messages} messages at "
        f"{args.rate:g}/s per phase, {args.logins} sign-ins in flight during storms, "
        f"{args.repeat} calm/storm pairs, variants {', '.join(args.variant)}",
        flush=True,
    )
    rows = asyncio.run(run(args))
    summary = summarize(rows)
    print()
    print_table(rows, summary)
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "command": " ".join([".venv/bin/python", "bench/login_storm.py", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            key: value
            for key, value in vars(args).items()
            if key not in ("serve", "port", "db", "output", "current_variant")
        },
        "target_p99_ratio": TARGET,
        "runs": rows,
        "summary": summary,
    }
    output = args.output or RESULTS / "login_storm.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwritten to {output}")


if __name__ == "__main__":
    main()
