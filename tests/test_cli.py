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
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert f"{base}/community/" in output
    assert "DEMO MODE" in output
    assert (tmp_path / "demo-data" / "community.sqlite3").is_file()
