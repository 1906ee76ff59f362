"""Start and stop: composed into the host's lifespan, or lazily on the first request."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from alumni_community import Community
from alumni_community.db import migrate

from .conftest import SECRET, free_port, make_settings, serve, subprocess_env, wait_for_http

pytestmark = pytest.mark.anyio


async def test_a_forgotten_lifespan_starts_once_on_concurrent_first_requests(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await migrate(make_settings(database_url))
    community = Community(make_settings(database_url))
    host = Starlette(routes=[Mount("/community", app=community)])
    transport = httpx.ASGITransport(app=host)
    try:
        with caplog.at_level(logging.INFO, logger="alumni_community"):
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                responses = await asyncio.gather(
                    *[client.get("/community/api/v1/health") for _ in range(20)]
                )
        assert [r.status_code for r in responses] == [200] * 20
        messages = [r.getMessage() for r in caplog.records]
        assert sum("not started by a lifespan" in m for m in messages) == 1
        assert sum(m.startswith("community started") for m in messages) == 1
    finally:
        await community.shutdown()


async def test_lifespan_opens_and_closes_and_can_run_again(sqlite_url: str) -> None:
    community = Community(make_settings(sqlite_url, migrate_on_start=True))
    for _ in range(2):
        async with community.lifespan():
            assert community.database.is_open
        assert not community.database.is_open


async def test_a_failed_start_leaves_nothing_open(sqlite_url: str) -> None:
    community = Community(make_settings(sqlite_url))  # not migrated: start must fail
    with pytest.raises(Exception, match="migrate"):
        await community.startup()
    assert not community.database.is_open


def _run_host(module: str, tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", module, "--port", str(port), "--log-level", "info"],
        cwd=tmp_path,
        env=subprocess_env(
            ALUMNI_COMMUNITY_DATABASE_URL=f"sqlite://{tmp_path / 'community.sqlite3'}",
            ALUMNI_COMMUNITY_SECRET_KEY=SECRET,
            ALUMNI_COMMUNITY_MIGRATE_ON_START="true",
            HOST_DATABASE_URL=f"sqlite://{tmp_path / 'host.sqlite3'}",
            **env,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/", process)
    return process, base


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"the server hung at exit:\n{output}")
    assert process.returncode == 0, output
    return output


@pytest.mark.slow
def test_composed_lifespan_serves_and_exits_cleanly(tmp_path: Path) -> None:
    process, base = _run_host("examples.starlette_host:app", tmp_path)
    try:
        assert httpx.get(base + "/community/").status_code == 200
        assert httpx.get(base + "/").status_code == 200
    finally:
        output = _stop(process)
    assert "Traceback" not in output
    # SQLite removes the WAL file when the last connection closes cleanly.
    assert (tmp_path / "community.sqlite3").is_file()
    assert not (tmp_path / "community.sqlite3-wal").exists()


@pytest.mark.slow
def test_a_forgotten_lifespan_still_serves_and_the_process_still_exits(tmp_path: Path) -> None:
    process, base = _run_host("tests.hosts.forgot_lifespan:app", tmp_path)
    try:
        assert httpx.get(base + "/community/").status_code == 200
        assert httpx.get(base + "/").text == "host home"
    finally:
        output = _stop(process)
    assert "not started by a lifespan" in output
    assert not (tmp_path / "community.sqlite3-wal").exists()


async def test_served_directly_the_community_runs_its_own_lifespan(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    community = Community(make_settings(sqlite_url, migrate_on_start=True))
    with caplog.at_level(logging.INFO, logger="alumni_community"), serve(community) as base:
        assert community.database.is_open  # opened by the lifespan, before any request
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/api/v1/health")).json() == {"status": "ok"}
            assert (await client.get("/")).status_code == 200
    assert not community.database.is_open
    assert not any("not started by a lifespan" in r.getMessage() for r in caplog.records)
