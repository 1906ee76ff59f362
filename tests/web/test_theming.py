"""A host themes the pages: its own base.html extends the layout; pages overridden file by file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from alumni_community import Community

from ..conftest import clone_migrated, make_settings

pytestmark = pytest.mark.anyio

HOST_BASE = """{% extends "community/layout.html" %}
{% block head %}<link rel="stylesheet" href="/static/hillside.css">{% endblock %}
{% block footer %}<p>Run by Hillside alumni.</p>{{ super() }}{% endblock %}
"""


def write(folder: Path, name: str, text: str) -> None:
    path = folder / "community" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


async def test_a_host_base_and_page_overrides_apply_in_folder_order(
    sqlite_url: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "theme", tmp_path / "fallback"
    write(first, "base.html", HOST_BASE)
    write(
        first,
        "crisis.html",
        '{% extends "community/base.html" %}{% block content %}<h1>First folder</h1>{% endblock %}',
    )
    write(second, "crisis.html", "<p>second folder: never used</p>")
    write(second, "rooms.html", "unused")
    await clone_migrated(sqlite_url)
    community = Community(make_settings(sqlite_url, template_dirs=[str(first), str(second)]))
    app = Starlette(routes=[Mount("/community", app=community)])
    async with community.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            signin = await client.get("/community/signin")
            assert signin.status_code == 200
            page = signin.text
            # The host's blocks, around the packaged page, with the packaged footer kept.
            assert '<link rel="stylesheet" href="/static/hillside.css">' in page
            assert "Run by Hillside alumni." in page
            assert "You are known here by your handle only." in page
            assert '<input id="handle" name="handle"' in page
            assert page.index("community.css") < page.index("hillside.css")

            crisis = await client.get("/community/crisis")
            assert "<h1>First folder</h1>" in crisis.text
            assert "second folder" not in crisis.text
            assert "hillside.css" in crisis.text


async def test_without_template_dirs_the_packaged_layout_serves(sqlite_url: str) -> None:
    await clone_migrated(sqlite_url)
    community = Community(make_settings(sqlite_url))
    async with community.lifespan():
        transport = httpx.ASGITransport(app=community)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            page = (await client.get("/signin")).text
    assert "hillside" not in page
    assert 'class="skip-link" href="#main"' in page
    assert "/static/community.css" in page
