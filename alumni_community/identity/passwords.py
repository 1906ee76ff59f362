"""Passwords: the policy (pure) and argon2id hashing (off the event loop).

Policy, after OWASP ASVS 5.0 (V6.2): at least 8 characters, at least 64
allowed (we take up to 1024 bytes), no composition rules, not one of the
30,000 most common passwords (the ranked list zxcvbn ships), and not the
member's own handle.

Hashing is argon2id with argon2-cffi's defaults (RFC 9106's low-memory
profile: 64 MiB, 3 passes, 4 lanes). Each hash holds 64 MiB and about
0.16 s of CPU, spread over up to 4 lane threads, so hashes run in a small
thread pool of their own: a login storm queues there instead of starving
the host's default executor.

Being off the event loop is not enough: two workers of 4 lanes fill two
cores, and the event loop's thread then waits for a CPU behind them (chat's
p99 rose 10x on two cores while 50 sign-ins hashed: docs/performance.md,
"Login storm"). On Linux the pool's threads (and the lane threads they
start, which inherit it) run under ``SCHED_IDLE``: any other thread that
wakes takes the CPU from a hash at once. Hashes still get the idle time,
which is nearly all of it on a web server; a host whose CPUs are busy all
the time would see sign-ins slow down rather than everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["MAX_BYTES", "MIN_LENGTH", "Hasher", "PasswordError", "check_policy"]

MIN_LENGTH = 8
#: Far above any passphrase; refusing more stops a megabyte "password" from
#: costing a hash's worth of work on every attempt.
MAX_BYTES = 1024


class PasswordError(ValueError):
    """Why a password is refused; the message is shown to its owner."""


@functools.cache
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_policy(password: str, *, handle: str) -> None:
    """Raise ``PasswordError`` when the password may not be used."""
    if len(password.encode("utf-8")) > MAX_BYTES:
        raise PasswordError(f"must be at most {MAX_BYTES} bytes long")
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"must be at least {MIN_LENGTH} characters long")
    if password.casefold() == handle.casefold():
        raise PasswordError("must not be your handle")
    if password.lower() in _common():
        raise PasswordError("is one of the most common passwords; choose a less guessable one")


def _yield_to_everything_else() -> None:
    """Run this thread (and threads it starts) only when no other thread wants the CPU."""
    policy = getattr(os, "SCHED_IDLE", None)
    if policy is None:  # not Linux
        return
    with contextlib.suppress(OSError):  # lowering one's own priority needs no privilege
        os.sched_setscheduler(0, policy, os.sched_param(0))


class Hasher:
    """argon2id hashing and verification in a bounded pool of worker threads."""

    def __init__(self, workers: int, *, memory_kib: int = 65_536, passes: int = 3) -> None:
        # Parallelism 4 needs 8 KiB per lane at least; fewer lanes for tiny test costs.
        self._hasher = PasswordHasher(
            time_cost=passes, memory_cost=memory_kib, parallelism=min(4, memory_kib // 16)
        )
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._dummy: str | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self._workers,
                thread_name_prefix="ac-argon2",
                initializer=_yield_to_everything_else,
            )
        return self._pool

    async def _run(self, func: object, *args: str) -> object:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), func, *args)  # type: ignore[arg-type]

    async def hash(self, password: str) -> str:
        result = await self._run(self._hasher.hash, password)
        assert isinstance(result, str)
        return result

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``.

        With ``stored=None`` (no such member) a dummy hash is verified, so an
        unknown handle costs the same time as a wrong password.
        """
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            await self._run(self._verify_quietly, self._dummy, password)
            return False
        return bool(await self._run(self._verify_quietly, stored, password))

    def _verify_quietly(self, stored: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(stored, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return bool(self._hasher.check_needs_rehash(stored))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
