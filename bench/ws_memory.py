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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chat_fanout import (
    RESULTS,
    SECRET_ENV,
    Client,
    Probe,
    free_port,
    join,
    keep_alive,
    machine,
    raise_fd_limit,
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


async def measure(kind: str, clients: int, tmp: str, env: dict[str, str]) -> dict[str, Any]:
    port = free_port()
    db_path: str | None = None
    cookies: list[str | None] = [None] * (clients + 1)
    if kind == "ours":
        db_path = str(Path(tmp) / "ws-memory.sqlite3")
        began = time.perf_counter()
        _, seeded = await seed(db_path, port, clients + 1)
        cookies = list(seeded)
        print(f"  ours: seeded {clients + 1} members in {time.perf_counter() - began:.1f} s")
    server = start_server(kind, port, db_path, None, env)
    opened: list[Client] = []
    pinging: asyncio.Task[None] | None = None
    try:
        await wait_listening(server)
        await open_all(server.ws_url, server.origin, cookies[:1], opened)
        pinging = asyncio.create_task(keep_alive(opened))
        await asyncio.sleep(2)
        before = rss_kib(server.proc.pid)
        began = time.perf_counter()
        await open_all(server.ws_url, server.origin, cookies[1:], opened)
        took = time.perf_counter() - began
        await asyncio.sleep(IDLE_S)
        after = rss_kib(server.proc.pid)
        alive = sum(1 for c in opened if c.ws.close_code is None)
        if alive != clients + 1:
            raise RuntimeError(f"{kind}: only {alive} of {clients + 1} sockets stayed open")
        per = (after - before) / clients
        print(
            f"  {kind}: {clients:,} sockets opened in {took:.1f} s; RSS {before / 1024:.1f} MiB "
            f"-> {after / 1024:.1f} MiB: {per:.1f} KiB per connection"
        )
        return {
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
        for kind in ("bare", "ours") if args.only == "both" else (args.only,):
            rows.append(await measure(kind, args.clients, tmp, env))
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
    parser.add_argument("--only", choices=["both", "ours", "bare"], default="both")
    args = parser.parse_args(argv)
    print(f"ws_memory: {args.clients:,} idle, subscribed, authenticated sockets")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
