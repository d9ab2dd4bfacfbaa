"""A per-user sliding-window limit on questions: in memory per process, or shared by every
process in PostgreSQL (`state_dsn`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from index import Database, StateUnavailable

log = logging.getLogger(__name__)


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

    async def check(self, key: int) -> float:
        """`hit`, from the event loop (in memory: at once)."""
        return self.hit(key)


#: seconds a check waits for a pooled connection: a slash command must be acknowledged
#: within Discord's 3 s, so past this the count is this process's own
_WAIT = 1.0
#: seconds a check waits in all, whatever the network does
_CHECK_SECONDS = 1.5

#: one hit in this many also deletes the rows of askers idle for a whole window
_SWEEP_EVERY = 200

# One statement, atomic across processes (the upsert locks the asker's row): keep the hits
# still in the window and add this one if there is room. The hits come back, oldest first.
_HIT = """
INSERT INTO rate_limits AS r (user_id, hits) VALUES (%(key)s, ARRAY[%(now)s::float8])
ON CONFLICT (user_id) DO UPDATE SET hits =
    ARRAY(SELECT h FROM unnest(r.hits) AS h WHERE h > %(start)s ORDER BY h)
    || CASE WHEN (SELECT count(*) FROM unnest(r.hits) AS h WHERE h > %(start)s) < %(count)s
            THEN ARRAY[%(now)s::float8] ELSE ARRAY[]::float8[] END
RETURNING hits
"""


class SharedRateLimiter(RateLimiter):
    """The same limit, held in the state database (PostgreSQL, `state_dsn`) so that it
    counts a user's questions across every bot process on every machine. Times are wall
    clock (`time.time`), comparable across machines. If the database cannot be reached,
    each process limits on its own until it can (answering matters more)."""

    def __init__(self, count: int, seconds: float, database: Database,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(count, seconds, clock)
        self.database = database
        self._calls = 0

    def hit(self, key: int) -> float:
        now = self._clock()
        try:
            with self.database.transaction(wait=_WAIT) as db:
                # psycopg's own placeholders: this statement is PostgreSQL's alone
                hits = db.conn.execute(_HIT, {"key": key, "now": now, "count": self.count,
                                              "start": now - self.seconds}).fetchone()[0]
                self._calls += 1
                if self._calls % _SWEEP_EVERY == 0:
                    db.conn.execute("DELETE FROM rate_limits WHERE NOT EXISTS (SELECT 1 FROM"
                                    " unnest(hits) AS h WHERE h > %s)", (now - self.seconds,))
        except StateUnavailable as exc:
            log.warning("rate limit counted in this process only: %s", exc)
            return super().hit(key)
        if hits and hits[-1] == now and len(hits) <= self.count:
            return 0.0
        return max(0.0, hits[len(hits) - self.count] + self.seconds - now)

    def forget(self, key: int) -> None:
        # the row itself goes with the user's other rows (`AnswerStore.forget_user`)
        super().forget(key)

    async def check(self, key: int) -> float:
        # a slash command is acknowledged after this check, within Discord's 3 s: a server
        # that does not answer (a network partition: no refusal, connect_timeout runs out)
        # must not hold it, so past `_CHECK_SECONDS` this process counts by itself
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.hit, key), _CHECK_SECONDS)
        except TimeoutError:
            log.warning("rate limit counted in this process only: the state database did "
                        "not answer within %.1f s", _CHECK_SECONDS)
            return super().hit(key)
