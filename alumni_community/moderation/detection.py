"""What a post says that a moderator must see: crisis, identifying details, watched words.

Pure functions, no database and no I/O: the post service calls them before a
post is published and decides what to do with the answer. They never hide a
post themselves; "safety before engagement" means a crisis post is shown
with crisis resources and raised to moderators, not swallowed.

Three detectors:

``find_crisis``
    Phrases of suicidal intent, self-harm or dangerous relapse. It errs on
    the side of flagging, because a missed crisis costs far more than a
    moderator's glance at a false alarm. So it does *not* try to read
    context: ``"suicide prevention training"``, ``"I used to want to die,
    now 2 years clean"``, ``"I relapsed in 2019 and came back"``, ``"my
    friend overdosed"``, ``"I hurt myself at the gym"``, ``"walked 5 kms"``
    and ``"I'm killing myself laughing"`` all match. It misses phrasings
    that are not in the list (``"I'm going to swallow everything in the
    cabinet"``), letters spread out with spaces (``"k i l l myself"``),
    other languages unless the host passes its own list, and negations
    (``"I would never kill myself"`` *matches*, which is the safe mistake).

``find_identifying``
    Phone numbers, e-mail addresses (also ``"name at example dot com"``) and
    US-style street addresses, so the author can be warned before a post
    reveals who they are. Toll-free numbers are skipped: helplines such as
    SAMHSA's 1-800-662-4357 are shared all the time and identify no one.
    Misses: numbers spelled in words, e-mail without a domain (``"jane at
    gmail"``), addresses outside the US pattern, PO boxes, full names.

``compile_watched``
    A community's own words to block, hold for review, flag or censor.

Matching happens on normalized text (:func:`normalize`), so case, full-width
letters, zero-width characters and punctuation do not hide a word.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

import phonenumbers

from alumni_community.moderation.crisis_phrases import DEFAULT_CRISIS_PHRASES

__all__ = [
    "ACTION_PRECEDENCE",
    "CENSOR_MARK",
    "DEFAULT_CRISIS_PHRASES",
    "MAX_PATTERN_LENGTH",
    "Finding",
    "IdentifyingKind",
    "WatchAction",
    "WatchResult",
    "WatchedMatcher",
    "WatchedWord",
    "WatchedWordError",
    "compile_watched",
    "find_crisis",
    "find_identifying",
    "fold_for_crisis",
    "normalize",
]

# --------------------------------------------------------------------------- normalization

#: Apostrophes people type, including the typographic ones phones insert.
_APOSTROPHES: Final = frozenset("'\u2018\u2019\u02bc`\u00b4\u2032")


def _clusters(text: str) -> Iterator[tuple[int, int]]:
    """Spans of a base character and the combining marks after it.

    NFKC is applied per cluster, not per string, so that every normalized
    character can be traced back to the span of the post it came from
    (``censor`` needs that). Within a cluster the result is the same as
    whole-string NFKC; only exotic sequences such as conjoining Hangul jamo
    typed one by one differ.
    """
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or not unicodedata.category(text[index]).startswith("M"):
            yield start, index
            start = index


def _normalized_chars(text: str) -> list[tuple[str, int, int]]:
    """Each character of ``normalize(text)`` with the span of ``text`` it came from."""
    chars: list[tuple[str, int, int]] = []
    for start, end in _clusters(text):
        for char in unicodedata.normalize("NFKC", text[start:end]).casefold():
            category = unicodedata.category(char)
            # Zero-width and bidi characters are deleted, not spaced: they are
            # how a word is hidden ("sui\u200bcide"), never how words are split.
            if category == "Cf" or (category == "Cc" and not char.isspace()):
                continue
            if category[0] in "LNM" or char in _APOSTROPHES:
                chars.append((char, start, end))
            else:
                chars.append((" ", start, end))
    out: list[tuple[str, int, int]] = []
    for index, (char, start, end) in enumerate(chars):
        if char in _APOSTROPHES:
            before = chars[index - 1][0] if index else " "
            after = chars[index + 1][0] if index + 1 < len(chars) else " "
            if _is_word_char(before) and _is_word_char(after):
                # "don't" and "dont" must read the same: people type both.
                continue
            char = " "
        if char == " " and (not out or out[-1][0] == " "):
            continue
        out.append((char, start, end))
    if out and out[-1][0] == " ":
        out.pop()
    return out


def _is_word_char(char: str) -> bool:
    return char != " " and char not in _APOSTROPHES


def normalize(text: str) -> str:
    """The form text is matched in: NFKC, casefolded, invisible characters
    removed, in-word apostrophes dropped, any run of other punctuation or
    whitespace turned into one space.

    >>> normalize("I DON\u2019T   want\u200b—to…")
    'i dont want to'
    """
    return "".join(char for char, _, _ in _normalized_chars(text))


#: ``@`` and ``$`` read as letters when a word follows them ("$uicide").
_LEET_LEADING: Final = re.compile(r"[@$](?=[^\W_])")
#: ``!`` and ``|`` read as ``i`` only inside a word ("k!ll"), not at a sentence's end.
_LEET_INNER: Final = re.compile(r"(?<=[^\W_])[!|](?=[^\W_])")
#: Digits that stand for letters. ``l`` folds into ``i`` too, because ``1``
#: stands for both ("k1ll", "su1c1de"); the phrases are folded the same way.
_LEET_TABLE: Final = str.maketrans("013457l", "oieasti")
_REPEATS: Final = re.compile(r"(.)\1+")


def fold_for_crisis(text: str) -> str:
    """:func:`normalize`, then undo the spellings that hide a crisis phrase.

    Look-alike digits and symbols become letters, ``l`` and ``i`` become one
    letter, and repeated letters collapse (``"diiie"``, ``"kill"`` and
    ``"kil"`` all read the same). The result is unreadable, which is fine:
    it is only compared with phrases folded the same way. Used only for the
    crisis matcher, where a hidden word matters more than a mangled one.

    >>> fold_for_crisis("K1ll mys3lf!!")
    'ki myseif'
    """
    text = unicodedata.normalize("NFKC", text)
    text = _LEET_LEADING.sub(lambda match: "a" if match.group() == "@" else "s", text)
    text = _LEET_INNER.sub("i", text)
    return _REPEATS.sub(r"\1", normalize(text).translate(_LEET_TABLE))


# --------------------------------------------------------------------------- crisis


def find_crisis(text: str, phrases: Iterable[str] = DEFAULT_CRISIS_PHRASES) -> list[str]:
    """The phrases from ``phrases`` that ``text`` contains, in list order.

    A phrase matches whole words of the folded text (see
    :func:`fold_for_crisis`), so ``"cut myself"`` finds ``"CUT. myself"``
    but ``"cut"`` never finds ``"cutlery"``. It errs on the side of
    flagging (see the module docs). A host serving another language passes
    its own phrases; the folded list is cached, so pass the same tuple each
    time rather than building a new list per post.

    >>> find_crisis("I don't want to live anymore")
    ["don't want to live"]
    """
    if isinstance(phrases, str):
        # A lone string would be read as a list of one-letter phrases.
        raise TypeError("phrases must be a collection of strings, not one string")
    folded = f" {fold_for_crisis(text)} "
    return [phrase for phrase, key in _folded_phrases(tuple(phrases)) if f" {key} " in folded]


# A host has one list, maybe one per locale: a handful of entries is plenty.
@functools.lru_cache(maxsize=16)
def _folded_phrases(phrases: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Each distinct phrase with its folded form; phrases with no letters are dropped."""
    folded: dict[str, str] = {}
    for phrase in phrases:
        key = fold_for_crisis(phrase)
        if key and phrase not in folded:
            folded[phrase] = key
    return tuple(folded.items())


# --------------------------------------------------------------------------- identifying details

IdentifyingKind = Literal["phone", "email", "address"]


@dataclass(frozen=True, slots=True)
class Finding:
    """A detail that may identify the author: ``text == post[start:end]``."""

    kind: IdentifyingKind
    text: str
    start: int
    end: int


def find_identifying(text: str, *, default_region: str = "US") -> list[Finding]:
    """Phone numbers, e-mail addresses and street addresses in ``text``, in order.

    ``default_region`` (ISO 3166 code) is how numbers without a ``+country``
    prefix are read; numbers written with ``+`` are found for any country.
    Where two findings overlap, the e-mail wins over the phone number and
    the phone number over the address, so each span is reported once.

    >>> [f.kind for f in find_identifying("call 415-555-2671 or jo at gmail dot com")]
    ['phone', 'email']
    """
    kept: list[Finding] = []
    for finding in (*_emails(text), *_phones(text, default_region), *_addresses(text)):
        if all(finding.end <= other.start or finding.start >= other.end for other in kept):
            kept.append(finding)
    return sorted(kept, key=lambda finding: finding.start)


#: Seven-digit local numbers ("555-0199"), which ``phonenumbers`` cannot
#: validate without an area code. Only in NANP regions, where that is how
#: people write a local number. A hyphen or dot is required so that plain
#: counts ("1825 days") never match, and a unit after it marks a range
#: ("from 365-1000 days", "$200-1500 a month"), not a number.
_NANP_LOCAL: Final = re.compile(
    r"(?<![\d.+/$-])[2-9]\d{2}[-.]\d{4}(?![\d/-]|\.\d)"
    r"(?!\s*(?i:days?|hours?|weeks?|months?|years?|miles?|km|people|members|dollars?|"
    r"bucks|times|words|steps|a\s|per\s|%))"
)


def _phones(text: str, region: str) -> Iterator[Finding]:
    region = region.upper()
    # VALID checks the number against the region's numbering plan, which is
    # what keeps dates, times, counts and years ("since 2019") out.
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    for found in matcher:
        if phonenumbers.number_type(found.number) == phonenumbers.PhoneNumberType.TOLL_FREE:
            continue
        yield Finding("phone", found.raw_string, found.start, found.end)
    if phonenumbers.is_nanpa_country(region):
        for match in _NANP_LOCAL.finditer(text):
            yield Finding("phone", match.group(), match.start(), match.end())


_AT_SYMBOL: Final = r"[@\uff20]"
_AT_BRACKETED: Final = r"\s*[\[({<]\s*(?:at|@)\s*[\])}>]\s*"
_AT_WORD: Final = r"\s+at\s+"
_DOT_OBFUSCATED: Final = r"(?:\s*[\[({<]\s*(?:dot|\.)\s*[\])}>]\s*|\s+dot\s+)"
_DOT: Final = rf"(?:{_DOT_OBFUSCATED}|\.)"
_LOCAL_ATOM: Final = r"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*"
# "john dot smith at ..." spells the dots of the local part out too.
_LOCAL: Final = rf"{_LOCAL_ATOM}(?:{_DOT_OBFUSCATED}{_LOCAL_ATOM}){{0,3}}"
_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_EMAIL_START: Final = rf"(?<![\w.%+-])(?P<local>{_LOCAL})"
_EMAIL_END: Final = r"(?![\w-])"

#: ``name@example.com``, ``name@example dot com``, ``name [at] example [dot] org``:
#: an ``@`` or a bracketed "at" is a clear signal, so any top-level domain will do.
_EMAIL_CLEAR: Final = re.compile(
    rf"{_EMAIL_START}(?:{_AT_SYMBOL}|{_AT_BRACKETED})"
    rf"(?P<domain>(?:{_LABEL}{_DOT}){{1,5}}[a-z]{{2,24}}){_EMAIL_END}",
    re.IGNORECASE,
)
#: ``name at example dot com``. "at" is an ordinary word, so the domain must
#: end in a common top-level domain, and ``_word_at_is_email`` asks for more.
_EMAIL_WORD_AT: Final = re.compile(
    rf"{_EMAIL_START}{_AT_WORD}"
    rf"(?P<domain>(?:{_LABEL}{_DOT}){{1,5}}"
    rf"(?:com|net|org|edu|gov|io|co|uk|us|ca|au|nz|ie|de|fr|es|it|nl|info|biz)){_EMAIL_END}",
    re.IGNORECASE,
)
#: Mail providers whose domains are personal addresses: "jo at gmail.com" is
#: an e-mail address, while "sign up at volunteer.org" is a website.
_PERSONAL_MAIL_DOMAINS: Final = frozenset(
    "gmail googlemail yahoo ymail hotmail outlook live msn icloud me mac aol proton "
    "protonmail pm gmx zoho yandex fastmail comcast verizon att sbcglobal".split()
)
_DOT_SPLIT: Final = re.compile(_DOT, re.IGNORECASE)


def _word_at_is_email(domain: str) -> bool:
    """Whether ``x at <domain>`` is an address rather than "meet at aa.org"."""
    if re.search(_DOT_OBFUSCATED, domain, re.IGNORECASE):
        return True  # nobody spells out "dot" except to hide an address
    labels = [label.casefold() for label in _DOT_SPLIT.split(domain)]
    return any(label in _PERSONAL_MAIL_DOMAINS for label in labels[:-1])


def _emails(text: str) -> Iterator[Finding]:
    for clear in _EMAIL_CLEAR.finditer(text):
        yield Finding("email", clear.group(), clear.start(), clear.end())
    position = 0
    while word_at := _EMAIL_WORD_AT.search(text, position):
        if _word_at_is_email(word_at.group("domain")):
            yield Finding("email", word_at.group(), word_at.start(), word_at.end())
            position = word_at.end()
        else:
            # A rejected "meet at aa.org" must not swallow an address after it.
            position = word_at.start() + 1


# Address detection is a heuristic for US-style addresses ("1600 Pennsylvania
# Ave NW" is found without "NW"; "Flat 2, 10 Downing Street" only from "10").
# Other countries write addresses differently; a host there should expect
# misses, not a guarantee.
_STREET_SUFFIX: Final = (
    r"(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|"
    r"place|pl|terrace|ter|circle|cir|parkway|pkwy|highway|hwy)"
)
#: Words after a number that make it a count, not a house number:
#: "90 days", "12 steps", "a 45 minute drive", "the only 1 way".
_NOT_A_STREET_NAME: Final = (
    r"(?i:the|a|an|my|your|our|his|her|their|this|that|of|on|in|at|to|for|and|or|"
    r"step|steps|day|days|hour|hours|week|weeks|month|months|year|years|minute|minutes|"
    r"time|times|mile|miles|block|blocks|more|other|new|old|clean|sober|long|short|good|"
    r"bad|best|better|only|big|little|small|great|right|wrong|hard|easy|whole|same|"
    r"different|first|last|next)\b"
)
_CAPITALIZED_WORD: Final = rf"(?!{_NOT_A_STREET_NAME})(?:[A-Z][A-Za-z'-]*|\d+(?i:st|nd|rd|th))"
# One lower-case word is allowed ("123 main st"), more are not: "3 blocks down
# the street" is a direction, and a street name typed in lower case is rare.
_LOWERCASE_WORD: Final = rf"(?!{_NOT_A_STREET_NAME})[a-z][a-z'-]*"
_ADDRESS: Final = re.compile(
    r"(?<![\w:.,/#-])\d{1,6}(?:-?[A-Za-z](?![A-Za-z]))?"
    r"\s+(?:(?i:[NSEW]\.?|north|south|east|west)\s+)?"
    rf"(?:{_CAPITALIZED_WORD}(?:\s+{_CAPITALIZED_WORD}){{0,2}}|{_LOWERCASE_WORD})"
    rf"\s+{_STREET_SUFFIX}\b\.?"
    r"(?:,?\s*(?i:apt|apartment|unit|suite|ste|\#)\.?\s*\#?\s*[A-Za-z0-9-]+)?"
)


def _addresses(text: str) -> Iterator[Finding]:
    for match in _ADDRESS.finditer(text):
        yield Finding("address", match.group(), match.start(), match.end())


# --------------------------------------------------------------------------- watched words

WatchAction = Literal["block", "hold", "flag", "censor"]

#: Strongest first. ``check`` reports the first of these that any word hit:
#: refusing a post outranks holding it, holding outranks publishing with a
#: flag, and censoring only changes how a published post reads.
ACTION_PRECEDENCE: Final[tuple[WatchAction, ...]] = ("block", "hold", "flag", "censor")
#: Long enough for any word list a moderator types; short enough that a
#: pasted pathological pattern is refused before it is compiled.
MAX_PATTERN_LENGTH: Final = 200
#: What a censored word reads as: always three marks, so its length does not hint at it.
CENSOR_MARK: Final = "\u25a0\u25a0\u25a0"


class WatchedWordError(ValueError):
    """Why a watched word cannot be used; the message is shown to the moderator."""


@dataclass(frozen=True, slots=True)
class WatchedWord:
    """A word or regular expression a community watches for, and what to do on a hit.

    A plain word (``is_regex=False``) matches whole words of the normalized
    text, so ``"meth"`` finds ``"METH"`` and ``"m\u200beth"`` but not
    ``"method"``. A regular expression is matched, case-insensitively, on
    the text as written: its punctuation means what it says, and it is the
    moderator's job to cover spellings. The default action is ``"flag"``,
    the one that changes nothing the author sees.

    Regular expressions are refused when they are longer than
    ``MAX_PATTERN_LENGTH``, when they can match empty text, or when they
    have a shape that backtracks exponentially: a repeated group that itself
    contains a quantifier or an alternation (``(a+)+``, ``(a|aa)*``,
    ``(?:colou?r)+``), or a back-reference. The check is deliberately
    simple, so it refuses some safe patterns and cannot refuse every slow
    one: ``.*a.*b.*c`` is polynomial, which is why a host must cap the
    length of a post.
    """

    pattern: str
    is_regex: bool = False
    action: WatchAction = "flag"

    def __post_init__(self) -> None:
        _compile(self)  # refuse a bad word where it is made, not at the first post


@dataclass(frozen=True, slots=True)
class WatchResult:
    """What ``check`` found: the strongest action and every word that hit.

    ``action`` is ``None`` when nothing hit; the result is then falsy.
    """

    action: WatchAction | None
    words: tuple[WatchedWord, ...]

    def __bool__(self) -> bool:
        return self.action is not None


class WatchedMatcher:
    """A compiled list of watched words; build it once with :func:`compile_watched`."""

    __slots__ = ("_compiled", "words")

    def __init__(self, words: Iterable[WatchedWord]) -> None:
        self.words: tuple[WatchedWord, ...] = tuple(dict.fromkeys(words))
        self._compiled = tuple((word, _compile(word)) for word in self.words)

    def __repr__(self) -> str:
        return f"WatchedMatcher({len(self.words)} words)"

    def check(self, text: str) -> WatchResult:
        """The strongest action any word asks for, and the words that hit."""
        post = _Post(text)
        hits = tuple(
            word
            for word, pattern in self._compiled
            if next(_hits(word, pattern, post), None) is not None
        )
        action = next((a for a in ACTION_PRECEDENCE if any(w.action == a for w in hits)), None)
        return WatchResult(action, hits)

    def censor(self, text: str) -> str:
        """``text`` as written, with every hit of a ``"censor"`` word replaced by ``CENSOR_MARK``.

        >>> compile_watched([WatchedWord("darn", action="censor")]).censor("Oh DARN it")
        'Oh \u25a0\u25a0\u25a0 it'
        """
        post = _Post(text)
        spans = sorted(
            span
            for word, pattern in self._compiled
            if word.action == "censor"
            for span in _hits(word, pattern, post)
        )
        pieces: list[str] = []
        position = 0
        for start, end in spans:
            if start < position:  # overlaps the previous hit: already hidden
                position = max(position, end)
                continue
            pieces += [text[position:start], CENSOR_MARK]
            position = end
        pieces.append(text[position:])
        return "".join(pieces)


class _Post:
    """A post as written, and its normalized form computed at most once."""

    __slots__ = ("_normalized", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._normalized: tuple[str, list[tuple[str, int, int]]] | None = None

    def normalized(self) -> tuple[str, list[tuple[str, int, int]]]:
        """The normalized text, and each of its characters' span of the post."""
        if self._normalized is None:
            chars = _normalized_chars(self.text)
            self._normalized = ("".join(char for char, _, _ in chars), chars)
        return self._normalized


def _hits(word: WatchedWord, pattern: re.Pattern[str], post: _Post) -> Iterator[tuple[int, int]]:
    """Each hit of ``word`` as a span of the post as written."""
    if word.is_regex:
        for match in pattern.finditer(post.text):
            if match.end() > match.start():  # a zero-width hit hides nothing
                yield match.start(), match.end()
        return
    normalized, chars = post.normalized()
    for match in pattern.finditer(normalized):
        yield chars[match.start()][1], chars[match.end() - 1][2]


def compile_watched(words: Iterable[WatchedWord]) -> WatchedMatcher:
    """A matcher for ``words``, compiled once; repeated words count once.

    >>> matcher = compile_watched([WatchedWord("dealer", action="hold")])
    >>> matcher.check("Any DEALER around?").action
    'hold'
    """
    return WatchedMatcher(words)


_QUANTIFIER: Final = re.compile(r"[*+?]|\{(?:\d+(?:,\d*)?|,\d+)\}")
#: ``(``, ``(?:``, ``(?P<name>``, ``(?=``, ``(?<!``, ``(?i:`` ...: groups with content.
_GROUP_OPEN: Final = re.compile(r"\((?:\?(?:P<\w+>|<\w+>|<[=!]|[=!:>]|[aiLmsux-]+:))?")
#: ``(?i)`` and ``(?#...)``: groups that hold nothing.
_GROUP_EMPTY: Final = re.compile(r"\(\?(?:[aiLmsux]+\)|#[^)]*\))")


def _compile(word: WatchedWord) -> re.Pattern[str]:
    """The pattern a word is matched with, or ``WatchedWordError``."""
    if word.action not in ACTION_PRECEDENCE:
        raise WatchedWordError(f"action must be one of {', '.join(ACTION_PRECEDENCE)}")
    if len(word.pattern) > MAX_PATTERN_LENGTH:
        raise WatchedWordError(f"must be at most {MAX_PATTERN_LENGTH} characters long")
    if not word.is_regex:
        key = normalize(word.pattern)
        if not key:
            raise WatchedWordError("must contain a letter or a digit")
        # Normalized text is words separated by single spaces, so a space or
        # an end on both sides is a whole-word match, phrases included.
        return re.compile(rf"(?<!\S){re.escape(key)}(?!\S)")
    try:
        pattern = re.compile(word.pattern, re.IGNORECASE)
    except re.error as exc:
        raise WatchedWordError(f"is not a valid regular expression: {exc}") from exc
    _refuse_slow_shapes(word.pattern)  # before the pattern ever runs, even on ""
    if pattern.fullmatch(""):
        raise WatchedWordError("matches empty text, so it would hit every post")
    return pattern


def _refuse_slow_shapes(pattern: str) -> None:
    """Refuse a repeated group containing a quantifier or an alternation, and back-references.

    Those are the shapes behind exponential backtracking, and Python's
    ``re`` has no timeout to fall back on. A scan of the pattern's text,
    not a parse: escapes and character classes are skipped, groups are
    tracked on a stack of ``[has_quantifier, has_alternation]``.
    """
    stack: list[list[bool]] = [[False, False]]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if pattern[index + 1 : index + 2].isdigit() and pattern[index + 1] != "0":
                raise WatchedWordError("back-references are not allowed")
            index += 2
        elif char == "[":
            index = _skip_class(pattern, index)
        elif empty := _GROUP_EMPTY.match(pattern, index):
            index = empty.end()
        elif char == "(":
            if pattern.startswith(("(?P=", "(?("), index):
                raise WatchedWordError("back-references are not allowed")
            stack.append([False, False])
            opened = _GROUP_OPEN.match(pattern, index)
            index = opened.end() if opened is not None else index + 1
        elif char == ")" and len(stack) > 1:
            has_quantifier, has_alternation = stack.pop()
            quantifier = _QUANTIFIER.match(pattern, index + 1)
            if quantifier is not None and quantifier.group() != "?":
                if has_quantifier or has_alternation:
                    raise WatchedWordError(
                        "a repeated group may not contain another quantifier or a '|': "
                        "such patterns can take forever on some posts"
                    )
            stack[-1][0] |= has_quantifier or quantifier is not None
            stack[-1][1] |= has_alternation
            index = quantifier.end() if quantifier is not None else index + 1
        elif quantifier := _QUANTIFIER.match(pattern, index):
            stack[-1][0] = True
            index = quantifier.end()
        else:
            if char == "|":
                stack[-1][1] = True
            index += 1


def _skip_class(pattern: str, index: int) -> int:
    """The index just after the character class that starts at ``index``."""
    index += 1
    if pattern.startswith("^", index):
        index += 1
    if pattern.startswith("]", index):
        index += 1  # a "]" first in a class is a literal
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
        elif pattern[index] == "]":
            return index + 1
        else:
            index += 1
    return index
