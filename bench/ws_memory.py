"""Memory per idle WebSocket connection: N authenticated, subscribed, idle sockets.

Starts one server process (ours: the community under uvicorn, or bare: a
plain ``websockets`` relay, the baseline), reads its resident memory with
one socket open and subscribed (everything imported and warmed), opens N
more, each signed in as its own member and subscribed to one room, lets
them sit idle (an application ping every 20 s, as clients do, so the
server does not close them for idleness), and reads the memory again.
Memory per connection is the difference divided by N.

Run: ``.venv/bin/python bench/ws_memory.py --clients 10000``. Results go to
``bench/results/ws_memory.json``. The servers are the ones of
``bench/chat_fanout.py`` (same settings, same uvicorn options).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chat_fanout import (
    MOUNT,
    RESULTS,
    SECRET_ENV,
    Client,
    Probe,
    Server,
    dumps,
    free_port,
    join,
    keep_alive,
    machine,
    raise_fd_limit,
    run_uvicorn,
    seed,
    start_server,
    stop_server,
    wait_listening,
)

#: Sockets opened at once: enough to be quick, few enough that the server's
#: accept backlog (2048) and the database's session reads keep up.
BATCH = 200
#: How long the sockets sit idle before memory is read the second time.
IDLE_S = 10.0
TARGET_KIB = 20.0
#: Frames kept per allocation by ``--trace`` (deep enough to reach our code from asyncio's).
TRACE_FRAMES = 12


def serve_traced(port: int, db_path: str, out: str) -> None:
    """Our server with tracemalloc on; SIGUSR1 writes a snapshot to ``out``.N (N = 1, 2, ...)."""
    import tracemalloc

    from bench.chat_fanout import serve_ours

    tracemalloc.start(TRACE_FRAMES)
    taken = [0]

    def snapshot(*_: object) -> None:
        gc.collect()
        taken[0] += 1
        tracemalloc.take_snapshot().dump(f"{out}.{taken[0]}")
        Path(f"{out}.{taken[0]}.done").touch()

    signal.signal(signal.SIGUSR1, snapshot)
    serve_ours(port, db_path, None)


def serve_starlette(port: int) -> None:
    """The floor under ours: a plain Starlette WebSocket route under the same uvicorn options,
    answering ``subscribe`` and ``ping`` and holding the socket, with no community around it."""
    from starlette.applications import Starlette
    from starlette.routing import Mount, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                frame = json.loads(await ws.receive_text())
                if frame.get("type") == "subscribe":
                    await ws.send_text(dumps({"type": "subscribed", "room": frame["room"]}))
                elif frame.get("type") == "ping":
                    await ws.send_text('{"type":"pong"}')
        except WebSocketDisconnect:
            pass

    inner = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    app = Starlette(routes=[Mount(MOUNT, app=inner)])
    run_uvicorn(app, port, lifespan="off")


def start_own(kind: str, port: int, db_path: str | None, out: str, env: dict[str, str]) -> Server:
    """Start a server of this file: ``traced`` (ours under tracemalloc) or ``starlette``."""
    command = [sys.executable, str(Path(__file__).resolve())]
    if kind == "starlette":
        command += ["--serve-starlette", str(port)]
    else:
        command += ["--serve-traced", str(port), "--db", str(db_path), "--trace-out", out]
    log_path = RESULTS / f"ws_memory_{kind}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    return Server(kind, port, f"ws://127.0.0.1:{port}{MOUNT}/ws", proc, log_path)


async def take_snapshot(server: Server, out: str, number: int) -> str:
    path = f"{out}.{number}"
    server.proc.send_signal(signal.SIGUSR1)
    for _ in range(1200):
        if await asyncio.to_thread(os.path.exists, path + ".done"):
            return path
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no tracemalloc snapshot from the server ({path})")


def trace_report(before: str, after: str, clients: int, top: int = 25) -> list[dict[str, Any]]:
    """What the server allocated between the snapshots, per connection, by line and by stack."""
    import tracemalloc

    old = tracemalloc.Snapshot.load(before)
    new = tracemalloc.Snapshot.load(after)
    rows = []
    by_file = new.compare_to(old, "filename")
    total = sum(d.size_diff for d in by_file)
    print(f"  traced: {total / 1024 / clients:.1f} KiB per connection in Python objects")
    for diff in by_file[:30]:
        name = diff.traceback[0].filename
        print(f"  {diff.size_diff / 1024 / clients:8.2f} KiB/conn  {name}")
    print(f"  {'KiB/conn':>8}  {'objs/conn':>9}  where (innermost line)")
    for diff in new.compare_to(old, "lineno")[:top]:
        frame = diff.traceback[0]
        per = diff.size_diff / 1024 / clients
        print(f"  {per:8.2f}  {diff.count_diff / clients:9.1f}  {frame.filename}:{frame.lineno}")
        rows.append(
            {
                "where": f"{frame.filename}:{frame.lineno}",
                "kib_per_connection": per,
                "objects_per_connection": diff.count_diff / clients,
            }
        )
    print("\n  by stack (the top 8, innermost last):")
    for diff in new.compare_to(old, "traceback")[:8]:
        print(f"  {diff.size_diff / 1024 / clients:8.2f} KiB/conn")
        for frame in diff.traceback.format(limit=TRACE_FRAMES)[-14:]:
            print("      " + frame)
    return rows


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc (VmRSS, in KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


async def open_all(url: str, origin: str, cookies: list[str | None], into: list[Client]) -> None:
    """Open a socket per cookie, in batches, adding each batch to ``into`` as it opens
    (the pinger reads that list, so the first sockets are kept alive meanwhile)."""
    probe = Probe()
    for start in range(0, len(cookies), BATCH):
        batch = cookies[start : start + BATCH]
        into += await asyncio.gather(*(join(url, origin, c, probe) for c in batch))


async def measure(
    kind: str, clients: int, tmp: str, env: dict[str, str], trace: bool = False
) -> dict[str, Any]:
    port = free_port()
    db_path: str | None = None
    cookies: list[str | None] = [None] * (clients + 1)
    if kind == "ours":
        db_path = str(Path(tmp) / "ws-memory.sqlite3")
        began = time.perf_counter()
        _, seeded = await seed(db_path, port, clients + 1)
        cookies = list(seeded)
        print(f"  ours: seeded {clients + 1} members in {time.perf_counter() - began:.1f} s")
    trace_out = str(Path(tmp) / "trace")
    if trace and db_path is not None:
        server = start_own("traced", port, db_path, trace_out, env)
    elif kind == "starlette":
        server = start_own("starlette", port, None, trace_out, env)
    else:
        server = start_server(kind, port, db_path, None, env)
    opened: list[Client] = []
    pinging: asyncio.Task[None] | None = None
    try:
        await wait_listening(server)
        await open_all(server.ws_url, server.origin, cookies[:1], opened)
        pinging = asyncio.create_task(keep_alive(opened))
        await asyncio.sleep(2)
        snapshots = [await take_snapshot(server, trace_out, 1)] if trace else []
        before = rss_kib(server.proc.pid)
        began = time.perf_counter()
        await open_all(server.ws_url, server.origin, cookies[1:], opened)
        took = time.perf_counter() - began
        await asyncio.sleep(IDLE_S)
        after = rss_kib(server.proc.pid)
        if trace:
            snapshots.append(await take_snapshot(server, trace_out, 2))
        alive = sum(1 for c in opened if c.ws.close_code is None)
        if alive != clients + 1:
            raise RuntimeError(f"{kind}: only {alive} of {clients + 1} sockets stayed open")
        per = (after - before) / clients
        print(
            f"  {kind}: {clients:,} sockets opened in {took:.1f} s; RSS {before / 1024:.1f} MiB "
            f"-> {after / 1024:.1f} MiB: {per:.1f} KiB per connection"
        )
        traced = trace_report(*snapshots, clients) if trace else None
        return {
            "traced": traced,
            "server": kind,
            "clients": clients,
            "rss_before_kib": before,
            "rss_after_kib": after,
            "kib_per_connection": per,
            "open_s": took,
        }
    finally:
        if pinging is not None:
            pinging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinging
        await asyncio.gather(*(c.ws.close() for c in opened), return_exceptions=True)
        stop_server(server)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    limit = raise_fd_limit()
    # Each side (this process, the server process) holds one file per socket.
    if limit < args.clients + 200:
        raise SystemExit(f"RLIMIT_NOFILE is {limit}: too few files for {args.clients} sockets")
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, SECRET_ENV: secrets.token_urlsafe(48)}
    os.environ[SECRET_ENV] = env[SECRET_ENV]
    rows = []
    with tempfile.TemporaryDirectory(prefix="ac-ws-memory-") as tmp:
        kinds = ("bare", "starlette", "ours") if args.only == "all" else (args.only,)
        for kind in kinds:
            rows.append(await measure(kind, args.clients, tmp, env, args.trace))
            gc.collect()
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "rows": rows,
        "target_kib": TARGET_KIB,
    }
    ours = next((r for r in rows if r["server"] == "ours"), None)
    bare = next((r for r in rows if r["server"] == "bare"), None)
    plain = next((r for r in rows if r["server"] == "starlette"), None)
    if ours and plain:
        result["ratio_to_starlette"] = ours["kib_per_connection"] / plain["kib_per_connection"]
        print(f"  ours / plain Starlette route: {result['ratio_to_starlette']:.2f}x")
    if ours and bare:
        result["ratio_to_bare"] = ours["kib_per_connection"] / bare["kib_per_connection"]
        print(f"  ours / bare: {result['ratio_to_bare']:.2f}x")
    if ours:
        met = ours["kib_per_connection"] <= TARGET_KIB
        print(f"  target <= {TARGET_KIB:.0f} KiB per connection: {'met' if met else 'MISSED'}")
    (RESULTS / "ws_memory.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument(
        "--only",
        choices=["all", "ours", "starlette", "bare"],
        default="all",
        help="one server only (default: all three, one after the other)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="run our server with tracemalloc and print what the sockets allocated, by line "
        "(slower, and the RSS then includes tracemalloc's own bookkeeping)",
    )
    parser.add_argument("--serve-traced", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-starlette", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--trace-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_starlette:
        serve_starlette(args.serve_starlette)
        return
    if args.serve_traced:
        serve_traced(args.serve_traced, args.db, args.trace_out)
        return
    print(f"ws_memory: {args.clients:,} idle, subscribed, authenticated sockets")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
