"""Whatever the gateway sends, the bot keeps running: a malformed event is logged and dropped
(the connection stays, the next question is answered); and SIGTERM ends `python -m bot`
within 5 s in every state, a failing handshake and a reconnect backoff included."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from index import IndexSettings
from tests.bot_process import bot_process
from tests.conftest import StartBot
from tests.discord_fake import FakeDiscord, snowflake
from tests.hardening.helpers import forget_expected_errors
from tests.test_bot_ask import LEADER, QUESTION, text_of
from tests.test_bot_conversations import ask

#: what the systemd unit allows between SIGTERM and SIGKILL, as the issue asks
STOP_WITHIN = 5.0


async def test_a_direct_message_with_guild_id_null_is_dropped_and_logged(
        start_bot: StartBot) -> None:
    run = await start_bot()
    dm = run.fake.dm_channel(run.member)
    await run.fake.dispatch("MESSAGE_CREATE", {
        "id": str(snowflake()), "channel_id": str(dm), "guild_id": None, "type": 0,
        "content": QUESTION, "author": run.member.to_json(), "timestamp": "2026-12-02T12:00:00",
        "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
        "mention_roles": [], "attachments": [], "embeds": [], "pinned": False, "flags": 0,
        "components": []})
    await run.fake.wait_for(lambda: run.errors.records, 10)
    logged = forget_expected_errors(run, "malformed MESSAGE_CREATE")
    assert logged and QUESTION not in logged[0]  # ids and field names, not what was written
    assert LEADER in text_of(await ask(run, QUESTION))
    assert run.fake.identifies == 1 and run.fake.resumes == 0  # never disconnected


async def test_a_component_interaction_with_thread_null_is_dropped_and_logged(
        start_bot: StartBot) -> None:
    run = await start_bot()
    answer = await ask(run, QUESTION)
    up = next(c["custom_id"] for row in answer["components"] for c in row["components"]
              if c["custom_id"].endswith(":up"))
    await run.fake.click(answer, up, user=run.member, guild=run.guild,
                         message_fields={"thread": None})
    await run.fake.wait_for(lambda: run.errors.records, 10)
    assert forget_expected_errors(run, "malformed INTERACTION_CREATE")
    assert LEADER in text_of(await ask(run, QUESTION))
    click = await run.fake.click(answer, up, user=run.member, guild=run.guild)
    assert "recorded" in text_of(await run.fake.reply_to(click))
    assert run.fake.identifies == 1


async def stops_in_time(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), STOP_WITHIN)
    except TimeoutError:
        process.kill()
        raise AssertionError(f"still running {STOP_WITHIN} s after SIGTERM") from None


@pytest.mark.slow
async def test_sigterm_during_a_failing_handshake_ends_the_process(
        fake: FakeDiscord, own_index_settings: IndexSettings, tmp_path: Path) -> None:
    fake.refuse_gateway = True
    async with bot_process(fake, tmp_path, own_index_settings.data_dir,
                           ready=lambda: fake.gateway_attempts >= 2) as run:
        assert run.process.returncode is None and fake.identifies == 0
        assert await stops_in_time(run.process) == 0
    assert "stopping" in run.output


@pytest.mark.slow
async def test_sigterm_during_a_reconnect_backoff_ends_the_process(
        fake: FakeDiscord, own_index_settings: IndexSettings, tmp_path: Path) -> None:
    async with bot_process(fake, tmp_path, own_index_settings.data_dir) as run:
        assert run.process.returncode is None
        fake.refuse_gateway = True
        attempts = fake.gateway_attempts
        await fake.drop_connection()
        # three refused reconnects: the bot now sleeps in discord.py's backoff, up to 16 s
        # this time (uniform from 0 to 2^4 s), which SIGTERM alone did not cut short
        await fake.wait_for(lambda: fake.gateway_attempts >= attempts + 3, 40)
        assert await stops_in_time(run.process) == 0
    assert "Attempting a reconnect" in run.output


@pytest.mark.slow
async def test_sigterm_while_logging_in_is_retried_ends_the_process(
        fake: FakeDiscord, own_index_settings: IndexSettings, tmp_path: Path) -> None:
    refused = fake.fail("GET", r"^/users/@me$", 503, times=1000)
    async with bot_process(fake, tmp_path, own_index_settings.data_dir,
                           ready=lambda: refused.served >= 2) as run:
        assert run.process.returncode is None
        assert await stops_in_time(run.process) == 0
    assert "logging in to Discord failed" in run.output
