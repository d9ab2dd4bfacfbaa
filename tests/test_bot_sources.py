"""/sources, /help and /stats."""

from __future__ import annotations

from tests.conftest import StartBot
from tests.test_bot_ask import QUESTION, text_of


async def test_sources_lists_titles_links_and_sentence_counts(start_bot: StartBot) -> None:
    run = await start_bot()
    ix = await run.fake.slash("sources", user=run.member, guild=run.guild)
    text = text_of(await run.fake.reply_to(ix))
    assert "Indexed articles (3)" in text
    assert "[Harbour festival draws crowds](<https://news.example/harbour-festival>)" in text
    assert "3 sentences, indexed" in text  # the harbour article has three sentences
    assert "Bardella channel pushbacks" in text or "bardella" in text.lower()


async def test_sources_pages_flip_with_the_buttons(start_bot: StartBot) -> None:
    run = await start_bot(sources_per_page=2)
    ix = await run.fake.slash("sources", user=run.member, guild=run.guild)
    first = await run.fake.reply_to(ix)
    assert first["embeds"][0]["footer"]["text"] == "Page 1/2"
    page_one = first["embeds"][0]["description"]
    next_id = first["components"][0]["components"][1]["custom_id"]
    flip = await run.fake.click(first, next_id, user=run.member, guild=run.guild)
    await run.fake.wait_for(lambda: flip.callbacks)
    assert flip.callback_types == [7]  # the list message itself is updated
    page_two = run.fake.messages[int(first["id"])]
    assert page_two["embeds"][0]["footer"]["text"] == "Page 2/2"
    assert "The glacier survey" in page_two["embeds"][0]["description"]
    assert "The glacier survey" not in page_one


async def test_help_lists_every_command_from_its_docstring(start_bot: StartBot) -> None:
    run = await start_bot()
    ix = await run.fake.slash("help", user=run.member, guild=run.guild)
    text = text_of(await run.fake.reply_to(ix))
    for name in ("/ask", "/sources", "/source add", "/reindex", "/stats", "/help"):
        assert f"`{name}`" in text
    assert "Re-read the article sources and rebuild the index (admins only)." in text
    assert "!ask" not in text  # the prefix is off without the message-content intent


async def test_stats_counts_questions_and_reports_the_index(start_bot: StartBot) -> None:
    run = await start_bot()
    for _ in range(2):
        ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        await run.fake.reply_to(ask)
    ix = await run.fake.slash("stats", user=run.member, guild=run.guild)
    fields = {f["name"]: f["value"] for f in (await run.fake.reply_to(ix))["embeds"][0]["fields"]}
    assert fields["Questions answered"] == "2"
    assert fields["Articles"] == str(run.bot.index.article_count)
    assert fields["Sentences"] == str(run.bot.index.sentence_count)
    assert fields["Index version"] == f"`{run.bot.index.version}`"
    assert fields["Median answer time"].endswith(" ms")
