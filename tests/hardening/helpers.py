"""Small helpers shared by the hardening campaign."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import Running


@contextmanager
def index_thread_held(run: Running) -> Iterator[None]:
    """Keep the bot's index thread busy (as a slow answer would) until the block ends, so a
    question asked inside the block is still in flight when a fault is injected."""
    gate = threading.Event()
    held = run.bot.index_thread.submit(gate.wait, 30)
    try:
        yield
    finally:
        gate.set()
        held.result(5)


def forget_expected_errors(run: Running, *needles: str) -> list[str]:
    """Take the ERROR log lines a test provoked on purpose (each must contain one of
    `needles`) out of the fixture's check; returns them."""
    taken = [r for r in run.errors.records
             if any(n in r.getMessage() or n in str(r.exc_info) for n in needles)]
    run.errors.records[:] = [r for r in run.errors.records if r not in taken]
    return [r.getMessage() for r in taken]
