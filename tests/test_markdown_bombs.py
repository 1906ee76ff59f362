"""Markdown bombs: rendering work and output stay proportional to the source.

Member-written Markdown is rendered on every write (posts, chat messages,
bios, notes), so an input whose cost grows faster than its length would let
one post tie up a worker and one stored row weigh megabytes. The bounds are
shown by counting, not timing: the Python function calls made while
rendering (``sys.setprofile`` sees every call, the ones into markdown-it,
linkify, nh3's attribute hook and our own rules alike) and the characters
of HTML produced. Counts do not depend on the machine or its load, so the
bounds can be tight without making the tests flaky.

Three bounds, each measured on the same set of bombs:

* linear: doubling a bomb at most doubles its calls (with slack for what
  does not grow); a quadratic rule shows up as four times;
* per character: no bomb costs more than :data:`CALLS_PER_CHAR` calls per
  source character, which is :data:`TIMES_PROSE` times plain prose;
* output: HTML at most :data:`OUTPUT_PER_CHAR` characters per source character.

One bomb in this set was quadratic before ``content.py`` bounded it: a
reference definition used thousands of times (``[a]: /xxxx...`` then
``[a][a][a]...``) made a 20,000-character post 17 MB of HTML.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import re
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from alumni_community.content import (
    RENDER_ON_LOOP_CHARS,
    render_markdown,
    render_markdown_async,
)
from alumni_community.identity.models import Role
from alumni_community.rooms.service import MAX_BODY_CHARS

from .rooms.conftest import World, make_room, world  # noqa: F401  (the rooms' world fixture)

#: Sizes the growth is measured at, in source characters.
SMALL, LARGE = 1_500, 3_000
#: calls(LARGE) <= GROWTH * calls(SMALL) + GROWTH_SLACK. Linear inputs measure
#: at most 2.02; the reference bomb measured 3.95 before it was bounded.
GROWTH = 2.25
GROWTH_SLACK = 2_000
#: The costliest bomb (lazy lines under a quote nested 20 deep, markdown-it's
#: nesting limit) measures 322 calls per character; plain prose measures 1.7.
CALLS_PER_CHAR = 400
CALLS_FLOOR = 5_000
TIMES_PROSE = 240
#: Links may add 16 characters of destination per source character (see
#: ``content._bound_links``), and a link's tag is ~40 characters: a dense
#: run of ``[a]`` references measures up to 25 per character.
OUTPUT_PER_CHAR = 32
OUTPUT_FLOOR = 8_192


def fill(unit: str, n: int, head: str = "", tail: str = "") -> str:
    """``head``, then ``unit`` repeated, then ``tail``: about ``n`` characters."""
    return head + unit * max(1, (n - len(head) - len(tail)) // len(unit)) + tail


def lines(n: int, line: Callable[[int], str]) -> str:
    """Lines ``line(0)``, ``line(1)``... until there are ``n`` characters."""
    out: list[str] = []
    size = 0
    while size < n:
        out.append(line(len(out)))
        size += len(out[-1])
    return "".join(out)


def expanded(n: int, use: str, definition: str) -> str:
    """A reference defined once with a long destination, then used until ``n``."""
    return fill(use, n, head=definition.replace("LONG", "x" * (n // 2)) + "\n\n")


#: Each makes a source of about ``n`` characters.
BOMBS: dict[str, Callable[[int], str]] = {
    # nesting (markdown-it stops at 20 levels; deeper content is not rendered)
    "nested block quotes": lambda n: fill("> ", n, tail="a"),
    "nested bullet lists": lambda n: fill("- ", n, tail="a"),
    "nested ordered lists": lambda n: fill("1. ", n, tail="a"),
    "quotes and lists nested": lambda n: fill("> - ", n, tail="a"),
    "indented nested lists": lambda n: lines(n, lambda i: "  " * i + "- a\n"),
    "quote depth growing per line": lambda n: lines(n, lambda i: ">" * i + " a\n"),
    "lazy lines under deep quotes": lambda n: fill("b\n", n, head=">" * 30 + " a\n"),
    "lazy lines under deep lists": lambda n: fill("  " * 30 + "b\n", n, head="- " * 30 + "a\n"),
    "deep lists on every line": lambda n: fill("- " * 12 + "a\n", n),
    "deep quotes on every line": lambda n: fill(">" * 25 + "\n", n),
    # long lines
    "one long line": lambda n: "x" * n,
    "one long line of words": lambda n: fill("word ", n),
    # emphasis
    "emphasis alternation": lambda n: fill("*a **a ", n),
    "nested emphasis": lambda n: fill("*a **a ", n // 2) + "b" + fill(" a** a*", n // 2),
    "deep emphasis": lambda n: "*" * (n // 2) + "a" + "*" * (n // 2),
    "unclosed emphasis openers": lambda n: fill("_a ", n),
    "unmatched emphasis closers": lambda n: fill("a_ ", n),
    "mismatched emphasis": lambda n: fill("*a_ ", n),
    "emphasis runs of every length": lambda n: lines(n, lambda i: "*" * (i % 7 + 1) + "a"),
    "strikethrough openers": lambda n: fill("~~a ", n),
    # links and brackets
    "open brackets": lambda n: "[" * n,
    "nested brackets": lambda n: "[" * (n // 2) + "a" + "]" * (n // 2),
    "image openers": lambda n: fill("![", n),
    "link openers and emphasis": lambda n: fill("[ a_", n),
    "brackets and parentheses": lambda n: fill("[ (](", n),
    "unclosed pointy destinations": lambda n: fill("[a](<b", n),
    "unclosed destinations": lambda n: fill("[a](b", n),
    "unclosed titles": lambda n: fill('[a](b "', n),
    "non-ASCII destinations": lambda n: fill("\U0001f600", n, head="[a](/", tail=")"),
    # references
    "many reference definitions": lambda n: (
        lines(n // 2, lambda i: f"[r{i}]: /u{i}\n") + "\n" + lines(n // 2, lambda i: f"[r{i}] ")
    ),
    "reference expansion": lambda n: expanded(n, "[a]", "[a]: /LONG"),
    "collapsed reference expansion": lambda n: expanded(n, "[a][]", "[a]: /LONG"),
    "reference title expansion": lambda n: expanded(n, "[a]", '[a]: /u "LONG"'),
    "image reference expansion": lambda n: expanded(n, "![][a]", "[a]: /LONG"),
    "short reference expansion": lambda n: fill("[a]", n, head=f'[a]: /{"x" * 99} "t"\n\n'),
    # code
    "backticks": lambda n: "`" * n,
    "backtick runs of growing length": lambda n: lines(n, lambda i: "e" + "`" * (i + 1)),
    "unclosed fence": lambda n: fill("x\n", n, head="```\n"),
    # entities and raw-HTML lookalikes (raw HTML is off: all of it becomes text)
    "named entities": lambda n: fill("&amp;", n),
    "numeric entities": lambda n: fill("&#x1F600;", n),
    "less-than signs": lambda n: "<" * n,
    "unclosed tags": lambda n: fill("<a ", n),
    "unclosed comments": lambda n: fill("<!--", n, head="</"),
    "processing instructions": lambda n: fill("<?", n),
    "CDATA openers": lambda n: fill("<![CDATA[", n),
    "autolink openers": lambda n: fill("<http://a", n),
    # linkify
    "bare domains": lambda n: fill("www.a.co ", n),
    "bare URLs": lambda n: lines(n, lambda i: f"http://e{i}.example/p "),
    "e-mail-like tokens": lambda n: lines(n, lambda i: f"a{i}@e.co "),
    "dots": lambda n: fill("a.", n),
    "at signs and dots": lambda n: fill("a@b.", n),
    # blocks, many of them
    "table rows": lambda n: fill("|x|y|\n", n, head="|a|b|\n|-|-|\n"),
    "list items": lambda n: fill("- a\n", n),
    "empty list items": lambda n: fill("-\n", n),
    "ordered items": lambda n: fill("1. a\n", n),
    "headings": lambda n: fill("# h\n", n),
    "setext headings": lambda n: fill("a\n=\n", n),
    "hard breaks": lambda n: fill("a  \n", n),
    # odd characters
    "tabs": lambda n: fill("\t", n, tail="a"),
    "escapes": lambda n: fill("\\*", n),
    "NUL characters": lambda n: "\x00" * n,
}


def prose(n: int) -> str:
    """A plain paragraph of about ``n`` characters, in lines of 70."""
    text = fill("the quick brown fox jumps over the lazy dog ", n)
    return "\n".join(text[i : i + 70] for i in range(0, len(text), 70))


def counted(source: str) -> tuple[int, int]:
    """(function calls made, characters of HTML) while rendering ``source``."""
    calls = 0

    def count(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    previous = sys.getprofile()
    sys.setprofile(count)
    try:
        html = render_markdown(source)
    finally:
        sys.setprofile(previous)
    return calls, len(html)


@functools.cache
def measured() -> dict[str, tuple[int, int, int, int, int]]:
    """Every bomb at both sizes: (length, calls) small, (length, calls, output) large.

    Measured once and checked three ways. The renderer is warmed up first:
    its first call builds caches (compiled patterns, the linkify tables).
    """
    render_markdown(prose(SMALL) + "\n\n" + "".join(f(50) for f in BOMBS.values()))
    table = {}
    for name, make in BOMBS.items():
        small, large = make(SMALL), make(LARGE)
        small_calls, _ = counted(small)
        large_calls, large_output = counted(large)
        table[name] = (len(small), small_calls, len(large), large_calls, large_output)
    return table


def test_rendering_work_grows_linearly_with_every_bomb() -> None:
    superlinear = {
        name: f"{small_calls} calls at {small} chars, {large_calls} at {large}"
        for name, (small, small_calls, large, large_calls, _) in measured().items()
        if large_calls > GROWTH * small_calls * large / (2 * small) + GROWTH_SLACK
    }
    assert superlinear == {}


def test_no_bomb_costs_more_per_character_than_the_bound() -> None:
    prose_calls, _ = counted(prose(LARGE))
    assert 0 < prose_calls <= 3 * LARGE  # the baseline is what it claims: cheap
    costly = {
        name: f"{calls} calls for {length} chars ({calls / prose_calls:.0f}x prose)"
        for name, (_, _, length, calls, _) in measured().items()
        if calls > CALLS_PER_CHAR * length + CALLS_FLOOR or calls > TIMES_PROSE * prose_calls
    }
    assert costly == {}


def test_no_bomb_renders_to_more_html_than_the_bound() -> None:
    bulky = {
        name: f"{output} chars of HTML for {length}"
        for name, (_, _, length, _, output) in measured().items()
        if output > OUTPUT_PER_CHAR * length + OUTPUT_FLOOR
    }
    assert bulky == {}


def test_a_reference_used_thousands_of_times_keeps_its_text_but_not_every_link() -> None:
    """Past the budget a reference link shows its label, an image its alt text."""
    source = expanded(MAX_BODY_CHARS, "[a] ![b][a] ", "[a]: /LONG")
    html = render_markdown(source)
    uses = source.count("[a] ![b][a] ")
    assert len(html) <= OUTPUT_PER_CHAR * len(source) + OUTPUT_FLOOR
    assert 0 < html.count("<a ") < uses  # the first ones are links...
    text = re.sub(r"<[^>]*>", "", html)
    assert text.count("a") >= uses and text.count("b") >= uses  # ...and every label is kept
    # An ordinary post with the same reference used a few times keeps every link.
    few = "[a]: /" + "x" * 2_000 + "\n\n" + "see [a], [a] and ![b][a]." * 3
    assert render_markdown(few).count("<a ") == 9


#: The sizes named for these bombs, beyond what a post may hold (posts stop at
#: 20,000 characters, chat messages at 4,000): the renderer is bounded by
#: itself, not only by the limits in front of it.
FULL_SIZE: dict[str, str] = {
    "10,000 nested block quotes": "> " * 10_000 + "a",
    "10,000 nested lists": "- " * 10_000 + "a",
    "10,000 nested brackets": "[" * 10_000 + "a" + "]" * 10_000,
    "10,000 nested emphasis": "*" * 10_000 + "a" + "*" * 10_000,
    "a 100,000-character line": "x" * 100_000,
    "a 100,000-character line of words": "word " * 20_000,
    "10,000 URL-like tokens": "www.a.co " * 10_000,
    "20,000 less-than signs": "<" * 20_000,
}


def test_bombs_at_full_size_stay_within_the_same_bounds() -> None:
    render_markdown("warm up: www.a.co *a* [a](b)")
    over = {}
    for name, source in FULL_SIZE.items():
        calls, output = counted(source)
        if (
            calls > CALLS_PER_CHAR * len(source) + CALLS_FLOOR
            or output > OUTPUT_PER_CHAR * len(source) + OUTPUT_FLOOR
        ):
            over[name] = f"{calls} calls, {output} chars of HTML for {len(source)}"
    assert over == {}


#: Bombs at the largest body a post may have, through the API and the page.
POSTED = [
    "reference expansion",
    "short reference expansion",
    "lazy lines under deep quotes",
    "nested block quotes",
    "image openers",
    "less-than signs",
    "bare domains",
    "e-mail-like tokens",
]


@pytest.mark.anyio
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_bombs_posted_through_the_api_are_stored_and_shown(
    world: World,  # noqa: F811  (the fixture imported above)
    database_url: str,
) -> None:
    """SQLite only: what is checked is the rendering in front of the database,
    which is the same code for both engines; posts and pages are tested on
    PostgreSQL elsewhere."""
    mod = await world.member("mod-a", Role.MODERATOR, trust=3)
    await make_room(mod, "open-room", moderation="open")
    for name in POSTED:
        body = BOMBS[name](MAX_BODY_CHARS)[:MAX_BODY_CHARS]
        made = await mod.post(
            "/rooms/open-room/threads", json={"title": name, "body": body, "confirm": True}
        )
        assert made.status_code == 201, (name, made.status_code, made.text[:300])
        post = made.json()["post"]
        assert len(post["html"]) <= OUTPUT_PER_CHAR * len(body) + OUTPUT_FLOOR, name
        page = await mod.get(f"http://t/community/threads/{made.json()['thread']['id']}")
        assert page.status_code == 200, (name, page.status_code)
        assert post["html"].strip() in page.text, name
        world.advance(minutes=2)
    # A 100,000-character line is more than a post may hold: a clear 422, not a 5xx.
    refused = await mod.post(
        "/rooms/open-room/threads",
        json={"title": "long", "body": "x" * 100_000, "confirm": True},
    )
    assert refused.status_code == 422, refused.text[:300]
    assert refused.json()["code"] == "validation_failed"
    assert "body" in refused.json()["errors"]


@pytest.mark.anyio
async def test_a_long_post_renders_while_the_event_loop_keeps_serving() -> None:
    """The costliest bomb at full size, rendered as the write path renders it:
    the loop runs other work meanwhile (counted in turns, not timed), and the
    HTML is what rendering on the loop makes."""
    body = BOMBS["lazy lines under deep quotes"](MAX_BODY_CHARS)[:MAX_BODY_CHARS]
    assert len(body) > RENDER_ON_LOOP_CHARS
    turns = 0
    done = asyncio.Event()

    async def other_work() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    before = turns
    html = await render_markdown_async(body)
    during = turns - before
    done.set()
    await ticker
    assert html == render_markdown(body)
    # Rendered on the loop, the other task would not have run at all.
    assert during > 10, during
    # A chat-sized text is rendered on the loop: no thread hand-off for it.
    short = "a **short** message with https://example.org"
    assert await render_markdown_async(short) == render_markdown(short)


def test_renderers_in_several_threads_give_what_one_thread_gives() -> None:
    """Each thread has its own renderer (linkify keeps scanning state on it)."""
    texts = [f"see https://example.org/{i} and www.site{i}.example " * 200 for i in range(8)]
    expected = [render_markdown(text) for text in texts]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            assert list(pool.map(render_markdown, texts)) == expected
