"""The "Follow up" button under an answer: a form with one question, answered in that
answer's context (for the person who asked it, or anyone in a thread)."""

from __future__ import annotations

import asyncio
import re
from typing import Any, Protocol, cast

import discord

from bot.client import STATE_DOWN, CiteBot, is_thread, say_sorry
from bot.log import get_logger
from bot.store import StoredAnswer
from index import StateUnavailable

log = get_logger(__name__)


class Asking(Protocol):
    """What the form needs of the Ask cog (`bot.exts.ask`), which it finds by name: the Ask
    cog puts this module's button under its answers, so this module does not import it."""

    async def accept(self, interaction: discord.Interaction, raw: str
                     ) -> tuple[str, dict[str, str]] | None: ...

    async def reply_for(self, question: str, *, user_id: int, guild_id: int | None,
                        channel_id: int | None, source: str | None = None,
                        earlier: StoredAnswer | None = None,
                        names: dict[str, str] | None = None) -> Any: ...

    async def remember(self, reply: Any, sent: discord.Message | None) -> None: ...


class FollowUpButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                     template=r"citebot:followup:(?P<answer>\d+)"):
    """Opens the follow-up form for one answer; works after a restart (the id is stored)."""

    def __init__(self, answer_id: int) -> None:
        super().__init__(discord.ui.Button(
            label="Follow up", emoji="💬", style=discord.ButtonStyle.secondary,
            custom_id=f"citebot:followup:{answer_id}"))
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction,
                             item: discord.ui.Item[Any], match: re.Match[str]) -> FollowUpButton:
        return cls(int(match["answer"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = interaction.client
        assert isinstance(bot, CiteBot)
        await interaction.response.send_modal(
            FollowUpForm(self.answer_id, bot.settings.max_question_chars))


class FollowUpForm(discord.ui.Modal, title="Follow up"):
    """One text field: the follow-up question."""

    def __init__(self, answer_id: int, max_chars: int) -> None:
        super().__init__(timeout=900)
        self.answer_id = answer_id
        self.question: discord.ui.TextInput[FollowUpForm] = discord.ui.TextInput(
            label="Your follow-up question", placeholder="What did he say about patrols?",
            max_length=min(4000, max_chars), custom_id=f"citebot:followup-question:{answer_id}")
        self.add_item(self.question)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot = interaction.client
        assert isinstance(bot, CiteBot)
        ask = cast(Asking | None, bot.get_cog("Ask"))
        assert ask is not None
        accepted = await ask.accept(interaction, self.question.value or "")
        if accepted is None:
            return
        question, names = accepted
        # a follow-up of a private answer stays private
        private = bool(interaction.message is not None and interaction.message.flags.ephemeral)
        await interaction.response.defer(ephemeral=private, thinking=True)
        stored = await asyncio.to_thread(bot.store.get_answer, self.answer_id)
        # another person's answer is followed up only in a thread; elsewhere, asked anew
        if stored is not None and not (stored.user_id == interaction.user.id
                                       or is_thread(interaction.channel)):
            stored = None
        reply = await ask.reply_for(question, user_id=interaction.user.id,
                                    guild_id=interaction.guild_id,
                                    channel_id=interaction.channel_id, earlier=stored,
                                    names=names)
        sent = await interaction.followup.send(**reply.kwargs(), ephemeral=private, wait=True)
        await ask.remember(reply, sent)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        if isinstance(error, StateUnavailable):  # PostgreSQL (state_dsn) is down: it passes
            log.error("follow-up on answer %s failed: %s", self.answer_id, error)
            await say_sorry(interaction, STATE_DOWN)
            return
        log.error("follow-up on answer %s failed", self.answer_id, exc_info=error)
        await say_sorry(interaction)


async def setup(bot: CiteBot) -> None:
    bot.add_dynamic_items(FollowUpButton)
