"""Member-written text to HTML: XSS corpora and Markdown-specific vectors.

Every payload of the DOMPurify, html5lib and bleach suites goes through
``render_markdown`` (the real write path for bodies and bios),
``render_title`` (titles, room names) and ``sanitize_html`` alone (nh3 on raw
HTML: the safety net if rendering ever let markup through). The suites'
expected outputs belong to their own sanitizers, so each output is checked
against invariants instead, by a checker that shares no code with
``content.py``.
"""

from __future__ import annotations

import html
import json
import os
import re
import unicodedata
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alumni_community.content import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    render_markdown,
    render_title,
    sanitize_html,
)

CORPORA = Path(os.environ.get("ALUMNI_XSS_CORPORA", "/work/shared/corpora/xss"))
#: Case counts from the corpora's README; a truncated file must not pass quietly.
EXPECTED_COUNTS = {"dompurify": 223, "html5lib": 72, "bleach": 20}
REL = "nofollow ugc noopener"

FORBIDDEN_TAGS = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg",
    "math", "form", "input", "textarea", "button", "select", "option", "base", "meta", "link",
    "img", "image", "video", "audio", "source", "picture", "template", "noscript", "xmp",
    "plaintext", "portal",
})  # fmt: skip
FORBIDDEN_SCHEMES = ("javascript:", "vbscript:", "data:")
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "poster"})
SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*:")
RAW_TAG = re.compile(r"<(/?)([^\s/>]*)([^>]*)>?")
QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


def normalized(value: str) -> str:
    """Read more into a value than a browser would: entities and %-escapes decoded
    (repeatedly), every whitespace, control and invisible character removed, lower case."""
    for _ in range(10):
        decoded = urllib.parse.unquote(html.unescape(value))
        if decoded == value:
            break
        value = decoded
    return "".join(c for c in value if unicodedata.category(c)[0] not in "CZ").lower()


class Checker(HTMLParser):
    """Collects every way an HTML fragment breaks the stored-HTML invariants."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag)
        allowed = ALLOWED_ATTRIBUTES.get(tag, frozenset())
        names = [name for name, _ in attrs]
        if len(names) != len(set(names)):
            self.problems.append(f"duplicate attribute on <{tag}>: {names}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name} on <{tag}>")
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name not in allowed and not (tag == "a" and name == "rel"):
                self.problems.append(f"attribute {name} not allowed on <{tag}>")
            seen = normalized(value or "")
            if seen.startswith(FORBIDDEN_SCHEMES):
                self.problems.append(f"script/data URL in {name}={value!r}")
            if name in URL_ATTRIBUTES:
                scheme = SCHEME.match(seen)
                if scheme and scheme.group()[:-1] not in SAFE_SCHEMES:
                    self.problems.append(f"scheme {scheme.group()} in {name}={value!r}")
        if tag == "a":
            link = dict(attrs)
            self.links.append(link)
            if link.get("rel") != REL:
                self.problems.append(f"<a> with rel={link.get('rel')!r}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self._tag(tag)

    def _tag(self, tag: str) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"forbidden tag <{tag}>")
        elif tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}> not in the allow-list")

    def handle_comment(self, data: str) -> None:
        self.problems.append(f"comment <!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"declaration <!{decl}>")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"declaration <![{data}]>")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"processing instruction <?{data}>")


def problems(fragment: str) -> list[str]:
    """Everything wrong with ``fragment`` (empty when it is safe to store and serve)."""
    checker = Checker()
    checker.feed(fragment)
    checker.close()
    found = checker.problems
    # A second, parser-free look: html.parser is not a browser, so every "<" in the
    # raw text must open an allowed tag, and no tag may carry a handler or a style.
    for match in RAW_TAG.finditer(fragment):
        name = match.group(2).lower()
        rest = QUOTED.sub("", match.group(3).lower())
        if name not in ALLOWED_TAGS:
            found.append(f"raw text has <{match.group(1)}{name}")
        if re.search(r"(^|[\s/\"'])(on[a-z]+|style)\s*=", rest):
            found.append(f"raw tag has a handler or style: {match.group()!r}")
    return found


def links(fragment: str) -> list[dict[str, str | None]]:
    checker = Checker()
    checker.feed(fragment)
    checker.close()
    return checker.links


def load_corpora() -> list[tuple[str, int, str]]:
    if not CORPORA.is_dir():
        return []
    return [
        (corpus, index, case["payload"])
        for corpus in EXPECTED_COUNTS
        for index, case in enumerate(json.loads((CORPORA / f"{corpus}.json").read_text("utf-8")))
    ]


CASES = load_corpora()


def test_the_corpora_are_all_there() -> None:
    if not CASES and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        pytest.skip(f"XSS corpora not found at {CORPORA} (set ALUMNI_XSS_CORPORA)")
    counts = {corpus: sum(1 for c, _, _ in CASES if c == corpus) for corpus in EXPECTED_COUNTS}
    assert counts == EXPECTED_COUNTS
    assert all(isinstance(payload, str) for _, _, payload in CASES)


@pytest.mark.parametrize(
    "payload", [pytest.param(p, id=f"{c}-{i}") for c, i, p in CASES]
)  # fmt: skip
def test_corpus_payload_is_harmless_everywhere(payload: str) -> None:
    # bleach's cases hold "input\n--\nexpected output"; the input alone is a case too.
    variants = {payload, payload.split("\n--\n")[0]}
    for text in variants:
        for render in (render_markdown, sanitize_html):
            out = render(text)
            assert problems(out) == [], (render.__name__, text, out)
            assert render(text) == out  # rendering is deterministic: render once, store
        title = render_title(text)
        assert problems(title) == []
        assert not set("<>\"'") & set(title), title
        assert html.unescape(title) == "".join(
            c for c in " ".join(text.split()) if unicodedata.category(c) != "Cc"
        )


def test_sanitizing_stored_html_again_changes_nothing() -> None:
    for _, _, payload in CASES[:: max(1, len(CASES) // 60)]:
        stored = render_markdown(payload)
        assert sanitize_html(stored) == stored


# --- the checker itself must catch what it claims to catch ------------------------------------


@pytest.mark.parametrize(
    "fragment",
    [
        "<script>alert(1)</script>",
        "<p onclick=alert(1)>x</p>",
        '<p style="color:red">x</p>',
        "<style>p{}</style>",
        '<a href="javascript:alert(1)" rel="nofollow ugc noopener">x</a>',
        '<a href="JaVa&#x09;Script&colon;alert(1)" rel="nofollow ugc noopener">x</a>',
        '<a href=" &#106;avascript:alert(1)" rel="nofollow ugc noopener">x</a>',
        '<a href="%6Aavascript:alert(1)" rel="nofollow ugc noopener">x</a>',
        '<a href="data:text/html,x" rel="nofollow ugc noopener">x</a>',
        '<a href="file:///etc/passwd" rel="nofollow ugc noopener">x</a>',
        '<a title="vbscript:x" rel="nofollow ugc noopener">x</a>',
        '<a href="https://ok.example">no rel</a>',
        "<img src=x>",
        "<svg></svg>",
        "<iframe></iframe>",
        "<form><input><textarea></textarea><button></button></form>",
        "<base href=//evil.example>",
        '<code class="x" id="y">z</code>',
        "<!-- x -->",
        "<scr\0ipt>",
    ],
    ids=lambda fragment: fragment[:24],
)
def test_checker_catches(fragment: str) -> None:
    assert problems(fragment)


def test_checker_passes_ordinary_output() -> None:
    assert (
        problems(
            '<p><a href="https://ok.example/a?b=c&amp;d" title="Data" rel="nofollow ugc noopener">'
            'x</a> <code class="language-py">1 &lt; 2</code></p>\n'
        )
        == []
    )


# --- Markdown-specific vectors --------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](&#x6A;avascript&#58;alert(1))",
        "[x](java&#x09;script:alert(1))",
        "[x](java%09script:alert(1))",
        "[x](%6Aavascript:alert(1))",
        "[x](&amp;#106;avascript:alert(1))",
        "[x]( javascript:alert(1))",
        "[x](<javascript:alert(1)>)",
        "[x](<java\tscript:alert(1)>)",
        "[x](vbscript:msgbox(1))",
        "[x](VBScript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](data:text/html,<script>alert(1)</script>)",
        "[x](file:///etc/passwd)",
        "![x](javascript:alert(1))",
        "![x](data:image/png;base64,AAAA)",
        "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
        "<javascript:alert(1)>",
        "<JAVASCRIPT:alert(1)>",
        "<vbscript:msgbox(1)>",
        "<data:text/html,x>",
        "[x][r]\n\n[r]: javascript:alert(1)",
        "[x][r]\n\n[r]: <&#106;avascript:alert(1)>",
        "![x][r]\n\n[r]: javascript:alert(1)",
        "[r]\n\n[r]: vbscript:msgbox(1)",
    ],
)
def test_script_and_data_urls_never_become_links(source: str) -> None:
    out = render_markdown(source)
    assert problems(out) == [], out
    assert all("href" not in link for link in links(out)), out
    assert "<img" not in out


@pytest.mark.parametrize(
    "source",
    [
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<script>alert(1)</script>",
        "<div>\n<script>alert(1)</script>\n</div>",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=//evil.example></iframe>",
        '<p style="position:fixed">x</p>',
        "<style>*{display:none}</style>",
        "<!-- <script>alert(1)</script> -->",
        "<form action=//evil.example><input name=p><button>Go</button></form>",
        "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
        "*<img src=x onerror=alert(1)>*",
        "`<script>` and <b onclick=alert(1)>b</b>",
    ],
)
def test_raw_html_is_shown_as_text(source: str) -> None:
    out = render_markdown(source)
    assert problems(out) == [], out
    assert "&lt;" in out  # the markup is visible as text, not dropped silently


def test_an_image_is_a_link_to_the_image_never_an_img() -> None:
    out = render_markdown("![x](https://evil.example/x.png)")
    assert out == f'<p><a href="https://evil.example/x.png" rel="{REL}">x</a></p>\n'


def test_an_image_without_alt_text_is_labelled_with_its_url() -> None:
    out = render_markdown('![](https://evil.example/x.png "A title")')
    assert out == (
        f'<p><a href="https://evil.example/x.png" title="A title" rel="{REL}">'
        "https://evil.example/x.png</a></p>\n"
    )


def test_an_image_label_is_plain_escaped_text() -> None:
    out = render_markdown('![*a* `<b>` "q"](/i.png)')
    assert out == f'<p><a href="/i.png" rel="{REL}">a &lt;b&gt; "q"</a></p>\n'


def test_an_image_inside_a_link_becomes_its_label() -> None:
    out = render_markdown("[![build](https://ci.example/b.svg)](https://ci.example/)")
    assert out == f'<p><a href="https://ci.example/" rel="{REL}">build</a></p>\n'


def test_reference_images_and_many_images_are_links() -> None:
    out = render_markdown("![x][r] " * 2000 + "\n\n[r]: https://evil.example/x.png")
    assert "<img" not in out and out.count("<a ") == 2000 and problems(out) == []


def test_a_title_that_looks_like_a_script_url_is_dropped() -> None:
    out = render_markdown("[x](http://a 'javascript:alert(1)')")
    assert links(out) == [{"href": "http://a", "rel": REL}]


def test_a_title_cannot_break_out_of_its_attribute() -> None:
    out = render_markdown('[x](http://a "t\\" onmouseover=alert(1)")')
    assert problems(out) == []
    assert links(out) == [{"href": "http://a", "title": 't" onmouseover=alert(1)', "rel": REL}]


@pytest.mark.parametrize(
    ("source", "href"),
    [
        ("<http://ok.example>", "http://ok.example"),
        ("www.example.org", "http://www.example.org"),
        ("see https://example.org/a?b=1&c=2.", "https://example.org/a?b=1&c=2"),
        ("write to someone@example.org", "mailto:someone@example.org"),
        ("[x](/threads/3)", "/threads/3"),
        ("[x](./this:that)", "./this:that"),
        ("[x][r]\n\n[r]: https://ok.example", "https://ok.example"),
    ],
)
def test_safe_links_survive_with_rel(source: str, href: str) -> None:
    out = render_markdown(source)
    assert problems(out) == []
    assert [link["href"] for link in links(out)] == [href]
    assert all(link["rel"] == REL for link in links(out))


def test_ordinary_markdown_survives() -> None:
    source = (
        "**bold** and *italic* and ~~struck~~ and `co<de>`\n\n"
        "- one\n- two\n\n"
        "1. first\n2. second\n\n"
        "> quoted\n\n"
        "```python\nprint('<hi>')\n```\n\n"
        "line  \nbreak\n\n"
        "---\n\n"
        '[a link](https://example.org/ "Title")'
    )
    assert render_markdown(source) == (
        "<p><strong>bold</strong> and <em>italic</em> and <s>struck</s> and "
        "<code>co&lt;de&gt;</code></p>\n"
        "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
        "<ol>\n<li>first</li>\n<li>second</li>\n</ol>\n"
        "<blockquote>\n<p>quoted</p>\n</blockquote>\n"
        "<pre><code class=\"language-python\">print('&lt;hi&gt;')\n</code></pre>\n"
        "<p>line<br>\nbreak</p>\n"
        "<hr>\n"
        f'<p><a href="https://example.org/" title="Title" rel="{REL}">a link</a></p>\n'
    )


def test_headings_are_demoted_below_the_page_headings() -> None:
    out = render_markdown("# One\n\n## Two\n\n### Three\n\n###### Six\n\nSetext\n======\n")
    assert out == "<h3>One</h3>\n<h4>Two</h4>\n<h4>Three</h4>\n<h4>Six</h4>\n<h3>Setext</h3>\n"


@pytest.mark.parametrize(
    "source",
    ['```x" onclick="alert(1)\nc\n```', "```javascript:alert(1)\nc\n```", "```\nc\n```"],
)
def test_code_block_language_cannot_smuggle_attributes(source: str) -> None:
    out = render_markdown(source)
    assert problems(out) == [], out
    assert "onclick" not in out or "&quot;" in out


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ('<a href="java&#x09;script:alert(1)">x</a>', f'<a rel="{REL}">x</a>'),
        ('<a href=" &#x6A;avascript:alert(1)">x</a>', f'<a rel="{REL}">x</a>'),
        ('<a href="javascript%3Aalert(1)">x</a>', f'<a rel="{REL}">x</a>'),
        ('<a href="https://ok.example" rel="opener" target=_blank>x</a>',
         f'<a href="https://ok.example" rel="{REL}">x</a>'),
        ('<code class="admin-badge">x</code>', "<code>x</code>"),
        ('<code class="language-py">x</code>', '<code class="language-py">x</code>'),
        ('<a title="data:text/html,x">x</a>', f'<a rel="{REL}">x</a>'),
        ("<h1>x</h1><h3 id=y>z</h3>", "x<h3>z</h3>"),
    ],
)  # fmt: skip
def test_sanitize_html_alone(fragment: str, expected: str) -> None:
    assert sanitize_html(fragment) == expected


# --- single-line fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Plain title", "Plain title"),
        ("  Lots \n\n of\t space  ", "Lots of space"),
        ("**not bold** [not](a) # no heading", "**not bold** [not](a) # no heading"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("\" onmouseover='alert(1)' &amp;", "&quot; onmouseover=&#x27;alert(1)&#x27; &amp;amp;"),
        ("a\x00b\x07c\u2028d\x85e", "abc d e"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_render_title(text: str, expected: str) -> None:
    assert render_title(text) == expected


def _old_canonical(value: str) -> str | None:
    """The URL reading before its fast paths: every value decoded, every character's
    Unicode category looked up. The fast paths must answer exactly as this does."""
    for _ in range(4):
        decoded = urllib.parse.unquote(html.unescape(value))
        if decoded == value:
            return "".join(c for c in value if unicodedata.category(c)[0] not in "CZ").lower()
        value = decoded
    return None


def _old_is_safe_url(url: str) -> bool:
    canonical = _old_canonical(url)
    if canonical is None:
        return False
    scheme = re.match(r"[a-z][a-z0-9+.\-]*:", canonical, re.IGNORECASE)
    return scheme is None or scheme.group()[:-1] in SAFE_SCHEMES


def _old_has_forbidden_scheme(value: str) -> bool:
    canonical = _old_canonical(value)
    return canonical is None or canonical.startswith(FORBIDDEN_SCHEMES)


_URL_PIECES = [
    "javascript", "JaVaScRiPt", "data", "vbscript", "http", "mailto", ":", "&", "%", "#",
    "&colon;", "&#58;", "&#x3a;", "%3a", "%253A", "&amp;", "\t", "\n", "\x00", "\x01", "\x7f",
    " ", "\u00a0", "\u2028", "\u200b", "\ufeff", "java\x03script", "/", "?", "a", "Z", "é",
    "\uff1a", "%", "25", "3", "A",
]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_URL_PIECES), max_size=8).map("".join) | st.text(max_size=30))
def test_the_url_checks_fast_paths_answer_as_the_full_reading_does(value: str) -> None:
    from alumni_community import content

    assert content._is_safe_url(value) == _old_is_safe_url(value)
    assert content._has_forbidden_scheme(value) == _old_has_forbidden_scheme(value)
    assert content._canonical(value) == _old_canonical(value)
