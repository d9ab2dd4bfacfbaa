"""`/reindex`: admins re-read the configured sources; the reply shows the build's progress."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.client import NO_MENTIONS, CiteBot
from bot.log import get_logger
from index import BuildInProgress, BuildProgress, BuildReport, IndexError_

log = get_logger(__name__)

ALREADY_RUNNING = ("A reindex is already running — questions are answered from the current "
                   "index until it finishes.")
ADMINS_ONLY = ("Only server managers (Manage Server) and the admins listed in the bot's "
               "settings can do that.")
STAGES = {"reading": "reading articles", "embedding": "embedding sentences",
          "writing": "writing the new index"}


def describe_report(report: BuildReport) -> str:
    """One short paragraph about a finished build."""
    if report.unchanged:
        text = (f"✅ Nothing changed in the sources: "
                f"{render.plural(report.articles, 'article')}, still answering from index "
                f"`{report.version}`.")
    else:
        articles = render.plural(report.articles, "article").replace(" ", "** ", 1)
        sentences = render.plural(report.sentences, "sentence").replace(" ", "** ", 1)
        text = (f"✅ Reindexed: **{articles}, **{sentences} ({report.embedded_articles} embedded, "
                f"{report.reused_articles} reused) in "
                f"{report.seconds:.1f} s. Now answering from index `{report.version}`.")
    if report.skipped:
        skipped = "\n".join(f"• `{s.path}`: {s.reason}" for s in report.skipped[:10])
        more = f"\n…and {len(report.skipped) - 10} more" if len(report.skipped) > 10 else ""
        text += f"\nSkipped:\n{skipped}{more}"
    return text


async def reindex_in_reply(bot: CiteBot, interaction: discord.Interaction, intro: str) -> None:
    """Run a reindex, editing the (already deferred) reply to `interaction` with its progress
    and then its result."""

    async def show(p: BuildProgress) -> None:
        stage = STAGES.get(p.stage, p.stage)
        count = f" {p.done}/{p.total}" if p.total else ""
        await interaction.edit_original_response(
            content=render.clip(f"{intro}⏳ Reindexing… {stage}{count}", render.CONTENT_MAX),
            allowed_mentions=NO_MENTIONS)

    await interaction.edit_original_response(content=f"{intro}⏳ Reindexing…",
                                             allowed_mentions=NO_MENTIONS)
    try:
        report = await bot.reindex(show)
    except BuildInProgress:
        text = intro + ALREADY_RUNNING
    except IndexError_ as exc:  # damaged files, nothing to index...: the admin can act on it
        log.error("reindex failed: %s", exc)
        text = f"{intro}❌ The reindex failed: {exc}"
    except Exception:
        log.exception("reindex failed")
        text = (f"{intro}❌ The reindex failed (the error is in the bot's log). Questions are "
                "still answered from the previous index.")
    else:
        text = intro + describe_report(report)
    await interaction.edit_original_response(content=text[:render.CONTENT_MAX],
                                             allowed_mentions=NO_MENTIONS)


class Reindex(commands.Cog):
    """Rebuilding the index."""

    def __init__(self, bot: CiteBot) -> None:
        self.bot = bot

    @app_commands.command(name="reindex")
    async def reindex_command(self, interaction: discord.Interaction) -> None:
        """Re-read the article sources and rebuild the index (admins only)."""
        if not self.bot.is_admin(interaction.user, interaction.permissions):
            await interaction.response.send_message(ADMINS_ONLY, ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)
            return
        if self.bot.reindexing:
            await interaction.response.send_message(ALREADY_RUNNING, ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(thinking=True)
        log.info("reindex requested by %s", interaction.user.id)
        await reindex_in_reply(self.bot, interaction, "")


async def setup(bot: CiteBot) -> None:
    await bot.add_cog(Reindex(bot))
