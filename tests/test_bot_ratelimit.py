"""The per-user question limit is a sliding window."""

from __future__ import annotations

from bot.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 30, clock=clock)
    assert limiter.hit(1) == 0 and limiter.hit(1) == 0
    clock.now += 10
    assert limiter.hit(1) == 20  # the first hit leaves the window in 20 s
    clock.now += 20  # both early hits have left the window
    assert limiter.hit(1) == 0 and limiter.hit(1) == 0
    assert limiter.hit(1) == 30


def test_refused_questions_do_not_extend_the_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 30, clock=clock)
    limiter.hit(1)
    for _ in range(5):
        clock.now += 5
        limiter.hit(1)
    clock.now += 5
    assert limiter.hit(1) == 0


def test_users_are_limited_separately() -> None:
    limiter = RateLimiter(1, 30, clock=Clock())
    assert limiter.hit(1) == 0 and limiter.hit(2) == 0
    assert limiter.hit(1) > 0
