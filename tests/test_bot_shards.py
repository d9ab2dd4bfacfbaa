"""Many servers: shards split across processes that share one index, and a reindex in one
process is followed by the others."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.settings import BotSettings
from index import IndexSettings, build
from tests.bot_process import bot_process
from tests.conftest import StartBot
from tests.discord_fake import FakeDiscord
from tests.test_bot_admin import ARTICLE, LIGHTHOUSE_Q, finished
from tests.test_bot_ask import LEADER, QUESTION, text_of

KEEPERS = "resident keepers from **next spring**"  # as an answer shows it


def memory(pid: int) -> dict[str, int]:
    """Rss, Pss and private (USS) memory of a process, in MB (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) // 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "private": fields["Private_Clean"] + fields["Private_Dirty"]}


def test_shard_settings_are_checked() -> None:
    from index import SettingsError

    assert BotSettings(shard_count=4, shard_ids=(0, 2)).shard_ids == (0, 2)
    for bad in ({"shard_ids": (0,)}, {"shard_count": 2, "shard_ids": (2,)},
                {"shard_count": 2, "shard_ids": (1, 1)}, {"shard_count": -1}):
        with pytest.raises(SettingsError, match="shard"):
            BotSettings(**bad)  # type: ignore[arg-type]


async def test_the_fake_routes_each_guild_to_its_shard(start_bot: StartBot,
                                                       fake: FakeDiscord) -> None:
    fake.shard_count = 2
    ours = fake.add_guild("Shard one", shard=1)
    run = await start_bot(shard_count=2, shard_ids=(1,))
    assert set(fake.sessions) == {1}
    assert ours.id in {g.id for g in run.bot.guilds}
    assert all(fake.shard_of(g.id) == 1 for g in run.bot.guilds)
    ix = await fake.slash("ask", user=run.member, guild=ours, question=QUESTION)
    assert LEADER in text_of(await fake.reply_to(ix, timeout=30))


async def test_a_version_switched_by_another_process_is_picked_up_at_the_next_question(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings)
    before = run.bot.index.version
    (own_index_settings.sources[-1] / "lighthouse.txt").write_bytes(ARTICLE)
    await asyncio.to_thread(build, own_index_settings)  # as `citebot-index build` would
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=LIGHTHOUSE_Q)
    assert KEEPERS in text_of(await run.fake.reply_to(ix, timeout=30))
    assert run.bot.index.version != before


@pytest.mark.slow
async def test_two_shard_processes_both_answer_and_follow_one_reindex(
        fake: FakeDiscord, own_index_settings: IndexSettings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake.shard_count = 2
    guilds = [fake.add_guild(f"Shard {n}", shard=n) for n in (0, 1)]
    reader = fake.add_user("reader")
    env = {"CITEBOT_SOURCES": os.pathsep.join(map(str, own_index_settings.sources)),
           "CITEBOT_SHARD_COUNT": "2"}
    data = own_index_settings.data_dir
    async with bot_process(fake, tmp_path, data, lambda: 0 in fake.sessions,
                           CITEBOT_SHARD_IDS="0", **env) as first, \
            bot_process(fake, tmp_path, data, lambda: 1 in fake.sessions,
                        CITEBOT_SHARD_IDS="1", **env) as second:
        assert first.process.returncode is None and second.process.returncode is None
        for guild in guilds:  # each guild's events reach only its own shard's process
            ix = await fake.slash("ask", user=reader, guild=guild, question=QUESTION)
            assert LEADER in text_of(await fake.reply_to(ix, timeout=60))
        await fake.send_message(reader, QUESTION)  # DMs arrive on shard 0
        dm = fake.dm_channel(reader)
        assert LEADER in text_of(await fake.next_bot_message(dm, timeout=60))

        # a reindex in shard 0's process; shard 1's answers from the new version at once
        (own_index_settings.sources[-1] / "lighthouse.txt").write_bytes(ARTICLE)
        ix = await fake.slash("reindex", user=fake.owner, guild=guilds[0])
        await fake.wait_for(lambda: finished(ix), 120)
        ix = await fake.slash("ask", user=reader, guild=guilds[1], question=LIGHTHOUSE_Q)
        assert KEEPERS in text_of(await fake.reply_to(ix, timeout=60))

        sizes = [memory(p.process.pid) for p in (first, second)]
    with capsys.disabled():
        print(f"\nshard processes' memory (MB): first {sizes[0]}, second {sizes[1]}; the "
              f"second adds about {sizes[1]['private']} MB of its own")
    assert fake.token not in first.output + second.output
