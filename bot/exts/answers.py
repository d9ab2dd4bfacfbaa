"""Answer channels and forum posts: `/answers here` and `/answers off`.

In a text channel marked with `/answers here`, every message that reads as a question
(`bot.questions`) is answered without a mention: in a thread started from it, or as a
reply (`style:reply`). In a marked forum channel every new post is answered inside the
post. Inside those threads the asker's later questions are follow-ups without a mention;
anyone else may ask too, each in their own conversation. Chatter is left alone, and so are
bots, webhooks and the bot itself. Abstentions are quiet: a 🤷 reaction on a question in
the channel, one short line in a thread. More than `answer_channel_per_minute` questions a
minute in one channel are shed, with one visible note per minute saying so.

Discord sends the text of messages that do not mention the bot only to bots with the
message-content intent, so answer channels need it (`/answers here` says so when it is off).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.client import NO_MENTIONS, CiteBot
from bot.exts.reindex import ADMINS_ONLY
from bot.log import get_logger
from bot.markdown import plain
from bot.questions import reads_as_question
from bot.store import AnswerChannel

if TYPE_CHECKING:
    from bot.exts.ask import Ask, Reply

log = get_logger(__name__)

QUIET_ABSTENTION = "The indexed articles don't say."
ABSTAIN_REACTION = "🤷"
NEEDS_CONTENT_INTENT = (
    "Answer channels need the message-content intent: Discord sends the bot the text of "
    "messages that do not mention it only with that intent. Turn on **Message Content "
    "Intent** in the developer portal and set `CITEBOT_MESSAGE_CONTENT_INTENT=true`.")
SHED_NOTE = ("📥 Lots of questions here at once: I answer up to {n} a minute in this channel "
             "({per_user} per person every {seconds:g} s) and have skipped some. Ask again in "
             "a minute, or ask me with `/ask`.")
#: a thread's name (Discord allows 100 characters)
THREAD_NAME_MAX = 100


class Valve:
    """Per channel: at most `per_minute` questions admitted in any 60 s, and whether a
    note about the ones shed is due (at most one a minute)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._admitted: dict[int, deque[float]] = {}
        self._noted: dict[int, float] = {}

    def admit(self, channel_id: int, now: float) -> bool:
        times = self._admitted.setdefault(channel_id, deque())
        while times and now - times[0] >= 60.0:
            times.popleft()
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        return True

    def note_due(self, channel_id: int, now: float) -> bool:
        if now - self._noted.get(channel_id, -1e9) < 60.0:
            return False
        self._noted[channel_id] = now
        return True

    def forget(self, channel_id: int) -> None:
        self._admitted.pop(channel_id, None)
        self._noted.pop(channel_id, None)


class Answers(commands.Cog):
    """Channels and forums where every question is answered."""

    answers = app_commands.Group(
        name="answers", description="Answer every question in a channel or forum",
        guild_only=True)

    def __init__(self, bot: CiteBot) -> None:
        self.bot = bot
        self.valve = Valve(bot.settings.answer_channel_per_minute)
        self.shed = 0
        """Questions shed since start-up (for the log and the tests)."""
        self.busy = 0
        """Questions being answered right now."""

    async def cog_load(self) -> None:
        channels = await asyncio.to_thread(self.bot.store.answer_channels)
        self.bot.answer_channels = {c.channel_id: c for c in channels}

    @property
    def ask(self) -> Ask:
        cog = self.bot.get_cog("Ask")
        assert cog is not None
        return cog  # type: ignore[return-value]

    # -- commands ------------------------------------------------------------------------

    def _target(self, interaction: discord.Interaction
                ) -> discord.TextChannel | discord.ForumChannel | None:
        """The channel `/answers` is about: the one it was run in (the parent channel or
        forum when run in a thread or a forum post)."""
        channel = interaction.channel
        if isinstance(channel, discord.Thread):
            channel = channel.parent
        return channel if isinstance(channel, discord.TextChannel | discord.ForumChannel) \
            else None

    @answers.command(name="here")
    @app_commands.describe(style="Answer in a new thread (default) or as a reply; forum "
                                 "posts are always answered inside the post")
    async def here_command(self, interaction: discord.Interaction,
                           style: Literal["thread", "reply"] = "thread") -> None:
        """Answer every question asked in this channel or forum, without a mention (admins)."""
        if not self.bot.is_admin(interaction.user, interaction.permissions):
            await interaction.response.send_message(ADMINS_ONLY, ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)
            return
        if not self.bot.settings.message_content_intent:
            await interaction.response.send_message(embed=render.error_embed(
                NEEDS_CONTENT_INTENT), ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        channel = self._target(interaction)
        if channel is None or interaction.guild_id is None:
            await interaction.response.send_message(embed=render.error_embed(
                "Run `/answers here` in a text channel, or in a post of a forum channel."),
                ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        forum = isinstance(channel, discord.ForumChannel)
        marked = AnswerChannel(channel.id, interaction.guild_id, style, forum)
        await asyncio.to_thread(self.bot.store.set_answer_channel, marked)
        self.bot.answer_channels[channel.id] = marked
        log.info("answer channel %s (%s) set in server %s", channel.id,
                 "forum" if forum else style, interaction.guild_id)
        if forum:
            text = (f"📝 From now on I answer every new post in {channel.mention} inside the "
                    "post; the author's later questions there are follow-ups.")
        else:
            how = "in a thread started from it" if style == "thread" else "with a reply"
            text = (f"💬 From now on I answer every question asked in {channel.mention} {how}, "
                    "without a mention. Chatter is left alone; when the articles don't say, "
                    f"I only react with {ABSTAIN_REACTION}. `/answers off` stops it.")
        await interaction.response.send_message(text, allowed_mentions=NO_MENTIONS)

    @answers.command(name="off")
    async def off_command(self, interaction: discord.Interaction) -> None:
        """Stop answering every question in this channel or forum (admins)."""
        if not self.bot.is_admin(interaction.user, interaction.permissions):
            await interaction.response.send_message(ADMINS_ONLY, ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)
            return
        channel = self._target(interaction)
        removed = channel is not None and await asyncio.to_thread(
            self.bot.store.remove_answer_channel, channel.id)
        if channel is not None:
            self.bot.answer_channels.pop(channel.id, None)
            self.valve.forget(channel.id)
        text = (f"Stopped: in {channel.mention} I answer only when asked (`/ask`, a "
                "mention, a reply)." if removed and channel is not None
                else "This channel is not an answer channel.")
        await interaction.response.send_message(text, ephemeral=not removed,
                                                allowed_mentions=NO_MENTIONS)

    # -- messages ------------------------------------------------------------------------

    def place_of(self, message: discord.Message) -> AnswerChannel | None:
        """The answer channel `message` was posted in (directly or in one of its threads)."""
        return None if message.guild is None else self.bot.answer_channel_of(message.channel)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id is not None or self.bot.user is None:
            return
        marked = self.place_of(message)
        if marked is None:
            return
        me = self.bot.user.id
        mentioned = any(u.id == me for u in message.mentions)
        context = await self.bot.get_context(message)
        if context.valid:
            await self.bot.invoke(context)
            return
        thread = message.channel if isinstance(message.channel, discord.Thread) else None
        # a forum post's first message has the post's (the thread's) id
        new_post = marked.forum and thread is not None and message.id == thread.id
        text = self.ask.strip_mention(message.content)
        if new_post:
            assert thread is not None
            text = _post_question(thread.name, text, self.bot.settings.max_question_chars)
        elif not mentioned and (not reads_as_question(text)
                                or _replies_to_someone_else(message, me)):
            return  # chatter, or people talking to each other
        now = time.monotonic()
        if (not self.valve.admit(marked.channel_id, now)
                or await self.ask.over_limit(message.author.id)):
            await self._shed(message, marked, now)
            return
        self.busy += 1
        try:
            await self._answer(message, marked, text, thread, new_post)
        finally:
            self.busy -= 1

    async def _answer(self, message: discord.Message, marked: AnswerChannel, question: str,
                      thread: discord.Thread | None, new_post: bool) -> None:
        ask = self.ask
        self.bot.metrics.questions.labels("channel").inc()
        question, names = ask.prepare(message, question)
        problem = await ask.problem_with(question, message.author.id,
                                         plain(question, names), count=False)
        if problem:
            return  # empty or too long: not worth a word in a busy channel
        # the thread an answer opens has the id of the message it is started from
        in_thread = thread is None and marked.style == "thread" and not marked.forum
        where = thread.id if thread is not None else message.id if in_thread \
            else message.channel.id
        try:
            earlier = await ask.earlier_answer(message.author.id, message.channel,
                                               message.reference.message_id
                                               if message.reference else None)
            reply = await ask.reply_for(question, user_id=message.author.id,
                                        guild_id=marked.guild_id, channel_id=where,
                                        earlier=earlier, names=names)
        except Exception:
            self.bot.metrics.errors.labels("channel").inc()
            log.exception("answering message %s in answer channel %s failed", message.id,
                          marked.channel_id)
            return
        if reply.abstained:
            await self._quiet(message, thread is not None)
            return
        if in_thread:
            await self._in_new_thread(message, question, reply)
        else:
            await ask.send_reply(message, reply)

    async def _in_new_thread(self, message: discord.Message, question: str,
                             reply: Reply) -> None:
        try:
            thread = await message.create_thread(name=_thread_name(question),
                                                 auto_archive_duration=1440)
        except discord.HTTPException as exc:  # no Create Public Threads: reply instead
            log.warning("could not start a thread from message %s (HTTP %s %s); replying",
                        message.id, exc.status, exc.text[:200])
            await self.ask.send_reply(message, reply)
            return
        try:
            sent = await thread.send(**reply.kwargs())
        except discord.HTTPException as exc:
            log.error("could not answer in thread %s: HTTP %s %s", thread.id, exc.status,
                      exc.text[:200])
            return
        await self.ask.remember(reply, sent)

    async def _quiet(self, message: discord.Message, in_thread: bool) -> None:
        """An abstention that does not fill the channel: a short line in a thread, else a
        reaction on the question."""
        with contextlib.suppress(discord.HTTPException):
            if in_thread:
                await message.reply(QUIET_ABSTENTION, mention_author=False,
                                    allowed_mentions=NO_MENTIONS)
            else:
                await message.add_reaction(ABSTAIN_REACTION)

    async def _shed(self, message: discord.Message, marked: AnswerChannel, now: float) -> None:
        self.shed += 1
        self.bot.metrics.shed.inc()
        if not self.valve.note_due(marked.channel_id, now):
            return
        log.warning("answer channel %s: more than %d questions a minute; shedding",
                    marked.channel_id, self.valve.per_minute)
        settings = self.bot.settings
        note = SHED_NOTE.format(n=self.valve.per_minute, per_user=settings.rate_limit_count,
                                seconds=settings.rate_limit_seconds)
        # in a forum the note goes in the post; elsewhere in the channel itself
        target = message.channel if marked.forum else (self.bot.get_channel(
            marked.channel_id) or message.channel)
        with contextlib.suppress(discord.HTTPException):
            await target.send(note, allowed_mentions=NO_MENTIONS)  # type: ignore[union-attr]

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        if self.bot.answer_channels.pop(channel.id, None) is not None:
            await asyncio.to_thread(self.bot.store.remove_answer_channel, channel.id)


def _replies_to_someone_else(message: discord.Message, me: int) -> bool:
    ref = message.reference
    resolved = ref.resolved if ref is not None else None
    return isinstance(resolved, discord.Message) and resolved.author.id != me


def _post_question(title: str, body: str, limit: int) -> str:
    """A forum post's question: its title and its text together (the title often is the
    question, the text its details), or the one that fits."""
    title, body = " ".join(title.split()), " ".join(body.split())
    if not body or body.startswith(title):
        return body or title
    both = f"{title}. {body}" if title[-1:] not in ".?!" else f"{title} {body}"
    if len(both) <= limit:
        return both
    return body if reads_as_question(body) and len(body) <= limit else title


def _thread_name(question: str) -> str:
    text = " ".join(question.split())
    return text if len(text) <= THREAD_NAME_MAX else text[:THREAD_NAME_MAX - 1] + "…"


async def setup(bot: CiteBot) -> None:
    await bot.add_cog(Answers(bot))
