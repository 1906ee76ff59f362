"""The hashing pool: argon2id off the event loop, yielding the CPU to everything else."""

from __future__ import annotations

import os
import threading

import pytest

from alumni_community.identity.passwords import Hasher

pytestmark = pytest.mark.anyio


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
async def test_hashes_run_in_idle_priority_threads_off_the_event_loop() -> None:
    """Chat stays prompt during a login storm only if hash threads never outrank the loop."""
    hasher = Hasher(2, memory_kib=64, passes=1)
    try:
        seen: list[tuple[int, str]] = []

        def where() -> str:
            seen.append((os.sched_getscheduler(0), threading.current_thread().name))
            return "x"

        await hasher._run(where)
        ((policy, name),) = seen
        assert policy == os.SCHED_IDLE
        assert name.startswith("ac-argon2") and name != threading.current_thread().name
        # The loop's own thread is left as it was.
        assert os.sched_getscheduler(0) != os.SCHED_IDLE
        stored = await hasher.hash("a long enough passphrase")
        assert await hasher.verify(stored, "a long enough passphrase")
        assert not await hasher.verify(stored, "another long passphrase")
    finally:
        hasher.close()
