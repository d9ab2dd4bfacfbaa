"""Asking: `/ask`, `@citebot <question>`, `!ask <question>` and any direct message.

A question may continue a conversation (the core reads it as a possible follow-up of the
earlier answers): a reply to one of the bot's answers; a mention or `/ask` in a thread
where the bot answered that person (or a thread started from an answer); a direct message
within `followup_minutes` of the bot's last answer there; the "Follow up" button
(`bot.exts.followup`). One person's follow-up never borrows another's answer, except by
replying to it, or following it up, in a thread. A reply that pings the bot (Discord's
default; the bot is then in its mentions, not its text) is asked like a mention, unless it
is chatter ("thanks!"). Questions are answered without their Discord markdown
(`bot.markdown`); the question shown back is the original, escaped. Answer channels and
their threads are `bot.exts.answers`'."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.client import NO_MENTIONS, SORRY, STATE_DOWN, CiteBot, NoIndex, is_thread
from bot.exts.context import ContextButton
from bot.exts.feedback import VoteButton
from bot.exts.followup import FollowUpButton
from bot.log import get_logger
from bot.markdown import plain
from bot.questions import reads_as_question
from bot.store import StoredAnswer
from index import DateNotUnderstood, IndexUnreachable, StateUnavailable

log = get_logger(__name__)


@dataclass(frozen=True)
class Reply:
    """What to send back: an embed, and the buttons under it when it is an answer."""

    embed: discord.Embed
    view: discord.ui.View | None = None
    answer_id: int | None = None
    """The stored answer shown (None for an error message)."""
    abstained: bool = False
    """The articles don't say (answer channels show that quietly)."""

    def kwargs(self) -> dict[str, Any]:
        sent: dict[str, Any] = {"embed": self.embed, "allowed_mentions": NO_MENTIONS}
        if self.view is not None:
            sent["view"] = self.view
        return sent


def answer_view(answer_id: int, *, with_context: bool) -> discord.ui.View:
    """"Show context" (when something was quoted) and 👍/👎 under an answer. The buttons carry
    the answer's id, so they keep working after a restart."""
    view = discord.ui.View(timeout=None)
    if with_context:
        view.add_item(ContextButton(answer_id))
    view.add_item(FollowUpButton(answer_id))
    view.add_item(VoteButton(answer_id, 1))
    view.add_item(VoteButton(answer_id, -1))
    return view


#: earlier answers a follow-up may borrow from
CONTEXT_TURNS = 3


def mention_names(guild: discord.Guild | None, text: str) -> dict[str, str]:
    """The names that the user, role and channel mentions in `text` show, where known."""
    names: dict[str, str] = {}
    if guild is None:
        return names
    for kind, ident in re.findall(r"<(@!?|@&|#)(\d+)>", text):
        key = f"<{'@' if kind == '@!' else kind}{ident}>"
        found: Any = (guild.get_member(int(ident)) if kind.startswith("@") and kind != "@&"
                      else guild.get_role(int(ident)) if kind == "@&"
                      else guild.get_channel_or_thread(int(ident)))
        if found is not None:
            names[key] = getattr(found, "display_name", None) or found.name
    return names


class Ask(commands.Cog):
    """Questions, however they arrive."""

    def __init__(self, bot: CiteBot) -> None:
        self.bot = bot

    @property
    def usage(self) -> str:
        me = self.bot.user.mention if self.bot.user else "@citebot"
        return ("Ask me a question about the indexed news articles, for example "
                f"`/ask question: Who leads the National Rally?` or {me} Who leads the "
                "National Rally? — I answer by quoting the articles.")

    async def problem_with(self, question: str, user_id: int,
                           plain_question: str | None = None,
                     *, count: bool = True) -> str | None:
        """Why `question` (already `tidy`; `plain_question` is it without markdown) from
        `user_id` is not answered now (None if it is fine). Counts towards the user's rate
        limit only when it would be answered (and `count`: answer channels count first)."""
        plain_question = question if plain_question is None else plain_question
        if not any(ch.isalnum() for ch in plain_question):  # empty, blank, emoji, punctuation
            return self.usage
        limit = self.bot.settings.max_question_chars
        if len(question) > limit:
            return (f"That question is {len(question)} characters long; please keep it to at "
                    f"most {limit} characters.")
        wait = await self.bot.limiter.check(user_id) if count else 0.0
        if wait:
            self.bot.metrics.rate_limited.inc()
            return (f"You're asking faster than I can keep up with — please wait "
                    f"{max(1, round(wait))} s and ask again.")
        return None

    async def accept(self, interaction: discord.Interaction, raw: str
                     ) -> tuple[str, dict[str, str]] | None:
        """`raw` from an interaction (a slash command or a form), tidied, with the names of
        its mentions; or None after telling the user privately why it is not answered."""
        question = tidy(raw)
        names = mention_names(interaction.guild, question)
        problem = await self.problem_with(question, interaction.user.id,
                                          plain(question, names))
        if problem:
            await interaction.response.send_message(embed=render.error_embed(problem),
                                                    ephemeral=True, allowed_mentions=NO_MENTIONS)
            return None
        return question, names

    async def over_limit(self, user_id: int) -> bool:
        """Count a question of `user_id` towards the rate limit; True if it is over."""
        if await self.bot.limiter.check(user_id):
            self.bot.metrics.rate_limited.inc()
            return True
        return False

    def strip_mention(self, text: str) -> str:
        """`text` without the bot's own mention (`<@id>`), which is not part of a question."""
        if self.bot.user is None:
            return text
        return re.sub(rf"<@!?{self.bot.user.id}>", " ", text)

    def prepare(self, message: discord.Message, question: str
                ) -> tuple[str, dict[str, str]]:
        """`question` from `message` tidied, with the names its mentions show."""
        question = tidy(question)
        names = {**{f"<@{u.id}>": u.display_name for u in message.mentions},
                 **mention_names(message.guild, question)}
        return question, names

    async def reply_for(self, question: str, *, user_id: int, guild_id: int | None,
                        channel_id: int | None, source: str | None = None,
                        earlier: StoredAnswer | None = None,
                        names: dict[str, str] | None = None,
                        since: str | None = None, until: str | None = None) -> Reply:
        """Answer `question` (already checked with `problem_with`), read without its
        markdown and, when `earlier` is given, as a possible follow-up of that answer and
        the ones it followed; store the answer."""
        started = time.monotonic()
        context: tuple[Any, ...] = ()
        if earlier is not None:
            chain = await asyncio.to_thread(self.bot.store.conversation, earlier.id,
                                            CONTEXT_TURNS)
            context = tuple(a.as_answer() for a in chain)
        try:
            answer = await self.bot.answer(plain(question, names), guild_id, source, context,
                                           since=since, until=until)
        except (NoIndex, DateNotUnderstood, IndexUnreachable) as exc:
            return Reply(render.error_embed(render.escape(str(exc)) if isinstance(
                exc, DateNotUnderstood) else str(exc)))
        answer_id = await asyncio.to_thread(
            self.bot.store.record_answer, answer, user_id=user_id, guild_id=guild_id,
            channel_id=channel_id, seconds=time.monotonic() - started,
            previous_id=earlier.id if earlier and answer.follow_up_of is not None else None)
        show_closest = self.bot.show_closest(answer)
        index = self.bot.index
        # the asker sees their own words back (escaped), not the plain text that was answered
        embed = render.answer_embed(replace(answer, question=question.strip()),
                                    version=index.version if index else "",
                                    show_closest=show_closest)
        quoted = bool(answer.citations) or (show_closest and answer.closest is not None)
        return Reply(embed, answer_view(answer_id, with_context=quoted), answer_id,
                     answer.abstained)

    async def remember(self, reply: Reply, sent: discord.Message | None) -> None:
        """Note which message showed the answer, so that replies to it are follow-ups."""
        if reply.answer_id is not None and sent is not None:
            try:
                await asyncio.to_thread(self.bot.store.set_message, reply.answer_id, sent.id)
            except StateUnavailable as exc:  # the answer is shown: a reply to it is asked anew
                log.warning("answer %s shown, but not linked to its message: %s",
                            reply.answer_id, exc)

    async def earlier_answer(self, user_id: int, channel: object,
                             replied_to: int | None = None) -> StoredAnswer | None:
        """The answer a question from `user_id` in `channel` may follow up (see the module
        docstring), or None when it starts a conversation."""
        store = self.bot.store
        thread = is_thread(channel)
        if replied_to is not None:
            shown = await asyncio.to_thread(store.answer_shown_in, replied_to)
            if shown is not None and (shown.user_id == user_id or thread):
                return shown
        channel_id = getattr(channel, "id", None)
        if channel_id is None:
            return None
        if thread:
            mine = await asyncio.to_thread(store.last_answer, user_id, channel_id)
            # a thread started from an answer has that answer's message id
            return mine or await asyncio.to_thread(store.answer_shown_in, channel_id)
        minutes = self.bot.settings.followup_minutes
        if isinstance(channel, discord.DMChannel | discord.PartialMessageable) and getattr(
                channel, "guild", None) is None and minutes > 0:
            return await asyncio.to_thread(store.last_answer, user_id, channel_id,
                                           time.time() - minutes * 60)
        return None

    # -- slash command -------------------------------------------------------------------

    @app_commands.command(name="ask")
    @app_commands.describe(question="What you want to know",
                           source="Quote only this article",
                           private="Show the answer only to you",
                           since="Only articles published on or after this day (2026-12-01, "
                                 "3 March, Monday, yesterday)",
                           until="Only articles published on or before this day")
    async def ask_command(self, interaction: discord.Interaction, question: str,
                          source: str | None = None, private: bool = False,
                          since: str | None = None, until: str | None = None) -> None:
        """Ask a question; the answer quotes the indexed articles, with sources."""
        self.bot.metrics.questions.labels("slash").inc()
        problem = self.bot.date_problem(since, until)
        if problem:
            await interaction.response.send_message(embed=render.error_embed(problem),
                                                    ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        accepted = await self.accept(interaction, question)
        if accepted is None:
            return
        question, names = accepted
        await interaction.response.defer(ephemeral=private, thinking=True)
        earlier = await self.earlier_answer(interaction.user.id, interaction.channel)
        reply = await self.reply_for(question, user_id=interaction.user.id,
                                     guild_id=interaction.guild_id,
                                     channel_id=interaction.channel_id, source=source,
                                     earlier=earlier, names=names, since=since, until=until)
        sent = await interaction.followup.send(**reply.kwargs(), ephemeral=private, wait=True)
        await self.remember(reply, sent)

    @ask_command.autocomplete("source")
    async def source_autocomplete(self, interaction: discord.Interaction,
                                  current: str) -> list[app_commands.Choice[str]]:
        try:
            articles = await self.bot.sources(interaction.guild_id)
        except NoIndex:
            return []
        needle = current.casefold().strip()
        matches = [a for a in articles if needle in (a.title or a.doc_id).casefold()]
        return [app_commands.Choice(name=_shorten(a.title or a.doc_id, 100), value=a.doc_id)
                for a in matches[:25] if len(a.doc_id) <= 100]

    # -- messages ------------------------------------------------------------------------

    @commands.command(name="ask")
    async def ask_prefix(self, ctx: commands.Context[CiteBot], *, question: str = "") -> None:
        """Ask a question: `!ask Who leads the National Rally?`"""
        await self.answer_message(ctx.message, question, entry="prefix")

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.bot.user is None:
            return
        me = self.bot.user.id
        if message.guild is None:
            context = await self.bot.get_context(message)
            if context.valid:
                await self.bot.invoke(context)
            else:  # in a DM, anything else is a question
                await self.answer_message(message, self.strip_mention(message.content),
                                          entry="dm")
        elif self.bot.answer_channel_of(message.channel) is not None:
            return  # answer channels and their threads: bot.exts.answers
        elif re.search(rf"<@!?{me}>", message.content):
            await self.answer_message(message, self.strip_mention(message.content),
                                      entry="mention")
        elif any(u.id == me for u in message.mentions):
            # a reply that pings the bot (Discord's default): the bot is in its mentions,
            # not in its text; "thanks!" and other chatter are not questions
            if reads_as_question(message.content):
                await self.answer_message(message, message.content, entry="reply")
        else:
            await self.bot.process_commands(message)

    async def answer_message(self, message: discord.Message, question: str, *,
                             entry: str = "mention") -> None:
        """Reply to `message` with the answer to `question` (or why there is none);
        `entry` is how it was asked (mention, dm, prefix), for the metrics."""
        self.bot.metrics.questions.labels(entry).inc()
        question, names = self.prepare(message, question)
        problem = await self.problem_with(question, message.author.id,
                                          plain(question, names))
        if problem:
            await self.send_reply(message, Reply(render.error_embed(problem)))
            return
        # One typing indicator (it lasts until the reply); showing it is not worth an answer.
        with contextlib.suppress(discord.HTTPException):
            await message.channel.typing()
        try:
            reference = message.reference
            earlier = await self.earlier_answer(
                message.author.id, message.channel,
                reference.message_id if reference is not None else None)
            reply = await self.reply_for(
                question, user_id=message.author.id,
                guild_id=message.guild.id if message.guild else None,
                channel_id=message.channel.id, earlier=earlier, names=names)
        except StateUnavailable as exc:  # PostgreSQL (state_dsn) is down: it passes
            self.bot.metrics.errors.labels(entry).inc()
            log.error("answering message %s failed: %s", message.id, exc)
            reply = Reply(render.error_embed(STATE_DOWN))
        except Exception:
            self.bot.metrics.errors.labels(entry).inc()
            log.exception("answering message %s failed", message.id)
            reply = Reply(render.error_embed(SORRY))
        await self.send_reply(message, reply)

    async def send_reply(self, message: discord.Message, reply: Reply) -> None:
        """Reply to `message`. A server error is retried once (discord.py does not retry a
        503); a reply that cannot be sent is logged with the message it answers."""
        for attempt in (1, 2):
            try:
                sent = await message.reply(**reply.kwargs(), mention_author=False)
                await self.remember(reply, sent)
                return
            except discord.HTTPException as exc:
                if attempt == 1 and exc.status >= 500:
                    await asyncio.sleep(1)
                    continue
                log.error("could not reply to message %s in channel %s: HTTP %s %s",
                          message.id, message.channel.id, exc.status, exc.text[:200])
                return


#: Directional embeddings, overrides and isolates: echoed in a reply they would reorder it.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def tidy(question: str) -> str:
    """The question as it is answered, stored and echoed: lone surrogates (which cannot be
    encoded) replaced, directional controls removed, outer blank space trimmed."""
    question = question.encode("utf-8", "replace").decode("utf-8")
    return BIDI_CONTROLS.sub("", question).strip()


def _shorten(text: str, limit: int) -> str:
    """Plain text (autocomplete shows no markdown) of at most `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def setup(bot: CiteBot) -> None:
    await bot.add_cog(Ask(bot))
