"""The only place member-written text becomes HTML, and HTML is sanitized.

Render once, on write: the source and the safe HTML are stored side by side,
and reads never run the sanitizer. Two entry points:

* :func:`render_markdown` for bodies and bios. markdown-it-py renders
  CommonMark with raw HTML disabled and bare links turned into links; nh3
  (Rust's ammonia) then keeps only the tags and attributes below, so even a
  bug in rendering cannot put a script, a style or an event handler on a page.
* :func:`render_title` for single-line fields (thread titles, room names):
  no Markdown at all, just escaped plain text.

Two choices beyond "safe HTML":

* Images are never loaded. Fetching a member-chosen URL would tell its owner
  the IP address (and so roughly the location) of everyone who read the post,
  in a community whose members have every reason to stay private. A Markdown
  image therefore renders as a plain link to the image, labelled with its alt
  text; a reader can choose to follow it.
* Headings are kept but demoted (``#`` to ``<h3>``, ``##`` and deeper to
  ``<h4>``). The page owns ``<h1>`` (page title) and ``<h2>`` (thread, room
  and section titles), so a post can structure itself without outranking the
  page, and screen-reader heading navigation stays truthful. Demoting keeps
  the author's structure; disabling headings would show literal ``#`` marks.
"""

from __future__ import annotations

import asyncio
import functools
import html
import re
import threading
import unicodedata
import urllib.parse
from collections.abc import Sequence

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "LINK_REL",
    "RENDER_ON_LOOP_CHARS",
    "URL_SCHEMES",
    "render_markdown",
    "render_markdown_async",
    "render_title",
    "sanitize_html",
]

ALLOWED_TAGS = frozenset({
    "a", "blockquote", "br", "code", "del", "em", "h3", "h4", "hr", "li", "ol", "p",
    "pre", "s", "strong", "ul",
})  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "code": frozenset({"class"}),
}
#: Only links a person can follow safely: no javascript:, vbscript:, data: or file:.
#: Relative links (``/threads/3``) are allowed: they stay on this site.
URL_SCHEMES = frozenset({"http", "https", "mailto"})
#: Schemes that run code or carry a document; never allowed in any attribute.
_FORBIDDEN_SCHEMES = ("javascript:", "vbscript:", "data:")
#: ``rel`` on every link. ``nofollow ugc``: members' links earn no search ranking
#: (spam is pointless). ``noopener``: the target page gets no ``window.opener``.
#: No ``noreferrer``: the issue asks for exactly these three tokens, and the
#: Referer is already governed page-wide by ``Referrer-Policy: same-origin``
#: (headers.py and the base template's meta tag), so cross-site links send
#: none. A host that shows stored HTML on its own pages must set that policy.
LINK_REL = "nofollow ugc noopener"

_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*:", re.IGNORECASE)
_CODE_CLASS = re.compile(r"language-[\w+#.\-]{1,40}", re.ASCII)


def _canonical(value: str) -> str | None:
    """``value`` as a browser might finally read it, the better to find its scheme.

    Decodes entities and percent-escapes until nothing changes, then drops
    whitespace, control, format and other invisible characters (browsers drop
    tabs and newlines anywhere in a URL, and spaces and controls around it).
    This reads more into a value than any browser does, on purpose: a value
    that looks like ``javascript:`` in any reading is refused. ``None`` if the
    value keeps decoding (nested escapes); callers treat that as unsafe.
    """
    if value.isascii() and "&" not in value and "%" not in value:
        # Nothing to decode (most links): the loop below would return this at once.
        return value.translate(_ASCII_INVISIBLE).lower()
    for _ in range(4):
        decoded = urllib.parse.unquote(html.unescape(value))
        if decoded == value:
            if value.isascii():
                # The same, faster: ASCII's C and Z characters are 0-32 and 127.
                return value.translate(_ASCII_INVISIBLE).lower()
            return "".join(c for c in value if unicodedata.category(c)[0] not in "CZ").lower()
        value = decoded
    return None


_ASCII_INVISIBLE = dict.fromkeys([*range(33), 127])


def _may_name_a_scheme(value: str) -> bool:
    """Whether any reading of ``value`` could have a scheme: a scheme ends with a colon,
    and only ``&`` (entities) and ``%`` (escapes) can decode into one. The rest, most
    links and titles, skip :func:`_canonical` (most of the sanitizer's time before)."""
    return ":" in value or "&" in value or "%" in value


def _is_safe_url(url: str) -> bool:
    """A relative URL, or one whose scheme is in :data:`URL_SCHEMES`."""
    if not _may_name_a_scheme(url):
        return True
    canonical = _canonical(url)
    if canonical is None:
        return False
    scheme = _SCHEME.match(canonical)
    return scheme is None or scheme.group()[:-1] in URL_SCHEMES


def _has_forbidden_scheme(value: str) -> bool:
    if not _may_name_a_scheme(value):
        return False
    canonical = _canonical(value)
    return canonical is None or canonical.startswith(_FORBIDDEN_SCHEMES)


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    """nh3 hook for every allowed attribute: ``None`` drops it.

    nh3 checks ``href`` schemes as the URL standard does, so it passes
    ``\u2028javascript:...``, ``&nbsp;javascript:...`` and
    ``\x01java\x03script:...`` as relative URLs (DOMPurify's corpus has them;
    old browsers ran them). This refuses those, percent-encoded and
    entity-in-entity tricks too, keeps ``class`` to Markdown's
    ``language-xxx`` (so a post cannot borrow the page's own classes) and
    keeps a ``title`` from looking like a script URL. Must never raise: nh3
    reports exceptions through ``sys.unraisablehook``, not to the caller.
    """
    if attribute == "href":
        return value if _is_safe_url(value) else None
    if attribute == "class":
        return value if element == "code" and _CODE_CLASS.fullmatch(value) else None
    return None if _has_forbidden_scheme(value) else value


@functools.cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def sanitize_html(html_text: str) -> str:
    """Keep only the allowed tags, attributes and URL schemes; links get :data:`LINK_REL`."""
    return _cleaner().clean(html_text)


class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        # A refused destination is left as the literal Markdown text, not a link.
        return super().validateLink(url) and _is_safe_url(url)


def _demote_headings(state: StateCore) -> None:
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = "h3" if token.tag == "h1" else "h4"


#: What link destinations and titles may add to one rendering, in characters:
#: this many per character of source, plus the floor. An inline link or a
#: bare URL adds at most about twelve per character (a percent-encoded
#: four-byte character); only a reference used again and again adds more.
_LINK_CHARS_PER_SOURCE_CHAR = 16
_LINK_CHARS_FLOOR = 4096


def _bound_links(state: StateCore) -> None:
    """Keep what links add to the HTML in proportion to the source.

    A reference definition is written once and may be used any number of
    times: a 20,000-character post defining ``[a]: /xxx...`` with a
    10,000-character destination and then writing ``[a]`` 3,000 times would
    render to about 17 MB of HTML, and rendering, sanitizing, storing and
    sending it would cost the square of its length. So destinations and
    titles are counted as links use them; past the budget a link shows only
    its text, and an image only its alt text. No ordinary post comes near:
    the budget covers every link written out in full sixteen times over.
    Runs before :func:`_images_as_links`, which makes an image without alt
    text a link labelled with its address: such an image counts twice.
    """
    budget = _LINK_CHARS_FLOOR + _LINK_CHARS_PER_SOURCE_CHAR * len(state.src)
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        kept: list[bool] = []  # one per open link: was its link_open kept?
        for token in block.children:
            if token.type == "link_close":
                if not kept or kept.pop():
                    children.append(token)
                continue
            if token.type not in ("link_open", "image"):
                children.append(token)
                continue
            cost = sum(len(str(value)) for value in token.attrs.values())
            alt = _plain_text(token.children or []) if token.type == "image" else ""
            if token.type == "image" and not alt:
                cost *= 2
            fits = cost <= budget
            if fits:
                budget -= cost
            if token.type == "link_open":
                kept.append(fits)
            if fits:
                children.append(token)
            elif alt:
                children.append(Token("text", "", 0, content=alt))
        block.children = children


def _images_as_links(state: StateCore) -> None:
    """Turn every ``image`` token into a link to the image; never an ``<img>``.

    ``![alt](url "title")`` becomes ``<a href="url" title="title">alt</a>``;
    without alt text the URL is the label. Inside a link
    (``[![badge](b.svg)](ci)``) only the label is kept: links cannot nest,
    and the outer link is the one the author meant to be followed. Done on
    the token stream (one pass, before rendering), so the ordinary link
    renderer escapes everything and nh3 adds ``rel`` as for any link.
    """
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        depth = 0
        for token in block.children:
            if token.type == "link_open":
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            if token.type != "image":
                children.append(token)
                continue
            src = str(token.attrGet("src") or "")
            label = Token("text", "", 0, content=_plain_text(token.children or []) or src)
            if not src or depth > 0:
                children.append(label)
                continue
            link_open = Token("link_open", "a", 1, attrs={"href": src}, markup="image")
            if title := token.attrGet("title"):
                link_open.attrSet("title", str(title))
            children += [link_open, label, Token("link_close", "a", -1, markup="image")]
        block.children = children


def _plain_text(tokens: Sequence[Token]) -> str:
    """An image description with its markup stripped (as CommonMark does for ``alt``)."""
    out: list[str] = []
    for token in tokens:
        if token.type in ("text", "code_inline"):
            out.append(token.content)
        elif token.type == "image":
            out.append(_plain_text(token.children or []))
        elif token.type in ("softbreak", "hardbreak"):
            out.append(" ")
    return "".join(out)


def _build_markdown() -> MarkdownIt:
    md = _Markdown("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["linkify", "strikethrough"])
    md.core.ruler.push("demote_headings", _demote_headings)
    md.core.ruler.push("bound_links", _bound_links)
    md.core.ruler.push("images_as_links", _images_as_links)
    return md


_per_thread = threading.local()


def _markdown() -> MarkdownIt:
    """The renderer of this thread: linkify-it keeps its scanning state on the
    instance, so a renderer is never shared between threads."""
    md: MarkdownIt | None = getattr(_per_thread, "markdown", None)
    if md is None:
        md = _per_thread.markdown = _build_markdown()
    return md


def render_markdown(source: str) -> str:
    """Safe HTML for a member's Markdown (post and chat bodies, bios)."""
    return sanitize_html(_markdown().render(source))


#: Texts up to this long render on the event loop: a chat message or a
#: usual post takes well under a millisecond. Longer ones (a post may hold
#: 20,000 characters, and a crafted one costs up to about 0.6 s of CPU,
#: see tests/test_markdown_bombs.py) render in a worker thread, so the loop
#: keeps serving others meanwhile.
RENDER_ON_LOOP_CHARS = 2_000


async def render_markdown_async(source: str) -> str:
    """:func:`render_markdown`, off the event loop when the text is long."""
    if len(source) <= RENDER_ON_LOOP_CHARS:
        return render_markdown(source)
    return await asyncio.to_thread(render_markdown, source)


def render_title(text: str) -> str:
    """Safe HTML for a single-line field (thread title, room name): escaped plain text.

    No Markdown: ``**x**`` stays as typed. Runs of whitespace (newlines
    included) become one space, the ends are stripped, other control
    characters are dropped, and ``& < > " '`` are escaped, so the result is
    safe in element content and in a quoted attribute alike.
    """
    collapsed = " ".join(text.split())
    printable = "".join(c for c in collapsed if unicodedata.category(c) != "Cc")
    return html.escape(printable, quote=True)
