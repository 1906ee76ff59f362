"""XSS payloads for the browser test: the shared corpora, and Markdown vectors of our own.

The corpora (DOMPurify, html5lib, bleach) mostly call ``alert``; the browser
test replaces ``alert``, ``confirm``, ``prompt`` and ``print`` so a call is
recorded instead of opening a dialog. Our own vectors do not rely on that:
each one, if it ever ran, would set ``window.__xss`` or log
:data:`FIRED` to the console, both of which the test watches.

``bundles`` packs payloads into one text when one object per payload would
be too many (a bio, a note): separated by blank lines, each payload cut to
the field's length first, and, for Markdown fields, only payloads that
render exactly as they do alone (so no payload changes the meaning of
another, as an unclosed code fence or a shared link reference would).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence

from alumni_community.content import render_markdown

from ..test_content import load_corpora

__all__ = ["FIRED", "MARK", "OWN_VECTORS", "all_payloads", "bundles"]

#: What our vectors would do if they ran: set a flag, or log a marker.
MARK = "window.__xss=1"
FIRED = "XSS-FIRED"
LOG = f"console.log('{FIRED}')"
_SCRIPT_B64 = base64.b64encode(f"<script>{LOG}</script>".encode()).decode()

OWN_VECTORS: tuple[str, ...] = (
    # Script and data URLs in links and images, in every disguise.
    f"[click](javascript:{MARK})",
    f"[click](JaVaScRiPt:{MARK})",
    f"[click](&#106;avascript:{MARK})",
    f"[click](&#x6A;avascript&#58;{LOG})",
    f"[click](<java\tscript:{MARK}>)",
    f"[click](java%09script:{MARK})",
    f"[click](%6Aavascript:{MARK})",
    f"[click](javascript&colon;{MARK})",
    f"[click]( javascript:{MARK})",
    f"[click](\u2028javascript:{MARK})",
    f"[click](vbscript:{MARK})",
    f"[click](VBScript:{MARK})",
    f"[click](data:text/html;base64,{_SCRIPT_B64})",
    f"[click](<data:text/html,<script>{MARK}</script>>)",
    f"![pic](javascript:{MARK})",
    f"![pic](JaVaScRiPt:{LOG})",
    f"![pic](<data:image/svg+xml,<svg onload={MARK}>>)",
    f"![pic](x){{onerror={MARK}}}",
    f"[![pic](javascript:{MARK})](javascript:{LOG})",
    # Link titles whose quotes try to close the attribute.
    f'[t](https://ok.example "x\\" onmouseover=\\"{MARK}")',
    f"[t](https://ok.example 'x\" onfocus={MARK} autofocus \"')",
    f'[t](https://ok.example (x" onmouseover="{MARK}))',
    f'![t](https://ok.example/i.png "x\\" onerror=\\"{MARK}")',
    # Autolinks.
    f"<javascript:{MARK}>",
    f"<JAVASCRIPT:{LOG}>",
    f"<vbscript:{MARK}>",
    f"<data:text/html,<script>{MARK}</script>>",
    f'<https://ok.example/"onmouseover="{MARK}>',
    f'www.ok.example/"onmouseover="{MARK}"',
    # Reference definitions.
    f"[x][r]\n\n[r]: javascript:{MARK}",
    f"[x][r]\n\n[r]: <&#106;avascript:{MARK}>",
    f'![x][r]\n\n[r]: javascript:{MARK} "t"',
    f'[r]\n\n[r]: https://ok.example "x\\" onmouseover=\\"{MARK}"',
    f"[R]\n\n[r]: vbscript:{LOG}",
    # Raw HTML blocks inside lists and quotes.
    f"- item\n\n  <script>{MARK}</script>",
    f"> <img src=x onerror={MARK}>",
    f'1. <div onmouseover="{MARK}">x</div>',
    f'> - <iframe src="javascript:{MARK}"></iframe>',
    f"> ```\n> <script>{LOG}</script>\n> ```",
    f"- <details open ontoggle={MARK}>\n- <svg onload={MARK}>",
    # An image with a handler, in code and outside it.
    f"`<img src=x onerror={MARK}>`",
    f"<img src=x onerror={MARK}>",
    f"*<img src=x onerror={MARK}>*",
    f"```html\n<img src=x onerror={MARK}>\n```",
    f"    <script>{LOG}</script>",
    f"# <script>{MARK}</script>",
    # Markup that is dangerous without any script URL.
    f'<a href="javascript:{MARK}">x</a>',
    f"<body onload={MARK}>",
    f'<math><mi xlink:href="javascript:{MARK}">x</mi></math>',
    f'<form action="javascript:{MARK}"><button>go</button></form>',
    f"<input autofocus onfocus={MARK}>",
    f"<style>@import 'javascript:{MARK}';</style><p style=\"x:expression({MARK})\">",
    f'<meta http-equiv="refresh" content="0;url=javascript:{MARK}">',
    f'<iframe srcdoc="<script>parent.{MARK}</script>"></iframe>',
    f'<object data="javascript:{MARK}"></object><embed src="javascript:{MARK}">',
    f"<!-- --><script>{LOG}</script>",
    f"&lt;img src=x onerror={MARK}&gt; &#60;script&#62;{MARK}&#60;/script&#62;",
    f"<scr<script>ipt>{MARK}</scr</script>ipt>",
    # Requests to another host, which the test also watches for.
    f"<img src=//evil.invalid/x.png onerror={MARK}>",
    f"<link rel=stylesheet href=//evil.invalid/x.css onload={MARK}>"
    f"<script src=//evil.invalid/x.js onerror={MARK}></script>",
    f"![track](https://evil.invalid/pixel.png) <video src=//evil.invalid/v onerror={MARK}>",
    # Template syntax is text, never evaluated.
    f"{{{{ 7*7 }}}} {{% raw %}}<script>{MARK}</script>{{% endraw %}}",
)


def all_payloads() -> list[str]:
    """Every corpus payload (315), then our own vectors."""
    return [payload for _, _, payload in load_corpora()] + list(OWN_VECTORS)


@functools.cache
def _rendered(text: str) -> str:
    return render_markdown(text)


def bundles(payloads: Sequence[str], limit: int, *, markdown: bool) -> list[tuple[str, list[int]]]:
    """Texts of at most ``limit`` characters, each with the indexes of the payloads it holds.

    A payload with a NUL character goes alone (every field refuses NUL, and
    it must not take others down with it).
    """
    packed: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    size = 0
    for index, payload in enumerate(payloads):
        text = payload[:limit]
        if "\x00" in text:
            packed.append([(index, text)])
            continue
        if current and size + 2 + len(text) > limit:
            packed.append(current)
            current, size = [], 0
        size += len(text) + (2 if current else 0)
        current.append((index, text))
    if current:
        packed.append(current)
    if markdown:
        packed = [part for group in packed for part in _self_contained(group)]
    return [("\n\n".join(text for _, text in group), [i for i, _ in group]) for group in packed]


def _self_contained(group: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """``group`` split until each part renders as its payloads do one by one."""
    joined = "\n\n".join(text for _, text in group)
    if len(group) == 1 or _rendered(joined) == "".join(_rendered(text) for _, text in group):
        return [group]
    half = len(group) // 2
    return _self_contained(group[:half]) + _self_contained(group[half:])
