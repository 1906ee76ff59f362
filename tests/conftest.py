"""Fixtures: real SQLite files, a real PostgreSQL server, real uvicorn servers.

A server binary that is missing makes its tests skip with the reason, except
under ``CI=true``, where a missing server is a failure: CI must test it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from alumni_community import Community, Settings
from alumni_community.db import migrate

# The planted values are re-exported: tests import them from here.
from .privacy_tap import PLANTED, PLANTED_EMAIL, PLANTED_HOST_ID, PLANTED_IP, LogScan, tapped  # noqa: F401

SECRET = "test-secret-" + "k" * 40


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """Skip for a reason a developer can fix; fail in CI, where nothing may be skipped."""
    if in_ci():
        pytest.fail(f"{what} (CI=true: a missing server fails the run)")
    pytest.skip(what)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


# -- PostgreSQL -----------------------------------------------------------------


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str = "postgres"

    def url(self, database: str) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{database}"


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        missing("PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql")
        raise AssertionError("unreachable")
    base = Path(tempfile.mkdtemp(prefix="ac-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root; Debian's package brings a postgres user.
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [
            *run_as,
            initdb,
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [
            *run_as,
            pg_ctl,
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(base / "log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield PostgresServer(host="127.0.0.1", port=port)
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    name = "t_" + uuid.uuid4().hex[:16]
    _admin(postgres_server, f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    _admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(server: PostgresServer, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(server.url("postgres"))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


# -- Redis ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server on a free port, nothing saved to disk."""
    binary = shutil.which("redis-server")
    if not binary:
        missing("redis-server not found; install redis-server")
        raise AssertionError("unreachable")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="ac-redis-")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


# -- the database every data test runs against, once per engine ----------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'community.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path / 'community.sqlite3'}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": SECRET,
        "cookie_secure": False,
        # A cheap argon2id: the suite hashes thousands of passwords. Tests
        # marked ``real_argon2`` use the default cost.
        "password_hash_memory_kib": 256,
        "password_hash_passes": 1,
    }
    values.update(overrides)
    return Settings(**values)


_TEMPLATES: dict[str, str] = {}


async def clone_migrated(database_url: str) -> None:
    """Give the new, empty database at ``database_url`` the full schema.

    The migrations run once per engine per test run, into a template; each
    test then gets a copy (a file copy for SQLite, ``CREATE DATABASE ...
    TEMPLATE`` for PostgreSQL), which is many times faster than migrating
    every test's database. ``tests/test_db.py`` runs the migrations themselves.
    """
    import asyncpg

    if database_url.startswith("sqlite://"):
        target = Path(database_url.removeprefix("sqlite://"))
        if "sqlite" not in _TEMPLATES:
            template = Path(tempfile.mkdtemp(prefix="ac-template-")) / "template.sqlite3"
            await migrate(make_settings(f"sqlite://{template}"))
            _TEMPLATES["sqlite"] = str(template)
        shutil.copyfile(_TEMPLATES["sqlite"], target)
        return
    base, _, name = database_url.rpartition("/")
    if "postgres" not in _TEMPLATES:
        template = "ac_template_" + uuid.uuid4().hex[:8]
        admin = await asyncpg.connect(f"{base}/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{template}"')
        finally:
            await admin.close()
        await migrate(make_settings(f"{base}/{template}"))
        _TEMPLATES["postgres"] = template
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATES["postgres"]}"')
    finally:
        await admin.close()


@pytest.fixture
async def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    await clone_migrated(database_url)
    if request.node.get_closest_marker("real_argon2"):
        # The default cost, for tests about what hashing costs.
        return make_settings(database_url, password_hash_memory_kib=65_536, password_hash_passes=3)
    return make_settings(database_url)


@pytest.fixture
async def community(settings: Settings) -> AsyncIterator[Community]:
    """A started community on a migrated database (SQLite and PostgreSQL).

    Its database context is current for the test, so the test can query models directly.
    """
    community = Community(settings)
    async with community.lifespan():
        with community.database.activate():
            yield community


# -- real servers --------------------------------------------------------------


@contextlib.contextmanager
def serve(app: Any, *, lifespan: str = "on") -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on 127.0.0.1 in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan=lifespan,
        log_level="warning",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn stopped during start-up")
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        if thread.is_alive():
            raise RuntimeError("uvicorn did not stop within 30 s")


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: no ALUMNI_COMMUNITY_* leaking in from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALUMNI_COMMUNITY_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    env.update(extra)
    return env


def wait_for_http(
    url: str, process: subprocess.Popen[Any] | None = None, timeout: float = 60
) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before serving")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


# -- privacy: planted values that must never leave the library ---------------------

#: Leaks the tap found during the current test (checked and cleared after each).
_LEAKS: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def every_community_is_tapped() -> Iterator[None]:
    """The whole suite: every request any Community serves in this process is tapped.

    It arrives from PLANTED_IP, and what goes back (headers, bodies, pages,
    WebSocket frames and close reasons) is searched for planted values. Server
    processes of the suite do the same (tests/chat/server_process.py).
    """
    original = Community.__call__
    Community.__call__ = tapped(original, _LEAKS.append)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Community.__call__ = original  # type: ignore[method-assign]


class LeakWatch:
    """An ASGI wrapper that records everything sent back, to be searched for planted values."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def recording(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.sent += [name + b": " + value for name, value in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                self.sent.append(message.get("body", b""))
            elif message["type"] == "websocket.send":
                self.sent.append(
                    (message.get("text") or "").encode() + (message.get("bytes") or b"")
                )
            await send(message)

        await self.app(scope, receive, recording)

    def assert_clean(self) -> None:
        everything = b"\n".join(self.sent)
        for value in PLANTED:
            assert value.encode() not in everything, f"planted {value!r} leaked into a response"


@pytest.fixture(autouse=True)
def no_planted_values_leave() -> Iterator[None]:
    """Every test: no response, frame or log record (any logger or level) names a planted value."""
    handler = LogScan()
    root = logging.getLogger()
    ours = logging.getLogger("alumni_community")
    previous = ours.level
    ours.setLevel(logging.DEBUG)
    root.addHandler(handler)
    _LEAKS.clear()
    try:
        yield
    finally:
        root.removeHandler(handler)
        ours.setLevel(previous)
    leaks = [*_LEAKS, *handler.leaks]
    _LEAKS.clear()
    assert not leaks, "planted values left the library:\n" + "\n".join(leaks[:20])


@pytest.fixture
async def client(community: Community) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the community mounted at /community, calling from PLANTED_IP.

    Everything the community sends back is checked for planted values at the end.
    """
    from starlette.applications import Starlette
    from starlette.routing import Mount

    watch = LeakWatch(Starlette(routes=[Mount("/community", app=community)]))
    transport = httpx.ASGITransport(app=watch, client=(PLANTED_IP, 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver/community/api/v1"
    ) as http:
        yield http
    watch.assert_clean()
