"""People's data: `/forget`, the retention of stored questions, and a server's questions
deleted when the bot leaves it. What is stored, where and for how long: docs/PRIVACY.md."""

from __future__ import annotations

import asyncio
import contextlib
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.client import NO_MENTIONS, CiteBot
from bot.log import get_logger

log = get_logger(__name__)

#: how often stored questions are checked against `retention_days`
RETENTION_CHECK_SECONDS = 3600.0


class Privacy(commands.Cog):
    """What the bot keeps about people, and deleting it."""

    def __init__(self, bot: CiteBot) -> None:
        self.bot = bot
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.rounds = 0
        """Finished retention checks (for tests and the log)."""

    async def cog_load(self) -> None:
        if self.bot.settings.retention_days > 0:
            self.task = asyncio.create_task(self._loop(), name="citebot-retention")

    async def cog_unload(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    # -- retention ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self.bot.is_closed():
            try:
                await self.expire_now()
            except Exception:
                self.bot.metrics.errors.labels("retention").inc()
                log.exception("deleting old questions failed; trying again next round")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), RETENTION_CHECK_SECONDS)
            self.wake.clear()

    async def expire_now(self) -> tuple[int, int]:
        """Delete stored questions (with their conversation links and votes) and votes older
        than `retention_days`; returns (questions, votes) deleted."""
        cutoff = time.time() - self.bot.settings.retention_days * 86400
        deleted = await asyncio.to_thread(self.bot.store.delete_older_than, cutoff)
        self.rounds += 1
        if any(deleted):
            log.info("retention: deleted %d questions and %d votes older than %g days",
                     *deleted, self.bot.settings.retention_days)
        return deleted

    # -- a user's data -----------------------------------------------------------------------

    @app_commands.command(name="forget")
    async def forget_command(self, interaction: discord.Interaction) -> None:
        """Delete everything the bot stores about you: your questions, conversations, votes."""
        # a large store may take more than Discord's 3 s to rewrite: acknowledge first
        await interaction.response.defer(ephemeral=True, thinking=True)
        forgotten = await asyncio.to_thread(self.bot.store.forget_user, interaction.user.id)
        self.bot.limiter.forget(interaction.user.id)
        log.info("forgot a user on request: %d questions, %d votes", forgotten.questions,
                 forgotten.votes)
        parts = [render.plural(forgotten.questions, "question") + " with the answers shown "
                 "to you", render.plural(forgotten.votes, "👍/👎 vote"),
                 "your question count for the rate limit"]
        text = ("🗑️ Deleted everything I stored about you: " + ", ".join(parts) + ". "
                "Answers that quoted articles stay in the articles; totals such as `/stats`' "
                "question count keep counting without you.")
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    # -- a server's data ---------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot left (or was removed from) `guild`: its stored questions, votes and answer
        channels go; the articles of its collection stay until an admin removes them."""
        for channel_id in [c for c, a in self.bot.answer_channels.items()
                           if a.guild_id == guild.id]:
            del self.bot.answer_channels[channel_id]
        questions, votes, channels = await asyncio.to_thread(self.bot.store.forget_guild,
                                                             guild.id)
        log.info("left server %s: deleted its %d questions, %d votes and %d answer channels",
                 guild.id, questions, votes, channels)


async def setup(bot: CiteBot) -> None:
    await bot.add_cog(Privacy(bot))
