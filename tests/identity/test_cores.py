"""Pure cores of identity: handles, password policy, tokens, the rate limiter."""

from __future__ import annotations

import pytest

from alumni_community.identity import handles, tokens
from alumni_community.identity.passwords import PasswordError, check_policy
from alumni_community.ratelimit import MemoryLimiter
from alumni_community.settings import Limit


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Iris", "lris"),
        ("paypal", "p\u0430ypal"),
        ("modern", "rnodern"),
        ("ROSE", "R0SE"),
        ("river_song", "river-song"),
        ("river_song", "riversong"),
        ("Anna", "anna"),
    ],
)
def test_look_alikes_share_a_skeleton(a: str, b: str) -> None:
    assert handles.skeleton(a) == handles.skeleton(b)


@pytest.mark.parametrize(("a", "b"), [("river", "rivers"), ("kim", "tim"), ("anna", "hanna")])
def test_different_handles_have_different_skeletons(a: str, b: str) -> None:
    assert handles.skeleton(a) != handles.skeleton(b)


def test_handles_are_normalized_and_keyed_case_insensitively() -> None:
    assert handles.validate(" \uff32iver ") == "River"  # full-width R, NFKC
    assert handles.key("RIVER") == handles.key("river")
    assert handles.validate("Zoë_42") == "Zoë_42"
    assert handles.validate("Мария") == "Мария"  # one script other than Latin is fine


@pytest.mark.parametrize(
    ("handle", "message"),
    [
        ("ab", "3 to 32"),
        ("a" * 33, "3 to 32"),
        ("a b", "only letters"),
        ("4242", "one letter"),
        ("-ab", "start and end"),
        ("M\u0430ria", "one alphabet"),
        ("a\u200bbc", "only letters"),
    ],
)
def test_bad_handles_say_why(handle: str, message: str) -> None:
    with pytest.raises(handles.HandleError, match=message):
        handles.validate(handle)


def test_password_policy() -> None:
    check_policy("a fine passphrase", handle="river")
    check_policy("x" * 1024, handle="river")
    for password, message in [
        ("short", "at least 8"),
        ("qwerty123", "common"),
        ("RiverStone", "handle"),
        ("x" * 1025, "1024 bytes"),
    ]:
        with pytest.raises(PasswordError, match=message):
            check_policy(password, handle="riverstone")


def test_csrf_tokens_are_bound_to_one_session() -> None:
    secret = "s" * 40
    token = tokens.csrf_token(secret, "session-a")
    assert tokens.csrf_matches(secret, "session-a", token)
    assert not tokens.csrf_matches(secret, "session-b", token)
    assert not tokens.csrf_matches("t" * 40, "session-a", token)
    assert not tokens.csrf_matches(secret, "session-a", None)


def test_host_keys_hide_the_host_id() -> None:
    key = tokens.host_key("s" * 40, "user-42")
    assert "user-42" not in key and len(key) == 64
    assert key == tokens.host_key("s" * 40, "user-42")
    assert key != tokens.host_key("t" * 40, "user-42")


def test_recovery_codes_are_unambiguous_and_forgiving_to_type() -> None:
    code = tokens.new_recovery_code()
    assert len(code) == 14 and code.count("-") == 2
    assert not set(code) & set("01ilo")
    typed = code.upper().replace("-", " ")
    assert tokens.recovery_code_hash("k" * 40, typed) == tokens.recovery_code_hash("k" * 40, code)


def test_the_limiter_slides_and_forgets() -> None:
    limiter = MemoryLimiter(max_keys=2)
    limit = Limit(2, 60)
    assert limiter.retry_after("a", limit, 0) is None
    limiter.hit("a", limit, 0)
    limiter.hit("a", limit, 10)
    assert limiter.retry_after("a", limit, 20) == 40
    assert limiter.retry_after("a", limit, 60) is None  # the event at 0 has slid out
    limiter.hit("b", limit, 0)
    limiter.hit("c", limit, 0)  # over max_keys: the least recently used key is dropped
    limiter.hit("c", limit, 0)
    assert limiter.retry_after("c", limit, 1) is not None
    assert len(limiter._events) <= 2
