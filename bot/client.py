"""The bot object: a `commands.Bot` that owns the open index, the worker thread that queries
it, the answer store, the rate limiter and the reindex state. Commands live in `bot.exts`."""

from __future__ import annotations

import asyncio
import statistics
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import discord
import yarl
from discord.ext import commands

from bot.log import get_logger
from bot.ratelimit import RateLimiter
from bot.settings import BotSettings
from bot.store import AnswerStore
from index import (
    SHARED,
    Answer,
    ArticleInfo,
    BuildInProgress,
    BuildProgress,
    BuildReport,
    IndexDamaged,
    IndexNotFound,
    IndexSettings,
)

if TYPE_CHECKING:
    from index import Index

log = get_logger(__name__)

T = TypeVar("T")

SORRY = "Sorry — something went wrong while answering. It has been logged."

#: Nobody is ever pinged by the bot: not @everyone, not roles, not users, not the asker.
NO_MENTIONS = discord.AllowedMentions.none()

EXTENSIONS = (
    "bot.exts.ask",
    "bot.exts.context",
    "bot.exts.feedback",
    "bot.exts.followup",
    "bot.exts.sources",
    "bot.exts.reindex",
    "bot.exts.info",
)


class NoIndex(Exception):
    """No index is open yet (none was built, or it is damaged); the message says what to do."""


@dataclass(frozen=True)
class Stats:
    questions: int
    median_seconds: float | None


class CiteBot(commands.Bot):
    """citebot on Discord. Create it with `bot.create_bot(settings)`."""

    def __init__(self, settings: BotSettings, index_settings: IndexSettings,
                 index: Index | None = None, **options: Any) -> None:
        # Only what the bot uses: servers, and messages in them and in DMs.
        intents = discord.Intents(guilds=True, guild_messages=True, dm_messages=True,
                                  message_content=settings.message_content_intent)
        super().__init__(command_prefix=_prefix, intents=intents, help_command=None,
                         allowed_mentions=NO_MENTIONS, **options)
        self.settings = settings
        self.index_settings = index_settings
        self.index: Index | None = index
        self.index_problem = "" if index else "The index has not been opened yet."
        # One thread runs every index call, so the event loop (and the gateway heartbeat)
        # never waits on embedding or search, and questions are answered in arrival order.
        self.index_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citebot-index")
        self.limiter = RateLimiter(settings.rate_limit_count, settings.rate_limit_seconds)
        db = (Path(settings.feedback_db).expanduser() if settings.feedback_db
              else index_settings.data_dir / "bot.sqlite3")
        self.store = AnswerStore(db)
        self.reindexing = False
        self._answered = 0
        self._durations: deque[float] = deque(maxlen=1000)

    # -- start-up ------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        self.tree.error(self.on_app_command_error)
        if self.index is None:
            await self.reopen_index()
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if not self.settings.message_content_intent:
            log.info("prefix commands (%sask) are off in servers: the message-content intent "
                     "is disabled (CITEBOT_MESSAGE_CONTENT_INTENT=false); mentions, DMs and "
                     "slash commands still work", self.settings.command_prefix)
        if self.settings.sync_commands:
            if self.settings.guild_id:
                guild = discord.Object(self.settings.guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
            log.info("synced %d slash commands", len(synced))

    async def on_ready(self) -> None:
        log.info("connected as %s (id %s) to %d servers", self.user,
                 self.user.id if self.user else "?", len(self.guilds))

    async def on_app_command_error(self, interaction: discord.Interaction,
                                   error: discord.app_commands.AppCommandError) -> None:
        """Log a failed command and tell its user, instead of leaving them "thinking"."""
        log.error("/%s failed", interaction.command.qualified_name if interaction.command
                  else "?", exc_info=error)
        text = SORRY
        if self.is_closed():
            return
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True,
                                                allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(text, ephemeral=True,
                                                        allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            pass

    async def on_command_error(self, context: commands.Context[Any],
                               exception: commands.CommandError) -> None:
        """Unknown prefix commands are ignored (they may be for another bot); others logged."""
        if isinstance(exception, commands.CommandNotFound):
            return
        log.error("%s failed", context.message.content[:40], exc_info=exception)

    async def on_message(self, message: discord.Message) -> None:
        """Messages are routed by `bot.exts.ask` (questions, mentions, DMs, prefix commands)."""

    async def close(self) -> None:
        await super().close()
        self.index_thread.shutdown(wait=False, cancel_futures=True)

    # -- the index -----------------------------------------------------------------------

    async def in_index_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the index thread and wait for it without blocking the loop."""
        return await asyncio.get_running_loop().run_in_executor(self.index_thread, fn, *args)

    async def reopen_index(self) -> bool:
        """Open the current index version and start answering from it; False (and
        `index_problem` set) if there is no usable index."""
        from index import Index

        try:
            fresh = await asyncio.to_thread(Index.open, self.index_settings)
        except IndexNotFound as exc:
            self.index_problem = (f"No articles are indexed yet — an admin can run "
                                  f"`/reindex`. ({exc})")
            log.warning("no index to answer from: %s", exc)
            return False
        except IndexDamaged as exc:
            self.index_problem = (f"The index cannot be used: {exc}. An admin can run "
                                  "`/reindex` to rebuild it.")
            log.error("no index to answer from: %s", exc)
            return False
        self.index, self.index_problem = fresh, ""
        log.info("answering from index version %s (%d articles, %d sentences)",
                 fresh.version, fresh.article_count, fresh.sentence_count)
        return True

    def require_index(self) -> Index:
        if self.index is None:
            raise NoIndex(self.index_problem)
        return self.index

    @staticmethod
    def collections_for(guild_id: int | None) -> set[str]:
        """The collections visible where a question was asked: the shared articles, plus the
        server's own ones in a server."""
        return {SHARED} if guild_id is None else {SHARED, str(guild_id)}

    def collection_for_new_article(self, guild_id: int | None) -> str:
        """Where `/source add` stores an article added from `guild_id`."""
        if self.settings.per_server_collections and guild_id is not None:
            return str(guild_id)
        return SHARED

    async def answer(self, question: str, guild_id: int | None, source: str | None = None,
                     context: tuple[Answer, ...] = ()) -> Answer:
        """The index's answer to `question` as seen from `guild_id`, optionally only from the
        article `source` (a doc id), read as a possible follow-up of the answers in
        `context` (oldest first); measured for `/stats`."""
        index = self.require_index()
        k = self.index_settings.max_citations
        collections = self.collections_for(guild_id)
        loop = asyncio.get_running_loop()
        started = loop.time()
        if source:
            result = await self.in_index_thread(_answer_from, index, question, k, collections,
                                                source, context)
        else:
            result = await self.in_index_thread(_answer, index, question, k, collections,
                                                context)
        self._answered += 1
        self._durations.append(loop.time() - started)
        return result

    async def sources(self, guild_id: int | None) -> list[ArticleInfo]:
        index = self.require_index()
        return await self.in_index_thread(index.sources, self.collections_for(guild_id))

    def stats(self) -> Stats:
        median = statistics.median(self._durations) if self._durations else None
        return Stats(self._answered, median)

    def show_closest(self, answer: Answer) -> bool:
        """Whether an abstention is close enough to the threshold to show its best sentence."""
        threshold = self.index_settings.abstain_threshold
        return answer.closest is not None and (
            answer.confidence >= threshold - self.settings.closest_margin)

    # -- reindexing ---------------------------------------------------------------------

    async def reindex(self, on_progress: Callable[[BuildProgress], Awaitable[None]]
                      ) -> BuildReport:
        """Rebuild the index from the configured sources in a worker thread, then switch to
        it; questions are answered from the old index until the switch. `on_progress` gets
        the latest build progress at most every `progress_interval` seconds.

        Raises BuildInProgress if a reindex is already running (here or in another process).
        """
        if self.reindexing:
            raise BuildInProgress("A reindex is already running.")
        self.reindexing = True
        try:
            loop = asyncio.get_running_loop()
            latest: list[BuildProgress] = []

            def progress(p: BuildProgress) -> None:  # called on the build thread
                loop.call_soon_threadsafe(latest.append, p)

            build = asyncio.ensure_future(asyncio.to_thread(self.build_and_open, progress))
            shown: BuildProgress | None = None
            while not build.done():
                await asyncio.wait({build}, timeout=self.settings.progress_interval)
                if latest and latest[-1] != shown and not build.done():
                    shown = latest[-1]
                    try:
                        await on_progress(shown)
                    except discord.HTTPException:
                        log.warning("could not show reindex progress", exc_info=True)
            report, fresh = build.result()
            self.index, self.index_problem = fresh, ""
            log.info("reindexed: version %s, %d articles, %d sentences (%d embedded, %d "
                     "reused) in %.1f s", report.version, report.articles, report.sentences,
                     report.embedded_articles, report.reused_articles, report.seconds)
            return report
        finally:
            self.reindexing = False

    def build_and_open(self, progress: Callable[[BuildProgress], None]
                       ) -> tuple[BuildReport, Index]:
        """Blocking: build a new index version and open it (runs on a worker thread)."""
        from index import Index, build

        report = build(self.index_settings, progress)
        current = self.index
        if report.unchanged and current is not None and current.version == report.version:
            return report, current  # nothing new to open
        return report, Index.open(self.index_settings)

    # -- who may do what -----------------------------------------------------------------

    def is_admin(self, user: discord.abc.User, permissions: discord.Permissions | None) -> bool:
        """Manage Server in the current server, or listed in `admin_user_ids`/`admin_role_ids`."""
        if user.id in self.settings.admin_user_ids:
            return True
        if isinstance(user, discord.Member):
            if permissions is not None and (permissions.manage_guild or permissions.administrator):
                return True
            return any(role.id in self.settings.admin_role_ids for role in user.roles)
        return False


def _answer(index: Index, question: str, k: int, collections: Collection[str],
            context: tuple[Answer, ...] = ()) -> Answer:
    return index.answer(question, k=k, collections=collections, context=context)


def _answer_from(index: Index, question: str, k: int, collections: Collection[str],
                 doc_id: str, context: tuple[Answer, ...] = ()) -> Answer:
    """The answer quoting only the article `doc_id` (an abstention if it is not visible in
    `collections`)."""
    return index.answer(question, k=k, collections=collections, doc_ids={doc_id},
                        context=context)


def _prefix(bot: commands.Bot, message: discord.Message) -> list[str]:
    # In servers, message text only arrives with the message-content intent.
    assert isinstance(bot, CiteBot)
    if message.guild is None or bot.settings.message_content_intent:
        return [bot.settings.command_prefix]
    return []


def point_at(settings: BotSettings) -> None:
    """Send all REST and gateway traffic of this process to `settings.api_base` and
    `settings.gateway_url` (discord.py keeps both process-wide)."""
    discord.http.Route.BASE = settings.api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)
