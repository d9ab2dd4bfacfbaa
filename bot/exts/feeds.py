"""`/feed add|remove|list`, and the background check that indexes new feed articles every
`feed_interval_minutes` and announces them in `announce_channel_id`."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.client import NO_MENTIONS, CiteBot
from bot.exts.reindex import ADMINS_ONLY
from bot.log import get_logger
from index import FeedError, IndexError_, NewArticle, UpdateReport

if TYPE_CHECKING:
    from index import Index

log = get_logger(__name__)

#: the first check after start-up comes within this many seconds (or one interval if shorter)
FIRST_CHECK_SECONDS = 60.0


class Feeds(commands.Cog):
    """Following news feeds."""

    feed = app_commands.Group(name="feed", description="Follow news feeds (RSS or Atom)")

    def __init__(self, bot: CiteBot) -> None:
        self.bot = bot
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.address_allowed: Callable[[Any], bool] | None = None
        """Which addresses feeds may be fetched from (None: the `fetch_allow_private` rule)."""
        self.rounds = 0
        """Finished checks (for tests and the log)."""

    async def cog_load(self) -> None:
        self.task = asyncio.create_task(self._loop(), name="citebot-feeds")

    async def cog_unload(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    # -- the background check --------------------------------------------------------------

    async def _loop(self) -> None:
        await self.bot.wait_until_ready()
        interval = self.bot.settings.feed_interval_minutes * 60
        first = min(interval, FIRST_CHECK_SECONDS) * random.uniform(0.5, 1.0)
        await self._sleep(first if interval > 0 else 0.0)
        while not self.bot.is_closed():
            try:
                await self.check_now()
            except Exception:
                log.exception("the feed check failed; trying again next round")
            await self._sleep(interval * random.uniform(0.9, 1.1) if interval > 0 else 0.0)

    async def _sleep(self, seconds: float) -> None:
        """Until `seconds` have passed (forever when 0) or a command wakes the loop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout=seconds or None)
        self.wake.clear()

    async def check_now(self) -> UpdateReport | None:
        """Check every feed, index what is new off the event loop, switch to the new version
        and announce it. None when a build is running (then the next round checks) or no feed
        is followed."""
        from index import has_feeds

        if not has_feeds(self.bot.index_settings):
            return None
        if self.bot.reindexing:
            log.info("a reindex is running; feeds are checked next round")
            return None
        self.bot.reindexing = True
        try:
            report, fresh = await asyncio.to_thread(self._update_and_open)
        except FeedError as exc:  # no feeds followed
            log.debug("feeds not checked: %s", exc)
            return None
        except IndexError_ as exc:
            log.warning("feeds not checked: %s", exc)
            return None
        finally:
            self.bot.reindexing = False
        self.rounds += 1
        if fresh is not None:
            self.bot.index, self.bot.index_problem = fresh, ""
        for line in (r.line() for r in report.feeds if r.error or r.failed):
            log.warning("feed check: %s", line)
        if report.build_error:
            log.warning("feed articles not indexed yet: %s", report.build_error)
        log.info("feeds checked in %.1f s: %d new, %d updated, %d newly answerable",
                 report.seconds, report.new, report.updated, len(report.indexed))
        if report.indexed:
            await self._announce(report.indexed)
        return report

    def _update_and_open(self) -> tuple[UpdateReport, Index | None]:
        """Blocking (a worker thread): update the feeds; open the new version if one was made."""
        from index import Index, update_feeds

        report = update_feeds(self.bot.index_settings, address_allowed=self.address_allowed)
        current = self.bot.index
        if report.build is None or (report.build.unchanged and current is not None
                                    and current.version == report.build.version):
            return report, None
        return report, Index.open(self.bot.index_settings)

    async def _announce(self, articles: tuple[NewArticle, ...]) -> None:
        channel_id = self.bot.settings.announce_channel_id
        if not channel_id:
            return
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("announce_channel_id %s is not a text channel the bot can see",
                        channel_id)
            return
        guild = getattr(channel, "guild", None)
        visible = self.bot.collections_for(guild.id if guild else None)
        shown = [a for a in articles if a.collection in visible]  # never another server's
        if not shown:
            return
        try:
            await channel.send(embed=render.new_articles_embed(shown),
                               allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("could not announce %d new articles in %s: %s", len(shown), channel_id,
                        exc)

    # -- commands ----------------------------------------------------------------------------

    @feed.command(name="add")
    @app_commands.describe(url="The feed's address (RSS or Atom; http or https)")
    async def add_command(self, interaction: discord.Interaction, url: str) -> None:
        """Follow a news feed: its new articles are indexed automatically (admins only)."""
        if not self.bot.is_admin(interaction.user, interaction.permissions):
            await interaction.response.send_message(ADMINS_ONLY, ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)
            return
        from index import add_feed

        collection = self.bot.collection_for_new_article(interaction.guild_id)
        try:
            added = await asyncio.to_thread(add_feed, self.bot.index_settings, url, collection)
        except FeedError as exc:
            await interaction.response.send_message(
                embed=render.error_embed(f"That feed was not added: {exc}"), ephemeral=True,
                allowed_mentions=NO_MENTIONS)
            return
        shown = discord.utils.escape_markdown(url.strip())
        if not added:
            text = f"Already following {shown}."
        else:
            log.info("feed %s added by %s to collection %r", url.strip(), interaction.user.id,
                     collection)
            where = "this server's articles" if collection else "the shared articles"
            minutes = self.bot.settings.feed_interval_minutes
            every = f", then every {minutes:g} minutes" if minutes else ""
            text = (f"📡 Following {shown} for {where}. It is checked now{every}; "
                    "`/feed list` shows how it went.")
            self.wake.set()
        await interaction.response.send_message(text[:render.CONTENT_MAX],
                                                allowed_mentions=NO_MENTIONS)

    @feed.command(name="remove")
    @app_commands.describe(url="The feed's address, as `/feed list` shows it",
                           drop_articles="Also remove its articles from the index")
    async def remove_command(self, interaction: discord.Interaction, url: str,
                             drop_articles: bool = False) -> None:
        """Stop following a news feed, optionally dropping its articles (admins only)."""
        if not self.bot.is_admin(interaction.user, interaction.permissions):
            await interaction.response.send_message(ADMINS_ONLY, ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)
            return
        from index import list_feeds, remove_feed

        await interaction.response.defer(thinking=True)  # a running check may take a while
        settings = self.bot.index_settings
        visible = self.bot.collections_for(interaction.guild_id)
        try:
            feeds = await asyncio.to_thread(list_feeds, settings)
            if not any(f.url == url.strip() and f.collection in visible for f in feeds):
                raise FeedError(f"{url.strip()} is not followed here (see `/feed list`)")
            dropped = await asyncio.to_thread(remove_feed, settings, url, drop_articles)
        except IndexError_ as exc:  # not followed here, in the setting, a check still running
            await interaction.followup.send(embed=render.error_embed(str(exc)),
                                            allowed_mentions=NO_MENTIONS)
            return
        log.info("feed %s removed by %s (articles dropped: %d)", url.strip(),
                 interaction.user.id, dropped)
        text = f"Stopped following {discord.utils.escape_markdown(url.strip())}."
        if drop_articles:
            text += f" Its {dropped} articles leave the index with the next update (now)."
            self.wake.set()
        else:
            text += " Its articles stay indexed."
        await interaction.followup.send(text[:render.CONTENT_MAX], allowed_mentions=NO_MENTIONS)

    @feed.command(name="list")
    async def list_command(self, interaction: discord.Interaction) -> None:
        """The followed news feeds: articles, last check and last error."""
        from index import list_feeds

        visible = self.bot.collections_for(interaction.guild_id)
        feeds = await asyncio.to_thread(list_feeds, self.bot.index_settings)
        await interaction.response.send_message(
            embed=render.feeds_embed([f for f in feeds if f.collection in visible]),
            allowed_mentions=NO_MENTIONS)


async def setup(bot: CiteBot) -> None:
    await bot.add_cog(Feeds(bot))
