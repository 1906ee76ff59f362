"""The chat protocol fed frames: every client frame parsed, every refusal coded, encoding."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from alumni_community.chat.protocol import (
    ERROR_CODES,
    MAX_BODY_CHARS,
    MAX_FRAME_BYTES,
    MAX_SEQ,
    SERVER_TYPES,
    ClientFrame,
    Delete,
    Edit,
    FrameError,
    Ping,
    React,
    Read,
    Send,
    Subscribe,
    Typing,
    Unsubscribe,
    encode,
    error,
    parse,
)


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def refusal(data: str | bytes) -> FrameError:
    with pytest.raises(FrameError) as caught:
        parse(data)
    return caught.value


# -- valid frames ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "subscribe", "room": "general"}, Subscribe("general", None)),
        ({"type": "subscribe", "room": "general", "since": None}, Subscribe("general", None)),
        ({"type": "subscribe", "room": "general", "since": 0}, Subscribe("general", 0)),
        ({"type": "subscribe", "room": "a", "since": 41, "ref": 7}, Subscribe("a", 41, ref=7)),
        ({"type": "unsubscribe", "room": "family-support"}, Unsubscribe("family-support")),
        (
            {"type": "send", "room": "general", "body": "Hello *all*", "client_id": "c-1_x"},
            Send("general", "Hello *all*", "c-1_x", confirm=False, ref="c-1_x"),
        ),
        (
            {
                "type": "send",
                "room": "general",
                "body": "  kept as sent\n",
                "client_id": "abc",
                "confirm": True,
                "ref": "r1",
            },
            Send("general", "  kept as sent\n", "abc", confirm=True, ref="r1"),
        ),
        (
            {"type": "edit", "room": "general", "seq": 3, "body": "fixed"},
            Edit("general", 3, "fixed"),
        ),
        ({"type": "delete", "room": "general", "seq": 1}, Delete("general", 1)),
        (
            {"type": "react", "room": "general", "seq": 2, "emoji": "👍"},
            React("general", 2, "👍", remove=False),
        ),
        (
            {"type": "react", "room": "general", "seq": 2, "emoji": "❤️", "remove": True},
            React("general", 2, "❤️", remove=True),
        ),
        ({"type": "typing", "room": "general"}, Typing("general")),
        ({"type": "read", "room": "general", "seq": 0}, Read("general", 0)),
        ({"type": "read", "room": "general", "seq": MAX_SEQ}, Read("general", MAX_SEQ)),
        ({"type": "ping"}, Ping()),
        ({"type": "ping", "ref": None}, Ping()),
        ({"type": "ping", "ref": "x" * 64}, Ping(ref="x" * 64)),
        ({"type": "ping", "ref": -5}, Ping(ref=-5)),
        ({"type": "ping", "ref": 2**53 - 1}, Ping(ref=2**53 - 1)),
    ],
)
def test_valid_frames_parse(fields: dict[str, Any], expected: ClientFrame) -> None:
    assert parse(frame(**fields)) == expected


def test_whitespace_and_unicode_around_a_frame() -> None:
    data = ' \n{"type":"send","room":"r","body":"Ça va ? 😊","client_id":"id"}\t'
    assert parse(data) == Send("r", "Ça va ? 😊", "id", ref="id")


def test_longest_body_in_a_frame_of_multibyte_characters() -> None:
    # 4,000 four-byte characters are 16,000 bytes: they still fit in a frame.
    body = "😊" * MAX_BODY_CHARS
    fields = {"type": "send", "room": "r", "body": body, "client_id": "x"}
    data = json.dumps(fields, ensure_ascii=False)
    assert len(data.encode()) <= MAX_FRAME_BYTES
    assert parse(data) == Send("r", body, "x", ref="x")


@pytest.mark.parametrize(
    "emoji",
    [
        "👍",
        "❤️",  # with VARIATION SELECTOR-16
        "👍🏽",  # with a skin tone
        "👨‍👩‍👧",  # joined with ZWJ: 5 code points
        "🇬🇧",  # regional indicators
        "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # tag sequence: 7 code points
        "1️⃣",  # keycap
        "#️⃣",
        "\u2139\ufe0f",  # INFORMATION SOURCE, filed as a letter by Unicode
        "✓",
        "★",
        "‼",
        "🙏🙏",
    ],
)
def test_emoji_accepted(emoji: str) -> None:
    data = frame(type="react", room="r", seq=1, emoji=emoji)
    assert parse(data) == React("r", 1, emoji)


@pytest.mark.parametrize("slug", ["a", "0", "ab", "a-b", "a--b", "room-42", "x" * 64])
def test_slugs_accepted(slug: str) -> None:
    assert parse(frame(type="typing", room=slug)) == Typing(slug)


# -- refusals --------------------------------------------------------------------


def send(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": "send", "room": "general", "body": "hi", "client_id": "cid"}
    fields.update(changes)
    return {name: value for name, value in fields.items() if value is not ...}


def react(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": "react", "room": "general", "seq": 1, "emoji": "👍"}
    fields.update(changes)
    return fields


@pytest.mark.parametrize(
    ("data", "code", "ref", "detail"),
    [
        # Transport and JSON.
        (b'{"type":"ping"}', "bad_frame", None, "binary frames are not accepted"),
        (b"", "bad_frame", None, "binary"),
        ('{"type":"ping"', "bad_frame", None, "invalid JSON"),
        ("", "bad_frame", None, "invalid JSON"),
        ("{'type': 'ping'}", "bad_frame", None, "invalid JSON"),
        ('{"type":"read","room":"r","seq":NaN}', "bad_frame", None, "NaN"),
        ('{"type":"read","room":"r","seq":Infinity}', "bad_frame", None, "Infinity"),
        ('{"type":"read","room":"r","seq":-Infinity}', "bad_frame", None, "Infinity"),
        ('{"type":"ping","ref":1,"ref":2}', "bad_frame", None, "duplicate field 'ref'"),
        ("[]", "bad_frame", None, "must be a JSON object"),
        ('"ping"', "bad_frame", None, "must be a JSON object"),
        ("null", "bad_frame", None, "must be a JSON object"),
        ("42", "bad_frame", None, "must be a JSON object"),
        # Deep nesting that fits in a frame (10,000 nested lists would be too_large).
        ("[" * 8_000 + "]" * 8_000, "bad_frame", None, "nested too deeply"),
        ('{"a":' * 2_500 + "1" + "}" * 2_500, "bad_frame", None, "nested too deeply"),
        ('{"type":"ping","ref":' + "[" * 8_000 + "]" * 8_000 + "}", "bad_frame", None, "deeply"),
        ("[" * 10_000 + "]" * 10_000, "too_large", None, "limited to"),
        ('{"type":"ping","ref":' + "9" * 5_000 + "}", "bad_frame", None, "digits"),
        ('{"type":"read","room":"r","seq":' + "9" * 30 + "}", "bad_frame", None, "digits"),
        # Frame type, unknown fields, ref.
        (frame(room="r"), "bad_frame", None, "missing field 'type'"),
        (frame(type="x", ref=3), "bad_frame", 3, "unknown frame type 'x'"),
        (frame(type="PING"), "bad_frame", None, "unknown frame type 'PING'"),
        (frame(type=1), "bad_frame", None, "field 'type' must be a string"),
        (frame(type=None), "bad_frame", None, "field 'type' must be a string"),
        (frame(type="ping", extra=1, ref="a"), "bad_frame", "a", "unexpected field 'extra'"),
        (frame(type="typing", room="r", seq=1), "bad_frame", None, "unexpected field 'seq'"),
        (frame(type="ping", ref="x" * 65), "bad_frame", None, "field 'ref'"),
        (frame(type="ping", ref=True), "bad_frame", None, "field 'ref'"),
        (frame(type="ping", ref=1.5), "bad_frame", None, "field 'ref'"),
        (frame(type="ping", ref=2**53), "bad_frame", None, "field 'ref'"),
        (frame(type="ping", ref=["a"]), "bad_frame", None, "field 'ref'"),
        (frame(type="ping", ref="a\x00"), "bad_frame", None, "field 'ref'"),
        (frame(type="ping", ref="\ud800"), "bad_frame", None, "field 'ref'"),
        # Missing fields.
        (frame(type="subscribe"), "bad_frame", None, "missing field 'room'"),
        (frame(type="read", room="r", ref=9), "bad_frame", 9, "missing field 'seq'"),
        (frame(type="edit", room="r", seq=1), "bad_frame", None, "missing field 'body'"),
        (frame(type="react", room="r", seq=1), "bad_frame", None, "missing field 'emoji'"),
        (frame(**send(body=...)), "bad_frame", "cid", "missing field 'body'"),
        (frame(**send(client_id=...)), "bad_frame", None, "missing field 'client_id'"),
        # Integers: bool, float, string, too big, negative, nested.
        (frame(type="read", room="r", seq=True), "bad_frame", None, "'seq' must be a whole"),
        (frame(type="read", room="r", seq=False), "bad_frame", None, "'seq' must be a whole"),
        (frame(type="read", room="r", seq=1.0), "bad_frame", None, "'seq' must be a whole"),
        ('{"type":"read","room":"r","seq":1e3}', "bad_frame", None, "'seq' must be a whole"),
        (frame(type="read", room="r", seq="1"), "bad_frame", None, "'seq' must be a whole"),
        (frame(type="read", room="r", seq=None), "bad_frame", None, "'seq' must be a whole"),
        (frame(type="read", room="r", seq=[1]), "bad_frame", None, "'seq' must be a whole"),
        (frame(type="read", room="r", seq={"n": 1}), "bad_frame", None, "'seq' must be a whole"),
        (frame(type="read", room="r", seq=-1), "bad_frame", None, "whole number >= 0"),
        (frame(type="read", room="r", seq=MAX_SEQ + 1), "bad_frame", None, f"<= {MAX_SEQ}"),
        (frame(type="read", room="r", seq=2**60), "bad_frame", None, f"<= {MAX_SEQ}"),
        (frame(type="delete", room="r", seq=0), "bad_frame", None, "whole number >= 1"),
        (frame(type="edit", room="r", seq=-3, body="b"), "bad_frame", None, ">= 1"),
        (frame(**react(seq=0, ref="q")), "bad_frame", "q", "whole number >= 1"),
        (frame(type="subscribe", room="r", since=-1), "bad_frame", None, "'since'"),
        (frame(type="subscribe", room="r", since=True), "bad_frame", None, "'since'"),
        (frame(type="subscribe", room="r", since=0.5), "bad_frame", None, "'since'"),
        (frame(type="subscribe", room="r", since="3"), "bad_frame", None, "'since'"),
        # Room slugs.
        (frame(type="typing", room=""), "bad_frame", None, "'room' must be a room slug"),
        (frame(type="typing", room="General"), "bad_frame", None, "room slug"),
        (frame(type="typing", room="-a"), "bad_frame", None, "room slug"),
        (frame(type="typing", room="a-"), "bad_frame", None, "room slug"),
        (frame(type="typing", room="a b"), "bad_frame", None, "room slug"),
        (frame(type="typing", room="a_b"), "bad_frame", None, "room slug"),
        (frame(type="typing", room="a\n"), "bad_frame", None, "room slug"),
        (frame(type="typing", room="x" * 65), "bad_frame", None, "room slug"),
        (frame(type="typing", room="café"), "bad_frame", None, "room slug"),
        (frame(type="typing", room=5), "bad_frame", None, "room slug"),
        (frame(type="typing", room=["a"]), "bad_frame", None, "room slug"),
        # client_id: no ref to fall back on, since it did not parse.
        (frame(**send(client_id="")), "bad_frame", None, "'client_id'"),
        (frame(**send(client_id="a" * 65)), "bad_frame", None, "'client_id'"),
        (frame(**send(client_id="a b")), "bad_frame", None, "'client_id'"),
        (frame(**send(client_id="a\n")), "bad_frame", None, "'client_id'"),
        (frame(**send(client_id="é")), "bad_frame", None, "'client_id'"),
        (frame(**send(client_id=12)), "bad_frame", None, "'client_id'"),
        (frame(**send(client_id="", ref="mine")), "bad_frame", "mine", "'client_id'"),
        # Errors about a send use its client_id when it has no ref.
        (frame(**send(room="No")), "bad_frame", "cid", "room slug"),
        (frame(**send(extra=1)), "bad_frame", "cid", "unexpected field 'extra'"),
        (frame(**send(confirm="yes")), "bad_frame", "cid", "'confirm' must be true or false"),
        (frame(**send(confirm=1)), "bad_frame", "cid", "'confirm' must be true or false"),
        (frame(**send(confirm=None)), "bad_frame", "cid", "'confirm' must be true or false"),
        (frame(**send(extra=1, ref=4)), "bad_frame", 4, "unexpected"),
        (frame(**send(body="", ref="mine")), "bad_frame", "mine", "must not be empty"),
        # Bodies.
        (frame(**send(body="")), "bad_frame", "cid", "'body' must not be empty"),
        (frame(**send(body=" \n\t\u3000")), "bad_frame", "cid", "'body' must not be empty"),
        (frame(**send(body="x" * 4001)), "bad_frame", "cid", "at most 4000 characters"),
        (frame(**send(body=7)), "bad_frame", "cid", "'body' must be a string"),
        (frame(**send(body=["hi"])), "bad_frame", "cid", "'body' must be a string"),
        (frame(**send(body="a\x00b")), "bad_frame", "cid", "NUL"),
        (frame(**send(body="a\udc00b")), "bad_frame", "cid", "surrogate"),
        (frame(type="edit", room="r", seq=1, body=" "), "bad_frame", None, "must not be empty"),
        (frame(type="edit", room="r", seq=1, body="y" * 4001), "bad_frame", None, "at most"),
        # Emoji.
        (frame(**react(emoji="")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="👍" * 9)), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="a")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="lol")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="7")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="👍 ")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji=" ")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="👍\n")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="\x07")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="\x00")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="\u00a0")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="дa")), "bad_frame", None, "'emoji'"),  # Cyrillic letters
        (frame(**react(emoji="٣")), "bad_frame", None, "'emoji'"),  # Arabic-Indic digit
        (frame(**react(emoji="\u202e👍")), "bad_frame", None, "'emoji'"),  # bidi override
        (frame(**react(emoji="👍\u200b")), "bad_frame", None, "'emoji'"),  # zero-width space
        (frame(**react(emoji="\u200d👍")), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji="\u0301")), "bad_frame", None, "'emoji'"),  # a lone mark
        (frame(**react(emoji="\ue000")), "bad_frame", None, "'emoji'"),  # private use
        (frame(**react(emoji="\ud83d")), "bad_frame", None, "'emoji'"),  # lone surrogate
        (frame(**react(emoji=1)), "bad_frame", None, "'emoji'"),
        (frame(**react(emoji=["👍"])), "bad_frame", None, "'emoji'"),
        (frame(**react(remove="true")), "bad_frame", None, "'remove' must be true or false"),
        (frame(**react(remove=0)), "bad_frame", None, "'remove' must be true or false"),
    ],
)
def test_refusals(data: str | bytes, code: str, ref: str | int | None, detail: str) -> None:
    exc = refusal(data)
    assert (exc.code, exc.ref) == (code, ref), exc.detail
    assert detail in exc.detail
    assert str(exc) == exc.detail


@pytest.mark.parametrize("size", [MAX_FRAME_BYTES + 1, 100 * MAX_FRAME_BYTES])
def test_too_large(size: int) -> None:
    head = '{"type":"send","room":"r","client_id":"c","body":"'
    data = head + "x" * (size - len(head) - 2) + '"}'
    assert len(data.encode()) == size
    exc = refusal(data)
    assert (exc.code, exc.ref) == ("too_large", None)
    assert str(MAX_FRAME_BYTES) in exc.detail


def test_too_large_is_counted_in_bytes_not_characters() -> None:
    head = '{"type":"ping","ref":"'
    data = head + "é" * 10_000 + '"}'  # 10,000 characters, 20,000 bytes
    assert len(data) < MAX_FRAME_BYTES < len(data.encode())
    assert refusal(data).code == "too_large"


def test_a_frame_of_exactly_the_limit_is_parsed_and_its_refusal_is_bad_frame() -> None:
    head = '{"type":"ping","pad":"'
    data = head + "x" * (MAX_FRAME_BYTES - len(head) - 2) + '"}'
    assert len(data.encode()) == MAX_FRAME_BYTES
    exc = refusal(data)
    assert exc.code == "bad_frame"
    assert "unexpected field 'pad'" in exc.detail


def test_details_quote_client_text_briefly() -> None:
    exc = refusal(frame(type="z" * 1000))
    assert len(exc.detail) < 100
    exc = refusal(frame(type="\ud800"))
    error(exc.code, exc.detail).encode()  # the error frame itself is valid UTF-8


def test_frame_error_frame() -> None:
    exc = refusal(frame(type="nope", ref="r7"))
    assert json.loads(exc.frame()) == {
        "type": "error",
        "code": "bad_frame",
        "detail": "unknown frame type 'nope'",
        "ref": "r7",
    }


def test_frames_are_frozen() -> None:
    ping = parse(frame(type="ping"))
    with pytest.raises(AttributeError):
        ping.ref = "x"  # type: ignore[misc]


# -- server frames ---------------------------------------------------------------


def test_encode_is_compact_json_with_the_type_first() -> None:
    text = encode("message", room="général", seq=3, body="😊", tags=["a"], extra=None)
    assert text == (
        '{"type":"message","room":"général","seq":3,"body":"😊","tags":["a"],"extra":null}'
    )


@pytest.mark.parametrize("frame_type", sorted(SERVER_TYPES))
def test_encode_round_trips(frame_type: str) -> None:
    fields = {"room": "r", "seq": 2**40, "ok": True, "nested": {"list": [1, "<&>"]}, "n": None}
    assert json.loads(encode(frame_type, **fields)) == {"type": frame_type, **fields}


def test_encode_accepts_a_field_named_frame_type() -> None:
    assert json.loads(encode("notice", frame_type="x")) == {"type": "notice", "frame_type": "x"}


@pytest.mark.parametrize("frame_type", ["ping", "send", "subscribe", "", "ERROR", "hello "])
def test_encode_refuses_unknown_server_types(frame_type: str) -> None:
    with pytest.raises(ValueError, match="unknown server frame type"):
        encode(frame_type)


def test_encode_refuses_a_type_field_and_nan() -> None:
    with pytest.raises(ValueError, match="'type'"):
        encode("hello", type="error")
    with pytest.raises(ValueError):
        encode("presence", load=float("nan"))


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_error_frames(code: str) -> None:
    for ref in (None, "r", 5):
        assert json.loads(error(code, "why", ref)) == {
            "type": "error",
            "code": code,
            "detail": "why",
            "ref": ref,
        }
    assert json.loads(error(code, "why")) == json.loads(error(code, "why", None))


@pytest.mark.parametrize("code", ["", "oops", "BAD_FRAME", "error", "not found"])
def test_error_refuses_unknown_codes(code: str) -> None:
    with pytest.raises(ValueError, match="unknown error code"):
        error(code, "detail")


# -- fuzzing ---------------------------------------------------------------------

_NAMES = [
    "type",
    "ref",
    "room",
    "since",
    "body",
    "client_id",
    "confirm",
    "seq",
    "emoji",
    "remove",
    "x",
]
_TYPES = sorted(
    {"subscribe", "unsubscribe", "send", "edit", "delete", "react", "typing", "read", "ping"}
)


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(12 if depth < 3 else 9)
    if choice == 0:
        return None
    if choice == 1:
        return rng.random() < 0.5
    if choice == 2:
        return rng.choice([0, 1, -1, 2**31 - 1, 2**31, 2**53, 2**53 + 1, -(2**63), 10**30])
    if choice == 3:
        return rng.uniform(-1e6, 1e6)
    if choice == 4:
        return rng.choice(_TYPES)
    if choice == 5:
        return rng.choice(["general", "a", "A", "", " ", "a-", "x" * 70, "👍", "1️⃣", "\u2139"])
    if choice == 6:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(10)))
    if choice == 7:
        return "".join(rng.choice("ab-_ \n\x00😊") for _ in range(rng.randrange(70)))
    if choice == 8:
        return rng.randrange(-5, 5)
    if choice in (9, 10):
        return {rng.choice(_NAMES): _random_value(rng, depth + 1) for _ in range(rng.randrange(6))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


_VALID: list[dict[str, Any]] = [
    {"type": "subscribe", "room": "general", "since": 4},
    {"type": "unsubscribe", "room": "general"},
    {"type": "send", "room": "general", "body": "hi", "client_id": "c1", "confirm": True},
    {"type": "edit", "room": "general", "seq": 2, "body": "hi"},
    {"type": "delete", "room": "general", "seq": 2},
    {"type": "react", "room": "general", "seq": 2, "emoji": "\U0001f44d", "remove": False},
    {"type": "typing", "room": "general"},
    {"type": "read", "room": "general", "seq": 0},
    {"type": "ping", "ref": 1},
]


def _random_frame(rng: random.Random) -> str | bytes:
    kind = rng.randrange(8)
    if kind == 0:
        return rng.randbytes(rng.randrange(64))
    if kind == 1:
        return rng.randbytes(rng.randrange(64)).decode("utf-8", "replace")
    if kind == 2:
        return json.dumps(_random_value(rng))
    if kind >= 5:
        # A valid frame with one field changed, added or dropped.
        fields = dict(rng.choice(_VALID))
        name = rng.choice([*fields, *_NAMES])
        if rng.random() < 0.2:
            fields.pop(name, None)
        else:
            fields[name] = _random_value(rng)
    else:
        fields = {name: _random_value(rng) for name in rng.sample(_NAMES, rng.randrange(6))}
        if rng.random() < 0.8:
            fields["type"] = rng.choice(_TYPES)
    text = json.dumps(fields, ensure_ascii=rng.random() < 0.5)
    if kind == 3 and text:
        # Damage it: drop or duplicate one character.
        at = rng.randrange(len(text))
        text = rng.choice([text[:at] + text[at + 1 :], text[:at] + text[at] + text[at:]])
    return text


def test_fuzz_parse_returns_a_frame_or_raises_frame_error() -> None:
    rng = random.Random(1234)
    parsed = 0
    for _ in range(2000):
        data = _random_frame(rng)
        try:
            result = parse(data)
        except FrameError as exc:
            assert exc.code in {"bad_frame", "too_large"}
            assert exc.ref is None or isinstance(exc.ref, (str, int))
            json.loads(exc.frame())
            exc.frame().encode("utf-8")
        else:
            parsed += 1
            assert isinstance(
                result, (Subscribe, Unsubscribe, Send, Edit, Delete, React, Typing, Read, Ping)
            )
    assert parsed > 0
