"""Follow-up questions on Discord: replies to an answer, threads, DMs, the "Follow up" button,
topic switches, and two people whose conversations do not mix (real client, fake Discord,
real index of the bundled article)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Running, StartBot
from tests.discord_fake import EPHEMERAL
from tests.test_bot_ask import text_of

FIRST = "What does Bardella want to do with France's immigration policy?"
FIRST_QUOTE = "Mr Bardella wants to completely overhaul France’s immigration policy"
FOLLOW_UP = "What would that include?"
FOLLOW_UP_QUOTE = "This includes relocating asylum processing to embassies"
NOTE = "read as a follow-up of: " + FIRST
SWITCH = "What did Mette Frederiksen call for?"
SWITCH_QUOTE = "his Danish counterpart Mette Frederiksen made a joint call"


def footer(message: dict[str, Any]) -> str:
    return str(message["embeds"][0].get("footer", {}).get("text", ""))


async def ask(run: Running, question: str, **where: Any) -> dict[str, Any]:
    """`run.member` (or `where['user']`) mentions the bot with `question`; the bot's reply."""
    user = where.pop("user", run.member)
    channel = where.get("thread") or run.channel
    before = len(run.fake.bot_messages(channel))
    await run.fake.send_message(user, f"<@{run.fake.bot_user.id}> {question}", guild=run.guild,
                                **where)
    return await shown(run, await run.fake.next_bot_message(channel, after=before))


async def shown(run: Running, message: dict[str, Any]) -> dict[str, Any]:
    """`message` once the bot has noted which answer it shows (a moment after sending it;
    a person replying takes longer than that)."""
    await run.fake.wait_for(lambda: run.bot.store.answer_shown_in(int(message["id"])))
    return message


async def test_a_reply_to_an_answer_is_read_as_its_follow_up(start_bot: StartBot) -> None:
    run = await start_bot()
    answer = await ask(run, FIRST)
    assert FIRST_QUOTE in text_of(answer) and "follow-up" not in footer(answer)
    reply = await ask(run, FOLLOW_UP, reply_to=answer)
    assert FOLLOW_UP_QUOTE in text_of(reply)
    assert NOTE in footer(reply)


async def test_a_plain_mention_in_a_channel_starts_afresh(start_bot: StartBot) -> None:
    run = await start_bot()
    await ask(run, FIRST)
    again = await ask(run, FOLLOW_UP)
    assert "follow-up" not in footer(again)


async def test_a_mention_in_a_thread_follows_up_the_answer_there(start_bot: StartBot) -> None:
    run = await start_bot()
    thread = await run.fake.add_thread(run.guild)
    answer = await ask(run, FIRST, thread=thread)
    assert FIRST_QUOTE in text_of(answer)
    reply = await ask(run, FOLLOW_UP, thread=thread)
    assert FOLLOW_UP_QUOTE in text_of(reply) and NOTE in footer(reply)


async def test_slash_ask_in_a_thread_started_from_an_answer_follows_it_up(
        start_bot: StartBot) -> None:
    run = await start_bot()
    answer = await ask(run, FIRST)
    thread = await run.fake.add_thread(run.guild, from_message=answer)
    other = run.fake.add_user("neighbour")
    ix = await run.fake.slash("ask", user=other, guild=run.guild, thread=thread,
                              question=FOLLOW_UP)
    reply = await run.fake.reply_to(ix)
    assert reply["channel_id"] == str(thread)
    assert FOLLOW_UP_QUOTE in text_of(reply) and NOTE in footer(reply)


async def test_a_direct_message_soon_after_an_answer_follows_it_up(start_bot: StartBot) -> None:
    run = await start_bot()
    dm = run.fake.dm_channel(run.member)
    await run.fake.send_message(run.member, FIRST)
    first = await shown(run, await run.fake.next_bot_message(dm))
    assert FIRST_QUOTE in text_of(first)
    await run.fake.send_message(run.member, FOLLOW_UP)
    reply = await run.fake.next_bot_message(dm, after=1)
    assert FOLLOW_UP_QUOTE in text_of(reply) and NOTE in footer(reply)


async def test_direct_messages_are_new_questions_when_followups_are_off(
        start_bot: StartBot) -> None:
    run = await start_bot(followup_minutes=0)
    dm = run.fake.dm_channel(run.member)
    await run.fake.send_message(run.member, FIRST)
    await shown(run, await run.fake.next_bot_message(dm))
    await run.fake.send_message(run.member, FOLLOW_UP)
    reply = await run.fake.next_bot_message(dm, after=1)
    assert "follow-up" not in footer(reply)


async def test_the_follow_up_button_asks_in_that_answers_context(start_bot: StartBot) -> None:
    run = await start_bot()
    answer = await ask(run, FIRST)
    button = next(c["custom_id"] for row in answer["components"] for c in row["components"]
                  if c["custom_id"].startswith("citebot:followup:"))
    opened = await run.fake.click(answer, button, user=run.member, guild=run.guild)
    await run.fake.wait_for(lambda: opened.callbacks)
    assert opened.callback_types == [9]  # a form, with one text field
    form = opened.callbacks[0]["data"]
    assert len([c for row in form["components"] for c in row["components"]]) == 1
    submitted = await run.fake.submit_modal(opened, [FOLLOW_UP], user=run.member,
                                            guild=run.guild)
    reply = await run.fake.reply_to(submitted)
    assert FOLLOW_UP_QUOTE in text_of(reply) and NOTE in footer(reply)


async def test_a_reply_that_names_a_new_subject_is_answered_on_its_own(
        start_bot: StartBot) -> None:
    run = await start_bot()
    answer = await ask(run, FIRST)
    reply = await ask(run, SWITCH, reply_to=answer)
    assert SWITCH_QUOTE in text_of(reply)
    assert "follow-up" not in footer(reply)


async def test_two_people_in_one_channel_keep_their_own_conversations(
        start_bot: StartBot) -> None:
    run = await start_bot()
    other = run.fake.add_user("neighbour")
    mine = await ask(run, FIRST)
    theirs = await ask(run, "Which newspaper did Bardella tell about pushbacks?", user=other)
    # each replies to their own answer: each follow-up borrows only from its own asker's
    reply = await ask(run, FOLLOW_UP, reply_to=mine)
    assert NOTE in footer(reply)
    reply = await ask(run, "Has France allowed that before?", user=other, reply_to=theirs)
    assert "read as a follow-up of: Which newspaper" in footer(reply)
    # replying to someone else's answer outside a thread does not borrow their context
    crossed = await ask(run, FOLLOW_UP, user=other, reply_to=mine)
    assert "follow-up" not in footer(crossed)


async def test_follow_ups_survive_a_restart(start_bot: StartBot) -> None:
    run = await start_bot()
    answer = await ask(run, FIRST)
    await run.bot.close()
    asker = run.member
    run = await start_bot()
    reply = await ask(run, FOLLOW_UP, user=asker, reply_to=answer)
    assert NOTE in footer(reply)


async def test_a_follow_up_of_a_private_answer_stays_private(start_bot: StartBot) -> None:
    run = await start_bot()
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=FIRST,
                              private=True)
    answer = await run.fake.reply_to(ix)
    assert answer["flags"] & EPHEMERAL
    button = next(c["custom_id"] for row in answer["components"] for c in row["components"]
                  if c["custom_id"].startswith("citebot:followup:"))
    opened = await run.fake.click(answer, button, user=run.member, guild=run.guild)
    await run.fake.wait_for(lambda: opened.callbacks)
    submitted = await run.fake.submit_modal(opened, [FOLLOW_UP], user=run.member,
                                            guild=run.guild)
    reply = await run.fake.reply_to(submitted)
    assert reply["flags"] & EPHEMERAL
    assert FOLLOW_UP_QUOTE in text_of(reply) and NOTE in footer(reply)


async def test_in_a_thread_anyone_may_follow_up_an_answer_by_replying(
        start_bot: StartBot) -> None:
    run = await start_bot()
    thread = await run.fake.add_thread(run.guild)
    answer = await ask(run, FIRST, thread=thread)
    other = run.fake.add_user("neighbour")
    plain_mention = await ask(run, FOLLOW_UP, user=other, thread=thread)
    assert "follow-up" not in footer(plain_mention)  # not their conversation
    reply = await ask(run, FOLLOW_UP, user=other, thread=thread, reply_to=answer)
    assert FOLLOW_UP_QUOTE in text_of(reply) and NOTE in footer(reply)
