"""Living in a news server: a reply is enough, answer channels and forum posts (real
discord.py client, fake Discord over real sockets, real index)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from tests.conftest import Running, StartBot
from tests.discord_fake import Json, User
from tests.hardening.test_load import rss_mb
from tests.test_bot_ask import LEADER, QUESTION, text_of
from tests.test_bot_conversations import (
    FIRST,
    FIRST_QUOTE,
    FOLLOW_UP,
    FOLLOW_UP_QUOTE,
    NOTE,
    ask,
    footer,
    shown,
)

UNCOVERED = "What is the capital of Peru?"
SHED = "Lots of questions here at once"


async def settled(run: Running, seconds: float = 0.3) -> None:
    """Give the bot time to act on what was sent (for checks that it did nothing)."""
    await asyncio.sleep(seconds)


def replies_to(run: Running, message: Json) -> list[Json]:
    return [m for m in run.fake.messages.values()
            if (m.get("message_reference") or {}).get("message_id") == message["id"]
            and m["author"]["id"] == str(run.fake.bot_user.id)]


# -- a reply is enough ---------------------------------------------------------------------

async def test_a_reply_that_only_pings_the_bot_is_answered_as_a_follow_up(
        start_bot: StartBot) -> None:
    run = await start_bot()  # no message-content intent: the ping alone brings the text
    answer = await ask(run, FIRST)
    before = len(run.fake.bot_messages(run.channel))
    reply = await run.fake.send_message(run.member, FOLLOW_UP, guild=run.guild,
                                        reply_to=answer)
    assert f"<@{run.fake.bot_user.id}>" not in reply["content"]
    follow = await run.fake.next_bot_message(run.channel, after=before)
    assert FOLLOW_UP_QUOTE in text_of(follow) and NOTE in footer(follow)


async def test_a_reply_with_the_ping_turned_off_is_not_seen(start_bot: StartBot) -> None:
    run = await start_bot()
    answer = await ask(run, FIRST)
    quiet = await run.fake.send_message(run.member, FOLLOW_UP, guild=run.guild,
                                        reply_to=answer, ping=False)
    await ask(run, QUESTION)  # a later question is answered: the quiet one was passed over
    assert replies_to(run, quiet) == []


async def test_thanks_in_a_reply_is_not_taken_for_a_question(start_bot: StartBot) -> None:
    run = await start_bot()
    answer = await ask(run, FIRST)
    thanks = await run.fake.send_message(run.member, "thanks, great!", guild=run.guild,
                                         reply_to=answer)
    await ask(run, QUESTION)
    assert replies_to(run, thanks) == []


# -- answer channels -----------------------------------------------------------------------

async def answer_channel(run: Running, channel: int | None = None,
                         **options: Any) -> Json:
    """The server owner runs `/answers here` in `channel` (default: general)."""
    ix = await run.fake.slash("answers", subcommand="here", user=run.fake.owner,
                              guild=run.guild, channel=channel, **options)
    return await run.fake.reply_to(ix)


async def post(run: Running, text: str, *, user: User | None = None, **where: Any) -> Json:
    return await run.fake.send_message(user or run.member, text, guild=run.guild, **where)


async def thread_answer(run: Running, question: Json, count: int = 1) -> Json:
    """The bot's `count`-th message in the thread started from `question`."""
    thread = int(question["id"])
    await run.fake.wait_for(lambda: len(run.fake.bot_messages(thread)) >= count, 10)
    return await shown(run, run.fake.bot_messages(thread)[count - 1])


async def test_a_question_in_an_answer_channel_is_answered_in_a_new_thread(
        start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=True)
    assert "every question" in text_of(await answer_channel(run))
    question = await post(run, QUESTION)
    answer = await thread_answer(run, question)
    thread = run.fake.threads[int(question["id"])]
    assert thread["parent_id"] == str(run.channel)
    assert thread["name"] == QUESTION
    assert LEADER in text_of(answer)
    assert replies_to(run, question) == []  # not a reply in the channel too


async def test_chatter_in_an_answer_channel_is_left_alone(start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=True)
    await answer_channel(run)
    for chatter in ("good morning all", "lol", "https://news.example/story", "thanks!"):
        message = await post(run, chatter)
        await settled(run, 0.05)
        assert int(message["id"]) not in run.fake.threads
    question = await post(run, QUESTION)
    await thread_answer(run, question)
    assert len(run.fake.threads) == 1 and run.fake.reactions == []


async def test_the_askers_next_message_in_the_thread_is_a_follow_up(
        start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=True)
    await answer_channel(run)
    question = await post(run, FIRST)
    assert FIRST_QUOTE in text_of(await thread_answer(run, question))
    thread = int(question["id"])
    await post(run, FOLLOW_UP, thread=thread)  # no mention
    follow = await thread_answer(run, question, 2)
    assert FOLLOW_UP_QUOTE in text_of(follow) and NOTE in footer(follow)
    # someone else asking there starts their own conversation
    other = run.fake.add_user("neighbour")
    await post(run, "Who paid for the fireworks display?", user=other, thread=thread)
    theirs = await thread_answer(run, question, 3)
    assert "fishing cooperative" in text_of(theirs) and "follow-up" not in footer(theirs)


async def test_style_reply_answers_with_a_reply(start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=True)
    await answer_channel(run, style="reply")
    question = await post(run, QUESTION)
    await run.fake.wait_for(lambda: replies_to(run, question), 10)
    assert LEADER in text_of(replies_to(run, question)[0]) and not run.fake.threads


async def test_an_abstention_in_an_answer_channel_is_only_a_reaction(
        start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=True)
    await answer_channel(run)
    question = await post(run, UNCOVERED)
    await run.fake.wait_for(lambda: run.fake.reactions, 10)
    assert run.fake.reactions == [(run.channel, int(question["id"]), "🤷")]
    assert not run.fake.threads and replies_to(run, question) == []


async def test_bots_and_webhooks_are_never_answered(start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=True)
    await answer_channel(run)
    other_bot = run.fake.add_user("newsbot")
    other_bot.bot = True
    from_bot = await post(run, QUESTION, user=other_bot)
    from_hook = await post(run, QUESTION, author_is_webhook=True)
    question = await post(run, QUESTION)
    await thread_answer(run, question)
    assert int(from_bot["id"]) not in run.fake.threads
    assert int(from_hook["id"]) not in run.fake.threads


async def test_a_forum_post_is_answered_inside_the_post(start_bot: StartBot,
                                                        fake: Any) -> None:
    guild = next(iter(fake.guilds.values()))
    forum = await fake.add_channel(guild, "ask-the-news", forum=True)
    run = await start_bot(message_content_intent=True)
    rules = await run.fake.post_in_forum(run.fake.owner, run.guild, forum, "How this works",
                                         "Post a question, get quotes.")
    assert "every new post" in text_of(await answer_channel(run, channel=int(rules["id"])))
    first = await run.fake.post_in_forum(run.member, run.guild, forum,
                                         "Who leads the National Rally party?",
                                         "I keep hearing the name.")
    answer = await thread_answer(run, first)
    assert LEADER in text_of(answer) and answer["channel_id"] == first["id"]
    # later questions of the post's author there are follow-ups, without a mention
    story = await run.fake.post_in_forum(run.member, run.guild, forum, "Bardella",
                                         FIRST)
    assert FIRST_QUOTE in text_of(await thread_answer(run, story))
    await post(run, FOLLOW_UP, thread=int(story["id"]))
    follow = await thread_answer(run, story, 2)
    # the post was asked as its title and text together
    assert FOLLOW_UP_QUOTE in text_of(follow)
    assert f"read as a follow-up of: Bardella. {FIRST}" in footer(follow)


async def test_answer_channels_need_the_message_content_intent(start_bot: StartBot) -> None:
    run = await start_bot()
    refused = await answer_channel(run)
    assert "message-content intent" in text_of(refused) and refused["flags"] & (1 << 6)
    assert run.bot.answer_channels == {}


async def test_only_admins_mark_answer_channels_and_off_ends_it(start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=True)
    ix = await run.fake.slash("answers", subcommand="here", user=run.member, guild=run.guild)
    assert "Only server managers" in text_of(await run.fake.reply_to(ix))
    await answer_channel(run)
    off = await run.fake.slash("answers", subcommand="off", user=run.fake.owner,
                               guild=run.guild)
    assert "Stopped" in text_of(await run.fake.reply_to(off))
    question = await post(run, QUESTION)
    await ask(run, "Who paid for the fireworks?")  # mentions still work
    assert int(question["id"]) not in run.fake.threads


async def test_answer_channels_survive_a_restart(start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=True)
    await answer_channel(run)
    await run.bot.close()
    run = await start_bot(message_content_intent=True)
    question = await post(run, QUESTION)
    assert LEADER in text_of(await thread_answer(run, question))


async def test_a_flood_is_answered_up_to_the_cap_and_shed_with_one_note(
        start_bot: StartBot) -> None:
    """200 messages in 20 s in one answer channel, from 20 people: every question is
    answered or covered by the one visible note; no 429 storm; memory flat."""
    run = await start_bot(message_content_intent=True, answer_channel_per_minute=12)
    await answer_channel(run)
    limit = run.fake.limit_rate("POST", r"^/channels/\d+/messages$", 5, 5.0)  # Discord's
    people = [run.fake.add_user(f"reader-{i}") for i in range(20)]
    rng = random.Random(20261202)
    texts = [QUESTION, "Who paid for the fireworks?", "Would Bardella allow pushbacks?",
             "How many visitors did the harbour festival draw?", "lol", "same question here"]
    warm = await post(run, "Which glacier did the survey team measure?")
    await thread_answer(run, warm)
    memory_before = rss_mb()
    requests_before = len(run.fake.requests)
    sent: list[Json] = []
    started = time.monotonic()
    for i in range(200):
        sent.append(await post(run, rng.choice(texts), user=rng.choice(people)))
        await asyncio.sleep(max(0.0, started + 20 * (i + 1) / 200 - time.monotonic()))
    await settled(run, 1.0)
    await run.fake.wait_for(lambda: run.bot.get_cog("Answers").busy == 0, 30)
    questions = [m for m in sent if m["content"] not in ("lol", "same question here")]
    answered = [m for m in questions if run.fake.bot_messages(int(m["id"]))]
    notes = [m for m in run.fake.bot_messages(run.channel) if SHED in m.get("content", "")]
    shed_cog = run.bot.get_cog("Answers").shed
    # 12 a minute, less the warm-up question
    assert len(answered) == 11 and shed_cog == len(questions) - len(answered)
    assert len(notes) == 1  # one note for the flood, visible in the channel
    first_shed = next(m for m in questions if m not in answered)
    assert int(notes[0]["id"]) > int(first_shed["id"])  # shown when shedding began
    calls = run.fake.requests[requests_before:]
    print(f"\nflood: {len(sent)} messages, {len(questions)} questions, {len(answered)} "
          f"answered, {shed_cog} shed, {len(notes)} note, {len(calls)} REST calls, "
          f"{limit.served} 429s, RSS {memory_before:.0f} -> {rss_mb():.0f} MB")
    assert limit.served == 0  # never over Discord's per-channel limit: no 429 to retry
    assert len(calls) <= 2 * len(answered) + 5, [c.path for c in calls][-20:]
    assert rss_mb() - memory_before < 50
