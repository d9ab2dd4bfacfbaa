"""Questions about time and timelines on Discord, on the dated corpus
(`tests/data/dated/`), with the bot's clock fixed at noon on Wednesday 2 December 2026."""

from __future__ import annotations

import datetime as dt
from typing import Any

from index import IndexSettings
from tests.conftest import Running, StartBot
from tests.discord_fake import EPHEMERAL
from tests.test_bot_ask import text_of
from tests.test_bot_conversations import ask

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


async def start(start_bot: StartBot, dated_settings: IndexSettings) -> Running:
    run = await start_bot(own_index=dated_settings)
    run.bot.clock = lambda: NOW
    return run


def description(message: dict[str, Any]) -> str:
    return str(message["embeds"][0].get("description", ""))


async def test_a_time_question_quotes_that_day_and_says_the_range(
        start_bot: StartBot, dated_settings: IndexSettings) -> None:
    run = await start(start_bot, dated_settings)
    reply = await ask(run, "What did the Home Secretary say yesterday?")
    assert description(reply).startswith(
        "*From articles of 1 Dec 2026 · 2 undated articles left out*")
    assert "1 Dec 2026, paragraph 1" in text_of(reply)  # the source line's date
    assert "defended the one-in-one-out returns deal" in text_of(reply)


async def test_ask_since_until_limits_the_articles(start_bot: StartBot,
                                                   dated_settings: IndexSettings) -> None:
    run = await start(start_bot, dated_settings)
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild,
                              question="What did the Home Secretary say?",
                              since="2026-11-20", until="30 November")
    reply = await run.fake.reply_to(ix)
    assert description(reply).startswith("*From articles of 20–30 Nov 2026")
    assert "smuggling gangs would be hunted down" in text_of(reply)


async def test_a_since_that_is_not_a_date_is_refused_privately(
        start_bot: StartBot, dated_settings: IndexSettings) -> None:
    run = await start(start_bot, dated_settings)
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild,
                              question="What did the Home Secretary say?", since="soonish")
    reply = await run.fake.reply_to(ix)
    assert "'soonish' is not a date" in text_of(reply) and reply["flags"] & EPHEMERAL
    assert ix.callback_types == [4]  # told at once, not "thinking"


async def test_no_article_in_the_range_says_which_range(start_bot: StartBot,
                                                        dated_settings: IndexSettings) -> None:
    run = await start(start_bot, dated_settings)
    reply = await ask(run, "How many people crossed the Channel in 2015?")
    assert "No indexed article of 2015 says. (2 articles without a date left out.)" \
        in text_of(reply)


async def test_timeline_shows_dated_quotes_oldest_first(start_bot: StartBot,
                                                        dated_settings: IndexSettings) -> None:
    run = await start(start_bot, dated_settings)
    ix = await run.fake.slash("timeline", user=run.member, guild=run.guild,
                              topic="Channel crossings")
    reply = await run.fake.reply_to(ix)
    text = description(reply)
    days = ["24 Nov 2026", "27 Nov 2026", "30 Nov 2026", "1 Dec 2026", "2 Dec 2026"]
    assert [text.index(f"**{d}**") for d in days] == sorted(text.index(f"**{d}**")
                                                           for d in days)
    assert "winter market" not in text.lower()
    sources = reply["embeds"][0]["fields"][0]["value"]
    assert sources.count("](<https://news.example/") == 5  # each quote linked to its article
    assert "2 articles on it without a date left out" in reply["embeds"][0]["footer"]["text"]


async def test_timeline_of_an_undated_story_says_so(start_bot: StartBot) -> None:
    run = await start_bot()  # the bundled article has no date
    ix = await run.fake.slash("timeline", user=run.member, guild=run.guild,
                              topic="Jordan Bardella")
    assert "No dated article is about that." in text_of(await run.fake.reply_to(ix))
