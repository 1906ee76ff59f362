"""Generated and malformed WebSocket frames: an answer or a clean close, never a broken server.

A real server process (uvicorn, ``websockets-sansio``) gets frames made by
hypothesis (JSON of any shape, known frame types with fields of the wrong
type, numbers no column can hold, nesting 1,000 levels deep and more, long
strings, binary frames) and frames built by hand (invalid UTF-8, frames over
the size limits, WebSocket protocol violations). For each one:

* a frame the protocol refuses is answered with an ``error`` frame whose
  code and ``ref`` are the ones ``protocol.parse`` gives (so the server and
  the protocol module agree), and never ``server_error``;
* a frame the socket cannot carry ends it with a close code of its kind:
  1002 protocol error, 1007 invalid UTF-8, 1009 too big;
* right after, a ``ping`` on the same socket (or on a new one after a
  close) gets its ``pong`` within :data:`BOUND` seconds: nothing is stuck;
* at the end, a member connected all along still gets messages and pongs,
  and the server's stderr holds no traceback and no ERROR record of any
  kind but one: uvicorn's own report of each text frame that is not UTF-8,
  which it closes correctly with 1007 before the library sees anything
  (see :func:`test_the_server_kept_serving_others_and_logged_no_error`).

A binary frame larger than ``ws_max_frame_bytes`` was answered with an
``error`` frame while a text frame that large closed the socket; both now
close it with 1009, as the endpoint's docstring says.

SQLite only: frames are parsed and refused before any query, and the few
that reach the database are one member's ordinary reads and writes; the
engines are tested with real traffic elsewhere. One socket is reused across examples while the
server answers with error frames; a new one is opened only after a close.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from alumni_community import Community
from alumni_community.chat import protocol
from alumni_community.identity.models import Member, Role

from ..conftest import (
    SECRET,
    clone_migrated,
    free_port,
    make_settings,
    subprocess_env,
    wait_for_http,
)

pytestmark = pytest.mark.slow

PASSWORD = "a long enough passphrase"
#: Seconds within which a ping sent after any frame must be answered.
BOUND = 5.0
LIMIT = protocol.MAX_FRAME_BYTES  # the server's ws_max_frame_bytes (default)
UVICORN_LIMIT = 16 * 1024 * 1024  # uvicorn's ws_max_size (default)

#: The server, with every log record on stderr as "LEVEL logger: message"
#: (uvicorn's own included), so the test can read them back one by one.
SERVER = """
import logging, sys
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from alumni_community import Community

logging.basicConfig(
    level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
)
community = Community()
app = Starlette(routes=[Mount("/community", app=community)], lifespan=community.lifespan)
uvicorn.run(
    app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, log_level="warning",
    ws="websockets-sansio", ws_per_message_deflate=False,
)
"""
RECORD = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ", re.MULTILINE)
#: uvicorn's websockets-sansio logs each text frame that is not UTF-8 with
#: ``logger.exception`` before closing it with 1007, as designed upstream.
#: The library never sees such a frame; the test counts these records.
UVICORN_UTF8 = "ERROR uvicorn.error: Invalid UTF-8 sequence received from client."


@dataclass
class Outcome:
    """What came back after one frame: frames before the pong, or the close code."""

    frames: list[dict[str, Any]]
    close: int | None


@dataclass
class Peer:
    """One member's socket, reopened after a close."""

    url: str
    headers: dict[str, str]
    ws: ClientConnection | None = None
    stack: ExitStack = field(default_factory=ExitStack)
    probes: int = 0

    def open(self) -> ClientConnection:
        self.close()
        self.stack = ExitStack()
        self.ws = self.stack.enter_context(
            connect(
                self.url,
                additional_headers=self.headers,
                compression=None,
                max_size=None,
                open_timeout=BOUND,
                close_timeout=BOUND,
            )
        )
        hello = json.loads(self.ws.recv(timeout=BOUND))
        assert hello["type"] == "hello", hello
        return self.ws

    def close(self) -> None:
        self.ws = None
        self.stack.close()

    def socket(self) -> ClientConnection:
        return self.ws if self.ws is not None else self.open()

    def exchange(self, data: str | bytes, *, text: bool | None = None) -> Outcome:
        """Send ``data`` then a ping; read until the pong, or until the server closes."""
        return self.exchange_raw(lambda ws: ws.send(data, text=text))

    def exchange_raw(self, write: Any) -> Outcome:
        ws = self.socket()
        self.probes += 1
        ref = f"probe-{self.probes}"
        frames: list[dict[str, Any]] = []
        try:
            write(ws)
            ws.send(json.dumps({"type": "ping", "ref": ref}))
            while True:
                got = json.loads(ws.recv(timeout=BOUND))  # TimeoutError: a stuck socket
                if got == {"type": "pong", "ref": ref}:
                    break
                frames.append(got)
        except ConnectionClosed as closed:
            self.close()
            return Outcome(frames, closed.rcvd.code if closed.rcvd else None)
        for got in frames:
            assert got["type"] in protocol.SERVER_TYPES, got
            if got["type"] == "error":
                assert got["code"] in protocol.ERROR_CODES - {"server_error", "unavailable"}, got
        return Outcome(frames, None)

    def pong(self) -> None:
        """A ping gets its pong, on this socket or (after a close) a new one."""
        outcome = self.exchange(json.dumps({"type": "ping"}))
        assert outcome.close is None and not [f for f in outcome.frames if f["type"] == "error"]


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    stderr: Path
    fuzzer: Peer
    bystander: Peer
    invalid_utf8_sent: int = 0

    def unexpected_records(self) -> list[str]:
        """stderr's log records at ERROR or above, or with a traceback, bar uvicorn's UTF-8 one.

        uvicorn's record must come once per invalid UTF-8 text frame sent,
        each with the one traceback of its ``UnicodeDecodeError``. Text
        before the first record (an interpreter's own traceback) counts as a
        record too.
        """
        text = self.stderr.read_text("utf-8", errors="replace")
        starts = [0, *(m.start() for m in RECORD.finditer(text)), len(text)]
        records = [text[a:b] for a, b in itertools.pairwise(starts) if text[a:b].strip()]
        utf8 = [r for r in records if r.startswith(UVICORN_UTF8)]
        assert len(utf8) == self.invalid_utf8_sent, utf8[:1]
        for record in utf8:
            assert record.count("Traceback") == 1 and "\nUnicodeDecodeError: " in record, record
        return [
            record
            for record in records
            if not record.startswith(UVICORN_UTF8)
            and (
                not record.startswith(("DEBUG", "INFO", "WARNING"))
                or "Traceback" in record
                or "Exception ignored" in record
            )
        ]


async def seed(database_url: str) -> None:
    await clone_migrated(database_url)
    community = Community(make_settings(database_url))
    async with community.lifespan():
        with community.database.activate():
            await community.accounts.create_member("fuzz-mod", PASSWORD, Role.MODERATOR)
            await community.accounts.create_member("bystander", PASSWORD, Role.MEMBER)
            await Member.filter(handle="fuzz-mod").update(trust_level=3)
            moderator = await Member.get(handle="fuzz-mod")
            await community.rooms.create_room(
                moderator, {"slug": "lounge", "name": "Lounge", "moderation": "open"}
            )


def peer(base: str, handle: str) -> Peer:
    signed = httpx.post(
        base + "/community/api/v1/session", json={"handle": handle, "password": PASSWORD}
    )
    assert signed.status_code == 200, signed.text
    headers = {"Cookie": f"ac_session={signed.cookies['ac_session']}", "Origin": base}
    return Peer(base.replace("http://", "ws://") + "/community/ws", headers)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("ws-fuzz")
    database_url = f"sqlite://{folder / 'community.sqlite3'}"
    asyncio.run(seed(database_url))
    port = free_port()
    env = subprocess_env(
        ALUMNI_COMMUNITY_DATABASE_URL=database_url,
        ALUMNI_COMMUNITY_BROKER_URL="memory://",
        ALUMNI_COMMUNITY_SECRET_KEY=SECRET,
        ALUMNI_COMMUNITY_COOKIE_SECURE="false",
        ALUMNI_COMMUNITY_PASSWORD_HASH_MEMORY_KIB="256",
        ALUMNI_COMMUNITY_PASSWORD_HASH_PASSES="1",
    )
    stderr = folder / "stderr.txt"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port)], env=env, stderr=err, stdout=err
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/community/api/v1/health", process)
        fuzzer, bystander = peer(base, "fuzz-mod"), peer(base, "bystander")
        bystander.open().send(json.dumps({"type": "subscribe", "room": "lounge"}))
        running = Server(base, process, stderr, fuzzer, bystander)
        yield running
        fuzzer.close()
        bystander.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    assert running.unexpected_records() == []  # none at shutdown either


# -- generated frames --------------------------------------------------------------

FRAME_TYPES = ["subscribe", "unsubscribe", "send", "edit", "delete", "react", "typing", "read"]
FIELDS = ["room", "since", "body", "client_id", "confirm", "seq", "emoji", "remove", "ref"]
#: Number literals no field accepts, or that JSON does not have.
NUMBERS = [
    "-1", "-0", "0.0", "1.5", "1E2", "2147483648", "9007199254740992", "9223372036854775808",
    "1" + "0" * 400, "-" + "9" * 30, "1e400", "-1e400", "1e-400", "NaN", "Infinity",
    "-Infinity", "00", "+1", "0x10", ".5", "1.", "--1",
]  # fmt: skip
#: Frames made by hand: odd JSON, odd placement, odd values.
ODD = [
    "", " ", "\ufeff{}", "{}", "[]", "null", "0", '""', "true", '{"type":null}',
    '{"type":"ping","type":"ping"}', '{"type":"ping"}garbage', '{"type":"ping"}{}',
    '{"type":"ping","ref":1.0}', '{"type":"ping","ref":true}', '{"type":"ping","ref":[]}',
    '{"type":"ping","ref":"' + "r" * 65 + '"}', '{"type":"ping","ref":"\\u0000"}',
    '{"type":"ping","ref":"\\ud800"}', '{"type":"\\ud800"}', '{"\\ud800":1,"type":"ping"}',
    '{"type":"send","room":"lounge","body":"\\u0000","client_id":"nul"}',
    '{"type":"send","room":"lounge","body":"\\udfff","client_id":"lone"}',
    '{"type":"PING"}', '{"type":"ping ","ref":1}', '{"type":"ping","extra":1}',
    '{"type":"ping","ref":-9007199254740991}', '{"type":"ping","ref":9007199254740992}',
    '{"type":"react","room":"lounge","seq":1,"emoji":"1\\ufe0f\\u20e3"}',
    '{"type":"react","room":"lounge","seq":1,"emoji":"\\u200d"}',
    '{"type":"subscribe","room":"lounge","since":2147483647}',
    '{"type":"read","room":"lounge","seq":2147483647}',
    '{"type":"edit","room":"lounge","seq":2147483647,"body":"x"}',
    '{"type":"delete","room":"lounge","seq":1}', '{"type":"unsubscribe","room":"lounge"}',
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([-1, 0, 2**31 - 1, 2**31, 2**53, 2**63, -(2**63), 10**30])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
plausible = st.sampled_from(
    ["lounge", "nowhere", "LOUNGE", "-x", "a" * 65, "", "👍", "x", "id-1", 0, 1, 2**31 - 1, True]
)


def typed_frame(kind: str, fields: dict[str, Any]) -> str:
    return json.dumps({"type": kind, **fields})


def numbered(kind: str, name: str, literal: str) -> str:
    return f'{{"type":"{kind}","room":"lounge","{name}":{literal}}}'


def nested(depth: int, shape: str) -> str:
    opened, closed = {"list": ("[", "]"), "object": ('{"a":', "}"), "mixed": ('[{"a":', "}]")}[
        shape
    ]
    inner = opened * depth + "1" + closed * depth
    return inner if shape != "mixed" else '{"type":"ping","ref":' + inner + "}"


def long_body(length: int, char: str, room: str) -> str:
    return json.dumps(
        {"type": "send", "room": room, "body": char * length, "client_id": "long"},
        ensure_ascii=False,
    )


#: Well-formed frames with values at their limits: these get past the parser
#: to the services and the database (a room that exists, one that does not,
#: the largest seq, bodies Markdown makes work of, compound emoji).
MAX_SEQ = protocol.MAX_SEQ
BODIES = [
    "x", "**b** _i_", "[a]: /" + "x" * 900 + "\n\n" + "[a]" * 900, "> " * 1999 + "q",
    "é" * protocol.MAX_BODY_CHARS, "www.a.co " * 400, "`" * 3000,
]  # fmt: skip
EMOJI = ["\U0001f44d", "1\ufe0f\u20e3", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\u2139"]
valid_frames = st.fixed_dictionaries(
    {
        "type": st.sampled_from(FRAME_TYPES),
        "room": st.sampled_from(["lounge", "nowhere", "a", "z" * 64]),
        "seq": st.sampled_from([1, 2, MAX_SEQ]),
        "since": st.sampled_from([0, 1, MAX_SEQ]),
        "body": st.sampled_from(BODIES),
        "client_id": st.from_regex(protocol.CLIENT_ID, fullmatch=True),
        "emoji": st.sampled_from(EMOJI),
        "remove": st.booleans(),
        "ref": st.none() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=64),
    }
).map(lambda f: json.dumps(valid_fields(f), ensure_ascii=False))


def valid_fields(frame: dict[str, Any]) -> dict[str, Any]:
    """Only the fields this frame type takes (``ref`` too, when it is clean)."""
    takes = {
        "subscribe": {"room", "since"},
        "unsubscribe": {"room"},
        "send": {"room", "body", "client_id"},
        "edit": {"room", "seq", "body"},
        "delete": {"room", "seq"},
        "react": {"room", "seq", "emoji", "remove"},
        "typing": {"room"},
        "read": {"room", "seq"},
    }[frame["type"]] | {"type", "ref"}
    return {name: value for name, value in frame.items() if name in takes}


FRAMES: st.SearchStrategy[str | bytes] = st.one_of(
    valid_frames,
    json_values.map(json.dumps),
    st.builds(
        typed_frame,
        st.sampled_from(FRAME_TYPES),
        st.dictionaries(st.sampled_from(FIELDS), json_values | plausible, max_size=5),
    ),
    st.builds(
        numbered,
        st.sampled_from(FRAME_TYPES),
        st.sampled_from(["seq", "since", "ref", "room", "body"]),
        st.sampled_from(NUMBERS),
    ),
    st.builds(nested, st.integers(1_000, 9_000), st.sampled_from(["list", "object", "mixed"])),
    st.builds(
        long_body,
        st.integers(3_990, 9_000),
        st.sampled_from(["x", "é", "👍", '"', "\\", "\n"]),
        st.sampled_from(["lounge", "nowhere"]),
    ),
    st.sampled_from(ODD),
    st.text(max_size=200),
    st.binary(max_size=200),
)


def expected(data: str | bytes) -> tuple[str, protocol.Ref] | int | None:
    """What the server must answer: (error code, ref), a close code, or None if valid."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
    if size > LIMIT:
        return 1009
    try:
        protocol.parse(data)
    except protocol.FrameError as refused:
        return refused.code, refused.ref
    return None


def check(outcome: Outcome, data: str | bytes) -> None:
    want = expected(data)
    errors = [f for f in outcome.frames if f["type"] == "error"]
    if isinstance(want, int):
        assert outcome.close == want, (outcome, len(data))
        return
    assert outcome.close is None, outcome
    if want is None:
        return  # a valid frame: answered or refused by the services, never server_error
    code, ref = want
    assert [(e["code"], e["ref"]) for e in errors] == [(code, ref)], outcome
    if isinstance(data, bytes):
        assert code == "bad_frame"
        return
    try:
        shape_ok = isinstance(json.loads(data), dict)
    except (ValueError, RecursionError):
        shape_ok = False
    if not shape_ok:
        assert code == "bad_frame"  # checked without the protocol module


@settings(
    max_examples=800,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(data=FRAMES)
def test_generated_frames_are_answered_with_the_protocols_error_or_closed_cleanly(
    server: Server, data: str | bytes
) -> None:
    outcome = server.fuzzer.exchange(data)
    check(outcome, data)
    # What was exercised, for --hypothesis-show-statistics.
    codes = sorted({f["code"] for f in outcome.frames if f["type"] == "error"})
    event(f"closed {outcome.close}" if outcome.close else f"answered {' '.join(codes) or 'ok'}")


# -- frames built by hand ------------------------------------------------------------


def raw_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length: int | None = None,
) -> bytes:
    """One WebSocket frame as a client would put it on the wire, rules optional."""
    size = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    bit = 0x80 if masked else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 2**16:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


PING = b'{"type":"ping"}'
#: Bytes on the wire that break the WebSocket protocol itself, and the close each earns.
WIRE: dict[str, tuple[bytes, int]] = {
    "an unmasked frame": (raw_frame(1, PING, masked=False), 1002),
    "a reserved opcode": (raw_frame(3, PING), 1002),
    "a reserved bit set": (raw_frame(1, PING, rsv=4), 1002),
    "a continuation with nothing to continue": (raw_frame(0, PING), 1002),
    "a ping longer than 125 bytes": (raw_frame(9, b"p" * 126), 1002),
    "a fragmented ping": (raw_frame(9, b"p", fin=False), 1002),
    "a new text frame inside a fragmented one": (
        raw_frame(1, b'{"type":', fin=False) + raw_frame(1, PING),
        1002,
    ),
    "a close with a reserved code": (raw_frame(8, struct.pack("!H", 1005)), 1002),
    "a close with a code below 1000": (raw_frame(8, struct.pack("!H", 999)), 1002),
    "a close reason that is not UTF-8": (raw_frame(8, struct.pack("!H", 1000) + b"\xff"), 1007),
    "invalid UTF-8 split across fragments": (
        raw_frame(1, b'{"type":"\xe2\x82', fin=False) + raw_frame(0, b'\xff"}'),
        1007,
    ),
    "a frame claiming 2**62 bytes": (raw_frame(1, b"", length=2**62), 1009),
}
#: Text frames whose bytes are not UTF-8.
NOT_UTF8 = [
    b"\xff",
    b'{"type":"ping"}\xc3',
    b'{"type":"\xc0\xaf"}',  # an overlong "/"
    b'{"type":"\xed\xa0\x80"}',  # a surrogate, encoded
    b'{"type":"\xf4\x90\x80\x80"}',  # past U+10FFFF
    b"\x80",
]


def test_frames_that_break_the_wire_protocol_close_with_their_code(server: Server) -> None:
    fuzzer = server.fuzzer
    for name, (wire, code) in WIRE.items():
        outcome = fuzzer.exchange_raw(lambda ws, wire=wire: ws.socket.sendall(wire))
        assert outcome.close == code, name
        if name == "invalid UTF-8 split across fragments":
            server.invalid_utf8_sent += 1  # uvicorn reports it as it does a whole frame
        fuzzer.pong()  # on a new socket
    # A correctly split frame is one frame, with a character split across fragments too.
    split = raw_frame(1, b'{"type":"ping","ref":"\xe2\x82', fin=False) + raw_frame(0, b'\xac"}')
    outcome = fuzzer.exchange_raw(lambda ws: ws.socket.sendall(split))
    assert outcome == Outcome([{"type": "pong", "ref": "\u20ac"}], None)


def test_text_frames_that_are_not_utf8_close_with_1007(server: Server) -> None:
    for data in NOT_UTF8:
        assert server.fuzzer.exchange(data, text=True).close == 1007, data
        server.invalid_utf8_sent += 1
        server.fuzzer.pong()


def test_frames_over_the_size_limits_close_with_1009(server: Server) -> None:
    fuzzer = server.fuzzer
    at_limit = json.dumps({"type": "ping", "ref": "at-limit"})
    at_limit = at_limit[:-1] + " " * (LIMIT - len(at_limit)) + "}"
    assert len(at_limit.encode()) == LIMIT
    assert fuzzer.exchange(at_limit).frames == [{"type": "pong", "ref": "at-limit"}]
    for data in (at_limit + " ", "é" * (LIMIT // 2 + 1), b"b" * (LIMIT + 1)):
        assert fuzzer.exchange(data).close == 1009, (type(data), len(data))
        fuzzer.pong()
    # Past uvicorn's own limit a frame is refused from its header, before its
    # payload is read. (Only the header is sent: had the payload followed, the
    # server would close with unread bytes and the kernel could reset the
    # connection before the close frame reached the client.)
    header = raw_frame(1, b"", length=UVICORN_LIMIT + 1)
    assert fuzzer.exchange_raw(lambda ws: ws.socket.sendall(header)).close == 1009
    fuzzer.pong()


def test_binary_and_empty_frames_get_an_error_frame_and_the_socket_stays(server: Server) -> None:
    fuzzer = server.fuzzer
    for data in (b"", b"\x00", PING, b"{}", b"\xff" * 100):
        outcome = fuzzer.exchange(data)
        assert outcome.close is None
        assert [f["code"] for f in outcome.frames] == ["bad_frame"], data
    assert fuzzer.exchange("").frames[0]["code"] == "bad_frame"  # an empty text frame


def test_the_server_kept_serving_others_and_logged_no_error(server: Server) -> None:
    """The member connected before the fuzzing still hears a message and gets pongs.

    The server's stderr: no record at ERROR or above and no traceback, save
    one per invalid UTF-8 text frame sent, from uvicorn itself (the frame
    never reaches the library, and uvicorn closes it correctly with 1007).
    """
    fuzzer, bystander = server.fuzzer, server.bystander
    sent = fuzzer.exchange(
        json.dumps({"type": "send", "room": "lounge", "body": "still here", "client_id": "end"})
    )
    assert sent.close is None and not [f for f in sent.frames if f["type"] == "error"], sent
    ws = bystander.socket()
    while True:  # TimeoutError if it never comes
        got = json.loads(ws.recv(timeout=BOUND))
        if got["type"] == "message" and got["html"] == "<p>still here</p>\n":
            break
    bystander.pong()
    assert server.invalid_utf8_sent > 0
    assert server.unexpected_records() == []
