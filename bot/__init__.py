"""citebot on Discord: ask by slash command, mention, prefix or DM; admins reindex.

    from bot import create_bot, bot_settings
    bot = create_bot(bot_settings())          # BotSettings; IndexSettings from the environment
    await bot.start(token)

See `docs/BOT.md`. discord.py is imported only when a bot is created, so `python -m bot`
without a token (the terminal chat) starts quickly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.settings import BotSettings, bot_settings, read_token

if TYPE_CHECKING:
    from bot.client import CiteBot
    from index import Index, IndexSettings


def create_bot(settings: BotSettings, index_settings: IndexSettings | None = None, *,
               index: Index | None = None, **client_options: Any) -> CiteBot:
    """A ready-to-start bot.

    `index_settings` defaults to `index.index_settings()` (the `CITEBOT_*` environment and
    the top level of `citebot.toml`). `index` is an already open `Index` to answer from;
    without one the bot opens the current index version when it starts (and, if none was
    built yet, answers "no index" until an admin runs `/reindex`). `client_options` go to
    `discord.ext.commands.Bot` (for example `guild_ready_timeout`).

    Side effect: discord.py's REST base and gateway URL are process-wide, so this points the
    whole process at `settings.api_base` and `settings.gateway_url`.
    """
    from bot.client import CiteBot, point_at
    from index import index_settings as load_index_settings

    point_at(settings)
    return CiteBot(settings, index_settings or load_index_settings(), index, **client_options)


__all__ = ["BotSettings", "bot_settings", "create_bot", "read_token"]
