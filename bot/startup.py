"""Starting up against a Discord that may fail for a while: logging in and pushing the slash
commands are retried with backoff; only a refused token (401) or refused intents (4014) end
the process. (The slash-command sync, `CiteBot.sync_commands`, retries the same way in the
background, so mentions and DMs are answered while Discord refuses it.)"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import discord

from bot.log import get_logger

log = get_logger(__name__)

T = TypeVar("T")

#: What a retry waits for: doubled from `first` after each failure, never above `most`.
FIRST_DELAY = 1.0
MOST_DELAY = 300.0

#: Failures that may go away: Discord's 5xx and 429s, other refusals an operator can fix
#: while the bot runs, and the network.
RETRIED = (discord.HTTPException, discord.GatewayNotFound, aiohttp.ClientError, OSError,
           asyncio.TimeoutError)


class Backoff:
    """Exponential delays with jitter (many shard processes must not retry in step)."""

    def __init__(self, first: float = FIRST_DELAY, most: float = MOST_DELAY) -> None:
        self.first, self.most = first, most
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.most, self.first * 2 ** self.failures)
        self.failures += 1
        return delay * random.uniform(0.8, 1.0)


def describe(exc: BaseException) -> str:
    """A failure as one log line: Discord's status, error code and error body."""
    if isinstance(exc, discord.HTTPException):
        body = " ".join(exc.text.split())[:1500]
        return f"HTTP {exc.status} (code {exc.code}): {body or exc.response.reason}"
    return f"{type(exc).__name__}: {exc}"


async def retrying(what: str, attempt: Callable[[], Awaitable[T]],
                   backoff: Backoff | None = None,
                   before_retry: Callable[[], Awaitable[None]] | None = None) -> T:
    """`await attempt()` until it succeeds; each failure in `RETRIED` is logged with Discord's
    error body and retried after a backoff. Other exceptions (LoginFailure...) propagate."""
    backoff = backoff or Backoff()
    while True:
        try:
            return await attempt()
        except discord.LoginFailure:
            raise
        except RETRIED as exc:
            cause = exc.__cause__ if isinstance(exc, discord.GatewayNotFound) else exc
            status = cause.status if isinstance(cause, discord.HTTPException) else 0
            delay = backoff.next_delay()
            # a 4xx is a refusal the operator has to look at; the rest is Discord or the net
            level = log.error if 400 <= status < 500 and status != 429 else log.warning
            level("%s failed: %s; retrying in %.0f s", what, describe(cause or exc), delay)
            if before_retry is not None:
                await before_retry()
            await asyncio.sleep(delay)
