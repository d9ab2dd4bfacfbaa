"""`python -m bot` / `citebot`: the Discord bot when a token is configured (`DISCORD_TOKEN`
or `CITEBOT_TOKEN_FILE`), else the terminal chat of the core.

Exit status: 0 after a stop (SIGTERM/SIGINT), 2 for unusable settings, 3 when Discord
refused the token or the intents (restarting cannot help: `deploy/citebot.service` does not),
1 for anything else (a crash: a supervisor restarts it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading

from bot.log import get_logger
from bot.settings import BotSettings, bot_settings, read_token
from index import Index, IndexError_, IndexSettings, SettingsError, index_settings

log = get_logger("bot")

#: Exit statuses a supervisor should not restart on (see deploy/citebot.service).
BAD_SETTINGS = 2
REFUSED_BY_DISCORD = 3


def main() -> int:
    try:
        settings = bot_settings()
        core = index_settings()
        token = read_token(settings)
    except SettingsError as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return BAD_SETTINGS
    # the bot logs what it does; the terminal chat only warnings, so answers stay readable
    default_level = "INFO" if token is not None else "WARNING"
    logging.basicConfig(level=os.environ.get("CITEBOT_LOG_LEVEL", default_level).upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from index.cli.main import chat_loop, open_index

    if token is None:
        try:
            chat_loop(core)
        except IndexError_ as exc:
            print(f"citebot: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        # a first start builds the configured sources (the bundled article by default),
        # so the bot can answer at once
        index: Index | None = open_index(core, build_if_missing=True)
    except SettingsError as exc:  # found by the first build: an unreadable password file
        log.error("cannot start: %s", exc)
        return BAD_SETTINGS
    except IndexError_ as exc:
        # Exiting would only get the bot restarted into the same error: it starts anyway,
        # tells whoever asks what is wrong, and an admin can repair it with /reindex.
        log.error("starting without an index: %s", exc)
        index = None
    return asyncio.run(_run(settings, core, token, index))


#: after SIGTERM/SIGINT: the graceful close may take this long (gateway, HTTP session) ...
CLOSE_SECONDS = 2.5
#: ... and the process ends this long after the signal whatever is still running (a reindex
#: on a worker thread, discord.py retrying a handshake): the systemd unit expects 5 s
EXIT_SECONDS = 4.5


async def _run(settings: BotSettings, core: IndexSettings, token: str,
               index: Index | None) -> int:
    import discord

    from bot import create_bot

    try:
        bot = create_bot(settings, core, index=index)
    except SettingsError as exc:  # e.g. an unreadable state_password_file: not restarted
        log.error("cannot start: %s", exc)
        return BAD_SETTINGS
    except IndexError_ as exc:  # the state database is unreachable: restarted, retried
        log.error("cannot start: %s", exc)
        return 1
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not available on Windows
            loop.add_signal_handler(signum, stop.set)
    running = asyncio.create_task(bot.start(token))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not running.done():
        # bot.close() alone does not stop discord.py retrying a failing handshake or
        # sleeping in a reconnect backoff: the task that runs them is cancelled too
        _exit_soon(EXIT_SECONDS)
        log.info("stopping")
        try:
            await asyncio.wait_for(bot.close(), CLOSE_SECONDS)
        except Exception as exc:  # TimeoutError, or a close that failed: stop anyway
            log.warning("closing the connection to Discord did not finish (%s); stopping "
                        "anyway", type(exc).__name__)
        running.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(running, 1.0)
        return 0
    try:
        running.result()
    except discord.LoginFailure:
        log.error("Discord refused the token (check DISCORD_TOKEN / CITEBOT_TOKEN_FILE)")
        return REFUSED_BY_DISCORD
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the message-content intent: enable it for the bot in the "
                  "developer portal, or set CITEBOT_MESSAGE_CONTENT_INTENT=false")
        return REFUSED_BY_DISCORD
    finally:
        if not bot.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bot.close(), CLOSE_SECONDS)
    return 0


def _exit_soon(seconds: float) -> None:
    """End the process `seconds` from now unless it has ended by then: Python waits for
    worker threads (a reindex) when it exits, for as long as they run."""
    def force() -> None:
        log.warning("still stopping %.1f s after the signal (a reindex or a feed check on a "
                    "worker thread?); exiting now", seconds)
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(seconds, force)
    timer.daemon = True
    timer.start()


if __name__ == "__main__":
    sys.exit(main())
