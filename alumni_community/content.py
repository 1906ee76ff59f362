"""The only place Markdown becomes HTML and HTML is sanitized.

Render once, on write: the source and the safe HTML are stored side by side,
and reads never run the sanitizer. markdown-it-py renders CommonMark with raw
HTML disabled and bare links turned into links; nh3 (Rust's ammonia) then
keeps only the tags and attributes below, so even a bug in rendering cannot
put a script, a style or an event handler on a page.
"""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

__all__ = ["render_markdown", "sanitize_html"]

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h3", "h4", "hr", "li", "ol", "p",
    "pre", "s", "strong", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}, "code": {"class"}}
#: Only links a person can follow safely: no javascript:, data: or file:.
URL_SCHEMES = {"http", "https", "mailto"}


@functools.cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["linkify", "strikethrough"])
    # Headings inside a post must not outrank the page's own.
    md.disable(["heading", "lheading"])
    md.disable("image")
    return md


def sanitize_html(html: str) -> str:
    """Keep only the allowed tags, attributes and URL schemes; links get rel=noopener."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Safe HTML for a member's Markdown."""
    return sanitize_html(_markdown().render(source))
