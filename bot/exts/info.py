"""`/help` and `/stats`."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.client import NO_MENTIONS, CiteBot
from bot.log import get_logger

log = get_logger(__name__)


class Info(commands.Cog):
    """About the bot."""

    def __init__(self, bot: CiteBot) -> None:
        self.bot = bot

    def help_embed(self) -> discord.Embed:
        lines = []
        for command in sorted(self.bot.tree.walk_commands(), key=lambda c: c.qualified_name):
            if isinstance(command, app_commands.Command):
                lines.append(f"`/{command.qualified_name}` — {command.description}")
        me = self.bot.user.mention if self.bot.user else "@citebot"
        lines.append(f"{me} `<question>` — ask in a channel by mentioning me")
        lines.append("Reply to one of my answers — a follow-up question, read in its context")
        if self.bot.answer_channels:
            lines.append("In answer channels (`/answers here`) — every question is answered, "
                         "no mention needed")
        lines.append("Direct messages — anything you send me is a question")
        if self.bot.settings.message_content_intent:
            lines.append(f"`{self.bot.settings.command_prefix}ask <question>` — ask with a prefix")
        embed = discord.Embed(
            title="citebot",
            description="I answer questions about news articles by quoting the exact "
                        "sentences that answer them, with links to where they are.\n\n"
                        + "\n".join(lines),
            colour=render.ANSWER_COLOUR)
        return embed

    @app_commands.command(name="help")
    async def help_command(self, interaction: discord.Interaction) -> None:
        """How to ask questions, and every command."""
        await interaction.response.send_message(embed=self.help_embed(), ephemeral=True,
                                                allowed_mentions=NO_MENTIONS)

    @commands.command(name="help")
    async def help_prefix(self, ctx: commands.Context[CiteBot]) -> None:
        """How to ask questions, and every command."""
        await ctx.reply(embed=self.help_embed(), mention_author=False,
                        allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="stats")
    async def stats_command(self, interaction: discord.Interaction) -> None:
        """Articles, sentences, index version, questions answered, median answer time."""
        index = self.bot.index
        stats = await asyncio.to_thread(self.bot.stats)
        embed = discord.Embed(title="citebot stats", colour=render.ANSWER_COLOUR)
        if index is None:
            embed.description = f"No index is open. {self.bot.index_problem}"
        else:
            embed.add_field(name="Articles", value=str(index.article_count))
            embed.add_field(name="Sentences", value=str(index.sentence_count))
            embed.add_field(name="Index version", value=f"`{index.version}`")
        embed.add_field(name="Questions answered", value=str(stats.questions))
        median = "—" if stats.median_seconds is None else f"{stats.median_seconds * 1000:.0f} ms"
        embed.add_field(name="Median answer time", value=median)
        if self.bot.reindexing:
            embed.set_footer(text="A reindex is running.")
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)


async def setup(bot: CiteBot) -> None:
    await bot.add_cog(Info(bot))
