"""Secrets derived and compared: session tokens, CSRF tokens, recovery codes, host keys.

All pure. Everything keyed uses HMAC-SHA256 with the community's secret key
and a purpose label, so one derived value can never stand in for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from ..requests import small_int

__all__ = [
    "csrf_matches",
    "csrf_token",
    "handle_digest",
    "hash_token",
    "host_key",
    "new_public_id",
    "new_recovery_code",
    "new_session_token",
    "normalize_recovery_code",
    "recovery_code_hash",
]

#: Unambiguous letters and digits (no 0/o, 1/l/i) for codes people copy by hand.
_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
#: 12 characters of a 31-letter alphabet: 59 bits, far beyond guessing at
#: the login throttle's pace, short enough to write on paper.
_CODE_LENGTH = 12


def _keyed(secret_key: str, purpose: str, value: str) -> str:
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def new_session_token() -> str:
    """256 random bits, URL-safe: the cookie's value."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database keeps of a session token (SHA-256: the token is already random)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_public_id() -> str:
    return secrets.token_hex(8)


def csrf_token(secret_key: str, token_hash: str) -> str:
    """The CSRF token bound to one session: useless with any other session."""
    digest = hmac.new(secret_key.encode(), b"csrf\x00" + token_hash.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def csrf_matches(secret_key: str, token_hash: str, offered: str | None) -> bool:
    if not offered:
        return False
    return hmac.compare_digest(csrf_token(secret_key, token_hash), offered)


def host_key(secret_key: str, host_user_id: str) -> str:
    """What we keep of a host user id: finds the member again, reveals nothing by itself."""
    return _keyed(secret_key, "host-user", host_user_id)


def handle_digest(secret_key: str, handle_key: str) -> str:
    """What the login throttle keeps of a handle typed at the login form."""
    return _keyed(secret_key, "login-handle", handle_key)


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_recovery_code(code: str) -> str:
    """Accept codes typed with spaces, without dashes, or in capitals."""
    raw = "".join(ch for ch in code.lower() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == _CODE_LENGTH else raw


def recovery_code_hash(secret_key: str, code: str) -> str:
    return _keyed(secret_key, "recovery-code", normalize_recovery_code(code))


def calendar_key(secret_key: str, member_id: int) -> str:
    """A member's calendar subscription key: calendar apps cannot send our cookie.

    It only unlocks the meeting schedule, which every member may read.
    """
    digest = hmac.new(
        secret_key.encode(), b"calendar\x00" + str(member_id).encode(), hashlib.sha256
    ).hexdigest()[:32]
    return f"{member_id}.{digest}"


def calendar_member(secret_key: str, key: str) -> int | None:
    """The member id a calendar key belongs to, or None."""
    member_id = small_int(key.partition(".")[0])
    if member_id is None:
        return None
    expected = calendar_key(secret_key, member_id)
    return member_id if hmac.compare_digest(expected, key) else None
