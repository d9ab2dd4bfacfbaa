"""Questions written in Discord markdown are answered like their plain versions."""

from __future__ import annotations

import pytest

from bot.markdown import plain
from tests.conftest import StartBot
from tests.test_bot_ask import text_of

QUESTION = "Who leads the National Rally?"

#: (as typed on Discord, the plain question it must be answered like)
CASES = [
    ("**Who** leads [the National Rally](https://example.com)? ||x||",
     "Who leads the National Rally? x"),
    ("*Who* __leads__ ~~the~~ ***National*** _Rally_?", QUESTION),
    ("||Who leads the National Rally?||", QUESTION),
    ("`Who leads` the ``National Rally``?", QUESTION),
    ("```\nWho leads the National Rally?\n```", QUESTION),
    ("> Who leads\n> the National Rally?", QUESTION),
    (">>> Who leads\nthe National Rally?", QUESTION),
    ("# Who leads the National Rally?", QUESTION),
    ("[Who leads](<https://example.com/a(b)>) the National Rally? <:blob:123456789>",
     "Who leads the National Rally?"),
    ("<@123> Who leads the <#456> National Rally? <@&789>", "Who leads the National Rally?"),
    ("Who leads the National Rally? <a:dance:42> <t:1700000000:R>", QUESTION),
]


@pytest.mark.parametrize(("typed", "expected"), CASES)
def test_markdown_is_made_plain(typed: str, expected: str) -> None:
    assert plain(typed) == expected


def test_mentions_become_the_names_they_show() -> None:
    assert plain("What did <@!42> say about <#7>?", {"<@42>": "Ann", "<#7>": "news"}) == \
        "What did Ann say about news?"


def test_ordinary_punctuation_is_kept() -> None:
    for text in ("Is 5 * 3 = 15?", "What is snake_case_name?", "Did he say \\*this\\*?",
                 "Why do 2 > 1 and 1 < 2 hold?"):
        assert plain(text).replace("\\", "") == text.replace("\\", "")


async def test_each_markdown_question_is_answered_like_its_plain_version(
        start_bot: StartBot) -> None:
    run = await start_bot(rate_limit_count=100)
    me = run.fake.bot_user.id
    replies = []
    for question in [q for case in CASES for q in case]:
        await run.fake.send_message(run.member, f"<@{me}> {question}", guild=run.guild)
        replies.append(await run.fake.next_bot_message(run.channel, after=len(replies)))
    for i, (typed, _) in enumerate(CASES):
        marked, unmarked = replies[2 * i], replies[2 * i + 1]
        assert marked["embeds"][0]["description"] == unmarked["embeds"][0]["description"], typed
    first = replies[0]
    assert "**Jordan Bardella**, the leader of the far-right National Rally party" \
        in text_of(first)
    # the question shown back is what was typed, escaped (the markdown is not rendered)
    assert "\\*\\*Who\\*\\*" in first["embeds"][0]["title"]
