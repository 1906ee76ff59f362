"""Accessibility and layout checks the browser tests run on a page.

axe-core comes from the npm registry, pinned by ``tests/web/package-lock.json``
and installed by ``make test`` (``npm ci --prefix tests/web``); it is read
from ``node_modules`` and injected into the page under test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..conftest import missing

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"

#: The rules axe runs: WCAG 2.0/2.1/2.2 A and AA, and its best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
#: The impacts a page must have none of.
BLOCKING = {"serious", "critical"}


def axe_source() -> str:
    if not AXE.is_file():
        missing("axe-core is not installed: run `make test` (it runs `npm ci --prefix tests/web`)")
    return AXE.read_text(encoding="utf-8")


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations axe finds on the page as it is now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=axe_source())
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [v for v in result["violations"] if v.get("impact") in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    """Violations as a reader can act on them: rule, impact, help and the offending elements."""
    lines = []
    for v in violations:
        targets = [json.dumps(node.get("target")) for node in v.get("nodes", [])[:5]]
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} -> {', '.join(targets)}")
    return "\n".join(lines)


async def overflow_width(page: Any) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no sideways scrolling)."""
    width: int = await page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )
    return width
