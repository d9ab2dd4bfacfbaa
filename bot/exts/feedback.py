"""👍/👎 under an answer, stored in SQLite with the question and the cited sentences."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import discord

from bot.client import NO_MENTIONS, STATE_DOWN, CiteBot, say_sorry
from bot.log import get_logger
from index import StateUnavailable

log = get_logger(__name__)


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                 template=r"citebot:vote:(?P<answer>\d+):(?P<vote>up|down)"):
    """One person's verdict on one answer; pressing again changes it."""

    def __init__(self, answer_id: int, vote: int) -> None:
        up = vote > 0
        super().__init__(discord.ui.Button(
            emoji="👍" if up else "👎", style=discord.ButtonStyle.secondary,
            custom_id=f"citebot:vote:{answer_id}:{'up' if up else 'down'}"))
        self.answer_id = answer_id
        self.vote = 1 if up else -1

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction,
                             item: discord.ui.Item[Any], match: re.Match[str]) -> VoteButton:
        return cls(int(match["answer"]), 1 if match["vote"] == "up" else -1)

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = interaction.client
        assert isinstance(bot, CiteBot)
        try:
            stored = await asyncio.to_thread(bot.store.record_vote, self.answer_id,
                                             interaction.user.id, self.vote)
        except StateUnavailable as exc:
            log.error("vote on answer %s not recorded: %s", self.answer_id, exc)
            await say_sorry(interaction, STATE_DOWN)
            return
        if stored:
            log.info("feedback %+d on answer %s", self.vote, self.answer_id)
            text = "Thanks — your feedback was recorded."
        else:
            text = "That answer is no longer on record, sorry."
        await interaction.response.send_message(text, ephemeral=True,
                                                allowed_mentions=NO_MENTIONS)


async def setup(bot: CiteBot) -> None:
    bot.add_dynamic_items(VoteButton)
