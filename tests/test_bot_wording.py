"""The bot's own texts: its markdown shows as formatting (not as literal backticks), and
counts agree with their nouns ("1 article")."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import render
from bot.exts.reindex import describe_report
from index import BuildReport, IndexSettings
from index.cli.main import print_report
from tests.conftest import StartBot


async def test_usage_help_shows_its_example_as_code(start_bot: StartBot) -> None:
    run = await start_bot()
    await run.fake.send_message(run.member, f"<@{run.fake.bot_user.id}>", guild=run.guild)
    reply = await run.fake.next_bot_message(run.channel)
    description = reply["embeds"][0]["description"]
    assert "`/ask question: Who leads the National Rally?`" in description
    assert "\\" not in description


async def test_no_index_message_shows_reindex_as_code_and_escapes_the_reason(
        start_bot: StartBot, tmp_path: Path, bot_index_settings: IndexSettings) -> None:
    from dataclasses import replace

    empty = replace(bot_index_settings, data_dir=tmp_path / "no_index_here")
    run = await start_bot(own_index=empty)
    await run.fake.send_message(run.member, "Who leads the National Rally party?")
    reply = await run.fake.next_bot_message(run.fake.dm_channel(run.member))
    description = reply["embeds"][0]["description"]
    assert "an admin can run `/reindex`" in description
    assert "no\\_index\\_here" in description  # the path is text, not markdown


def test_an_error_text_keeps_the_bots_markdown() -> None:
    assert render.error_embed("Run `/reindex` **now**.").description == "Run `/reindex` **now**."


@pytest.mark.parametrize(("n", "text"), [(0, "0 articles"), (1, "1 article"),
                                         (2, "2 articles")])
def test_plural(n: int, text: str) -> None:
    assert render.plural(n, "article") == text


def test_a_reindex_report_of_one_article_says_article() -> None:
    built = BuildReport("v000002", 1, 1, 1, 0, seconds=0.5)
    assert "**1** article, **1** sentence (1 embedded" in describe_report(built)
    same = BuildReport("v000002", 1, 1, 0, 1, unchanged=True)
    assert "sources: 1 article, still" in describe_report(same)


def test_the_cli_report_of_one_article_says_article() -> None:
    import click

    @click.command()
    def show() -> None:
        print_report(BuildReport("v000003", 1, 1, 1, 0, seconds=0.2))

    output = CliRunner().invoke(show).output
    assert "Built index v000003: 1 article, 1 sentence (1 embedded" in output
