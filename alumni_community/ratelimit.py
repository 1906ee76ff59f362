"""Sliding-window rate limits kept in memory (pure: the caller passes the time).

Used for what must never be stored, such as client addresses. Each key keeps
the times of its recent events; a key with no events left is dropped, and the
whole table is capped so a flood of distinct keys cannot grow it without end.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque

from .settings import Limit

__all__ = ["MemoryLimiter"]

#: Distinct keys remembered at most. 100,000 keys of a few events each is a
#: few tens of MiB at worst; past it the least recently used key is forgotten.
MAX_KEYS = 100_000


class MemoryLimiter:
    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._max_keys = max_keys

    def retry_after(self, key: str, limit: Limit, now: float) -> int | None:
        """Seconds until ``key`` may act again under ``limit``, or None if it may now."""
        events = self._prune(key, limit, now)
        if events is None or len(events) < limit.count:
            return None
        return max(1, math.ceil(events[0] + limit.seconds - now))

    def hit(self, key: str, limit: Limit, now: float) -> None:
        events = self._prune(key, limit, now)
        if events is None:
            events = self._events[key] = deque()
            if len(self._events) > self._max_keys:
                self._events.popitem(last=False)
        events.append(now)
        self._events.move_to_end(key)

    def unhit(self, key: str, at: float) -> None:
        """Take back one event recorded at ``at`` (an attempt that turned out fine)."""
        events = self._events.get(key)
        if events is not None:
            try:
                events.remove(at)
            except ValueError:
                pass
            if not events:
                del self._events[key]

    def reset(self, key: str) -> None:
        self._events.pop(key, None)

    def _prune(self, key: str, limit: Limit, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - limit.seconds:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events
