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
    except IndexError_ as exc:
        # Exiting would only get the bot restarted into the same error: it starts anyway,
        # tells whoever asks what is wrong, and an admin can repair it with /reindex.
        log.error("starting without an index: %s", exc)
        index = None
    return asyncio.run(_run(settings, core, token, index))


async def _run(settings: BotSettings, core: IndexSettings, token: str,
               index: Index | None) -> int:
    import discord

    from bot import create_bot

    bot = create_bot(settings, core, index=index)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not available on Windows
            loop.add_signal_handler(signum, lambda: asyncio.ensure_future(bot.close()))
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        log.error("Discord refused the token (check DISCORD_TOKEN / CITEBOT_TOKEN_FILE)")
        return REFUSED_BY_DISCORD
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the message-content intent: enable it for the bot in the "
                  "developer portal, or set CITEBOT_MESSAGE_CONTENT_INTENT=false")
        return REFUSED_BY_DISCORD
    return 0


if __name__ == "__main__":
    sys.exit(main())
