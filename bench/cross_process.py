"""Cross-process chat: what a second server process adds to a message's delivery.

Two uvicorn processes of ours, **A** and **B**, serve the community mounted at
``/community`` from the same PostgreSQL database with the same secret, each
configured by ``ALUMNI_COMMUNITY_*`` environment variables (as a host runs
them), one broker between them:

- ``postgres``: no ``broker_url``, so the database's own LISTEN/NOTIFY
  (a dedicated asyncpg connection per process listens; each publish is a
  ``pg_notify`` after the message's transaction commits).
- ``redis``: ``broker_url=redis://...`` on a throwaway ``redis-server``
  (a free port, nothing saved to disk), pub/sub through ``redis.asyncio``.
- ``memory`` (a reference, not a way to run two processes): process A alone
  with ``broker_url=memory://``, where publishing is delivering. Only the
  ``same`` placement; the difference to the others' ``same`` is the broker
  hop itself, which every event takes, even to its own process.

PostgreSQL is a throwaway server too (``bench/load.py``'s
``throwaway_postgres``: initdb in a temporary folder, durability off),
both removed afterwards. Before the servers start, this process migrates
the database and makes a moderator (the sender: moderators are not rate
limited), the room ``bench`` (moderation ``open``), N members and one
session each, directly in the database.

Each round joins N clients (``compression=None``, each with its own member's
cookie and the origin of the process it connects to) to the room, in one of
three placements, then one sender connected to **A** sends M messages at a
fixed rate, open loop, after a few unmeasured warm-up messages:

- ``same``: all clients on A, the sender's process (the baseline: every
  event still goes through the broker, A hears its own publish);
- ``cross``: all clients on B, so every delivery crosses processes;
- ``mixed``: half on A, half on B.

Each body carries its send time (``perf_counter_ns``, digits written as
letters); latency is receive time minus send time, per delivery (sender
and clients live in this process: one clock). The **added** latency of a
placement is its p99 (and p50) minus the ``same`` placement's, on the medians
over ``--repeat`` rounds; the rounds alternate placements (same, cross,
mixed, same, ...) with the same two servers, so the baseline runs under the
same conditions. Target: p99 added under 50 ms for ``cross``.

Also recorded over each measured window, in percent of one CPU: server A,
server B, the database (postmaster and backends), redis-server, this
process (clients and sender), and everything else on the machine ("other":
a busy "other" means a shared, less comparable run). ``--py-spy`` records
process B (``py-spy record --format raw``) over the ``cross`` windows.

Usage::

    .venv/bin/python bench/cross_process.py --repeat 3 --wait-quiet 30   # N=100, M=200, 20/s
    .venv/bin/python bench/cross_process.py --clients 20 --messages 40 --broker redis
    .venv/bin/python bench/cross_process.py --py-spy        # profile B while crossing

Results go to ``bench/results/cross_process.json`` (not tracked by git),
server logs beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chat_fanout import (
    MOUNT,
    RESULTS,
    Client,
    Probe,
    Server,
    cpu_seconds,
    free_port,
    join,
    keep_alive,
    machine,
    machine_ticks,
    median_row,
    open_client,
    percentile,
    raise_fd_limit,
    seed_community,
    send_messages,
    settle,
    stop_server,
    wait_for,
    wait_listening,
    wait_quiet,
)
from bench.load import (
    HASH_ENV,
    die_with_parent,
    finite,
    fmt,
    throwaway_postgres,
    tree_cpu_seconds,
)
from bench.load import start_server as start_load_server

PASSWORD = "a long enough passphrase for benchmarks"
BROKERS = ("postgres", "redis", "memory")
PLACEMENTS = ("same", "cross", "mixed")
#: Target: p99 added by crossing processes, in ms.
TARGET_ADDED_P99_MS = 50.0
_TO_LETTERS = str.maketrans("0123456789", "abcdefghij")
_TO_DIGITS = str.maketrans("abcdefghij", "0123456789")


# -- the servers (bench/load.py's, in subprocesses) ------------------------------------------


def start_server(
    name: str, database_url: str, broker_url: str | None, secret: str, log_path: Path
) -> Server:
    port = free_port()
    extra = {"ALUMNI_COMMUNITY_BROKER_URL": broker_url} if broker_url is not None else None
    started = start_load_server(database_url, secret, port, log_path, extra)
    return Server(name, port, f"ws://127.0.0.1:{port}{MOUNT}/ws", started.proc, log_path)


@contextlib.contextmanager
def throwaway_redis() -> Iterator[tuple[str, int]]:
    """A redis-server on a free loopback port, nothing saved to disk; its URL and pid."""
    binary = shutil.which("redis-server")
    if not binary:
        raise SystemExit("redis-server not found (apt-get install redis-server)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="ac-cross-redis-")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", workdir]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", proc.pid
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


# -- seeding ---------------------------------------------------------------------------------


async def seed(database_url: str, clients: int) -> tuple[str, list[str]]:
    """Migrate, then make a moderator, the room, N members and one session each.

    Returns the moderator's cookie and the members' cookies.
    """
    from alumni_community import Settings

    settings = Settings(
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        cookie_secure=False,
        password_hash_memory_kib=int(HASH_ENV["ALUMNI_COMMUNITY_PASSWORD_HASH_MEMORY_KIB"]),
        password_hash_passes=int(HASH_ENV["ALUMNI_COMMUNITY_PASSWORD_HASH_PASSES"]),
        # Seeding needs no broker between processes.
        broker_url="memory://",
    )
    return await seed_community(settings, clients)


# -- one round -------------------------------------------------------------------------------


def placed_on(placement: str, i: int) -> str:
    """Which process client ``i`` joins: A or B."""
    if placement == "same":
        return "A"
    if placement == "cross":
        return "B"
    return "A" if i % 2 == 0 else "B"


def stats(latencies: list[float]) -> dict[str, float]:
    latencies.sort()
    return {
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": latencies[-1] if latencies else math.nan,
    }


def start_py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    binary = Path(sys.executable).parent / "py-spy"
    if not binary.exists():
        print("  py-spy not found next to this Python: not profiling", flush=True)
        return None
    command = [str(binary), "record", "-p", str(pid), "-d", str(max(1, math.ceil(seconds)))]
    command += ["-r", "200", "--format", "raw", "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def measure(
    broker: str,
    placement: str,
    run_index: int,
    servers: dict[str, Server],
    cpu_pids: dict[str, tuple[int, bool]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Join N clients as ``placement`` says, send M messages from A, gather latencies."""
    n, m = args.clients, args.messages
    cookies = servers["A"].cookies or []
    # Labels (and so client_ids) of their own: a client_id sent again is not a new
    # message, and a subscribe's backlog replays earlier rounds' messages.
    tag = f"{broker}-{placement}-{str(run_index).translate(_TO_LETTERS)}"
    label = f"measured-{tag}"
    stamp_of = re.compile(rf"{re.escape(label)} (\d+) ([a-j]+)")
    probe = Probe()
    clients: list[Client] = []
    sides: list[str] = []
    pinger = asyncio.create_task(keep_alive(clients))
    sender: Client | None = None
    spy: subprocess.Popen[bytes] | None = None
    try:
        began = time.perf_counter()
        for start in range(0, n, args.batch):
            batch = range(start, min(n, start + args.batch))
            placed = [placed_on(placement, i) for i in batch]
            joined = await asyncio.gather(
                *(
                    join(servers[p].ws_url, servers[p].origin, cookies[i], probe)
                    for i, p in zip(batch, placed, strict=True)
                )
            )
            clients.extend(joined)
            sides.extend(placed)
        join_seconds = time.perf_counter() - began
        a = servers["A"]
        sender = await open_client(a.ws_url, a.origin, a.sender_cookie, Probe())
        await settle(probe, args.quiet, args.settle_limit)
        if args.warmup:
            await send_messages(sender.ws, f"warmup-{tag}", args.warmup, args.rate)
            if not await wait_for(probe, n * args.warmup, args.drain_timeout):
                print(f"    warm-up incomplete ({probe.deliveries} deliveries)", flush=True)
            await settle(probe, args.quiet, args.settle_limit)
        before = probe.deliveries
        gc.collect()
        gc.freeze()
        gc.disable()

        def cpu_now() -> dict[str, float]:
            return {
                name: tree_cpu_seconds(pid) if tree else cpu_seconds(pid)
                for name, (pid, tree) in cpu_pids.items()
            }

        if args.py_spy and placement == "cross":
            out = RESULTS / f"cross_process_{broker}_B.pyspy.txt"
            spy = start_py_spy(servers["B"].proc.pid, m / max(args.rate, 1) + 1, out)
            await asyncio.sleep(1.0)  # py-spy attaches
        cpu0, bench0, ticks0 = cpu_now(), time.process_time(), machine_ticks()
        wall0 = time.perf_counter()
        first_send = await send_messages(sender.ws, label, m, args.rate)
        complete = await wait_for(probe, before + n * m, args.drain_timeout)
        wall1 = time.perf_counter()
        cpu1, bench1, ticks1 = cpu_now(), time.process_time(), machine_ticks()
        # CPU over the whole window (an incomplete one includes the idle timeout).
        wall = max(wall1 - wall0, 1e-9)
        cpu = {name: cpu1[name] - cpu0[name] for name in cpu0}
        bench_cpu = bench1 - bench0
        busy = (ticks1[0] - ticks0[0]) / os.sysconf("SC_CLK_TCK")

        per_side: dict[str, list[float]] = {"A": [], "B": []}
        latencies: list[float] = []
        last_receive = first_send
        for client, side in zip(clients, sides, strict=True):
            for received_at, data in client.received:
                stamp = stamp_of.search(data)
                if stamp is None:
                    continue  # a warm-up message, or an earlier round's in the backlog
                latency = (received_at - int(stamp.group(2).translate(_TO_DIGITS))) / 1e6
                latencies.append(latency)
                per_side[side].append(latency)
                last_receive = max(last_receive, received_at)
        deliveries = len(latencies)
        errors = [e for c in (*clients, sender) for e in c.errors]
        row: dict[str, Any] = {
            "broker": broker,
            "placement": placement,
            "clients": n,
            "clients_on_b": sides.count("B"),
            "messages": m,
            "rate": args.rate,
            "expected_deliveries": n * m,
            "deliveries": deliveries,
            "lost": n * m - deliveries,
            "complete": complete,
            **stats(latencies),
            "mean_ms": sum(latencies) / deliveries if deliveries else math.nan,
            "span_s": (last_receive - first_send) / 1e9,
            "join_s": join_seconds,
            "window_s": wall,
            **{f"{name}_cpu_percent": 100 * used / wall for name, used in cpu.items()},
            "bench_cpu_percent": 100 * bench_cpu / wall,
            "other_cpu_percent": 100 * (busy - sum(cpu.values()) - bench_cpu) / wall,
            "steal_percent": 100 * (ticks1[2] - ticks0[2]) / os.sysconf("SC_CLK_TCK") / wall,
            "clients_closed": sum(c.task.done() for c in clients),
            "error_frames": len(errors),
            "first_error": errors[0] if errors else None,
        }
        if placement == "mixed":
            for side, values in per_side.items():
                row.update({f"{side.lower()}_{k}": v for k, v in stats(values).items()})
        return row
    finally:
        if spy is not None:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinger
        gc.enable()
        gc.unfreeze()
        everyone = [*clients, *([sender] if sender else [])]
        for client in everyone:
            client.ws.transport.abort()
        await asyncio.gather(*(c.task for c in everyone), return_exceptions=True)


# -- the whole run ---------------------------------------------------------------------------


async def rounds(
    broker: str,
    servers: dict[str, Server],
    cpu_pids: dict[str, tuple[int, bool]],
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
) -> None:
    for server in servers.values():
        await wait_listening(server)
    # Without a broker between processes only A serves, and only "same" means anything.
    placements = ["same"] if broker == "memory" else args.placements
    for run_index in range(args.repeat):
        for placement in placements:
            # Let the servers finish with the last round's sockets (closes, presence).
            await asyncio.sleep(1.0)
            quiet = None
            if args.wait_quiet:
                began = time.perf_counter()
                quiet = await wait_quiet(args.wait_quiet)
                state = "quiet" if quiet else "still busy"
                print(f"    the machine was {state} after {time.perf_counter() - began:.0f} s")
            row = await measure(broker, placement, run_index, servers, cpu_pids, args)
            row.update({"run": run_index + 1, "quiet_start": quiet})
            rows.append(row)
            print(
                f"  {broker} run {run_index + 1} {placement:<5}: {row['deliveries']:,} "
                f"deliveries, {row['lost']} lost, p50 {row['p50_ms']:.1f} ms, "
                f"p99 {row['p99_ms']:.1f} ms, max {row['max_ms']:.1f} ms; CPU A "
                f"{row['server_a_cpu_percent']:.0f}%, "
                f"B {fmt(row.get('server_b_cpu_percent'), 0)}%, "
                f"other {row['other_cpu_percent']:.0f}%",
                flush=True,
            )


async def migrate_to_head(database_url: str) -> None:
    """Bring the schema up to date (again: the code may have moved on since seeding)."""
    from alumni_community import Settings
    from alumni_community.db import migrate

    await migrate(Settings(database_url=database_url, secret_key=secrets.token_urlsafe(48)))


def run(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    """Every round, appended to ``results`` as it ends (kept if a later one fails)."""
    limit = raise_fd_limit()
    if limit < 2 * args.clients + 200:
        raise SystemExit(f"RLIMIT_NOFILE is {limit}: too few files for {args.clients} clients")
    RESULTS.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    with contextlib.ExitStack() as stack:
        database_url, pg_data = stack.enter_context(throwaway_postgres())
        postmaster = int((pg_data / "postmaster.pid").read_text().split()[0])
        began = time.perf_counter()
        sender_cookie, cookies = asyncio.run(seed(database_url, args.clients))
        print(f"  seeded {args.clients} members in {time.perf_counter() - began:.1f} s")
        for broker in args.brokers:
            asyncio.run(migrate_to_head(database_url))
            with contextlib.ExitStack() as servers_stack:
                cpu_pids: dict[str, tuple[int, bool]] = {"database": (postmaster, True)}
                broker_url = "memory://" if broker == "memory" else None
                if broker == "redis":
                    broker_url, redis_pid = servers_stack.enter_context(throwaway_redis())
                    cpu_pids["redis"] = (redis_pid, False)
                servers: dict[str, Server] = {}
                names = ("A",) if broker == "memory" else ("A", "B")
                for name in names:
                    log_path = RESULTS / f"cross_process_{broker}_{name}.log"
                    server = start_server(name, database_url, broker_url, secret, log_path)
                    server.sender_cookie, server.cookies = sender_cookie, cookies
                    servers_stack.callback(stop_server, server)
                    servers[name] = server
                    cpu_pids[f"server_{name.lower()}"] = (server.proc.pid, False)
                print(f"  {broker}: server(s) {' and '.join(names)} started", flush=True)
                asyncio.run(rounds(broker, servers, cpu_pids, args, results))
                for server in servers.values():
                    stop_server(server)


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'broker':<8} {'placement':<9} {'run':>6} {'deliveries':>10} {'lost':>5} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'A cpu':>6} {'B cpu':>6} {'db cpu':>6} "
        f"{'redis':>6} {'bench':>6} {'other':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['broker']:<8} {row['placement']:<9} {row['run']:>6} "
            f"{row['deliveries']:>10.0f} {row['lost']:>5.0f} {fmt(row['p50_ms']):>7} "
            f"{fmt(row['p99_ms']):>7} {fmt(row['max_ms']):>7} "
            f"{fmt(row['server_a_cpu_percent'], 0):>5}% "
            f"{fmt(row.get('server_b_cpu_percent'), 0):>5}% "
            f"{fmt(row['database_cpu_percent'], 0):>5}% "
            f"{fmt(row.get('redis_cpu_percent'), 0):>5}% "
            f"{fmt(row['bench_cpu_percent'], 0):>5}% {fmt(row['other_cpu_percent'], 0):>5}%"
        )


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    medians: dict[str, dict[str, dict[str, Any]]] = {}
    for broker in args.brokers:
        for placement in PLACEMENTS:
            rows = [r for r in results if r["broker"] == broker and r["placement"] == placement]
            if rows:
                medians.setdefault(broker, {})[placement] = median_row(
                    rows, labels=("broker", "placement")
                )
    print()
    every_median = [row for per in medians.values() for row in per.values()]
    print_table(results if args.repeat == 1 else [*results, *every_median])
    for row in results:
        if row["clients_closed"] or row["error_frames"] or row["lost"]:
            print(
                f"{row['broker']} {row['placement']} run {row['run']}: {row['lost']} lost, "
                f"{row['clients_closed']} clients closed, {row['error_frames']} error frames "
                f"(first: {row['first_error']})"
            )
    added: dict[str, dict[str, Any]] = {}
    print()
    over = "" if args.repeat == 1 else f" (medians of {args.repeat} rounds)"
    for broker, per in medians.items():
        same = per.get("same")
        if same is None:
            continue
        for placement in ("cross", "mixed"):
            other = per.get(placement)
            if other is None:
                continue
            p99 = other["p99_ms"] - same["p99_ms"]
            p50 = other["p50_ms"] - same["p50_ms"]
            met = p99 < TARGET_ADDED_P99_MS
            added.setdefault(broker, {})[placement] = {
                "p99_added_ms": p99,
                "p50_added_ms": p50,
                "p99_ratio": other["p99_ms"] / same["p99_ms"],
                "target_ms": TARGET_ADDED_P99_MS,
                "target_met": met,
            }
            verdict = ("met" if met else "MISSED") if placement == "cross" else "for reference"
            ratio = other["p99_ms"] / same["p99_ms"]
            print(
                f"{broker:<8} {placement:<5} vs same: p99 {other['p99_ms']:.1f} - "
                f"{same['p99_ms']:.1f} = {p99:+.1f} ms added ({ratio:.2f}x)"
                f", p50 {p50:+.1f} ms{over} (target p99 added < {TARGET_ADDED_P99_MS:g} ms: "
                f"{verdict})"
            )
    alone = medians.get("memory", {}).get("same")
    hop: dict[str, dict[str, float]] = {}
    for broker, per in medians.items():
        same = per.get("same")
        if alone is None or same is None or broker == "memory":
            continue
        hop[broker] = {
            "p99_ms": same["p99_ms"] - alone["p99_ms"],
            "p50_ms": same["p50_ms"] - alone["p50_ms"],
        }
        print(
            f"{broker:<8} same  vs one process, memory://: p99 {hop[broker]['p99_ms']:+.1f} ms, "
            f"p50 {hop[broker]['p50_ms']:+.1f} ms{over} (the broker hop; for reference)"
        )
    return {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "command": " ".join([".venv/bin/python", "bench/cross_process.py", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "clients": args.clients,
            "messages": args.messages,
            "rate": args.rate,
            "warmup": args.warmup,
            "batch": args.batch,
            "repeat": args.repeat,
            "brokers": args.brokers,
            "placements": args.placements,
            "server_environment": {
                **HASH_ENV,
                "note": "cheap password hash; sessions are seeded, nobody signs in",
            },
        },
        "runs": results,
        "medians": medians,
        "added": added,
        "broker_hop": hop,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=100, help="subscribers (100)")
    parser.add_argument("--messages", type=int, default=200, help="messages measured (200)")
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second (20)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured messages first (5)")
    parser.add_argument("--batch", type=int, default=50, help="clients opened at once (50)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of each placement, alternating (1)"
    )
    parser.add_argument(
        "--broker",
        dest="brokers",
        action="append",
        choices=BROKERS,
        help="broker(s) to measure; repeat the flag for several (default: all three)",
    )
    parser.add_argument(
        "--placement",
        dest="placements",
        action="append",
        choices=PLACEMENTS,
        help="placement(s) to measure, in this order (default: same, cross, mixed)",
    )
    parser.add_argument(
        "--quiet", type=float, default=1.0, help="seconds without frames that count as settled"
    )
    parser.add_argument(
        "--settle-limit", type=float, default=120.0, help="longest wait to settle, in seconds"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="give up after this many seconds without a delivery (30)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each round, wait up to this long for the machine to be idle "
        "(on a shared machine); 0: do not wait",
    )
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="py-spy record process B over each cross window "
        "(bench/results/cross_process_<broker>_B.pyspy.txt, raw collapsed stacks)",
    )
    parser.add_argument(
        "--output", type=Path, help="JSON results (bench/results/cross_process.json)"
    )
    args = parser.parse_args(argv)
    if min(args.clients, args.messages, args.batch, args.repeat) < 1 or args.rate <= 0:
        parser.error("--clients, --messages, --batch, --repeat and --rate must be positive")
    args.brokers = list(dict.fromkeys(args.brokers or BROKERS))
    args.placements = list(dict.fromkeys(args.placements or PLACEMENTS))
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    def terminated(*_: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM cleans up as Ctrl-C does: both servers, redis-server, PostgreSQL, temporary files.
    signal.signal(signal.SIGTERM, terminated)
    # Ctrl-C raises KeyboardInterrupt even if this was started with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(
        f"cross-process chat: {args.clients} clients, {args.messages} messages at "
        f"{args.rate:g}/s, brokers {', '.join(args.brokers)}, placements "
        f"{', '.join(args.placements)}, {args.repeat} round(s) each",
        flush=True,
    )
    results: list[dict[str, Any]] = []
    failed: BaseException | None = None
    try:
        run(args, results)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, temporary files removed", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        # Report the rounds that did finish, then fail.
        failed = error
        print(f"\nthe run broke: {type(error).__name__}: {error}", file=sys.stderr)
    if results:
        summary = report(results, args)
        if failed is not None:
            summary["broke"] = f"{type(failed).__name__}: {failed}"
        output = args.output or RESULTS / "cross_process.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(finite(summary), indent=2, allow_nan=False) + "\n")
        print(f"\nwritten to {output}" + (" (incomplete: the run broke)" if failed else ""))
    if failed is not None:
        raise SystemExit(1) from failed


if __name__ == "__main__":
    main()
