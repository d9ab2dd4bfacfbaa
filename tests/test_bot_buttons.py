"""The buttons under an answer: "Show context" and 👍/👎."""

from __future__ import annotations

from bot.store import AnswerStore
from tests.conftest import StartBot
from tests.discord_fake import EPHEMERAL
from tests.test_bot_ask import LEADER_TEXT, QUESTION, button_ids, text_of


async def test_show_context_gives_the_whole_paragraph_privately(start_bot: StartBot) -> None:
    run = await start_bot()
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    answer = await run.fake.reply_to(ix)
    [context_id] = [i for i in button_ids(answer) if ":context:" in i]
    click = await run.fake.click(answer, context_id, user=run.member, guild=run.guild)
    shown = await run.fake.reply_to(click)
    assert click.callbacks[0]["data"]["flags"] & EPHEMERAL
    text = text_of(shown)
    assert f"**{LEADER_TEXT}" in text  # the quote, in bold ...
    assert "The UK will be allowed to push small boats" in text  # ... with its paragraph
    assert "Bardella wants to completely overhaul" not in text  # and not the next paragraph


async def test_feedback_is_stored_with_question_and_citations(start_bot: StartBot,
                                                              tmp_path: object) -> None:
    run = await start_bot()
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    answer = await run.fake.reply_to(ix)
    up, down = [i for i in button_ids(answer) if ":vote:" in i]
    click = await run.fake.click(answer, down, user=run.member, guild=run.guild)
    thanks = await run.fake.reply_to(click)
    assert thanks["flags"] & EPHEMERAL and "feedback was recorded" in thanks["content"]
    click = await run.fake.click(answer, up, user=run.member, guild=run.guild)
    await run.fake.reply_to(click)
    [vote] = AnswerStore(run.bot.store.path).votes()  # a second press changes the vote
    assert (vote.user_id, vote.vote, vote.question) == (run.member.id, 1, QUESTION)
    assert LEADER_TEXT in vote.citations[0].text


async def test_buttons_keep_working_after_a_restart(start_bot: StartBot) -> None:
    first = await start_bot()
    ix = await first.fake.slash("ask", user=first.member, guild=first.guild, question=QUESTION)
    answer = await first.fake.reply_to(ix)
    await first.bot.close()
    second = await start_bot()
    [context_id] = [i for i in button_ids(answer) if ":context:" in i]
    click = await second.fake.click(answer, context_id, user=second.member, guild=second.guild)
    assert LEADER_TEXT in text_of(await second.fake.reply_to(click))
