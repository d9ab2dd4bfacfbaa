"""A per-user sliding-window limit on questions."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """Allows each key at most `count` hits in any `seconds`-long window."""

    def __init__(self, count: int, seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.count = count
        self.seconds = seconds
        self._clock = clock
        self._hits: dict[int, deque[float]] = {}

    def hit(self, key: int) -> float:
        """Record a hit for `key` and return 0.0; when over the limit, record nothing and
        return how many seconds until the next hit would be allowed."""
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= self.seconds:
            hits.popleft()
        if len(hits) >= self.count:
            return max(0.0, hits[0] + self.seconds - now)
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle users so the table cannot grow forever
            self._forget_idle(now)
        return 0.0

    def forget(self, key: int) -> None:
        """Drop everything recorded for `key` (`/forget`)."""
        self._hits.pop(key, None)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or now - v[-1] >= self.seconds]:
            del self._hits[key]
