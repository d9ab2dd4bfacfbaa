"""The "Show context" button under an answer: the whole paragraph around each quote."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import discord

from bot import render
from bot.client import NO_MENTIONS, STATE_DOWN, CiteBot, NoIndex, say_sorry
from bot.log import get_logger
from index import StateUnavailable

log = get_logger(__name__)


class ContextButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                    template=r"citebot:context:(?P<answer>\d+)"):
    """Shows, to the person who pressed it only, the paragraphs the answer quoted from."""

    def __init__(self, answer_id: int) -> None:
        super().__init__(discord.ui.Button(
            label="Show context", emoji="📄", style=discord.ButtonStyle.secondary,
            custom_id=f"citebot:context:{answer_id}"))
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction,
                             item: discord.ui.Item[Any], match: re.Match[str]) -> ContextButton:
        return cls(int(match["answer"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = interaction.client
        assert isinstance(bot, CiteBot)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            stored = await asyncio.to_thread(bot.store.get_answer, self.answer_id)
        except StateUnavailable as exc:
            log.error("context of answer %s not shown: %s", self.answer_id, exc)
            await say_sorry(interaction, STATE_DOWN)
            return
        items = []
        if stored is not None:
            try:
                index = bot.require_index()
            except NoIndex as exc:
                await interaction.followup.send(embed=render.error_embed(str(exc)),
                                                ephemeral=True, allowed_mentions=NO_MENTIONS)
                return
            for n, citation in enumerate(stored.citations, 1):
                try:
                    paragraph = await bot.in_index_thread(index.paragraph_text, citation)
                except Exception:  # the article may have left the index since the answer
                    log.info("no context for answer %s citation %d", self.answer_id, n,
                             exc_info=True)
                    continue
                items.append((n, citation, paragraph))
        if not items:
            await interaction.followup.send(
                embed=render.error_embed("That context is no longer available."),
                ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.followup.send(embed=render.context_embed(items), ephemeral=True,
                                        allowed_mentions=NO_MENTIONS)


async def setup(bot: CiteBot) -> None:
    bot.add_dynamic_items(ContextButton)
