"""Chat fan-out: N WebSocket clients in one room, our server against a bare ``websockets`` one.

Two servers are measured in the same run, under the same load, each in its
own subprocess (so both are equally isolated from the clients' process):

- ``ours``: the community mounted at ``/community`` in a Starlette app, one
  uvicorn process (``websockets-sansio``, no compression), SQLite, messages
  persisted. Members, sessions and the room are seeded directly in the
  database before the server starts (HTTP sign-in is rate limited per
  address), and each client signs in with its own session cookie.
- ``bare``: ``websockets.asyncio.server.serve`` calling
  ``websockets.broadcast(subscribers, frame)`` for each text frame the
  sender sends: the floor any Python WebSocket fan-out sits on.

N clients (``compression=None``, ``Origin`` = the server's own origin) each
subscribe to the room and read until ``subscribed``, opened in batches. One
sender (a moderator: not rate limited) sends M messages at a fixed rate,
open loop; each body carries its send time (``perf_counter_ns``, digits
written as the letters a-j so it never looks like a phone number to the
identifying-details check). Every client notes when each ``message`` frame
arrives; latency is receive time minus send time, over every delivery.
Deliveries/s is deliveries divided by the time from the first send to the
last delivery. Clients send an application ``ping`` every 20 s, as real
clients do (the server closes sockets idle for ``ws_idle_seconds``).

Usage (``make bench`` runs the first)::

    .venv/bin/python bench/chat_fanout.py                 # N=1000, M=200, 20 msg/s
    .venv/bin/python bench/chat_fanout.py --repeat 3 --wait-quiet 600   # 3 runs each, medians
    .venv/bin/python bench/chat_fanout.py --clients 200 --output bench/results/chat_fanout_200.json
    .venv/bin/python bench/chat_fanout.py --only ours --profile   # cProfile the server
    .venv/bin/python bench/chat_fanout.py --only ours --gc-log    # log GC pauses over 5 ms

The table is printed and the numbers are written as JSON to
``bench/results/chat_fanout.json`` (results are not tracked by git), with
the CPU each side used over the measured window: the server process, this
process (the clients and the sender), and everything else on the machine
("other": other processes and uncharged kernel work), in percent of one CPU.
A busy "other" column means the run shared the machine and is not comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import gc
import io
import json
import math
import os
import platform
import pstats
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MOUNT = "/community"
ROOM = "bench"
PASSWORD = "a long enough passphrase for benchmarks"
SECRET_ENV = "AC_BENCH_SECRET"
#: Seconds between a client's application pings (clients ping every 20-30 s).
PING_EVERY = 20.0


def dumps(frame: dict[str, Any]) -> str:
    """Compact JSON, as the community's own frames are (``{"type":"..."`` first)."""
    return json.dumps(frame, separators=(",", ":"))


SUBSCRIBE = dumps({"type": "subscribe", "room": ROOM, "since": None})
PING = dumps({"type": "ping"})
PONG = dumps({"type": "pong"})
#: Frames that carry a chat message: ours sends ``message``, the bare server
#: relays the sender's ``send`` frame as it is.
MESSAGE_PREFIXES = ('{"type":"message"', '{"type":"send"')
SUBSCRIBED_PREFIX = '{"type":"subscribed"'
PONG_PREFIX = '{"type":"pong"'
ERROR_PREFIX = '{"type":"error"'
_TO_LETTERS = str.maketrans("0123456789", "abcdefghij")
_TO_DIGITS = str.maketrans("abcdefghij", "0123456789")
_STAMP = re.compile(r"fanout (\d+) ([a-j]+)")


def origin_of(port: int) -> str:
    return f"http://127.0.0.1:{port}"


# -- the servers (run as subprocesses of this same file) ----------------------------


def community_settings(db_path: str, port: int) -> Any:
    from alumni_community import Settings

    return Settings(
        database_url=f"sqlite://{db_path}",
        secret_key=os.environ[SECRET_ENV],
        cookie_secure=False,
        allowed_origins=[origin_of(port)],
        ws_connections_per_member=2,
        password_hash_memory_kib=64,
        password_hash_passes=1,
        migrate_on_start=True,
    )


@contextlib.contextmanager
def profiling(out: str | None) -> Iterator[None]:
    """cProfile the loop thread between SIGUSR1 and SIGUSR2 (the measured window)."""
    if out is None:
        yield
        return
    profiler = cProfile.Profile()

    def start(*_: object) -> None:
        profiler.enable()

    def stop(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(out + ".tmp")
        os.replace(out + ".tmp", out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    yield


def log_gc_pauses(longer_than_ms: float = 5.0) -> None:
    """Print every garbage collection longer than ``longer_than_ms`` to stderr (the server log)."""
    started = [0.0]

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = (time.perf_counter() - started[0]) * 1000
        if took > longer_than_ms:
            print(
                f"gc: generation {info['generation']} took {took:.1f} ms "
                f"(collected {info['collected']}) at {time.time():.3f}",
                file=sys.stderr,
                flush=True,
            )

    gc.callbacks.append(note)


def run_uvicorn(app: Any, port: int, lifespan: str = "on") -> None:
    """Serve ``app`` as every bench server is served: one uvicorn process on loopback,
    ``websockets-sansio``, no per-message deflate, log level warning."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        log_level="warning",
        lifespan=lifespan,
    )
    uvicorn.Server(config).run()


def serve_community(settings: Any, port: int) -> None:
    """The community with ``settings``, mounted at ``MOUNT`` in a Starlette app, served."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from alumni_community import Community

    community = Community(settings)
    app = Starlette(routes=[Mount(MOUNT, app=community)], lifespan=community.lifespan)
    run_uvicorn(app, port)


def serve_ours(port: int, db_path: str, profile_out: str | None) -> None:
    with profiling(profile_out):
        serve_community(community_settings(db_path, port), port)


def serve_bare(port: int, profile_out: str | None) -> None:
    async def main() -> None:
        subscribers: set[ServerConnection] = set()

        async def handler(ws: ServerConnection) -> None:
            try:
                async for data in ws:
                    if not isinstance(data, str):
                        continue
                    frame = json.loads(data)
                    kind = frame.get("type")
                    if kind == "send":
                        websockets.broadcast(subscribers, data)
                    elif kind == "subscribe":
                        subscribers.add(ws)
                        await ws.send(dumps({"type": "subscribed", "room": frame["room"]}))
                    elif kind == "ping":
                        await ws.send(PONG)
            except ConnectionClosed:
                pass
            finally:
                subscribers.discard(ws)

        loop = asyncio.get_running_loop()
        stop: asyncio.Future[None] = loop.create_future()

        def stopping() -> None:
            if not stop.done():
                stop.set_result(None)

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping)
        # Same accept backlog as uvicorn's default.
        async with serve(handler, "127.0.0.1", port, compression=None, backlog=2048):
            await stop

    with profiling(profile_out):
        asyncio.run(main())


# -- seeding ------------------------------------------------------------------------


async def seed(db_path: str, port: int, clients: int) -> tuple[str, list[str]]:
    """Migrate, then make a moderator, the room, N members and one session each.

    Returns the moderator's cookie and the members' cookies.
    """
    return await seed_community(community_settings(db_path, port), clients)


async def seed_community(settings: Any, clients: int) -> tuple[str, list[str]]:
    """``seed`` with any settings (any database)."""
    from alumni_community import Community
    from alumni_community.db import migrate
    from alumni_community.identity.models import Role

    await migrate(settings)
    community = Community(settings)
    async with community.lifespan():
        with community.database.activate():
            accounts = community.accounts
            moderator, _ = await accounts.create_member("bench-mod", PASSWORD, Role.MODERATOR)
            await community.rooms.create_room(
                moderator, {"slug": ROOM, "name": "Bench", "moderation": "open"}
            )
            token, _ = await accounts._new_session(moderator, "bench", via_host=False)
            cookies = []
            for i in range(clients):
                member, _ = await accounts.create_member(f"m{i:05d}", PASSWORD, Role.MEMBER)
                member_token, _ = await accounts._new_session(member, "bench", via_host=False)
                cookies.append(f"ac_session={member_token}")
    return f"ac_session={token}", cookies


# -- clients ------------------------------------------------------------------------


@dataclass
class Probe:
    """Counters every client's reader bumps (one process, one thread: no lock)."""

    deliveries: int = 0
    #: Frames other than pongs: settled means this stopped moving.
    activity: int = 0
    #: Characters received, all frames.
    chars: int = 0


class Client:
    def __init__(self, ws: ClientConnection, probe: Probe) -> None:
        self.ws = ws
        self.probe = probe
        self.subscribed = asyncio.Event()
        #: (receive time in ns, frame) for every message frame.
        self.received: list[tuple[int, str]] = []
        self.errors: list[str] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        probe, append = self.probe, self.received.append
        with contextlib.suppress(ConnectionClosed):
            async for data in self.ws:
                now = time.perf_counter_ns()
                if not isinstance(data, str):
                    continue
                if data.startswith(MESSAGE_PREFIXES):
                    append((now, data))
                    probe.deliveries += 1
                elif data.startswith(SUBSCRIBED_PREFIX):
                    self.subscribed.set()
                elif data.startswith(ERROR_PREFIX):
                    self.errors.append(data)
                if not data.startswith(PONG_PREFIX):
                    probe.activity += 1
                probe.chars += len(data)


async def open_client(url: str, origin: str, cookie: str | None, probe: Probe) -> Client:
    headers = {"Origin": origin}
    if cookie is not None:
        headers["Cookie"] = cookie
    ws = await connect(
        url,
        additional_headers=headers,
        compression=None,
        proxy=None,
        open_timeout=300,
        close_timeout=2,
        max_queue=4096,
    )
    return Client(ws, probe)


async def join(url: str, origin: str, cookie: str | None, probe: Probe) -> Client:
    client = await open_client(url, origin, cookie, probe)
    await client.ws.send(SUBSCRIBE)
    subscribed = asyncio.create_task(client.subscribed.wait())
    await asyncio.wait({subscribed, client.task}, timeout=600, return_when=asyncio.FIRST_COMPLETED)
    if not client.subscribed.is_set():
        subscribed.cancel()
        raise RuntimeError(
            f"a client was not subscribed (closed with {client.ws.close_code} "
            f"{client.ws.close_reason!r}; errors: {client.errors[:1]})"
        )
    return client


async def keep_alive(clients: list[Client]) -> None:
    """An application ping from each client every PING_EVERY seconds, spread evenly."""
    while True:
        if not clients:
            await asyncio.sleep(1)
            continue
        gap = PING_EVERY / len(clients)
        for client in list(clients):
            await asyncio.sleep(gap)
            with contextlib.suppress(ConnectionClosed):
                await client.ws.send(PING)


async def send_messages(ws: ClientConnection, label: str, count: int, rate: float) -> int:
    """Send ``count`` messages at ``rate`` per second (0: back to back); the first send time."""
    first = 0
    start = time.perf_counter() + 0.05
    for i in range(count):
        if rate > 0:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        sent = time.perf_counter_ns()
        first = first or sent
        body = f"{label} {i} {str(sent).translate(_TO_LETTERS)}"
        await ws.send(
            dumps({"type": "send", "room": ROOM, "body": body, "client_id": f"{label}-{i}"})
        )
    return first


async def wait_for(probe: Probe, target: int, idle_timeout: float) -> bool:
    """Until ``target`` deliveries, or none for ``idle_timeout`` seconds."""
    last, since = probe.deliveries, time.perf_counter()
    while probe.deliveries < target:
        await asyncio.sleep(0.02)
        if probe.deliveries != last:
            last, since = probe.deliveries, time.perf_counter()
        elif time.perf_counter() - since > idle_timeout:
            return False
    return True


async def settle(probe: Probe, quiet: float, limit: float) -> float:
    """Wait until no frame (pongs aside) arrived for ``quiet`` seconds; the time it took."""
    began = time.perf_counter()
    last, since = probe.activity, began
    while time.perf_counter() - since < quiet:
        await asyncio.sleep(0.05)
        if probe.activity != last:
            last, since = probe.activity, time.perf_counter()
        if time.perf_counter() - began > limit:
            break
    return time.perf_counter() - began


# -- one server's run -----------------------------------------------------------------


@dataclass
class Server:
    kind: str
    port: int
    ws_url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    profile_out: str | None = None
    sender_cookie: str | None = None
    cookies: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return origin_of(self.port)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    kind: str,
    port: int,
    db_path: str | None,
    profile_out: str | None,
    env: dict[str, str],
    gc_log: bool = False,
) -> Server:
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--port", str(port)]
    if db_path is not None:
        command += ["--db", db_path]
    if profile_out is not None:
        command += ["--profile-out", profile_out]
    if gc_log:
        command += ["--gc-log"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"chat_fanout_{kind}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    path = MOUNT + "/ws" if kind == "ours" else "/"
    return Server(kind, port, f"ws://127.0.0.1:{port}{path}", proc, log_path, profile_out)


async def wait_listening(server: Server, within: float = 60) -> None:
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"the {server.kind} server exited with {server.proc.returncode}; "
                f"see {server.log_path}"
            )
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"the {server.kind} server did not listen within {within} s")


def stop_server(server: Server, timeout: float = 60) -> float:
    """SIGTERM, then SIGKILL after ``timeout``; the seconds shutting down took."""
    began = time.perf_counter()
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
    return time.perf_counter() - began


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def machine_ticks() -> tuple[int, int, int]:
    """All CPUs' busy, idle (with I/O wait) and stolen ticks since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    steal = values[7] if len(values) > 7 else 0
    # guest time is already counted in user time
    return sum(values[:8]) - idle - steal, idle, steal


async def wait_quiet(limit: float, busy_cores: float = 0.15, calm: int = 5) -> bool:
    """Wait up to ``limit`` seconds for ``calm`` seconds in a row with the machine
    (other processes: nothing of ours is running) using under ``busy_cores`` CPUs."""
    deadline, streak = time.perf_counter() + limit, 0
    before = machine_ticks()
    while streak < calm:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(1)
        after = machine_ticks()
        busy = (after[0] - before[0]) / os.sysconf("SC_CLK_TCK")
        streak = streak + 1 if busy < busy_cores else 0
        before = after
    return True


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def measure(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    n, m = args.clients, args.messages
    probe = Probe()
    clients: list[Client] = []
    pinger = asyncio.create_task(keep_alive(clients))
    sender: Client | None = None
    try:
        began, server_cpu0 = time.perf_counter(), cpu_seconds(server.proc.pid)
        for start in range(0, n, args.batch):
            batch = range(start, min(n, start + args.batch))
            clients.extend(
                await asyncio.gather(
                    *(
                        join(
                            server.ws_url,
                            server.origin,
                            server.cookies[i] if server.cookies else None,
                            probe,
                        )
                        for i in batch
                    )
                )
            )
        join_seconds = time.perf_counter() - began
        print(f"  {server.kind}: {n} clients subscribed in {join_seconds:.1f} s", flush=True)
        sender = await open_client(server.ws_url, server.origin, server.sender_cookie, Probe())
        settle_seconds = await settle(probe, args.quiet, args.settle_limit)
        joining = {
            "join_s": join_seconds,
            "settle_s": settle_seconds,
            "join_server_cpu_s": cpu_seconds(server.proc.pid) - server_cpu0,
            # What the clients received while joining: hello, subscribed, presence.
            "join_frames": probe.activity,
            "join_mb": probe.chars / 1e6,
        }
        print(
            f"  {server.kind}: settled in {settle_seconds:.1f} s; the clients received "
            f"{probe.activity} frames, {probe.chars / 1e6:.1f} MB while joining",
            flush=True,
        )

        if args.warmup:
            await send_messages(sender.ws, "warmup", args.warmup, args.rate)
            if not await wait_for(probe, n * args.warmup, args.drain_timeout):
                print(f"  {server.kind}: warm-up incomplete ({probe.deliveries} deliveries)")
            await settle(probe, args.quiet, args.settle_limit)
        before, frames0, chars0 = probe.deliveries, probe.activity, probe.chars
        # The load generator should not pause for its own garbage while measuring.
        gc.collect()
        gc.freeze()
        gc.disable()

        server_cpu0, bench_cpu0 = cpu_seconds(server.proc.pid), time.process_time()
        ticks0 = machine_ticks()
        wall0 = time.perf_counter()
        if server.profile_out:
            server.proc.send_signal(signal.SIGUSR1)
        first_send = await send_messages(sender.ws, "fanout", m, args.rate)
        sent_at = time.perf_counter()
        complete = await wait_for(probe, before + n * m, args.drain_timeout)
        wall1 = time.perf_counter()
        if server.profile_out:
            server.proc.send_signal(signal.SIGUSR2)
        server_cpu = cpu_seconds(server.proc.pid) - server_cpu0
        bench_cpu = time.process_time() - bench_cpu0
        frames, chars = probe.activity - frames0, probe.chars - chars0
        ticks1 = machine_ticks()
        busy, steal = ticks1[0] - ticks0[0], ticks1[2] - ticks0[2]
        if not complete:
            # The idle timeout is not part of the measured window.
            wall1 -= args.drain_timeout
        wall = wall1 - wall0
        print(
            f"  {server.kind}: {m} messages sent in {sent_at - wall0:.1f} s, "
            f"{'all' if complete else 'NOT all'} delivered",
            flush=True,
        )

        latencies: list[float] = []
        #: message index -> (send time ns, first and last delivery latency in ms)
        per_message: dict[int, tuple[int, float, float]] = {}
        last_receive = first_send
        frame_bytes = 0
        for client in clients:
            for received_at, data in client.received:
                stamp = _STAMP.search(data)
                if stamp is None:
                    continue  # a warm-up message
                sent = int(stamp.group(2).translate(_TO_DIGITS))
                latency = (received_at - sent) / 1e6
                latencies.append(latency)
                index = int(stamp.group(1))
                _, first, last = per_message.get(index, (sent, latency, latency))
                per_message[index] = (sent, min(first, latency), max(last, latency))
                last_receive = max(last_receive, received_at)
                frame_bytes = frame_bytes or len(data.encode())
        latencies.sort()
        deliveries = len(latencies)
        span = (last_receive - first_send) / 1e9
        closed = [c.ws.close_code for c in clients if c.task.done()]
        # The messages whose last delivery came latest: where the tail is.
        worst = sorted(per_message.items(), key=lambda item: -item[1][2])[:10]
        errors = [e for c in (*clients, sender) for e in c.errors]
        return {
            "server": server.kind,
            "clients": n,
            "messages": m,
            "rate": args.rate,
            "expected_deliveries": n * m,
            "deliveries": deliveries,
            "lost": n * m - deliveries,
            "deliveries_per_s": deliveries / span if span > 0 else math.nan,
            "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": latencies[-1] if latencies else math.nan,
            "mean_ms": sum(latencies) / deliveries if deliveries else math.nan,
            "span_s": span,
            "server_cpu_percent": 100 * server_cpu / wall,
            "server_cpu_us_per_delivery": 1e6 * server_cpu / deliveries if deliveries else math.nan,
            "bench_cpu_percent": 100 * bench_cpu / wall,
            # Everything else this machine ran meanwhile, in percent of one CPU:
            # other processes, and the kernel work no process is charged for.
            "other_cpu_percent": 100 * busy / os.sysconf("SC_CLK_TCK") / wall
            - 100 * (server_cpu + bench_cpu) / wall,
            "steal_percent": 100 * steal / os.sysconf("SC_CLK_TCK") / wall,
            "message_frame_bytes": frame_bytes,
            "measured_frames": frames,
            "measured_mb": chars / 1e6,
            **joining,
            "clients_closed": len(closed),
            "close_codes": sorted({str(code) for code in closed}),
            "error_frames": len(errors),
            "first_error": errors[0] if errors else None,
            "worst_messages": [
                {
                    "index": index,
                    "sent_at_s": round((sent - first_send) / 1e9, 3),
                    "first_ms": round(first, 1),
                    "last_ms": round(last, 1),
                }
                for index, (sent, first, last) in worst
            ],
        }
    finally:
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinger
        gc.enable()
        gc.unfreeze()
        everyone = [*clients, *([sender] if sender else [])]
        for client in everyone:
            client.ws.transport.abort()
        await asyncio.gather(*(c.task for c in everyone), return_exceptions=True)


# -- the whole run --------------------------------------------------------------------


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(int(meminfo[1]) / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "websockets": version("websockets"),
        "uvicorn": version("uvicorn"),
    }


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def fresh_profile_path(kind: str) -> str:
    path = RESULTS / f"chat_fanout_{kind}.pstats"
    path.unlink(missing_ok=True)
    return str(path)


def write_profile_summary(path: str, lines: int = 40) -> str | None:
    """The top functions by own time and by cumulative time, next to the stats file."""
    if not Path(path).exists():
        return None
    out = io.StringIO()
    stats = pstats.Stats(path, stream=out)
    stats.sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(lines)
    summary = Path(path).with_suffix(".txt")
    summary.write_text(out.getvalue())
    return str(summary.relative_to(HERE.parent))


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    limit = raise_fd_limit()
    if limit < 2 * args.clients + 100:
        raise SystemExit(f"RLIMIT_NOFILE is {limit}: too few files for {args.clients} clients")
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    env = {**os.environ, SECRET_ENV: secrets.token_urlsafe(48)}
    os.environ[SECRET_ENV] = env[SECRET_ENV]
    kinds = ["bare", "ours"] if args.only == "both" else [args.only]
    with tempfile.TemporaryDirectory(prefix="ac-bench-") as tmp:
        for run_index, kind in ((r, k) for r in range(args.repeat) for k in kinds):
            port = free_port()
            db_path = None
            sender_cookie, cookies = None, None
            if kind == "ours":
                # A fresh database every run.
                db_path = str(Path(tmp) / f"bench-{run_index}.sqlite3")
                began = time.perf_counter()
                sender_cookie, cookies = await seed(db_path, port, args.clients)
                print(
                    f"  ours: seeded {args.clients} members in {time.perf_counter() - began:.1f} s",
                    flush=True,
                )
            profile_out = fresh_profile_path(kind) if args.profile else None
            quiet = None
            if args.wait_quiet:
                began = time.perf_counter()
                quiet = await wait_quiet(args.wait_quiet)
                waited = time.perf_counter() - began
                state = "quiet" if quiet else "still busy"
                print(f"  {kind}: the machine was {state} after {waited:.0f} s", flush=True)
            server = start_server(kind, port, db_path, profile_out, env, args.gc_log)
            server.sender_cookie, server.cookies = sender_cookie, cookies
            try:
                await wait_listening(server)
                row = {"run": run_index + 1, **await measure(server, args), "quiet_start": quiet}
                results.append(row)
                if profile_out:
                    for _ in range(300):
                        if os.access(profile_out, os.R_OK):
                            break
                        await asyncio.sleep(0.1)
            finally:
                stopping = stop_server(server)
                print(f"  {kind}: server stopped in {stopping:.1f} s", flush=True)
            if profile_out:
                row["profile"] = write_profile_summary(profile_out)
    return results


def median(values: list[float]) -> float:
    """The median, or NaN of nothing."""
    return statistics.median(values) if values else math.nan


def median_row(rows: list[dict[str, Any]], labels: tuple[str, ...] = ("server",)) -> dict[str, Any]:
    """The median of each number over runs (the middle run per column, not one run);
    ``labels`` are copied from the first run. Missing numbers are left out."""
    merged: dict[str, Any] = {"run": "median", **{label: rows[0][label] for label in labels}}
    for key, value in rows[0].items():
        if key in merged or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        values = [float(row[key]) for row in rows if row.get(key) is not None]
        if values:
            merged[key] = median(values)
    return merged


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'server':<6} {'run':>6} {'clients':>7} {'messages':>8} {'deliveries':>10} "
        f"{'lost':>5} {'deliv/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'join s':>7} {'srv cpu':>7} {'srv us/d':>8} {'bench cpu':>9} {'other cpu':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['server']:<6} {row['run']:>6} {row['clients']:>7.0f} {row['messages']:>8.0f} "
            f"{row['deliveries']:>10.0f} {row['lost']:>5.0f} {row['deliveries_per_s']:>9.0f} "
            f"{row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['max_ms']:>8.1f} "
            f"{row['join_s']:>7.1f} {row['server_cpu_percent']:>6.0f}% "
            f"{row['server_cpu_us_per_delivery']:>8.1f} "
            f"{row['bench_cpu_percent']:>8.0f}% {row['other_cpu_percent']:>8.0f}%"
        )


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    kinds = list(dict.fromkeys(row["server"] for row in results))
    medians = {kind: median_row([r for r in results if r["server"] == kind]) for kind in kinds}
    print()
    print_table(results if args.repeat == 1 else [*results, *medians.values()])
    for row in results:
        if row["clients_closed"] or row["error_frames"]:
            print(
                f"{row['server']} run {row['run']}: {row['clients_closed']} clients closed "
                f"(codes {row['close_codes']}), {row['error_frames']} error frames "
                f"(first: {row['first_error']})"
            )
    summary: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "command": " ".join([".venv/bin/python", "bench/chat_fanout.py", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "clients": args.clients,
            "messages": args.messages,
            "rate": args.rate,
            "warmup": args.warmup,
            "batch": args.batch,
            "repeat": args.repeat,
            "profiled": args.profile,
        },
        "runs": results,
        "medians": medians,
    }
    if "ours" in medians and "bare" in medians:
        ours, bare = medians["ours"], medians["bare"]
        throughput = ours["deliveries_per_s"] / bare["deliveries_per_s"]
        p99 = ours["p99_ms"] / bare["p99_ms"]
        summary["ratios"] = {
            "deliveries_per_s": throughput,
            "p99": p99,
            "deliveries_per_s_target_met": throughput >= 1.0,
            "p99_target_met": p99 <= 1.5,
        }
        over = "" if args.repeat == 1 else f" (medians of {args.repeat} runs)"
        print()
        print(
            f"deliveries/s ours/bare: {throughput:.3f}x{over} "
            f"(target >= 1.0x: {'met' if throughput >= 1.0 else 'MISSED'})"
        )
        print(
            f"p99 ours/bare:          {p99:.3f}x{over} "
            f"(target <= 1.5x: {'met' if p99 <= 1.5 else 'MISSED'})"
        )
    return summary


# -- the sweep: deliveries/s against clients --------------------------------------------


class WindowProbe(Probe):
    """A :class:`Probe` that wakes the sender once deliveries reach ``threshold``."""

    def __init__(self) -> None:
        self._deliveries = 0
        self.activity = 0
        self.chars = 0
        self.threshold = 0
        self.reached = asyncio.Event()

    @property  # type: ignore[override]
    def deliveries(self) -> int:
        return self._deliveries

    @deliveries.setter
    def deliveries(self, value: int) -> None:
        self._deliveries = value
        if value >= self.threshold:
            self.reached.set()

    async def until(self, target: int, idle_seconds: float) -> bool:
        """Until ``target`` deliveries; False after ``idle_seconds`` without one."""
        while self._deliveries < target:
            self.threshold = target
            self.reached.clear()
            seen = self._deliveries
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.reached.wait(), idle_seconds)
            if self._deliveries == seen:
                return False
        return True


async def send_window(
    ws: ClientConnection,
    probe: WindowProbe,
    label: str,
    clients: int,
    window: int,
    seconds: float,
    idle_timeout: float,
) -> tuple[int, int, bool]:
    """Closed loop for ``seconds``: message i goes as soon as the deliveries of all but
    ``window - 1`` earlier messages have arrived (at most ``window`` messages' worth of
    deliveries outstanding). The first send time, messages sent, and whether it kept going.
    """
    base, first, sent = probe.deliveries, 0, 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if not await probe.until(base + (sent - window + 1) * clients, idle_timeout):
            return first, sent, False
        now = time.perf_counter_ns()
        first = first or now
        body = f"{label} {sent} {str(now).translate(_TO_LETTERS)}"
        await ws.send(
            dumps({"type": "send", "room": ROOM, "body": body, "client_id": f"{label}-{sent}"})
        )
        sent += 1
    return first, sent, True


async def measure_saturated(server: Server, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Join ``n`` clients, then send closed loop for ``args.seconds``; what arrived."""
    probe = WindowProbe()
    clients: list[Client] = []
    pinger = asyncio.create_task(keep_alive(clients))
    sender: Client | None = None
    try:
        began = time.perf_counter()
        for start in range(0, n, args.batch):
            batch = range(start, min(n, start + args.batch))
            cookies = server.cookies
            clients.extend(
                await asyncio.gather(
                    *(
                        join(server.ws_url, server.origin, cookies[i] if cookies else None, probe)
                        for i in batch
                    )
                )
            )
        join_seconds = time.perf_counter() - began
        sender = await open_client(server.ws_url, server.origin, server.sender_cookie, Probe())
        await settle(probe, args.quiet, args.settle_limit)
        if args.warmup_seconds > 0:
            warm_base = probe.deliveries
            _, warm, _ = await send_window(
                sender.ws, probe, "warmup", n, args.window, args.warmup_seconds, args.drain_timeout
            )
            await wait_for(probe, warm_base + n * warm, args.drain_timeout)
            await settle(probe, args.quiet, args.settle_limit)
        before = probe.deliveries
        gc.collect()
        gc.freeze()
        gc.disable()
        server_cpu0, bench_cpu0 = cpu_seconds(server.proc.pid), time.process_time()
        ticks0, wall0 = machine_ticks(), time.perf_counter()
        first_send, m, kept_going = await send_window(
            sender.ws, probe, "fanout", n, args.window, args.seconds, args.drain_timeout
        )
        complete = kept_going and await wait_for(probe, before + n * m, args.drain_timeout)
        wall1 = time.perf_counter()
        server_cpu = cpu_seconds(server.proc.pid) - server_cpu0
        bench_cpu = time.process_time() - bench_cpu0
        ticks1 = machine_ticks()
        if not complete:
            wall1 -= args.drain_timeout
        wall = wall1 - wall0
        latencies: list[float] = []
        last_receive = first_send
        for client in clients:
            for received_at, data in client.received:
                stamp = _STAMP.search(data)
                if stamp is None:
                    continue
                sent = int(stamp.group(2).translate(_TO_DIGITS))
                latencies.append((received_at - sent) / 1e6)
                last_receive = max(last_receive, received_at)
            client.received.clear()
        latencies.sort()
        deliveries = len(latencies)
        span = (last_receive - first_send) / 1e9
        clk = os.sysconf("SC_CLK_TCK")
        errors = [e for c in (*clients, sender) for e in c.errors]
        row = {
            "server": server.kind,
            "clients": n,
            "window": args.window,
            "messages": m,
            "messages_per_s": m / span if span > 0 else math.nan,
            "expected_deliveries": n * m,
            "deliveries": deliveries,
            "lost": n * m - deliveries,
            "deliveries_per_s": deliveries / span if span > 0 else math.nan,
            "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": latencies[-1] if latencies else math.nan,
            "span_s": span,
            "join_s": join_seconds,
            "server_cpu_percent": 100 * server_cpu / wall,
            "server_cpu_us_per_delivery": 1e6 * server_cpu / deliveries if deliveries else math.nan,
            "bench_cpu_percent": 100 * bench_cpu / wall,
            "other_cpu_percent": 100 * (ticks1[0] - ticks0[0]) / clk / wall
            - 100 * (server_cpu + bench_cpu) / wall,
            "clients_closed": sum(1 for c in clients if c.task.done()),
            "error_frames": len(errors),
            "first_error": errors[0] if errors else None,
            "complete": complete,
        }
        print(
            f"  {server.kind} x {n}: {m} messages, {deliveries} deliveries in {span:.1f} s = "
            f"{row['deliveries_per_s']:,.0f}/s, p99 {row['p99_ms']:.1f} ms, "
            f"server CPU {row['server_cpu_percent']:.0f}%, bench CPU "
            f"{row['bench_cpu_percent']:.0f}%, other {row['other_cpu_percent']:.0f}%",
            flush=True,
        )
        return row
    finally:
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinger
        gc.enable()
        gc.unfreeze()
        everyone = [*clients, *([sender] if sender else [])]
        for client in everyone:
            client.ws.transport.abort()
        await asyncio.gather(*(c.task for c in everyone), return_exceptions=True)


async def run_sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each client count, each server (alternating which goes first), one fresh server each."""
    counts = args.counts
    limit = raise_fd_limit()
    if limit < 2 * max(counts) + 100:
        raise SystemExit(f"RLIMIT_NOFILE is {limit}: too few files for {max(counts)} clients")
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, SECRET_ENV: secrets.token_urlsafe(48)}
    os.environ[SECRET_ENV] = env[SECRET_ENV]
    kinds = ["bare", "ours"] if args.only == "both" else [args.only]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ac-bench-") as tmp:
        template = Path(tmp) / "template.sqlite3"
        sender_cookie, cookies = None, None
        if "ours" in kinds:
            # Seeded once for the largest count; each run gets a fresh copy.
            began = time.perf_counter()
            sender_cookie, cookies = await seed(str(template), 0, max(counts))
            print(
                f"  ours: seeded {max(counts)} members in {time.perf_counter() - began:.1f} s",
                flush=True,
            )
        for index, n in enumerate(counts):
            for kind in kinds if index % 2 == 0 else kinds[::-1]:
                db_path = str(Path(tmp) / f"run-{n}.sqlite3") if kind == "ours" else None
                tries: list[dict[str, Any]] = []
                for attempt in range(1 + args.retries):
                    port = free_port()
                    if db_path:
                        shutil.copyfile(template, db_path)
                    quiet = None
                    if args.wait_quiet:
                        began = time.perf_counter()
                        quiet = await wait_quiet(args.wait_quiet)
                        print(
                            f"  {kind} x {n}: the machine was "
                            f"{'quiet' if quiet else 'still busy'} "
                            f"after {time.perf_counter() - began:.0f} s",
                            flush=True,
                        )
                    server = start_server(kind, port, db_path, None, env, args.gc_log)
                    server.sender_cookie = sender_cookie if kind == "ours" else None
                    server.cookies = cookies if kind == "ours" else None
                    try:
                        await wait_listening(server)
                        row = await measure_saturated(server, n, args)
                    finally:
                        stop_server(server)
                    tries.append({**row, "attempt": attempt + 1, "quiet_start": quiet})
                    if row["other_cpu_percent"] <= args.max_other:
                        break
                    if attempt < args.retries:
                        print(f"  {kind} x {n}: shared, measuring again", flush=True)
                # The least shared attempt is the one charted; all are kept.
                best = min(tries, key=lambda r: r["other_cpu_percent"])
                for row in tries:
                    row["charted"] = row is best
                rows.extend(tries)
                if db_path:
                    os.remove(db_path)
    return rows


def sweep_chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    rows = [r for r in rows if r.get("charted", True)]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4.5), dpi=100)
    styles = {"ours": ("tab:blue", "o"), "bare": ("tab:gray", "s")}
    for kind in ("bare", "ours"):
        mine = sorted((r for r in rows if r["server"] == kind), key=lambda r: r["clients"])
        if not mine:
            continue
        colour, marker = styles[kind]
        label = "ours (community)" if kind == "ours" else "bare websockets"
        xs = [r["clients"] for r in mine]
        left.plot(
            xs, [r["deliveries_per_s"] for r in mine], marker=marker, color=colour, label=label
        )
        right.plot(xs, [r["p99_ms"] for r in mine], marker=marker, color=colour, label=label)
    for axes in (left, right):
        axes.set_xscale("log")
        axes.set_xlabel("clients in the room")
        axes.set_xticks(sorted({r["clients"] for r in rows}))
        axes.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axes.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        axes.grid(True, alpha=0.3)
        axes.legend()
    left.set_ylabel("deliveries per second")
    left.set_ylim(bottom=0)
    left.set_title("Sustained deliveries/s")
    right.set_ylabel("p99 latency, ms")
    right.set_ylim(bottom=0)
    right.set_title("p99 send to delivery")
    window = rows[0]["window"] if rows else 0
    fig.suptitle(f"Chat fan-out, closed loop ({window} messages in flight), 2 CPUs")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def sweep_report(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    header = (
        f"{'clients':>7} {'server':<6} {'msg/s':>7} {'deliv/s':>9} {'lost':>5} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'srv cpu':>7} {'srv us/d':>8} {'bench cpu':>9} {'other cpu':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in sorted(rows, key=lambda r: (r["clients"], r["server"], r.get("attempt", 1))):
        mark = "" if row.get("charted", True) else "  (not charted: more shared)"
        print(
            f"{row['clients']:>7} {row['server']:<6} {row['messages_per_s']:>7.1f} "
            f"{row['deliveries_per_s']:>9,.0f} {row['lost']:>5} {row['p50_ms']:>8.1f} "
            f"{row['p99_ms']:>8.1f} {row['server_cpu_percent']:>6.0f}% "
            f"{row['server_cpu_us_per_delivery']:>8.1f} {row['bench_cpu_percent']:>8.0f}% "
            f"{row['other_cpu_percent']:>8.0f}%{mark}"
        )
    ratios = []
    for n in args.counts:
        pair = {r["server"]: r for r in rows if r["clients"] == n and r.get("charted", True)}
        if "ours" in pair and "bare" in pair:
            throughput = pair["ours"]["deliveries_per_s"] / pair["bare"]["deliveries_per_s"]
            p99 = pair["ours"]["p99_ms"] / pair["bare"]["p99_ms"]
            shared = max(pair["ours"]["other_cpu_percent"], pair["bare"]["other_cpu_percent"])
            ratios.append(
                {"clients": n, "deliveries_per_s": throughput, "p99": p99, "shared": shared > 50}
            )
            print(
                f"{n:>7} clients: deliveries/s ours/bare {throughput:.2f}x "
                f"(target >= 1.0x: {'met' if throughput >= 1.0 else 'MISSED'}), "
                f"p99 ours/bare {p99:.2f}x{' (shared)' if shared > 50 else ''}"
            )
    for row in rows:
        if row["clients_closed"] or row["error_frames"] or not row["complete"]:
            print(
                f"{row['server']} x {row['clients']}: {row['clients_closed']} clients closed, "
                f"{row['error_frames']} error frames (first: {row['first_error']}), "
                f"{'complete' if row['complete'] else 'stalled'}"
            )
    return {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "command": " ".join([".venv/bin/python", "bench/chat_fanout.py", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "counts": args.counts,
            "window": args.window,
            "seconds": args.seconds,
            "warmup_seconds": args.warmup_seconds,
            "batch": args.batch,
            "max_other": args.max_other,
            "retries": args.retries,
        },
        "runs": rows,
        "ratios": ratios,
    }


def parse_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("client counts must be positive integers")
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=1000, help="subscribers (default 1000)")
    parser.add_argument("--messages", type=int, default=200, help="messages measured (200)")
    parser.add_argument(
        "--rate", type=float, default=20.0, help="messages per second; 0: back to back (20)"
    )
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured messages first (5)")
    parser.add_argument("--batch", type=int, default=50, help="clients opened at once (50)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each server, alternating (1)"
    )
    parser.add_argument(
        "--quiet", type=float, default=1.0, help="seconds without frames that count as settled"
    )
    parser.add_argument(
        "--settle-limit", type=float, default=600.0, help="longest wait to settle, in seconds"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="give up after this many seconds without a delivery (30)",
    )
    parser.add_argument("--only", choices=["both", "ours", "bare"], default="both")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each run, wait up to this long for the machine to be idle "
        "(on a shared machine); 0: do not wait",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile each server's event loop over the measured window "
        "(bench/results/chat_fanout_<server>.pstats and .txt)",
    )
    parser.add_argument(
        "--gc-log",
        action="store_true",
        help="the servers log every garbage collection over 5 ms "
        "(bench/results/chat_fanout_<server>.log)",
    )
    parser.add_argument("--output", type=Path, help="JSON results (bench/results/chat_fanout.json)")
    sweep = parser.add_argument_group(
        "sweep",
        "deliveries/s against clients, closed loop (--sweep; --batch, --only, "
        "--quiet, --drain-timeout, --wait-quiet and --gc-log apply too)",
    )
    sweep.add_argument(
        "--sweep",
        action="store_true",
        help="run each server at each of --counts clients, sending as fast as a window of "
        "--window messages in flight allows (bench/results/chat_fanout_sweep.json)",
    )
    sweep.add_argument(
        "--counts",
        type=parse_counts,
        default=[50, 100, 200, 500, 1000],
        help="client counts, comma-separated (50,100,200,500,1000)",
    )
    sweep.add_argument(
        "--window", type=int, default=4, help="messages in flight at most, closed loop (4)"
    )
    sweep.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds of sending per run (10)"
    )
    sweep.add_argument(
        "--warmup-seconds", type=float, default=2.0, help="unmeasured sending first (2)"
    )
    sweep.add_argument(
        "--max-other",
        type=float,
        default=50.0,
        metavar="PERCENT",
        help="a run during which other processes used more CPU than this (percent of one "
        "CPU) counts as shared and is measured again, up to --retries times; the least "
        "shared is charted (50)",
    )
    sweep.add_argument(
        "--retries", type=int, default=1, help="measurements again of a shared run (1)"
    )
    sweep.add_argument(
        "--chart",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write docs/images/chat_fanout.png (default on)",
    )
    # How this file runs the servers in subprocesses.
    parser.add_argument("--serve", choices=["ours", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.clients, args.messages, args.batch, args.repeat) < 1 or args.rate < 0:
        parser.error(
            "--clients, --messages, --batch and --repeat must be at least 1, --rate at least 0"
        )
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve and args.gc_log:
        log_gc_pauses()
    if args.serve == "ours":
        serve_ours(args.port, args.db, args.profile_out)
        return
    if args.serve == "bare":
        serve_bare(args.port, args.profile_out)
        return
    if args.sweep:
        print(
            f"chat fan-out sweep: {args.counts} clients, closed loop, {args.window} messages "
            f"in flight, {args.seconds:g} s each",
            flush=True,
        )
        rows = asyncio.run(run_sweep(args))
        summary = sweep_report(rows, args)
        output = args.output or RESULTS / "chat_fanout_sweep.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"\nwritten to {output}")
        if args.chart:
            chart = HERE.parent / "docs" / "images" / "chat_fanout.png"
            sweep_chart(rows, chart)
            print(f"chart: {chart.relative_to(HERE.parent)}")
        return
    print(
        f"chat fan-out: {args.clients} clients, {args.messages} messages at "
        f"{args.rate:g}/s, one room",
        flush=True,
    )
    results = asyncio.run(run(args))
    summary = report(results, args)
    output = args.output or (
        RESULTS / ("chat_fanout_profiled.json" if args.profile else "chat_fanout.json")
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwritten to {output}")


if __name__ == "__main__":
    main()
