"""The chat WebSocket protocol: client frames parsed, server frames encoded.

Every WebSocket message is a text frame holding one JSON object whose ``type``
names the frame. Clients subscribe to rooms (resuming after a ``seq``), send,
edit, delete and react to messages, say they are typing or have read up to a
seq, and ping; the server answers with the types in ``SERVER_TYPES``. Parsing
is strict: an unknown type or field, a missing field or a value of the wrong
type refuses the whole frame with a ``FrameError``, which the endpoint turns
into an ``error`` frame (``FrameError.frame``) carrying the frame's ``ref``.

This module is pure: no I/O, no event loop, no database. The endpoint hands it
what the socket received and sends what it returns; the tests feed it frames.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import NoReturn, TypeAlias

__all__ = [
    "ERROR_CODES",
    "MAX_BODY_CHARS",
    "MAX_FRAME_BYTES",
    "MAX_SEQ",
    "PROTOCOL_VERSION",
    "SERVER_TYPES",
    "ClientFrame",
    "Delete",
    "Edit",
    "FrameError",
    "Ping",
    "React",
    "Read",
    "Ref",
    "Send",
    "Subscribe",
    "Typing",
    "Unsubscribe",
    "encode",
    "error",
    "parse",
]

PROTOCOL_VERSION = 1

#: Largest client frame, counted in UTF-8 bytes: a full body is at most
#: 4,000 characters, so 16 KiB leaves room for JSON escapes and the fields.
MAX_FRAME_BYTES = 16 * 1024

#: Longest message body, in code points (the body is kept exactly as sent).
MAX_BODY_CHARS = 4000

#: Largest seq a client may name: ``Message.seq`` and ``ReadMarker.seq`` are
#: 32-bit columns, so a larger number cannot match anything and would only
#: make PostgreSQL refuse the query.
MAX_SEQ = 2**31 - 1

#: Largest integer ``ref`` (JavaScript's ``Number.MAX_SAFE_INTEGER``): a
#: browser could not echo a larger one exactly.
_MAX_SAFE_INT = 2**53 - 1
_MAX_REF_CHARS = 64
_MAX_EMOJI_CODE_POINTS = 8
#: More digits than any accepted integer has: refused before ``int()`` spends
#: time on them (Python would only refuse past 4,300 digits).
_MAX_INT_DIGITS = 20

SERVER_TYPES = frozenset(
    {
        "hello",
        "subscribed",
        "message",
        "edited",
        "deleted",
        "reaction",
        "presence",
        "typing",
        "gap",
        "notice",
        "error",
        "pong",
        "read",
    }
)

ERROR_CODES = frozenset(
    {
        "bad_frame",
        "too_large",
        "rate_limited",
        "forbidden",
        "not_found",
        "silenced",
        "identifying_details",
        "server_error",
        "unavailable",
    }
)

#: What a client may put in ``ref`` to match an error to the frame it sent.
Ref: TypeAlias = str | int | None

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DIGITS = frozenset("0123456789")
_KEYCAP = "\u20e3"  # COMBINING ENCLOSING KEYCAP: "1" + U+FE0F + U+20E3 is the 1 key emoji
_ZWJ = "\u200d"  # ZERO WIDTH JOINER, which glues emoji into one (family, profession...)
#: Emoji that Unicode files as letters: INFORMATION SOURCE.
_EMOJI_LETTERS = frozenset("\u2139")


class FrameError(Exception):
    """A client frame refused: ``code`` is ``bad_frame`` or ``too_large``.

    ``detail`` says what was wrong, for the person debugging a client; ``ref``
    is the frame's ``ref`` (or a ``send``'s ``client_id``) when it got that far.
    """

    def __init__(self, code: str, detail: str, ref: Ref = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.ref = ref

    def frame(self) -> str:
        """The ``error`` frame to send back."""
        return error(self.code, self.detail, self.ref)


# -- client frames ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Receive a room's messages: after ``since`` if given, else recent history."""

    room: str
    since: int | None = None
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    room: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Send:
    """A new message. ``client_id`` makes a resend find the original;
    ``confirm`` means the sender has seen the identifying-details warning."""

    room: str
    body: str
    client_id: str
    confirm: bool = False
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Edit:
    room: str
    seq: int
    body: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Delete:
    room: str
    seq: int
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class React:
    """Add (or with ``remove``, take back) a reaction to a message."""

    room: str
    seq: int
    emoji: str
    remove: bool = False
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Typing:
    room: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Read:
    """The sender has read ``room`` up to and including ``seq``."""

    room: str
    seq: int
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Ping:
    ref: Ref = None


ClientFrame: TypeAlias = (
    Subscribe | Unsubscribe | Send | Edit | Delete | React | Typing | Read | Ping
)

#: The fields each client frame type may carry, besides ``type`` and ``ref``.
_FIELDS: dict[str, frozenset[str]] = {
    "subscribe": frozenset({"room", "since"}),
    "unsubscribe": frozenset({"room"}),
    "send": frozenset({"room", "body", "client_id", "confirm"}),
    "edit": frozenset({"room", "seq", "body"}),
    "delete": frozenset({"room", "seq"}),
    "react": frozenset({"room", "seq", "emoji", "remove"}),
    "typing": frozenset({"room"}),
    "read": frozenset({"room", "seq"}),
    "ping": frozenset(),
}


# -- parsing -----------------------------------------------------------------------


class _Invalid(Exception):
    """A field refused; ``parse`` adds the code and the ref."""


def parse(data: str | bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> ClientFrame:
    """The client frame in ``data``, or ``FrameError`` saying why it is refused."""
    if not isinstance(data, str):
        raise FrameError("bad_frame", "binary frames are not accepted")
    # A character is at least one UTF-8 byte: no need to encode a long string to know.
    if len(data) > max_bytes or len(data.encode("utf-8", "surrogatepass")) > max_bytes:
        raise FrameError("too_large", f"frames are limited to {max_bytes} bytes")
    obj = _load(data)
    try:
        ref = _ref(obj)
    except _Invalid as exc:
        raise FrameError("bad_frame", str(exc)) from None
    try:
        kind = _frame_type(obj)
        if kind == "send" and ref is None:
            client_id = obj.get("client_id")
            if isinstance(client_id, str) and CLIENT_ID.fullmatch(client_id):
                ref = client_id
        allowed = _FIELDS[kind]
        for name in obj:
            if name not in allowed and name not in ("type", "ref"):
                raise _Invalid(f"unexpected field {_show(name)}")
        return _build(kind, obj, ref)
    except _Invalid as exc:
        raise FrameError("bad_frame", str(exc), ref) from None


def _load(data: str) -> dict[str, object]:
    try:
        value = json.loads(
            data,
            parse_constant=_refuse_constant,
            parse_int=_parse_int,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise FrameError("bad_frame", f"invalid JSON: {exc.msg} at character {exc.pos}") from None
    except ValueError as exc:  # from the hooks below
        raise FrameError("bad_frame", f"invalid JSON: {exc}") from None
    except RecursionError:
        raise FrameError("bad_frame", "invalid JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise FrameError("bad_frame", "a frame must be a JSON object")
    return value


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"a number has more than {_MAX_INT_DIGITS} digits")
    return int(text)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate field {_show(key)}")
            seen.add(key)
    return obj


def _ref(obj: dict[str, object]) -> Ref:
    value = obj.get("ref")
    if value is None:
        return None
    if type(value) is int and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        return value
    if isinstance(value, str) and len(value) <= _MAX_REF_CHARS and _is_clean(value):
        return value
    raise _Invalid(
        f"field 'ref' must be a string of at most {_MAX_REF_CHARS} characters "
        f"or a whole number of at most {_MAX_SAFE_INT}"
    )


def _frame_type(obj: dict[str, object]) -> str:
    if "type" not in obj:
        raise _Invalid("missing field 'type'")
    kind = obj["type"]
    if not isinstance(kind, str):
        raise _Invalid("field 'type' must be a string")
    if kind not in _FIELDS:
        raise _Invalid(f"unknown frame type {_show(kind)}")
    return kind


def _build(kind: str, obj: dict[str, object], ref: Ref) -> ClientFrame:
    if kind == "ping":
        return Ping(ref=ref)
    room = _room(obj)
    if kind == "subscribe":
        since = _get(obj, "since") if "since" in obj else None
        return Subscribe(room, None if since is None else _seq("since", since, 0), ref)
    if kind == "unsubscribe":
        return Unsubscribe(room, ref)
    if kind == "typing":
        return Typing(room, ref)
    if kind == "send":
        body = _body(obj)
        client_id = _get(obj, "client_id")
        if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
            raise _Invalid("field 'client_id' must be 1 to 64 letters, digits, '-' or '_'")
        return Send(room, body, client_id, _flag(obj, "confirm"), ref)
    if kind == "read":
        return Read(room, _seq("seq", _get(obj, "seq"), 0), ref)
    seq = _seq("seq", _get(obj, "seq"), 1)
    if kind == "edit":
        return Edit(room, seq, _body(obj), ref)
    if kind == "delete":
        return Delete(room, seq, ref)
    if kind == "react":
        emoji = _get(obj, "emoji")
        if not isinstance(emoji, str) or not _is_emoji(emoji):
            raise _Invalid(
                f"field 'emoji' must be one emoji or symbol of at most "
                f"{_MAX_EMOJI_CODE_POINTS} code points, without letters, digits or spaces"
            )
        return React(room, seq, emoji, _flag(obj, "remove"), ref)
    raise AssertionError(f"no parser for frame type {kind!r}")  # every _FIELDS key has one


def _get(obj: dict[str, object], name: str) -> object:
    if name not in obj:
        raise _Invalid(f"missing field {_show(name)}")
    return obj[name]


def _room(obj: dict[str, object]) -> str:
    room = _get(obj, "room")
    if not isinstance(room, str) or not _SLUG.fullmatch(room):
        raise _Invalid(
            "field 'room' must be a room slug: up to 64 lowercase letters, digits and inner hyphens"
        )
    return room


def _seq(name: str, value: object, minimum: int) -> int:
    # type() rather than isinstance(): JSON's true and false are not numbers.
    if type(value) is not int or value < minimum:
        raise _Invalid(f"field {_show(name)} must be a whole number >= {minimum}")
    if value > MAX_SEQ:
        raise _Invalid(f"field {_show(name)} must be a whole number <= {MAX_SEQ}")
    return value


def _flag(obj: dict[str, object], name: str) -> bool:
    value = obj.get(name, False)
    if type(value) is not bool:
        raise _Invalid(f"field {_show(name)} must be true or false")
    return value


def _body(obj: dict[str, object]) -> str:
    body = _get(obj, "body")
    if not isinstance(body, str):
        raise _Invalid("field 'body' must be a string")
    if not body.strip():
        raise _Invalid("field 'body' must not be empty")
    if len(body) > MAX_BODY_CHARS:
        raise _Invalid(f"field 'body' must be at most {MAX_BODY_CHARS} characters")
    if not _is_clean(body):
        raise _Invalid("field 'body' must not contain NUL characters or lone surrogates")
    return body


def _is_clean(text: str) -> bool:
    """No NUL (PostgreSQL cannot store it) and no lone surrogate (not UTF-8 encodable)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_emoji(text: str) -> bool:
    """One emoji or symbol, loosely: a reaction must not become a way to write words.

    Refused: letters and digits of any script (INFORMATION SOURCE aside, and
    a digit only as a keycap such as "1" U+FE0F U+20E3), whitespace and other
    separators, control, private-use and surrogate code points, invisible
    format characters other than the joiner and tag characters that emoji
    sequences use, and a mark or joiner with nothing before it.
    """
    if not 1 <= len(text) <= _MAX_EMOJI_CODE_POINTS:
        return False
    first = unicodedata.category(text[0])
    if first.startswith("M") or first == "Cf":
        return False
    for index, char in enumerate(text):
        if char in _DIGITS:
            after = text[index + 1 : index + 3]
            if after != "\ufe0f" + _KEYCAP and not after.startswith(_KEYCAP):
                return False
            continue
        category = unicodedata.category(char)
        if char.isspace() or category in ("Cc", "Co", "Cs") or category.startswith("Z"):
            return False
        if category.startswith(("L", "N")) and char not in _EMOJI_LETTERS:
            return False
        if category == "Cf" and char != _ZWJ and not "\U000e0020" <= char <= "\U000e007f":
            return False
    return True


def _show(text: str) -> str:
    """``text`` quoted for an error detail, cut short: it comes from the client."""
    return repr(text if len(text) <= 32 else text[:32] + "…")


# -- server frames -----------------------------------------------------------------


def encode(frame_type: str, /, **fields: object) -> str:
    """The server frame ``{"type": frame_type, **fields}`` as compact JSON text.

    ``ValueError`` for a type not in ``SERVER_TYPES``, a field named ``type``
    or a NaN or infinity; ``TypeError`` for a value JSON cannot represent.
    """
    if frame_type not in SERVER_TYPES:
        raise ValueError(f"unknown server frame type {frame_type!r}")
    if "type" in fields:
        raise ValueError("a frame's fields cannot include 'type'")
    return json.dumps(
        {"type": frame_type, **fields},
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )


def error(code: str, detail: str, ref: Ref = None) -> str:
    """An ``error`` frame; ``ValueError`` for a code not in ``ERROR_CODES``."""
    if code not in ERROR_CODES:
        raise ValueError(f"unknown error code {code!r}")
    return encode("error", code=code, detail=detail, ref=ref)
