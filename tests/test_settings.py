from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from alumni_community import ConfigurationError, Settings

SECRET = "s" * 40


def test_defaults_are_a_sqlite_file_and_an_in_memory_broker() -> None:
    settings = Settings(secret_key=SECRET)
    assert settings.database_url == "sqlite://community.sqlite3"
    assert settings.database_engine == "sqlite"
    assert settings.broker_url is None and settings.broker == "memory://"
    assert settings.secure_cookies is True
    assert settings.should_migrate_on_start is False


def test_the_broker_follows_the_database_unless_named() -> None:
    on_postgres = Settings(secret_key=SECRET, database_url="postgres://db.internal/community")
    assert on_postgres.broker == "postgres://db.internal/community"  # LISTEN/NOTIFY
    named = on_postgres.replace(broker_url="redis://cache.internal:6379/0")
    assert named.broker == "redis://cache.internal:6379/0"
    assert on_postgres.replace(broker_url="memory://").broker == "memory://"
    with pytest.raises(ConfigurationError):
        Settings(secret_key=SECRET, broker_url="kafka://x")
    for name in ("ws_max_frame_bytes", "ws_queue_frames", "chat_backlog_limit"):
        with pytest.raises(ConfigurationError):
            Settings(secret_key=SECRET, **{name: 0})


def test_secret_key_is_required_outside_demo_mode() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert caught.value.field == "secret_key"
    assert "secret_key" in str(caught.value)


@pytest.mark.parametrize("secret", ["", "   ", "short"])
def test_empty_or_short_secret_keys_are_refused(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="secret_key"):
        Settings(secret_key=secret)


def test_demo_mode_generates_a_secret_and_says_so_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="alumni_community"):
        first, second = Settings(demo=True), Settings(demo=True)
    assert first.secret_key and second.secret_key and first.secret_key != second.secret_key
    assert any("DEMO MODE" in r.getMessage() for r in caplog.records)
    assert first.secure_cookies is False
    assert first.should_migrate_on_start is True


def test_the_secret_key_is_not_in_the_repr() -> None:
    assert SECRET not in repr(Settings(secret_key=SECRET))


@pytest.mark.parametrize("url", ["mysql://db/x", "community.sqlite3", "redis://localhost/0"])
def test_unknown_database_schemes_name_the_field(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(secret_key=SECRET, database_url=url)
    assert caught.value.field == "database_url"


@pytest.mark.parametrize("url", ["postgres://localhost", "postgres://localhost/", "sqlite://"])
def test_database_urls_must_name_a_database(url: str) -> None:
    with pytest.raises(ConfigurationError, match="database_url"):
        Settings(secret_key=SECRET, database_url=url)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "asyncpg"])
def test_postgres_url_spellings_are_all_postgres(scheme: str) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"{scheme}://u@db.example/community")
    assert settings.database_engine == "postgres"


def test_unknown_broker_scheme_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="broker_url"):
        Settings(secret_key=SECRET, broker_url="kafka://x")


@pytest.mark.parametrize(
    "origin",
    [
        "alumni.example.org",
        "https://alumni.example.org/",
        "ftp://x.org",
        "https://alumni.example.org/path",
    ],
)
def test_allowed_origins_must_be_bare_origins(origin: str) -> None:
    with pytest.raises(ConfigurationError, match="allowed_origins"):
        Settings(secret_key=SECRET, allowed_origins=[origin])


def test_allowed_origins_given_as_a_list_become_a_tuple() -> None:
    settings = Settings(secret_key=SECRET, allowed_origins=["https://a.example", "http://b:8000"])
    assert settings.allowed_origins == ("https://a.example", "http://b:8000")


def test_template_dirs_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="template_dirs"):
        Settings(secret_key=SECRET, template_dirs=[str(tmp_path), "/nonexistent/templates"])
    with pytest.raises(ConfigurationError, match="not one string"):
        Settings(secret_key=SECRET, template_dirs=str(tmp_path))  # type: ignore[arg-type]


def test_template_dirs_from_the_environment_split_like_path(tmp_path: Path) -> None:
    first, second = tmp_path / "a,b", tmp_path / "c"
    first.mkdir()
    second.mkdir()
    settings = Settings.from_env(
        environ={
            "ALUMNI_COMMUNITY_SECRET_KEY": SECRET,
            "ALUMNI_COMMUNITY_TEMPLATE_DIRS": f"{first}{os.pathsep}{second}",
        }
    )
    assert settings.template_dirs == (str(first), str(second))


def test_from_env_reads_prefixed_variables() -> None:
    settings = Settings.from_env(
        environ={
            "ALUMNI_COMMUNITY_SECRET_KEY": SECRET,
            "ALUMNI_COMMUNITY_DATABASE_URL": "postgres://u@h/db",
            "ALUMNI_COMMUNITY_COOKIE_SECURE": "false",
            "ALUMNI_COMMUNITY_ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "ALUMNI_COMMUNITY_MAX_BODY_BYTES": "4096",
            "ALUMNI_COMMUNITY_SITE_NAME": "Friends of Hope",
            "UNRELATED": "x",
        }
    )
    assert settings.database_url == "postgres://u@h/db"
    assert settings.cookie_secure is False
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.max_body_bytes == 4096
    assert settings.site_name == "Friends of Hope"


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("TRUE", True), ("yes", True), ("0", False), ("off", False)]
)
def test_from_env_booleans(raw: str, expected: bool) -> None:
    env = {"ALUMNI_COMMUNITY_DEMO": raw, "ALUMNI_COMMUNITY_SECRET_KEY": SECRET}
    assert Settings.from_env(environ=env).demo is expected


def test_from_env_refuses_a_misspelt_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ={"ALUMNI_COMMUNITY_DATABSE_URL": "sqlite://x"})
    assert "ALUMNI_COMMUNITY_DATABSE_URL" in str(caught.value)


@pytest.mark.parametrize(("name", "raw"), [("DEMO", "maybe"), ("MAX_BODY_BYTES", "lots")])
def test_from_env_refuses_unparseable_values(name: str, raw: str) -> None:
    env = {f"ALUMNI_COMMUNITY_{name}": raw, "ALUMNI_COMMUNITY_SECRET_KEY": SECRET}
    with pytest.raises(ConfigurationError, match=name.lower()):
        Settings.from_env(environ=env)


def test_keyword_overrides_win_over_the_environment() -> None:
    env = {"ALUMNI_COMMUNITY_SECRET_KEY": SECRET, "ALUMNI_COMMUNITY_DATABASE_URL": "sqlite://a"}
    assert Settings.from_env(environ=env, database_url="sqlite://b").database_url == "sqlite://b"


def test_settings_are_immutable_and_replace_validates_again() -> None:
    settings = Settings(secret_key=SECRET)
    with pytest.raises(AttributeError):
        settings.demo = True  # type: ignore[misc]
    with pytest.raises(ConfigurationError):
        settings.replace(database_url="oracle://x/y")


def test_a_postgres_url_without_a_host_is_refused_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="host"):
        Settings(secret_key=SECRET, database_url="postgresql:///community")


def test_an_empty_site_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="site_name"):
        Settings(secret_key=SECRET, site_name="  ")


def test_session_and_limit_settings_are_checked() -> None:
    from alumni_community import Limit

    settings = Settings(secret_key=SECRET)
    assert settings.login_limit_per_handle == Limit(5, 1800)
    assert settings.login_limit_per_ip == Limit(20, 600)
    assert settings.session_idle_seconds == 14 * 86400
    assert settings.session_max_seconds == 60 * 86400
    with pytest.raises(ConfigurationError, match="login_limit_per_ip"):
        Settings(secret_key=SECRET, login_limit_per_ip="5/60")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="session_idle_seconds"):
        Settings(secret_key=SECRET, session_idle_seconds=10, session_max_seconds=5)
    with pytest.raises(ConfigurationError, match="password_hash_workers"):
        Settings(secret_key=SECRET, password_hash_workers=0)
    with pytest.raises(ConfigurationError, match="clock"):
        Settings(secret_key=SECRET, clock="now")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Limit(0, 60)


def test_limits_come_from_the_environment_as_count_over_seconds() -> None:
    from alumni_community import Limit

    env = {"ALUMNI_COMMUNITY_SECRET_KEY": SECRET, "ALUMNI_COMMUNITY_LOGIN_LIMIT_PER_IP": "3/60"}
    assert Settings.from_env(environ=env).login_limit_per_ip == Limit(3, 60)
    env["ALUMNI_COMMUNITY_LOGIN_LIMIT_PER_IP"] = "three a minute"
    with pytest.raises(ConfigurationError, match="COUNT/SECONDS"):
        Settings.from_env(environ=env)


def test_callables_cannot_come_from_the_environment() -> None:
    env = {"ALUMNI_COMMUNITY_SECRET_KEY": SECRET, "ALUMNI_COMMUNITY_HOST_IDENTITY": "x"}
    with pytest.raises(ConfigurationError, match="not a setting"):
        Settings.from_env(environ=env)


def test_safety_settings_are_checked() -> None:
    from alumni_community import CrisisResource, TrustRules

    with pytest.raises(ConfigurationError, match="crisis_phrases"):
        Settings(secret_key=SECRET, crisis_phrases="kill myself")
    with pytest.raises(ConfigurationError, match="phone_region"):
        Settings(secret_key=SECRET, phone_region="XX")
    with pytest.raises(ConfigurationError, match="trust"):
        Settings(secret_key=SECRET, trust={"reviewed_posts": 3})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="crisis_resources"):
        Settings(secret_key=SECRET, crisis_resources=["call 988"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="post_interval"):
        TrustRules(post_interval=0)
    local = Settings(
        secret_key=SECRET,
        phone_region="GB",
        crisis_resources=[CrisisResource(name="Samaritans", contact="call 116 123")],
    )
    assert local.crisis_resources[0].name == "Samaritans"


def test_links_are_counted_once_each() -> None:
    from alumni_community.moderation.trust import count_links

    assert count_links("https://www.x.org and www.y.org and http://z.org") == 3
