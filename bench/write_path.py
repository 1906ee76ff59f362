"""Write path: posts/s through render + sanitize + insert, nh3 against bleach in the same run.

Every post body becomes HTML in one place, ``alumni_community.content``:
markdown-it-py renders the Markdown (raw HTML off), then
:func:`~alumni_community.content.sanitize_html` (nh3, Rust's ammonia) keeps
only the allowed tags, attributes and URL schemes and puts ``rel`` on every
link. This bench measures that sanitizer against bleach (html5lib, pure
Python) configured with the same allow-list, in three steps, each run in
alternating rounds (nh3 first in odd rounds, bleach first in even ones):

- ``sanitize``: the sanitizer alone, on the HTML markdown-it-py renders from
  the corpus (what the sanitizer sees on the real path), in µs per post;
  plus, for information, on the raw XSS payloads (which the real path never
  hands it, since Markdown escapes raw HTML).
- ``render+sanitize``: Markdown to safe HTML (``render_markdown``, and the
  same renderer followed by bleach).
- ``write path``: the real service call, ``Rooms.reply`` (the posting rules,
  render, sanitize, insert the post and bump the thread in a transaction, in
  SQLite; ``--postgres`` adds a throwaway PostgreSQL), in posts per second.
  The bleach variant monkeypatches ``alumni_community.content.sanitize_html``
  in this process, the single function every body goes through; nothing
  else changes. The writer is a moderator: moderators are not paced or held
  for review, so the posting rules let bulk posting through (crisis and
  identifying-details checks still run; ``confirm=True`` answers the latter).

The bleach sanitizer mirrors the nh3 one: the same tags (``ALLOWED_TAGS``),
the same attributes through the same per-attribute filter
(``_attribute_filter``: safe ``href`` schemes, ``language-*`` classes,
no script-looking titles), ``URL_SCHEMES`` as bleach's protocols, disallowed
tags stripped (not escaped), comments stripped, ``rel`` set to ``LINK_REL``
on every link, and the content of ``script``/``style`` dropped as ammonia
does. One bleach ``Cleaner`` per thread (bleach's is not thread-safe, and
long posts render in a worker thread). The outputs of the two are compared on
the corpus: exactly, and after both are parsed and serialized again by
html5lib (so ``"`` against ``&quot;`` in text does not count as a difference).

Corpus: ``--posts`` Markdown bodies generated from a fixed seed (paragraphs
with emphasis, links, bare URLs and inline code; lists; quotes; fenced code;
headings; images, which render as links), 200 B to 8 KB, log-uniform; plus
every payload of the XSS corpora (``--corpora``) as a post body.

Usage::

    .venv/bin/python bench/write_path.py                  # 400 posts + XSS payloads, SQLite
    .venv/bin/python bench/write_path.py --postgres       # and a throwaway PostgreSQL
    .venv/bin/python bench/write_path.py --posts 100 --rounds 2   # quick

The table is printed, and everything is written to
``bench/results/write_path.json`` (not tracked by git), with the CPU other
processes used meanwhile ("other", in percent of one CPU): a busy column
means the run shared the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import math
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bleach
from bleach import html5lib_shim
from bleach._vendor import html5lib

from alumni_community import content
from bench.chat_fanout import RESULTS, machine, median, wait_quiet
from bench.chat_fanout import machine_ticks as _machine_ticks

CORPORA = Path("/work/shared/corpora/xss")
TARGET = 20.0
PASSWORD = "a long enough passphrase for benchmarks"

# -- the bleach sanitizer, same allow-list as content.sanitize_html ---------------------


class _RelAndDropContent(html5lib_shim.Filter):
    """After bleach's own filter: ``rel`` on every link, as nh3's ``link_rel``
    does, and no content of ``script``/``style`` (ammonia's clean_content_tags)."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        depth = 0
        for token in super().__iter__():
            kind, name = token["type"], token.get("name")
            if name in ("script", "style") and kind in ("StartTag", "EndTag", "EmptyTag"):
                depth = max(0, depth + (1 if kind == "StartTag" else -1 if kind == "EndTag" else 0))
                continue
            if depth:
                continue
            if name == "a" and kind in ("StartTag", "EmptyTag"):
                token["data"][(None, "rel")] = content.LINK_REL
            yield token


def _allowed(tag: str, name: str, value: str) -> bool:
    if name not in content.ALLOWED_ATTRIBUTES.get(tag, ()):
        return False
    return content._attribute_filter(tag, name, value) == value


_per_thread = threading.local()


def bleach_cleaner() -> bleach.Cleaner:
    cleaner: bleach.Cleaner | None = getattr(_per_thread, "cleaner", None)
    if cleaner is None:
        cleaner = _per_thread.cleaner = bleach.Cleaner(
            # script and style pass bleach only to be dropped whole by the filter.
            tags=content.ALLOWED_TAGS | {"script", "style"},
            attributes=_allowed,
            protocols=content.URL_SCHEMES,
            strip=True,
            strip_comments=True,
            filters=[_RelAndDropContent],
        )
    return cleaner


def bleach_sanitize(html_text: str) -> str:
    """:func:`alumni_community.content.sanitize_html`, done by bleach."""
    return bleach_cleaner().clean(html_text)


NH3_SANITIZE: Callable[[str], str] = content.sanitize_html
SANITIZERS: dict[str, Callable[[str], str]] = {"nh3": NH3_SANITIZE, "bleach": bleach_sanitize}


@contextlib.contextmanager
def sanitizer_swapped(name: str) -> Iterator[None]:
    """Run the library with ``name``'s sanitizer at its single sanitize point."""
    content.sanitize_html = SANITIZERS[name]
    try:
        yield
    finally:
        content.sanitize_html = NH3_SANITIZE


def render(source: str) -> str:
    """markdown-it-py's HTML before sanitizing (what the sanitizer is given)."""
    return content._markdown().render(source)


def canonical(html_text: str) -> str:
    """``html_text`` parsed and serialized again by html5lib, to compare DOMs, not spellings."""
    fragment = html5lib.parseFragment(html_text, namespaceHTMLElements=False)
    walker = html5lib.getTreeWalker("etree")
    serializer = html5lib.serializer.HTMLSerializer(
        quote_attr_values="always", alphabetical_attributes=True, omit_optional_tags=False
    )
    return serializer.render(walker(fragment))


# -- the corpus --------------------------------------------------------------------------

_WORDS = (
    "alumni mentor career interview resume internship project team weekend coffee meetup "
    "class reunion campus library advice question answer thanks welcome program course "
    "degree semester offer salary manager remote office schedule volunteer workshop panel "
    "network friends family city move apartment budget routine sleep exercise walk garden "
    "book podcast recipe music practice progress week month plan goal habit notes draft "
    "review feedback support group chat room thread reply update idea morning evening"
).split()
_LANGS = ("python", "js", "bash", "sql", "", "text")
_CODE_LINES = (
    'print("hello <world> & friends")',
    "for i in range(3): total += i",
    "if a < b && b > c { return; }",
    "SELECT name FROM rooms WHERE slug = 'x';",
    "git log --oneline | head",
    '<div class="card">not a tag here</div>',
    "const ok = items.filter((x) => x.done);",
)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 16))]
    for _ in range(rng.randint(0, 2)):
        i = rng.randrange(len(words))
        kind = rng.random()
        if kind < 0.25:
            words[i] = f"*{words[i]}*"
        elif kind < 0.45:
            words[i] = f"**{words[i]}**"
        elif kind < 0.6:
            words[i] = f"`{words[i]}()`"
        elif kind < 0.72:
            words[i] = (
                f'[{words[i]}](https://example.org/{rng.choice(_WORDS)}?page={i} "{words[i]}")'
            )
        elif kind < 0.82:
            words[i] = f"https://example.net/{rng.choice(_WORDS)}/{rng.randint(1, 99)}"
        elif kind < 0.9:
            words[i] = f"[this thread](/threads/{rng.randint(1, 99)})"
        elif kind < 0.95:
            words[i] = f"~~{words[i]}~~"
        else:
            words[i] = f"![{words[i]}](https://images.example.com/{words[i]}.png)"
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice((".", ".", ".", "?", "!"))


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(1, 5)))


def _block(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.55:
        return _paragraph(rng)
    if kind < 0.7:
        mark = rng.choice(("-", "*", "1."))
        return "\n".join(f"{mark} {_sentence(rng)}" for _ in range(rng.randint(2, 6)))
    if kind < 0.8:
        return "\n".join(f"> {_sentence(rng)}" for _ in range(rng.randint(1, 4)))
    if kind < 0.88:
        lines = [rng.choice(_CODE_LINES) for _ in range(rng.randint(2, 8))]
        return f"```{rng.choice(_LANGS)}\n" + "\n".join(lines) + "\n```"
    if kind < 0.95:
        return f"{rng.choice(('#', '##', '###'))} {_sentence(rng).rstrip('.?!')}"
    return "---"


def markdown_corpus(posts: int, seed: int, low: int = 200, high: int = 8192) -> list[str]:
    """``posts`` Markdown bodies, log-uniform in length between ``low`` and ``high`` bytes."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(posts):
        target = math.exp(rng.uniform(math.log(low), math.log(high)))
        blocks: list[str] = []
        size = 0
        while size < target:
            blocks.append(_block(rng))
            size += len(blocks[-1].encode()) + 2
        bodies.append("\n\n".join(blocks))
    return bodies


def xss_payloads(folder: Path) -> list[str]:
    payloads = []
    for path in sorted(folder.glob("*.json")):
        payloads += [case["payload"] for case in json.loads(path.read_text())]
    return payloads


# -- measuring ---------------------------------------------------------------------------


def time_each(func: Callable[[str], str], inputs: list[str]) -> float:
    """Seconds ``func`` took over all ``inputs`` (no garbage collection meanwhile)."""
    gc.collect()
    gc.disable()
    try:
        began = time.perf_counter()
        for text in inputs:
            func(text)
        return time.perf_counter() - began
    finally:
        gc.enable()


def orders(rounds: int) -> Iterator[tuple[int, tuple[str, str]]]:
    for r in range(rounds):
        yield r, ("nh3", "bleach") if r % 2 == 0 else ("bleach", "nh3")


def cpu_steps(inputs: dict[str, list[str]], rounds: int) -> dict[str, Any]:
    """Steps (a) and (b): µs per post, per sanitizer, per round."""
    steps: dict[str, dict[str, list[float]]] = {}
    for r, order in orders(rounds):
        for name in order:
            sanitize = SANITIZERS[name]
            for label, texts in inputs.items():
                if label == "render+sanitize":
                    seconds = time_each(lambda s, f=sanitize: f(render(s)), texts)
                else:
                    seconds = time_each(sanitize, texts)
                us = 1e6 * seconds / len(texts)
                steps.setdefault(label, {}).setdefault(name, []).append(us)
        print(f"  round {r + 1}/{rounds} of the CPU steps done", flush=True)
    return steps


def agreement(rendered: list[str], limit_examples: int = 1) -> dict[str, Any]:
    exact = same_dom = 0
    example = None
    for text in rendered:
        a, b = NH3_SANITIZE(text), bleach_sanitize(text)
        if a == b:
            exact += 1
            same_dom += 1
            continue
        if canonical(a) == canonical(b):
            same_dom += 1
        elif example is None:
            example = {"input": text[:300], "nh3": a[:300], "bleach": b[:300]}
    return {
        "inputs": len(rendered),
        "identical": exact,
        "same_dom": same_dom,
        "differ": len(rendered) - same_dom,
        "example": example,
    }


def spelling_example(rendered: list[str]) -> dict[str, str] | None:
    """One input whose outputs differ in spelling only (same DOM)."""
    for text in rendered:
        a, b = NH3_SANITIZE(text), bleach_sanitize(text)
        if a != b:
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                if x != y:
                    return {"nh3": a[max(0, i - 60) : i + 60], "bleach": b[max(0, i - 60) : i + 60]}
    return None


def settings_for(database_url: str) -> Any:
    from alumni_community import Settings

    return Settings(
        database_url=database_url,
        secret_key=os.environ.get("AC_BENCH_SECRET") or "w" * 64,
        cookie_secure=False,
        password_hash_memory_kib=64,
        password_hash_passes=1,
        migrate_on_start=True,
    )


async def write_path(
    database_url: str,
    bodies: list[str],
    rounds: int,
    label: str,
    db_cpu: Callable[[], float] = lambda: 0.0,
) -> dict[str, Any]:
    """Step (c): ``Rooms.reply`` for every body, both sanitizers, alternating rounds."""
    from alumni_community import Community
    from alumni_community.db import migrate
    from alumni_community.identity.models import Role

    settings = settings_for(database_url)
    await migrate(settings)
    community = Community(settings)
    results: dict[str, dict[str, list[float]]] = {}
    refused: dict[str, int] = {}
    async with community.lifespan():
        with community.database.activate():
            writer, _ = await community.accounts.create_member(
                "bench-writer", PASSWORD, Role.MODERATOR
            )
            await community.rooms.create_room(
                writer, {"slug": "bench", "name": "Bench", "moderation": "open"}
            )
            thread, _, _ = await community.rooms.create_thread(
                writer, "bench", "Bench thread", "The first post.", confirm=True
            )
            # Warm up both variants (imports, caches, prepared statements).
            for name in ("nh3", "bleach"):
                with sanitizer_swapped(name):
                    for body in bodies[:20]:
                        await community.rooms.reply(writer, thread.id, body, confirm=True)
            for r, order in orders(rounds):
                for name in order:
                    with sanitizer_swapped(name):
                        gc.collect()
                        cpu0, db0, ticks0 = time.process_time(), db_cpu(), _machine_ticks()
                        began = time.perf_counter()
                        done = 0
                        refusals: dict[str, int] = {}
                        for body in bodies:
                            try:
                                await community.rooms.reply(writer, thread.id, body, confirm=True)
                                done += 1
                            except Exception as refusal:  # a refusal is counted, not fatal
                                kind = type(refusal).__name__
                                refusals[kind] = refusals.get(kind, 0) + 1
                        wall = time.perf_counter() - began
                        cpu = time.process_time() - cpu0
                        db = db_cpu() - db0
                        busy = (_machine_ticks()[0] - ticks0[0]) / os.sysconf("SC_CLK_TCK")
                        refused = refusals
                    row = results.setdefault(name, {})
                    row.setdefault("posts_per_s", []).append(done / wall)
                    row.setdefault("cpu_ms_per_post", []).append(1e3 * cpu / done)
                    row.setdefault("db_server_cpu_ms_per_post", []).append(1e3 * db / done)
                    row.setdefault("other_cpu_percent", []).append(100 * (busy - cpu - db) / wall)
                    row.setdefault("posts", []).append(done)
                print(f"  {label}: round {r + 1}/{rounds} of the write path done", flush=True)
    return {"database": label, "runs": results, "refused_per_pass": refused}


async def quiet_first(limit: float, what: str) -> bool | None:
    """Wait up to ``limit`` seconds for the machine to be idle (0: do not wait)."""
    if not limit:
        return None
    quiet = await wait_quiet(limit)
    print(f"before {what}: the machine was {'quiet' if quiet else 'still busy'}", flush=True)
    return quiet


# -- the run -----------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    bodies = markdown_corpus(args.posts, args.seed)
    payloads = xss_payloads(args.corpora) if args.corpora.is_dir() else []
    corpus = bodies + payloads
    rendered = [render(body) for body in corpus]
    sizes = sorted(len(body.encode()) for body in bodies)
    print(
        f"corpus: {len(bodies)} Markdown posts ({sizes[0]}-{sizes[-1]} B, median "
        f"{sizes[len(sizes) // 2]} B) + {len(payloads)} XSS payloads; rendered HTML "
        f"{sum(map(len, rendered)) / 1e6:.2f} MB",
        flush=True,
    )
    agree = agreement(rendered)
    agree["spelling_example"] = spelling_example(rendered)
    agree_raw = agreement(payloads)
    print(
        f"agreement on the rendered corpus: {agree['identical']} identical, "
        f"{agree['same_dom']} same DOM, {agree['differ']} differ, of {agree['inputs']}",
        flush=True,
    )

    quiet = [await quiet_first(args.wait_quiet, "the CPU steps")]
    inputs = {"sanitize": rendered, "render+sanitize": corpus}
    if payloads:
        inputs["sanitize raw XSS"] = payloads
    ticks0, cpu0, wall0 = _machine_ticks(), time.process_time(), time.perf_counter()
    steps = cpu_steps(inputs, args.rounds)
    wall = time.perf_counter() - wall0
    other = (_machine_ticks()[0] - ticks0[0]) / os.sysconf("SC_CLK_TCK") - (
        time.process_time() - cpu0
    )

    databases: list[dict[str, Any]] = []
    quiet.append(await quiet_first(args.wait_quiet, "the SQLite write path"))
    with tempfile.TemporaryDirectory(prefix="ac-bench-") as tmp:
        databases.append(
            await write_path(f"sqlite://{tmp}/write.sqlite3", corpus, args.write_rounds, "sqlite")
        )
    if args.postgres:
        from bench.load import throwaway_postgres, tree_cpu_seconds

        with throwaway_postgres() as (url, data):
            pid = int((data / "postmaster.pid").read_text().split()[0])
            quiet.append(await quiet_first(args.wait_quiet, "the PostgreSQL write path"))
            databases.append(
                await write_path(
                    url, corpus, args.write_rounds, "postgres", lambda: tree_cpu_seconds(pid)
                )
            )
    return {
        "corpus": {
            "markdown_posts": len(bodies),
            "xss_payloads": len(payloads),
            "bytes_min": sizes[0],
            "bytes_median": sizes[len(sizes) // 2],
            "bytes_max": sizes[-1],
            "rendered_mb": sum(map(len, rendered)) / 1e6,
        },
        "agreement_rendered": agree,
        "agreement_raw_xss": agree_raw,
        "cpu_steps_us_per_post": steps,
        "cpu_steps_other_cpu_percent": 100 * other / wall,
        "write_path": databases,
        "quiet_start": quiet,
    }


def report(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for label, per in result["cpu_steps_us_per_post"].items():
        nh3_us, bleach_us = median(per["nh3"]), median(per["bleach"])
        rows.append(
            {
                "step": label,
                "unit": "µs/post",
                "nh3": nh3_us,
                "bleach": bleach_us,
                "ratio": bleach_us / nh3_us,
            }
        )
    for db in result["write_path"]:
        nh3_ps = median(db["runs"]["nh3"]["posts_per_s"])
        bleach_ps = median(db["runs"]["bleach"]["posts_per_s"])
        rows.append(
            {
                "step": f"write path ({db['database']})",
                "unit": "posts/s",
                "nh3": nh3_ps,
                "bleach": bleach_ps,
                "ratio": nh3_ps / bleach_ps,
            }
        )
        for key, what in (
            ("cpu_ms_per_post", "CPU"),
            ("db_server_cpu_ms_per_post", "db server CPU"),
        ):
            nh3_ms, bleach_ms = median(db["runs"]["nh3"][key]), median(db["runs"]["bleach"][key])
            if nh3_ms > 0:
                rows.append(
                    {
                        "step": f"write path ({db['database']}) {what}",
                        "unit": "ms/post",
                        "nh3": nh3_ms,
                        "bleach": bleach_ms,
                        "ratio": bleach_ms / nh3_ms,
                    }
                )
    print()
    header = f"{'step':<38} {'unit':>8} {'nh3':>10} {'bleach':>10} {'nh3 faster':>11}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['step']:<38} {row['unit']:>8} {row['nh3']:>10.1f} {row['bleach']:>10.1f} "
            f"{row['ratio']:>10.1f}x"
        )
    sanitize_ratio = rows[0]["ratio"]
    met = sanitize_ratio >= TARGET
    print(
        f"\nsanitizing (the rendered corpus), nh3 against bleach: {sanitize_ratio:.1f}x faster "
        f"(target >= {TARGET:g}x: {'met' if met else 'MISSED'}); medians of {args.rounds} rounds"
    )
    agree = result["agreement_rendered"]
    print(
        f"outputs: {agree['identical']} of {agree['inputs']} identical, {agree['same_dom']} the "
        f"same once parsed, {agree['differ']} differ"
    )
    if agree["spelling_example"]:
        print(f"  e.g. nh3:    {agree['spelling_example']['nh3']!r}")
        print(f"       bleach: {agree['spelling_example']['bleach']!r}")
    raw = result["agreement_raw_xss"]
    print(
        f"raw XSS payloads (not on the real path): {raw['same_dom']} of {raw['inputs']} the "
        f"same once parsed, {raw['differ']} differ"
    )
    print(
        f"other CPU during the CPU steps: {result['cpu_steps_other_cpu_percent']:.0f}%; "
        + ", ".join(
            f"during the {db['database']} write path: "
            + "/".join(
                f"{median(db['runs'][n]['other_cpu_percent']):.0f}%" for n in ("nh3", "bleach")
            )
            + " (nh3/bleach)"
            for db in result["write_path"]
        )
    )
    return {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "command": " ".join([".venv/bin/python", "bench/write_path.py", *sys.argv[1:]]),
        "machine": {
            **machine(),
            "nh3": version("nh3"),
            "bleach": version("bleach"),
            "markdown-it-py": version("markdown-it-py"),
        },
        "settings": {
            "posts": args.posts,
            "seed": args.seed,
            "rounds": args.rounds,
            "write_rounds": args.write_rounds,
            "postgres": args.postgres,
        },
        "table": rows,
        "target": {"sanitize_ratio": sanitize_ratio, "target": TARGET, "met": met},
        **result,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--posts", type=int, default=400, help="generated Markdown posts (400)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (1)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds of the CPU steps, alternating (5)"
    )
    parser.add_argument(
        "--write-rounds", type=int, default=3, help="rounds of the write path, alternating (3)"
    )
    parser.add_argument(
        "--corpora", type=Path, default=CORPORA, help=f"XSS corpora folder ({CORPORA})"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="also a throwaway PostgreSQL write path"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each step, wait up to this long for the machine to be idle; 0: do not wait",
    )
    parser.add_argument("--output", type=Path, help="JSON results (bench/results/write_path.json)")
    args = parser.parse_args(argv)
    if min(args.posts, args.rounds, args.write_rounds) < 1:
        parser.error("--posts, --rounds and --write-rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    summary = report(result, args)
    output = args.output or RESULTS / "write_path.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"\nwritten to {output}")


if __name__ == "__main__":
    main()
