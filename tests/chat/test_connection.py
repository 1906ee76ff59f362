"""One socket's outgoing side, against an ASGI send that can be made to wait.

``Connection.offer`` writes a frame at once when nothing is queued before it
and hands the rest of a send the server made wait to the socket's sender
task. These tests drive a Starlette ``WebSocket`` over a hand-made ASGI
``send`` (the server side of the ASGI contract) whose sends wait on a gate,
the way a server's send waits while the client's TCP window is full.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from starlette.websockets import WebSocket

from alumni_community.chat.hub import CLOSE_TOO_SLOW, Connection
from alumni_community.identity.models import Member

pytestmark = pytest.mark.anyio


class Server:
    """The server end of ASGI ``send``: records texts; waits on ``gate`` while it is clear."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.waits = 0
        self.fail: Exception | None = None

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            if not self.gate.is_set():
                self.waits += 1
                await self.gate.wait()
            if self.fail is not None:
                raise self.fail
            self.texts.append(message["text"])

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def connection(server: Server, queue_size: int = 8) -> Connection:
    ws = WebSocket({"type": "websocket", "path": "/ws", "headers": []}, server.receive, server.send)
    ws.client_state = ws.application_state = type(ws.application_state).CONNECTED
    return Connection(ws, cast(Member, None), 1, queue_size)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def stop(conn: Connection) -> None:
    conn.end(1000, "")
    await conn.finish()


async def test_a_frame_is_written_before_offer_returns_when_nothing_waits() -> None:
    server = Server()
    conn = await connection(server)
    for i in range(3):
        conn.offer(f"f{i}")
        # No await in between: the frame went out inside offer.
        assert server.texts == [f"f{j}" for j in range(i + 1)]
    assert conn.waiting == 0 and conn.sender is None  # nothing queued, no task
    await stop(conn)


async def test_frames_behind_a_waiting_send_go_out_once_and_in_order() -> None:
    server = Server()
    conn = await connection(server)
    conn.offer("a")
    server.gate.clear()
    for name in ("b", "c", "d"):
        conn.offer(name)
    await settle()
    assert server.texts == ["a"]
    assert server.waits == 1  # only "b" reached the server; "c" and "d" are queued
    server.gate.set()
    await settle()
    assert server.texts == ["a", "b", "c", "d"]
    # Back to writing at once.
    conn.offer("e")
    assert server.texts[-1] == "e"
    await stop(conn)


async def test_a_socket_whose_send_keeps_waiting_is_closed_too_slow() -> None:
    server = Server()
    conn = await connection(server, queue_size=3)
    server.gate.clear()
    for i in range(10):
        conn.offer(f"f{i}")
    assert conn.closed
    assert conn.close_code == CLOSE_TOO_SLOW
    conn.offer("after")  # ignored, not raised
    server.gate.set()
    await settle()
    assert "after" not in server.texts
    assert server.texts == sorted(server.texts, key=lambda t: int(t[1:]))
    await conn.finish()


@pytest.mark.parametrize("waiting", [False, True])
async def test_a_send_that_fails_ends_the_socket(waiting: bool) -> None:
    server = Server()
    conn = await connection(server)
    server.fail = ConnectionResetError("gone")
    if waiting:
        server.gate.clear()
    conn.offer("x")
    if waiting:
        assert not conn.closed
        server.gate.set()
        await settle()
    assert conn.closed
    assert conn.close_code == 1006
    assert server.texts == []
    await conn.finish()


async def test_finishing_while_a_send_waits_cancels_it_cleanly() -> None:
    server = Server()
    conn = await connection(server)
    server.gate.clear()
    conn.offer("stuck")
    conn.end(CLOSE_TOO_SLOW, "too slow")
    await asyncio.wait_for(conn.finish(), timeout=5)
    assert server.texts == []
    assert conn.sender is None and conn.waiting == 0


class HoldingServer(Server):
    """A server whose every send waits until the test releases it, one at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[str] = []
        self.held: list[asyncio.Future[None]] = []

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            self.arrived.append(message["text"])
            held = asyncio.get_running_loop().create_future()
            self.held.append(held)
            await held
            self.texts.append(message["text"])

    async def release(self) -> None:
        self.held.pop(0).set_result(None)
        await settle()


async def test_one_send_at_a_time_even_when_the_queue_runs_empty() -> None:
    """A frame offered while the sender task is in the middle of a send waits for it."""
    server = HoldingServer()
    conn = await connection(server)
    conn.offer("a")  # started at once, held by the server
    conn.offer("b")  # queued behind it
    assert server.arrived == ["a"]
    await server.release()  # "a" written; the sender task starts "b", held
    assert server.arrived == ["a", "b"]
    assert conn.waiting == 0
    conn.offer("c")  # nothing is queued, but "b" is still being sent
    assert server.arrived == ["a", "b"]
    await server.release()
    await server.release()
    assert server.arrived == server.texts == ["a", "b", "c"]
    conn.offer("d")
    assert server.arrived[-1] == "d"
    await server.release()
    await stop(conn)


async def test_receive_wakes_when_the_connection_ends_and_after_its_time() -> None:
    """An idle socket waits in ``receive`` with no task of its own; ``end`` wakes it at once."""
    server = Server()
    conn = await connection(server)
    assert await conn.receive(0.01) is None  # nothing came within the time
    assert not conn.closed
    receiving = asyncio.create_task(conn.receive(60))
    await settle()
    assert not receiving.done() and conn.sender is None
    conn.end(4401, "session ended")
    assert await asyncio.wait_for(receiving, timeout=1) is None
    assert conn.close_code == 4401
    assert await conn.receive(60) is None  # an ended connection does not wait again


async def test_a_cancelled_receive_is_cancelled_not_a_timeout() -> None:
    """The server stopping the endpoint's task must stop it, not read as an idle socket."""
    server = Server()
    conn = await connection(server)
    receiving = asyncio.create_task(conn.receive(60))
    await settle()
    receiving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiving
    assert not conn.closed
