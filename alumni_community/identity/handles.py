"""Handles: the only name a member has here. Pure functions, no database.

A handle is 3 to 32 letters, digits, ``_`` or ``-`` after NFKC normalization,
in one script (no Latin mixed with Cyrillic). Two handles may not be equal
ignoring case (``key``), nor look alike (``skeleton``): ``Iris`` and
``lris``, ``paypal`` and the same word with a Cyrillic a (U+0430), ``rn`` and ``m``, ``0`` and
``O``, or the same letters with separators moved. The look-alike table is
Unicode's confusables data as shipped by ``confusable-homoglyphs``.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from importlib.resources import files

from confusable_homoglyphs import confusables

__all__ = ["HandleError", "key", "normalize", "skeleton", "validate"]

MIN_LENGTH = 3
MAX_LENGTH = 32
SEPARATORS = "_-"
#: Direction marks that the confusables data wraps right-to-left glyphs in.
_MARKS = dict.fromkeys(map(ord, "\u200e\u200f"))


class HandleError(ValueError):
    """Why a handle cannot be used; the message is shown to the person choosing it."""


def normalize(handle: str) -> str:
    """The form a handle is stored and shown in (NFKC, no surrounding spaces)."""
    return unicodedata.normalize("NFKC", handle).strip()


def validate(handle: str) -> str:
    """The normalized handle, or ``HandleError`` saying what is wrong with it."""
    value = normalize(handle)
    if not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        raise HandleError(f"must be {MIN_LENGTH} to {MAX_LENGTH} characters long")
    if not all(ch.isalnum() or ch in SEPARATORS for ch in value):
        raise HandleError("may contain only letters, digits, _ and -")
    if not any(ch.isalpha() for ch in value):
        raise HandleError("must contain at least one letter")
    if value[0] in SEPARATORS or value[-1] in SEPARATORS:
        raise HandleError("must start and end with a letter or digit")
    if confusables.is_mixed_script(value, allowed_aliases=["COMMON"]):
        raise HandleError("must be written in one alphabet")
    return value


def key(handle: str) -> str:
    """Case-insensitive identity: two handles with the same key are the same handle."""
    return normalize(handle).casefold()


def skeleton(handle: str) -> str:
    """What the handle looks like: equal skeletons are look-alikes."""
    value = normalize(handle)
    value = "".join(ch for ch in value if ch not in SEPARATORS)
    value = _map(_map(value).casefold())
    return value


def _map(value: str) -> str:
    sequences, prototypes = _tables()
    for sequence, single in sequences:
        value = value.replace(sequence, single)
    return "".join(prototypes.get(ch, ch) for ch in value)


@functools.cache
def _tables() -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Classes of single-character look-alikes, each mapped to one prototype.

    The data lists, per character, what it may be confused with; the relation
    is neither symmetric nor transitive there, so classes are built with
    union-find. The prototype is the smallest ASCII member (else the smallest
    code point), so skeletons of plain ASCII handles stay readable in tests.
    Multi-character look-alikes (``rn`` for ``m``) become replacements.
    """
    data = json.loads(
        files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    )
    parent: dict[str, str] = {}

    def find(ch: str) -> str:
        while parent.setdefault(ch, ch) != ch:
            parent[ch] = parent[parent[ch]]
            ch = parent[ch]
        return ch

    def rank(ch: str) -> tuple[bool, int]:
        return (not ch.isascii(), ord(ch))

    sequences: list[tuple[str, str]] = []
    for char, glyphs in data.items():
        char = char.translate(_MARKS)
        for glyph in glyphs:
            other = glyph["c"].translate(_MARKS)
            if len(char) == 1 and len(other) == 1:
                a, b = find(char), find(other)
                if a != b:
                    low, high = sorted((a, b), key=rank)
                    parent[high] = low
            elif len(char) == 1 and len(other) > 1 and other.isascii() and char.isascii():
                sequences.append((other, char))
    prototypes = {ch: find(ch) for ch in parent if find(ch) != ch}
    # Longest first, so "rnn" is not half-replaced by a shorter rule.
    sequences.sort(key=lambda pair: -len(pair[0]))
    return sequences, prototypes
