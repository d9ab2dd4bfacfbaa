"""The bot token appears in no log line, reply, request body or error message, even at
DEBUG level and through faults and failures."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pytest

from index import IndexSettings
from tests.bot_process import bot_process
from tests.conftest import StartBot
from tests.discord_fake import FakeDiscord
from tests.hardening.helpers import forget_expected_errors
from tests.test_bot_admin import finished
from tests.test_bot_ask import LEADER, QUESTION, text_of

SECRET = "MTIzNDU2Nzg5.CITEBOT-SECRET-TOKEN.q8w7e6r5t4y3u2i1o0p"


def everything_logged(records: list[logging.LogRecord]) -> str:
    parts = []
    for r in records:
        parts.append(r.getMessage())
        if r.exc_info:
            parts.append("".join(traceback.format_exception(*r.exc_info)))
    return "\n".join(parts)


async def test_the_token_leaks_nowhere_through_faults_and_failures(
        start_bot: StartBot, fake: FakeDiscord, own_index_settings: IndexSettings,
        caplog: pytest.LogCaptureFixture) -> None:
    fake.token = SECRET
    with caplog.at_level(logging.DEBUG):
        run = await start_bot(own_index=own_index_settings, token=SECRET)
        me = fake.bot_user.id
        ask = await fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        assert LEADER in text_of(await fake.reply_to(ask))
        # faults: a dropped connection (the token is sent again to RESUME), a 429, a 5xx
        await fake.drop_connection()
        await fake.wait_for(lambda: fake.resumes == 1, 10)
        fake.fail("POST", r"^/webhooks/", 429, retry_after=0.1)
        fake.fail("POST", r"^/channels/\d+/messages$", 502)
        ask = await fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        await fake.reply_to(ask, timeout=10)
        await fake.send_message(run.member, f"<@{me}> {QUESTION}", guild=run.guild)
        await fake.next_bot_message(run.channel, after=1, timeout=10)
        # failures: a command that raises, a refused link, a reindex
        real_answer = run.bot.answer

        async def broken(*args: object, **kwargs: object) -> object:
            raise RuntimeError("index exploded")

        run.bot.answer = broken
        ask = await fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        assert "went wrong" in text_of(await fake.reply_to(ask))
        await fake.send_message(run.member, QUESTION)
        await fake.next_bot_message(fake.dm_channel(run.member))
        run.bot.answer = real_answer
        add = await fake.slash("source", subcommand="add", user=fake.owner, guild=run.guild,
                               url="http://169.254.169.254/")
        await fake.reply_to(add)
        reindex = await fake.slash("reindex", user=fake.owner, guild=run.guild)
        await fake.wait_for(lambda: finished(reindex), 60)
        assert forget_expected_errors(run, "index exploded")

    logged = everything_logged(caplog.records)
    assert len(caplog.records) > 50 and "index exploded" in logged
    assert SECRET not in logged
    sent = json.dumps([r.body for r in fake.requests if not isinstance(r.body, dict)
                       or "files" not in r.body], default=repr)
    assert SECRET not in sent
    shown = json.dumps([m for m in fake.messages.values()], default=repr)
    assert SECRET not in shown
    assert SECRET not in repr(run.bot.settings) and SECRET not in repr(vars(run.bot.settings))


@pytest.mark.long
async def test_python_m_bot_at_debug_level_never_prints_the_token(
        fake: FakeDiscord, own_index_settings: IndexSettings, tmp_path: Path) -> None:
    fake.token = SECRET
    async with bot_process(fake, tmp_path, own_index_settings.data_dir,
                           CITEBOT_LOG_LEVEL="DEBUG") as run:
        guild = next(iter(fake.guilds.values()))
        reader = fake.add_user("reader")
        ix = await fake.slash("ask", user=reader, guild=guild, question=QUESTION)
        assert LEADER in text_of(await fake.reply_to(ix, timeout=30))
        await fake.drop_connection()
        await fake.wait_for(lambda: fake.resumes == 1, 30)
        fake.fail("POST", r"^/webhooks/", 500)
        ix = await fake.slash("ask", user=reader, guild=guild, question=QUESTION)
        await fake.reply_to(ix, timeout=30)
    text = run.output
    assert "DEBUG" in text and len(text.splitlines()) > 50
    assert SECRET not in text
