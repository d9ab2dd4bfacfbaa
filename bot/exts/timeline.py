"""`/timeline <topic>`: how a story developed, one dated quote per article, oldest first."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.client import NO_MENTIONS, CiteBot, NoIndex
from bot.log import get_logger
from index import IndexUnreachable

log = get_logger(__name__)


class Timelines(commands.Cog):
    """A story over time."""

    def __init__(self, bot: CiteBot) -> None:
        self.bot = bot

    @app_commands.command(name="timeline")
    @app_commands.describe(topic="The story, e.g. Channel crossings",
                           quotes="At most this many quotes (the articles most about it)",
                           since="Only articles published on or after this day",
                           until="Only articles published on or before this day",
                           private="Show the timeline only to you")
    async def timeline_command(self, interaction: discord.Interaction,
                               topic: app_commands.Range[str, 1, 300],
                               quotes: app_commands.Range[int, 1, 25] | None = None,
                               since: str | None = None, until: str | None = None,
                               private: bool = False) -> None:
        """How a story developed: dated quotes from the articles about it, oldest first."""
        self.bot.metrics.questions.labels("slash").inc()
        problem = self.bot.date_problem(since, until)
        if not any(ch.isalnum() for ch in topic):
            problem = "Name the story, for example `/timeline topic: Channel crossings`."
        elif await self.bot.limiter.check(interaction.user.id):
            problem = "You're asking faster than I can keep up with — please wait and ask again."
        if problem:
            await interaction.response.send_message(embed=render.error_embed(problem),
                                                    ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(ephemeral=private, thinking=True)
        try:
            story = await self.bot.timeline(topic, interaction.guild_id,
                                            quotes or self.bot.settings.timeline_quotes,
                                            since, until)
        except (NoIndex, IndexUnreachable) as exc:
            embed = render.error_embed(str(exc))
        else:
            embed = render.timeline_embed(story)
        await interaction.followup.send(embed=embed, ephemeral=private,
                                        allowed_mentions=NO_MENTIONS)


async def setup(bot: CiteBot) -> None:
    await bot.add_cog(Timelines(bot))
