"""Feeds on Discord: /feed add|list|remove, and the background check that indexes a new
entry within one interval and announces it, while questions are answered meanwhile."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from index import IndexSettings, list_feeds
from tests.conftest import Running, StartBot
from tests.discord_fake import EPHEMERAL, FakeDiscord
from tests.feed_site import FeedSite
from tests.index.test_feeds import FERRY, HARBOUR
from tests.test_bot_ask import LEADER, QUESTION, text_of

HARBOUR_Q = "When did the council approve the harbour wall?"
FERRY_Q = "How often will the ferry sail in winter?"


@pytest.fixture
def feed_settings(own_index_settings: IndexSettings) -> IndexSettings:
    """A private index the bot may grow from a feed on 127.0.0.1."""
    return replace(own_index_settings, fetch_allow_private=True)


async def start(start_bot: StartBot, fake: FakeDiscord, settings: IndexSettings,
                **overrides: Any) -> Running:
    channel = next(iter(fake.guilds.values())).channel_id
    return await start_bot(own_index=settings, announce_channel_id=channel, **overrides)


def announcements(run: Running) -> list[dict[str, Any]]:
    """The bot's announcements in the server's channel (answers to /ask land there too)."""
    return [m["embeds"][0] for m in run.fake.bot_messages(run.channel)
            if m["embeds"] and m["embeds"][0].get("title", "").startswith("📰")]


async def test_a_new_entry_is_indexed_and_announced_within_one_interval(
        start_bot: StartBot, fake: FakeDiscord, feed_settings: IndexSettings,
        site: FeedSite) -> None:
    url = site.set_feed("/feed.xml", [HARBOUR])
    run = await start(start_bot, fake, feed_settings, feed_interval_minutes=0.03)
    first = run.bot.index.version
    ix = await run.fake.slash("feed", subcommand="add", user=run.fake.owner, guild=run.guild,
                              url=url)
    assert "📡 Following" in (await run.fake.reply_to(ix))["content"]
    await run.fake.wait_for(lambda: len(announcements(run)) == 1, 60)
    embed = announcements(run)[0]
    assert embed["title"] == "📰 1 new article indexed"
    assert embed["description"] == (f"• [Harbour wall approved](<{site.url}/news/harbour-wall>)"
                                    " — 26 Nov 2026")
    assert run.bot.index.version != first
    message = next(m for m in run.fake.bot_messages(run.channel) if m["embeds"])
    assert message["_allowed_mentions"] == {"parse": []}

    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=HARBOUR_Q)
    answer = text_of(await run.fake.reply_to(ask))
    assert "approved the new harbour wall on **Tuesday**" in answer
    assert "26 Nov 2026, paragraph 1, sentence 1" in answer

    # the next entry arrives on its own; questions meanwhile come from the current version
    cog = run.bot.get_cog("Feeds")
    gate = threading.Event()
    real = cog._update_and_open

    def held() -> Any:
        gate.wait(30)
        return real()

    cog._update_and_open = held
    site.set_feed("/feed.xml", [FERRY, HARBOUR])
    await run.fake.wait_for(lambda: run.bot.reindexing, 10)  # the next round has begun
    during = run.bot.index.version
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(ask))
    assert run.bot.index.version == during and run.bot.reindexing
    gate.set()
    await run.fake.wait_for(lambda: len(announcements(run)) == 2, 60)
    assert announcements(run)[1]["title"] == "📰 1 new article indexed"
    assert "Winter ferry timetable" in announcements(run)[1]["description"]
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=FERRY_Q)
    assert "ferry will sail **twice a day**" in text_of(await run.fake.reply_to(ask))


async def test_feed_list_shows_state_and_only_admins_change_feeds(
        start_bot: StartBot, fake: FakeDiscord, feed_settings: IndexSettings,
        site: FeedSite) -> None:
    url = site.set_feed("/feed.xml", [HARBOUR])
    run = await start(start_bot, fake, feed_settings, feed_interval_minutes=0,
                      per_server_collections=True)
    refused = await run.fake.slash("feed", subcommand="add", user=run.member, guild=run.guild,
                                   url=url)
    reply = await run.fake.reply_to(refused)
    assert reply["flags"] & EPHEMERAL and "Only server managers" in reply["content"]

    await run.fake.slash("feed", subcommand="add", user=run.fake.owner, guild=run.guild, url=url)
    await run.fake.wait_for(lambda: len(announcements(run)) == 1, 60)
    listed = await run.fake.slash("feed", subcommand="list", user=run.member, guild=run.guild)
    text = text_of(await run.fake.reply_to(listed))
    assert f"<{url}> — 1 article, checked" in text and "⚠️" not in text
    assert [f.collection for f in list_feeds(feed_settings)] == [str(run.guild.id)]
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=HARBOUR_Q)
    assert "approved the new harbour wall" in text_of(await run.fake.reply_to(ask))
    elsewhere = await run.fake.slash("feed", subcommand="list", user=run.member)  # a DM
    assert "No feeds are followed" in text_of(await run.fake.reply_to(elsewhere))

    site.routes["/feed.xml"].status = 500  # type: ignore[union-attr]
    await run.bot.get_cog("Feeds").check_now()
    listed = await run.fake.slash("feed", subcommand="list", user=run.member, guild=run.guild)
    assert "⚠️ the server answered HTTP 500" in text_of(await run.fake.reply_to(listed))

    removed = await run.fake.slash("feed", subcommand="remove", user=run.fake.owner,
                                   guild=run.guild, url=url, drop_articles=True)
    assert "Stopped following" in (await run.fake.reply_to(removed))["content"]
    before = run.bot.index.version
    await run.fake.wait_for(lambda: run.bot.index.version != before, 60)
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=HARBOUR_Q)
    assert "approved the new harbour wall" not in text_of(await run.fake.reply_to(ask))
