"""Settings, the token, intents and the `python -m bot` entry point."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import discord
import pytest

from bot.settings import BotSettings, bot_settings, read_token
from index import IndexSettings, SettingsError
from tests.bot_process import bot_process
from tests.conftest import StartBot
from tests.discord_fake import FakeDiscord
from tests.test_bot_ask import LEADER, LEADER_TEXT, QUESTION, text_of

ROOT = Path(__file__).resolve().parents[1]


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    env = {"CITEBOT_CONFIG": str(tmp_path / "none.toml"), "CITEBOT_COMMAND_PREFIX": "?",
           "CITEBOT_ADMIN_USER_IDS": "12, 34", "CITEBOT_MESSAGE_CONTENT_INTENT": "yes",
           "CITEBOT_RATE_LIMIT_SECONDS": "10"}
    settings = bot_settings(env)
    assert settings.command_prefix == "?" and settings.admin_user_ids == (12, 34)
    assert settings.message_content_intent and settings.rate_limit_seconds == 10.0


def test_settings_come_from_the_bot_table_of_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "citebot.toml"
    config.write_text('data_dir = "x"\n[bot]\nguild_id = 42\nadmin_role_ids = [7]\n')
    settings = bot_settings({"CITEBOT_CONFIG": str(config), "CITEBOT_GUILD_ID": "43"})
    assert settings.guild_id == 43 and settings.admin_role_ids == (7,)  # environment wins


def test_a_misspelt_setting_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "citebot.toml"
    config.write_text("[bot]\nrate_limit = 3\n")
    with pytest.raises(SettingsError, match="rate_limit"):
        bot_settings({"CITEBOT_CONFIG": str(config)})


def test_unusable_values_are_refused() -> None:
    with pytest.raises(SettingsError, match="api_base"):
        BotSettings(api_base="discord.com/api")
    with pytest.raises(SettingsError, match="rate_limit"):
        BotSettings(rate_limit_count=0)


def test_the_token_comes_from_discord_token_or_the_token_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    settings = BotSettings(token_file=str(token_file))
    assert read_token(settings, {}) == "from-file"
    assert read_token(settings, {"DISCORD_TOKEN": "from-env"}) == "from-env"
    assert read_token(BotSettings(), {}) is None
    token_file.write_text("")
    with pytest.raises(SettingsError, match="empty"):
        read_token(settings, {})


async def test_the_token_is_never_logged(start_bot: StartBot,
                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        run = await start_bot()
        ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        await run.fake.reply_to(ix)
    assert len(caplog.records) > 10
    assert not [r for r in caplog.records if run.fake.token in r.getMessage()]


async def test_a_wrong_token_fails_to_log_in(start_bot: StartBot, fake: FakeDiscord) -> None:
    with pytest.raises(discord.LoginFailure):
        await start_bot(token="not-" + fake.token)


async def test_an_unapproved_content_intent_is_reported(start_bot: StartBot,
                                                        fake: FakeDiscord) -> None:
    fake.approved_intents = 0
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await start_bot(message_content_intent=True)
    assert fake.close_codes == [4014]


async def test_the_bot_works_with_the_content_intent_off(start_bot: StartBot,
                                                         fake: FakeDiscord) -> None:
    fake.approved_intents = 0  # an application without any privileged intent
    run = await start_bot(message_content_intent=False)
    assert not (fake.identified_intents or 0) & discord.Intents(message_content=True).value
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(ix))


async def test_commands_sync_to_one_guild_when_configured(start_bot: StartBot,
                                                          fake: FakeDiscord) -> None:
    guild = next(iter(fake.guilds.values()))
    await start_bot(guild_id=guild.id)
    assert None not in fake.commands
    assert {c["name"] for c in fake.commands[guild.id]} == {
        "ask", "sources", "source", "reindex", "help", "stats", "feed", "answers", "timeline",
        "forget"}


@pytest.mark.slow
async def test_python_m_bot_with_a_token_runs_the_bot(fake: FakeDiscord,
                                                      own_index_settings: IndexSettings,
                                                      tmp_path: Path) -> None:
    sources = os.pathsep.join(map(str, own_index_settings.sources))
    async with bot_process(fake, tmp_path, own_index_settings.data_dir,
                           CITEBOT_SOURCES=sources) as run:
        assert run.process.returncode is None
        guild = next(iter(fake.guilds.values()))
        reader = fake.add_user("reader")
        ix = await fake.slash("ask", user=reader, guild=guild, question=QUESTION)
        assert LEADER in text_of(await fake.reply_to(ix, timeout=30))
    assert fake.token not in run.output, run.output


@pytest.mark.slow
async def test_python_m_bot_without_a_token_is_the_terminal_chat(
        own_index_settings: IndexSettings, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    env.update({"CITEBOT_CONFIG": str(tmp_path / "no.toml"), "HF_HUB_OFFLINE": "1",
                "CITEBOT_DATA_DIR": str(own_index_settings.data_dir),
                "CITEBOT_SOURCES": os.pathsep.join(map(str, own_index_settings.sources)),
                "PYTHONPATH": str(ROOT)})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, cwd=tmp_path, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(f"{QUESTION}\n".encode()), 120)
    assert process.returncode == 0, output.decode()
    assert LEADER_TEXT in output.decode()  # a terminal that is not a TTY: no bold


def test_the_terminal_chat_starts_without_importing_discord() -> None:
    import subprocess

    code = "import sys, bot.__main__; print('discord' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"
