"""Asking through every door — /ask, a mention, the prefix, a DM — against the real client,
the fake Discord and the real index."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import StartBot
from tests.discord_fake import EPHEMERAL, LOADING

QUESTION = "Who leads the National Rally party?"
#: the quote as the sentence reads, and as an answer shows it (the answer words in bold)
LEADER_TEXT = "Jordan Bardella, the leader of the far-right National Rally party"
LEADER = LEADER_TEXT.replace("Jordan Bardella", "**Jordan Bardella**")


def text_of(message: dict[str, Any]) -> str:
    """Everything a reader sees in a message: content, embed title, description, fields."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields", [])]
        parts.append(embed.get("footer", {}).get("text", ""))
    return "\n".join(parts)


def button_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components") or []
            for c in row["components"]]


async def test_slash_ask_defers_then_answers_with_a_quote(start_bot: StartBot) -> None:
    run = await start_bot()
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    reply = await run.fake.reply_to(ix)
    assert ix.callback_types == [5]  # a deferred "thinking" response first
    assert not reply["flags"] & LOADING
    embed = reply["embeds"][0]
    assert LEADER in embed["description"] and "**[1]**" in embed["description"]
    sources = embed["fields"][0]
    assert sources["name"] == "Sources"
    assert "**[1]**" in sources["value"] and "paragraph 1, sentence 2" in sources["value"]


async def test_answer_has_context_and_feedback_buttons(start_bot: StartBot) -> None:
    run = await start_bot()
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    ids = button_ids(await run.fake.reply_to(ix))
    assert [i.split(":")[1] for i in ids] == ["context", "followup", "vote", "vote"]


async def test_a_mention_is_a_question_without_the_content_intent(start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=False)
    me = run.fake.bot_user.id
    question = await run.fake.send_message(run.member, f"<@{me}> {QUESTION}", guild=run.guild)
    reply = await run.fake.next_bot_message(run.channel)
    assert reply["message_reference"]["message_id"] == question["id"]
    assert LEADER in text_of(reply)


async def test_prefix_command_answers_with_the_content_intent(start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=True)
    await run.fake.send_message(run.member, f"!ask {QUESTION}", guild=run.guild)
    reply = await run.fake.next_bot_message(run.channel)
    assert LEADER in text_of(reply)


async def test_prefix_command_is_off_without_the_content_intent(
        start_bot: StartBot, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bot"):
        run = await start_bot(message_content_intent=False)
    assert any("message-content intent" in r.getMessage() for r in caplog.records)
    me = run.fake.bot_user.id
    await run.fake.send_message(run.member, f"!ask {QUESTION}", guild=run.guild)
    marker = await run.fake.send_message(run.member, f"<@{me}> Who is Mette Frederiksen?",
                                         guild=run.guild)
    reply = await run.fake.next_bot_message(run.channel)
    # Messages are handled in order, so had `!ask` been answered, that reply came first.
    assert reply["message_reference"]["message_id"] == marker["id"]
    await run.fake.wait_for(lambda: run.bot.stats().questions == 1)
    assert len(run.fake.bot_messages(run.channel)) == 1


async def test_any_direct_message_is_a_question(start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=False)
    await run.fake.send_message(run.member, QUESTION)
    reply = await run.fake.next_bot_message(run.fake.dm_channel(run.member))
    assert LEADER in text_of(reply)


async def test_the_prefix_also_works_in_direct_messages(start_bot: StartBot) -> None:
    run = await start_bot(message_content_intent=False)
    await run.fake.send_message(run.member, f"!ask {QUESTION}")
    reply = await run.fake.next_bot_message(run.fake.dm_channel(run.member))
    assert LEADER in text_of(reply)
    assert "!ask" not in reply["embeds"][0]["title"]


async def test_an_empty_mention_gets_usage_help(start_bot: StartBot) -> None:
    run = await start_bot()
    await run.fake.send_message(run.member, f"<@{run.fake.bot_user.id}>", guild=run.guild)
    reply = await run.fake.next_bot_message(run.channel)
    assert "/ask question:" in text_of(reply)
    assert run.bot.stats().questions == 0


async def test_an_empty_slash_question_gets_usage_help_privately(start_bot: StartBot) -> None:
    run = await start_bot()
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question="   ")
    reply = await run.fake.reply_to(ix)
    assert ix.callback_types == [4] and reply["flags"] & EPHEMERAL
    assert "/ask question:" in text_of(reply)


async def test_a_too_long_question_is_refused_clearly(start_bot: StartBot) -> None:
    run = await start_bot(max_question_chars=50)
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question="w" * 80)
    reply = await run.fake.reply_to(ix)
    assert reply["flags"] & EPHEMERAL
    assert "80 characters" in text_of(reply) and "at most 50" in text_of(reply)
    assert run.bot.stats().questions == 0


async def test_the_rate_limit_answers_politely_and_privately(start_bot: StartBot) -> None:
    run = await start_bot(rate_limit_count=2, rate_limit_seconds=30)
    for _ in range(2):
        ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        assert LEADER in text_of(await run.fake.reply_to(ix))
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    reply = await run.fake.reply_to(ix)
    assert reply["flags"] & EPHEMERAL and "please wait" in text_of(reply)
    other = run.fake.add_user("someone-else")
    ix = await run.fake.slash("ask", user=other, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(ix))  # the limit is per user


async def test_private_ask_is_ephemeral(start_bot: StartBot) -> None:
    run = await start_bot()
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION,
                              private=True)
    reply = await run.fake.reply_to(ix)
    assert ix.callbacks[0]["data"]["flags"] & EPHEMERAL
    assert LEADER in text_of(reply)
    assert reply not in run.fake.channel_log.get(run.channel, [])


async def test_abstains_when_the_articles_do_not_say(start_bot: StartBot) -> None:
    run = await start_bot()
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild,
                              question="What is the boiling point of liquid nitrogen?")
    reply = await run.fake.reply_to(ix)
    assert "The indexed articles don't say" in text_of(reply)
    assert "**[1]**" not in reply["embeds"][0]["description"].split("not** an answer")[0]


async def test_a_quoted_everyone_pings_no_one(start_bot: StartBot) -> None:
    run = await start_bot()
    question = "What did the organisers' note invite residents to?"
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=question)
    reply = await run.fake.reply_to(ix)
    assert "@everyone" in text_of(reply)
    assert reply["_allowed_mentions"]["parse"] == []
    me = run.fake.bot_user.id
    await run.fake.send_message(run.member, f"<@{me}> {question} @everyone <@{run.member.id}>",
                                guild=run.guild)
    by_mention = await run.fake.next_bot_message(run.channel, after=1)
    assert "@everyone" in text_of(by_mention)
    assert by_mention["_allowed_mentions"]["parse"] == []
    assert by_mention["_allowed_mentions"].get("replied_user") in (None, False)


async def test_a_long_quote_is_cut_visibly_within_discord_limits(start_bot: StartBot) -> None:
    run = await start_bot()
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild,
                              question="Which measuring stations does the glacier report list?")
    embed = (await run.fake.reply_to(ix))["embeds"][0]
    description = embed["description"]
    assert "station Alder at 1000 metres" in description
    assert len(description) <= 4096
    assert "… **[1]**" in description  # cut at a word, with an ellipsis before the marker
    total = len(embed["title"]) + len(description) + sum(
        len(f["name"]) + len(f["value"]) for f in embed["fields"]) + len(
        embed.get("footer", {}).get("text", ""))
    assert total <= 6000


async def test_source_autocomplete_offers_the_visible_articles(start_bot: StartBot) -> None:
    run = await start_bot()
    choices = await run.fake.autocomplete("ask", "source", "harb", user=run.member,
                                          guild=run.guild)
    assert [c["name"] for c in choices] == ["Harbour festival draws crowds"]


async def test_ask_restricted_to_one_source_quotes_only_it(start_bot: StartBot) -> None:
    run = await start_bot()
    [choice] = await run.fake.autocomplete("ask", "source", "harb", user=run.member,
                                           guild=run.guild)
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild,
                              question="Who paid for the fireworks?", source=choice["value"])
    embed = (await run.fake.reply_to(ix))["embeds"][0]
    assert "fishing cooperative" in embed["description"]
    assert all("Harbour festival" in f["value"] for f in embed["fields"])


async def test_the_bot_stays_responsive_while_answers_are_computed(start_bot: StartBot) -> None:
    import threading

    run = await start_bot()
    busy = threading.Event()
    # Occupy the index thread, as a slow answer would.
    held = run.bot.index_thread.submit(busy.wait, 30)
    try:
        ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        await run.fake.wait_for(lambda: ask.callbacks)  # acknowledged within Discord's window
        help_ = await run.fake.slash("help", user=run.member, guild=run.guild)
        assert "/ask" in text_of(await run.fake.reply_to(help_))  # other commands still work
        assert not ask.replies  # the answer itself waits for the index thread
    finally:
        busy.set()
    held.result(5)
    assert LEADER in text_of(await run.fake.reply_to(ask))
