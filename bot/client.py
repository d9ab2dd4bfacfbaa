"""The bot object: a `commands.Bot` that owns the open index, the worker thread that queries
it, the answer store, the rate limiter and the reindex state. Commands live in `bot.exts`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import discord
import yarl
from discord.ext import commands

from bot import render
from bot.log import get_logger
from bot.metrics import Metrics
from bot.ratelimit import RateLimiter, SharedRateLimiter
from bot.settings import BotSettings
from bot.startup import retrying
from bot.store import AnswerChannel, open_store
from index import (
    SHARED,
    Answer,
    ArticleInfo,
    BuildInProgress,
    BuildProgress,
    BuildReport,
    DateNotUnderstood,
    IndexDamaged,
    IndexNotFound,
    IndexSettings,
    StateUnavailable,
    Timeline,
)

if TYPE_CHECKING:
    from index import Index

log = get_logger(__name__)


def _lenient_gateway_json() -> None:
    """discord.py decodes gateway events with orjson when it is installed (pymilvus, for the
    Milvus backend, installs it), and orjson refuses a lone surrogate escape ("\\ud800")
    that Python's json reads: such a message was dropped without a word. Events that orjson
    refuses are decoded by the standard library instead; the others keep orjson's speed."""
    fast = discord.utils._from_json
    if getattr(fast, "_citebot_lenient", False):
        return

    def loads(data: Any) -> Any:
        try:
            return fast(data)
        except ValueError:  # orjson.JSONDecodeError is a ValueError
            return json.loads(data)

    loads._citebot_lenient = True  # type: ignore[attr-defined]
    discord.utils._from_json = loads


_lenient_gateway_json()

T = TypeVar("T")

SORRY = "Sorry — something went wrong while answering. It has been logged."
STATE_DOWN = ("Sorry — my memory (the state database) cannot be reached just now; please try "
              "again in a moment.")

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
    "bot.exts.feeds",
    "bot.exts.answers",
    "bot.exts.timeline",
    "bot.exts.privacy",
)


class NoIndex(Exception):
    """No index is open yet (none was built, or it is damaged); the message says what to do."""


@dataclass(frozen=True)
class Stats:
    questions: int
    median_seconds: float | None


class CiteBot(commands.AutoShardedBot):
    """citebot on Discord. Create it with `bot.create_bot(settings)`.

    Sharded as Discord recommends (one shard below 2,500 servers) unless `shard_count` is
    set; `shard_ids` picks the shards this process runs when several processes split them.
    """

    def __init__(self, settings: BotSettings, index_settings: IndexSettings,
                 index: Index | None = None, **options: Any) -> None:
        # Only what the bot uses: servers, and messages in them and in DMs.
        intents = discord.Intents(guilds=True, guild_messages=True, dm_messages=True,
                                  message_content=settings.message_content_intent)
        options.setdefault("shard_count", settings.shard_count or None)
        options.setdefault("shard_ids", list(settings.shard_ids) or None)
        super().__init__(command_prefix=_prefix, intents=intents, help_command=None,
                         allowed_mentions=NO_MENTIONS, **options)
        self.settings = settings
        self.index_settings = index_settings
        self.index: Index | None = index
        self.index_problem = "" if index else "The index has not been opened yet."
        # One thread runs every index call, so the event loop (and the gateway heartbeat)
        # never waits on embedding or search, and questions are answered in arrival order.
        self.index_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citebot-index")
        db = (Path(settings.feedback_db).expanduser() if settings.feedback_db
              else index_settings.data_dir / "bot.sqlite3")
        # the SQLite file, or with `state_dsn` the PostgreSQL database every process shares
        self.store = open_store(index_settings, db)
        self.limiter = (RateLimiter(settings.rate_limit_count, settings.rate_limit_seconds)
                        if self.store.database.dialect == "sqlite" else
                        SharedRateLimiter(settings.rate_limit_count,
                                          settings.rate_limit_seconds, self.store.database))
        self.reindexing = False
        self.metrics = Metrics(lambda: self.latency)
        if index is not None:
            self.metrics.index_opened(index)
        self.commands_synced = False
        self._sync_task: asyncio.Task[None] | None = None
        self.answer_channels: dict[int, AnswerChannel] = {}
        """Channels and forums where every question is answered (`bot.exts.answers`)."""
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        """What time it is for questions about time ("yesterday"); tests fix it."""
        self._guard_parsers()
        # the CURRENT pointer seen last: another process may switch versions
        self._seen_current: str | None = index.version if index else None

    # -- start-up ------------------------------------------------------------------------

    async def login(self, token: str) -> None:
        """Log in; Discord's 5xx, 429 and other refusals and network failures are logged
        and retried with backoff. Only a refused token raises (LoginFailure)."""
        if self.settings.metrics_port and not self.metrics.serving:
            try:
                self.metrics.serve(self.settings.metrics_port)
            except OSError as exc:  # answering matters more than metrics: go on without
                log.error("no metrics: cannot listen on 127.0.0.1:%d (%s)",
                          self.settings.metrics_port, exc.strerror or exc)
        login = super().login

        async def forget_session() -> None:  # the next attempt opens a fresh HTTP session
            await self.http.close()
            self.http.connector = discord.utils.MISSING

        await retrying("logging in to Discord", lambda: login(token),
                       before_retry=forget_session)
        if self.shard_count is None:
            # asked here rather than when connecting, so that a failure is retried too
            self.shard_count = await retrying("asking Discord for the shard count",
                                              self._recommended_shards)

    async def _recommended_shards(self) -> int:
        try:
            count, _url, _limits = await self.http.get_bot_gateway()
        except discord.GatewayNotFound as exc:
            if not isinstance(exc.__cause__, discord.NotFound):
                raise
            # a Discord-compatible server without GET /gateway/bot: one shard, as before
            log.warning("the API has no /gateway/bot; connecting as one shard (set "
                        "shard_count to shard)")
            return 1
        log.info("Discord recommends %d shard%s", count, "" if count == 1 else "s")
        return int(count)

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
            # in the background: mentions and DMs are answered while Discord refuses it
            self._sync_task = asyncio.create_task(self.sync_commands())

    async def sync_commands(self) -> None:
        """Push the slash commands (to `guild_id` or globally) until Discord accepts them."""
        guild_id = self.settings.guild_id

        async def attempt() -> int:
            if guild_id:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                return len(await self.tree.sync(guild=guild))
            return len(await self.tree.sync())

        try:
            synced = await retrying("syncing the slash commands", attempt)
        except Exception:  # a bug, not Discord: logged here, as nobody awaits this task
            self.metrics.errors.labels("sync").inc()
            log.exception("syncing the slash commands failed; they keep their previous "
                          "definitions")
            return
        self.commands_synced = True
        log.info("synced %d slash commands", synced)

    async def on_ready(self) -> None:
        shards = "" if not self.shard_ids else f" (shards {', '.join(map(str, self.shard_ids))}"\
            f" of {self.shard_count})"
        log.info("connected as %s (id %s) to %d servers%s", self.user,
                 self.user.id if self.user else "?", len(self.guilds), shards)

    def _guard_parsers(self) -> None:
        """A malformed gateway event is logged and dropped, the connection kept: discord.py's
        parsers raise on some (a DM carrying `guild_id: null`, a component interaction whose
        message has `thread: null`), and nothing above them catches it, so one such event
        ended the connection and the process. (`_connection.parsers` is the table the
        websocket dispatches events through.)"""
        parsers = self._connection.parsers
        for event, parse in list(parsers.items()):
            parsers[event] = self._guarded(event, parse)

    def _guarded(self, event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
        def guarded(data: Any) -> None:
            try:
                parse(data)
            except Exception as exc:
                self.metrics.errors.labels("gateway").inc()
                # ids and field names only: the payload may hold what people wrote
                ids = {k: data.get(k) for k in ("id", "guild_id", "channel_id", "type")
                       if isinstance(data, dict) and k in data}
                log.error("dropped a malformed %s event from the gateway (%s: %s); %s, "
                          "fields %s", event, type(exc).__name__, exc, ids,
                          sorted(data) if isinstance(data, dict) else type(data).__name__)

        return guarded

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        self.metrics.errors.labels("event").inc()
        await super().on_error(event_method, *args, **kwargs)

    async def on_app_command_error(self, interaction: discord.Interaction,
                                   error: discord.app_commands.AppCommandError) -> None:
        """Log a failed command and tell its user, instead of leaving them "thinking"."""
        self.metrics.errors.labels("slash").inc()
        name = interaction.command.qualified_name if interaction.command else "?"
        cause = getattr(error, "original", error)
        if isinstance(cause, StateUnavailable):  # PostgreSQL (state_dsn) is down: it passes
            log.error("/%s failed: %s", name, cause)
            if not self.is_closed():
                await say_sorry(interaction, STATE_DOWN)
            return
        log.error("/%s failed", name, exc_info=error)
        if not self.is_closed():
            await say_sorry(interaction)

    async def on_command_error(self, context: commands.Context[Any],
                               exception: commands.CommandError) -> None:
        """Unknown prefix commands are ignored (they may be for another bot); others logged."""
        if isinstance(exception, commands.CommandNotFound):
            return
        self.metrics.errors.labels("prefix").inc()
        log.error("%s failed", context.message.content[:40], exc_info=exception)

    async def on_message(self, message: discord.Message) -> None:
        """Messages are routed by `bot.exts.ask` (questions, mentions, DMs, prefix commands)."""

    async def close(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
        await super().close()
        self.metrics.stop()
        self.index_thread.shutdown(wait=False, cancel_futures=True)

    # -- the index -----------------------------------------------------------------------

    async def in_index_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the index thread and wait for it without blocking the loop."""
        return await asyncio.get_running_loop().run_in_executor(self.index_thread, fn, *args)

    async def reopen_index(self) -> bool:
        """Open the current index version and start answering from it; False (and
        `index_problem` set) if there is no usable index."""
        from index import Index, current_version_name

        # what is tried now is not retried at the next question unless CURRENT changes
        self._seen_current = current_version_name(self.index_settings.data_dir)
        try:
            fresh = await asyncio.to_thread(Index.open, self.index_settings)
        except IndexNotFound as exc:
            self.index_problem = (f"No articles are indexed yet — an admin can run "
                                  f"`/reindex`. ({render.escape(str(exc))})")
            log.warning("no index to answer from: %s", exc)
            return False
        except IndexDamaged as exc:
            self.index_problem = (f"The index cannot be used: {render.escape(str(exc))}. An "
                                  "admin can run `/reindex` to rebuild it.")
            log.error("no index to answer from: %s", exc)
            return False
        self.use_index(fresh)
        log.info("answering from index version %s (%d articles, %d sentences)",
                 fresh.version, fresh.article_count, fresh.sentence_count)
        return True

    def use_index(self, fresh: Index) -> None:
        """Answer from `fresh` from now on."""
        self.index, self.index_problem = fresh, ""
        self.metrics.index_opened(fresh)

    async def follow_current_version(self) -> None:
        """Switch to the version CURRENT names if another process (another shard's
        `/reindex`, `citebot-index build`) switched it. Checked before every question: one
        read of a small file (about 20 µs), so no answer comes from a replaced version."""
        if self.reindexing:
            return
        from index import current_version_name

        # read here, not on the index thread: there it would queue behind every question
        # already waiting, doubling their wait under load
        name = current_version_name(self.index_settings.data_dir)
        if name is None or name == self._seen_current:
            return
        self._seen_current = name
        log.info("the index was switched to version %s by another process; reopening", name)
        from index import Index

        try:
            # on a thread of its own: questions asked meanwhile are answered from the old
            # version instead of waiting (this one waits: it gets the new version)
            fresh = await asyncio.to_thread(Index.open, self.index_settings)
        except (IndexNotFound, IndexDamaged) as exc:
            log.error("could not open index version %s: %s; still answering from %s", name,
                      exc, self.index.version if self.index else "no index")
            return
        if not self.reindexing:
            self.use_index(fresh)

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
                     context: tuple[Answer, ...] = (), since: str | None = None,
                     until: str | None = None) -> Answer:
        """The index's answer to `question` as seen from `guild_id`, optionally only from the
        article `source` (a doc id), read as a possible follow-up of the answers in
        `context` (oldest first), from articles published `since`/`until` (or when the
        question says); measured for `/stats`. Raises DateNotUnderstood for a bad date."""
        started = time.monotonic()
        await self.follow_current_version()
        index = self.require_index()
        k = self.index_settings.max_citations
        collections = self.collections_for(guild_id)
        now = self.clock()
        result = await self.in_index_thread(
            lambda: index.answer(question, k=k, collections=collections,
                                 doc_ids={source} if source else None, context=context,
                                 since=since, until=until, now=now))
        self.metrics.answer_seconds.observe(time.monotonic() - started)
        self.metrics.answers.labels("refusal" if result.abstained else "answer").inc()
        return result

    async def timeline(self, topic: str, guild_id: int | None, n: int,
                       since: str | None = None, until: str | None = None) -> Timeline:
        """The dated quotes about `topic` visible from `guild_id`, oldest first."""
        await self.follow_current_version()
        index = self.require_index()
        collections = self.collections_for(guild_id)
        now = self.clock()
        return await self.in_index_thread(
            lambda: index.timeline(topic, n, collections, since=since, until=until, now=now))

    def date_problem(self, since: str | None, until: str | None) -> str | None:
        """Why `since`/`until` options cannot be used (None: they can, or there are none)."""
        if self.index is None or (since is None and until is None):
            return None
        try:
            self.index.time_of("", since, until, self.clock())
        except DateNotUnderstood as exc:
            return render.escape(str(exc))
        return None

    def answer_channel_of(self, channel: object) -> AnswerChannel | None:
        """The answer channel `channel` is, or is a thread of (None: neither)."""
        if isinstance(channel, discord.Thread):
            return self.answer_channels.get(channel.parent_id)
        channel_id = getattr(channel, "id", None)
        return None if channel_id is None else self.answer_channels.get(channel_id)

    async def sources(self, guild_id: int | None) -> list[ArticleInfo]:
        await self.follow_current_version()
        index = self.require_index()
        return await self.in_index_thread(index.sources, self.collections_for(guild_id))

    def stats(self) -> Stats:
        """Questions answered and the median answer time, from the answer store: they
        survive restarts and count every process sharing the store."""
        questions, median = self.store.answer_stats()
        return Stats(questions, median)

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
        started = time.monotonic()
        ran = ok = True
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
        except BuildInProgress:
            ran = False  # another process is building: not this process's reindex
            raise
        except BaseException:
            ok = False
            raise
        finally:
            self.reindexing = False
            if ran:
                self.metrics.reindexed(time.monotonic() - started, ok, time.time())
        self.use_index(fresh)
        self._seen_current = report.version  # the build switched CURRENT to it
        log.info("reindexed: version %s, %d articles, %d sentences (%d embedded, %d "
                 "reused) in %.1f s", report.version, report.articles, report.sentences,
                 report.embedded_articles, report.reused_articles, report.seconds)
        return report

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


def is_thread(channel: object) -> bool:
    """Whether `channel` is a thread (public, private or of an announcement channel)."""
    return isinstance(channel, discord.Thread) or getattr(channel, "type", None) in (
        discord.ChannelType.public_thread, discord.ChannelType.private_thread,
        discord.ChannelType.news_thread)


async def say_sorry(interaction: discord.Interaction, text: str = SORRY) -> None:
    """Tell the user, privately, that their command failed (instead of leaving them
    "thinking"); a reply that cannot be sent is given up."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)
    except discord.HTTPException:
        pass


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
