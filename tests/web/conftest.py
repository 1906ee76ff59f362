"""What the page tests share: the worlds, and headless Debian chromium for browser tests."""

import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ..chat.conftest import chat  # noqa: F401  (a real uvicorn, for the browser tests)
from ..conftest import missing
from ..rooms.conftest import world  # noqa: F401  (the same world: clock, members)


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    executable = shutil.which("chromium")
    if executable is None:
        missing("chromium not found on PATH; install the chromium package")
    async with _playwright().async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=executable,
            headless=True,
            # This machine has no network beyond the tests' own servers: no
            # background fetches, updates or sync for Chromium to retry.
            args=[
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()


def _playwright() -> Any:
    """Playwright's asyncio API; the browser tests skip without it."""
    return pytest.importorskip("playwright.async_api")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests look at pages, not at engines: they run on SQLite only.

    The HTTP page tests, and the services' own tests, run on both engines;
    a second browser run of each on PostgreSQL would only double the time.
    """
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgres"
        if on_postgres and item.path.name.endswith("_browser.py"):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
