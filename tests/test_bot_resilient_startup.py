"""Start-up against a Discord that fails for a while: the bot keeps going and retries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.settings import BotSettings
from index import IndexSettings
from tests.conftest import StartBot
from tests.discord_fake import FakeDiscord
from tests.test_bot_ask import LEADER, QUESTION, text_of

#: What Discord answers a command definition it does not accept.
INVALID_FORM_BODY = {
    "code": 50035, "message": "Invalid Form Body",
    "errors": {"0": {"name": {"_errors": [{"code": "APPLICATION_COMMAND_INVALID_NAME",
                                            "message": "Command name is invalid"}]}}},
}


async def test_a_refused_command_sync_is_retried_while_mentions_and_dms_are_answered(
        start_bot: StartBot, fake: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    refused = fake.fail("PUT", r"/commands$", 400, body=INVALID_FORM_BODY)
    broken = fake.fail("PUT", r"/commands$", 500)
    limited = fake.fail("PUT", r"/commands$", 429, retry_after=0.3)
    accept = fake.hold_command_sync()
    with caplog.at_level(logging.INFO, logger="bot"):
        run = await start_bot()

        me = fake.bot_user.id
        await fake.send_message(run.member, f"<@{me}> {QUESTION}", guild=run.guild)
        assert LEADER in text_of(await fake.next_bot_message(run.channel, timeout=30))
        await fake.send_message(run.member, QUESTION)
        dm = fake.dm_channel(run.member)
        assert LEADER in text_of(await fake.next_bot_message(dm, timeout=30))

        # 400, then 500, then 429: each answered, none of them ended the bot
        await fake.wait_for(lambda: limited.served == 1, 20)
        assert (refused.served, broken.served) == (1, 1)
        assert not fake.commands and not run.bot.is_closed()
        accept.set()
        await fake.wait_for(lambda: fake.commands.get(None), 20)
        await fake.wait_for(lambda: run.bot.commands_synced, 5)

    logged = [r.getMessage() for r in caplog.records if "slash commands" in r.getMessage()]
    assert any("HTTP 400" in m and "Command name is invalid" in m and "retrying" in m
               for m in logged), logged
    synced = len(run.bot.tree.get_commands())
    assert any(f"synced {synced} slash commands" in m for m in logged), logged
    # the refusal was logged as an error an operator has to look at: expected here
    run.errors.records.clear()

    ix = await fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await fake.reply_to(ix, timeout=30))


async def test_logging_in_is_retried_while_discord_fails(
        start_bot: StartBot, fake: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    me = fake.fail("GET", r"^/users/@me$", 503)
    app = fake.fail("GET", r"^/oauth2/applications/@me$", 503)
    gateway = fake.fail("GET", r"^/gateway/bot$", 503)
    with caplog.at_level(logging.WARNING, logger="bot"):
        run = await start_bot()
    assert (me.served, app.served, gateway.served) == (1, 1, 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("HTTP 503" in m and "retrying" in m for m in warnings) == 3, warnings
    await fake.send_message(run.member, QUESTION)
    assert LEADER in text_of(await fake.next_bot_message(fake.dm_channel(run.member),
                                                         timeout=30))


async def test_logging_in_is_retried_while_discord_is_unreachable(
        bot_index_settings: IndexSettings, bot_index: Any, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    from bot import create_bot
    from tests.test_bot_metrics import free_port

    port = free_port()  # nothing listens there yet: connection refused
    fake = FakeDiscord()
    url = f"http://127.0.0.1:{port}/api/v10"
    settings = BotSettings(api_base=url, gateway_url=f"ws://127.0.0.1:{port}/gateway",
                           feedback_db=str(tmp_path / "bot.sqlite3"))
    route_base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    bot = create_bot(settings, bot_index_settings, index=bot_index, guild_ready_timeout=0.05)
    connect: asyncio.Task[None] | None = None
    try:
        with caplog.at_level(logging.WARNING, logger="bot"):
            login = asyncio.create_task(bot.login(fake.token))
            await asyncio.sleep(1.5)
            assert not login.done()
            await fake.start(port)  # Discord is back
            await asyncio.wait_for(login, 30)
        assert any("logging in to Discord failed" in r.getMessage() and "retrying" in
                   r.getMessage() for r in caplog.records)
        connect = asyncio.create_task(bot.connect())
        await asyncio.wait_for(bot.wait_until_ready(), 20)
        user = fake.add_user("reader")
        await fake.send_message(user, QUESTION)
        assert LEADER in text_of(await fake.next_bot_message(fake.dm_channel(user), timeout=30))
    finally:
        await bot.close()
        if connect is not None:
            with contextlib.suppress(BaseException):
                await connect
        await fake.stop()
        discord.http.Route.BASE = route_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


async def test_a_server_without_gateway_bot_gets_one_shard(
        start_bot: StartBot, fake: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    fake.fail("GET", r"^/gateway/bot$", 404, times=100,
              body={"code": 0, "message": "404: Not Found"})
    with caplog.at_level(logging.WARNING, logger="bot"):
        run = await start_bot()
    assert run.bot.shard_count == 1 and set(fake.sessions) == {0}
    assert any("no /gateway/bot" in r.getMessage() for r in caplog.records)
    await fake.send_message(run.member, QUESTION)
    assert LEADER in text_of(await fake.next_bot_message(fake.dm_channel(run.member),
                                                         timeout=30))


def test_retries_back_off_from_a_second_to_five_minutes() -> None:
    from bot.startup import Backoff

    backoff = Backoff()
    delays = [backoff.next_delay() for _ in range(12)]
    assert 0.8 <= delays[0] <= 1.0 and 1.6 <= delays[1] <= 2.0
    assert all(240 <= d <= 300 for d in delays[9:])
