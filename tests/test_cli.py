"""The alumni-community command, run as a real subprocess."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import SECRET, free_port, subprocess_env, wait_for_http


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alumni_community", *args],
        cwd=cwd,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_applies_once_then_reports_nothing_to_do(database_url: str) -> None:
    first = cli("migrate", "--database-url", database_url, ALUMNI_COMMUNITY_SECRET_KEY=SECRET)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial" in first.stdout
    assert "applied 0002_identity" in first.stdout
    second = cli(
        "migrate", ALUMNI_COMMUNITY_DATABASE_URL=database_url, ALUMNI_COMMUNITY_SECRET_KEY=SECRET
    )
    assert second.returncode == 0, second.stderr
    assert "nothing to apply" in second.stdout


@pytest.mark.parametrize(
    ("args", "env", "field"),
    [
        (
            ["--database-url", "mysql://db/x"],
            {"ALUMNI_COMMUNITY_SECRET_KEY": SECRET},
            "database_url",
        ),
        ([], {}, "secret_key"),
        ([], {"ALUMNI_COMMUNITY_SECRET_KEY": SECRET, "ALUMNI_COMMUNITY_DEMOO": "1"}, "DEMOO"),
    ],
)
def test_bad_settings_fail_with_the_field_named(
    args: list[str], env: dict[str, str], field: str
) -> None:
    result = cli(*args, "migrate", **env)
    assert result.returncode == 1
    assert field in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_commands_are_usage_errors() -> None:
    result = cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_version_is_printed() -> None:
    from alumni_community import __version__

    assert __version__ in cli("--version").stdout


@pytest.mark.slow
def test_demo_serves_the_host_page_and_a_seeded_community(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "alumni_community", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/", process)
        host = httpx.get(base + "/")
        assert host.status_code == 200 and "Our centre" in host.text
        community = httpx.get(base + "/community/")
        assert community.status_code == 200
        assert "4 rooms are open to members" in community.text
        assert httpx.get(base + "/community/api/v1/health").json() == {"status": "ok"}
        with httpx.Client(base_url=base) as browser:
            login = browser.post(
                "/community/api/v1/session",
                json={"handle": "demo-member", "password": "demo member passphrase"},
            )
            assert login.status_code == 200
            assert "Signed in as <strong>demo-member</strong>" in browser.get("/community/").text
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert f"{base}/community/" in output
    assert "DEMO MODE" in output
    assert "demo-admin / demo admin passphrase" in output
    # uvicorn's access log would write the client's address on every request.
    assert "127.0.0.1:" not in output.replace(f"{base}", "")
    assert (tmp_path / "demo-data" / "community.sqlite3").is_file()


def _cli_input(*args: str, stdin: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alumni_community", *args, "--database-url", database_url],
        env=subprocess_env(ALUMNI_COMMUNITY_SECRET_KEY=SECRET),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_member_commands_create_promote_trust_and_export(database_url: str) -> None:
    import json

    assert (
        cli(
            "migrate", "--database-url", database_url, ALUMNI_COMMUNITY_SECRET_KEY=SECRET
        ).returncode
        == 0
    )
    created = _cli_input(
        "create-member",
        "first-admin",
        "--role",
        "admin",
        stdin="a long admin passphrase\n",
        database_url=database_url,
    )
    assert created.returncode == 0, created.stderr
    assert "created first-admin (admin)" in created.stdout
    codes = [line.strip() for line in created.stdout.splitlines() if line.startswith("  ")]
    assert len(codes) == 10

    promoted = _cli_input(
        "promote", "FIRST-ADMIN", "--role", "moderator", stdin="", database_url=database_url
    )
    assert promoted.returncode == 0 and "is now moderator" in promoted.stdout
    trusted = _cli_input(
        "trust", "first-admin", "--level", "3", stdin="", database_url=database_url
    )
    assert trusted.returncode == 0 and "trust level 3" in trusted.stdout

    hosting = _cli_input("meeting-host", "first-admin", stdin="", database_url=database_url)
    assert hosting.returncode == 0 and "may schedule meetings" in hosting.stdout
    stopped = _cli_input(
        "meeting-host", "first-admin", "--off", stdin="", database_url=database_url
    )
    assert stopped.returncode == 0 and "may not schedule" in stopped.stdout

    exported = _cli_input("export", "first-admin", stdin="", database_url=database_url)
    data = json.loads(exported.stdout)
    assert data["member"]["handle"] == "first-admin"
    assert data["member"]["role"] == "moderator" and data["member"]["trust_level"] == 3
    assert data["recovery_codes_left"] == 10


def test_member_commands_refuse_clearly(sqlite_url: str) -> None:
    cli("migrate", "--database-url", sqlite_url, ALUMNI_COMMUNITY_SECRET_KEY=SECRET)
    weak = _cli_input("create-member", "river", stdin="password\n", database_url=sqlite_url)
    assert weak.returncode == 1 and "password" in weak.stderr and "common" in weak.stderr
    missing = _cli_input("promote", "nobody", "--role", "admin", stdin="", database_url=sqlite_url)
    assert missing.returncode == 1 and "nobody" in missing.stderr
    bad_level = _cli_input("trust", "river", "--level", "9", stdin="", database_url=sqlite_url)
    assert bad_level.returncode == 2
    for result in (weak, missing):
        assert "Traceback" not in result.stderr


def test_member_commands_refuse_an_unmigrated_database(sqlite_url: str) -> None:
    result = _cli_input("export", "river", stdin="", database_url=sqlite_url)
    assert result.returncode == 1 and "alumni-community migrate" in result.stderr
