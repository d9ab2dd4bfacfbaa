"""The Prometheus endpoint and `/stats`, which survives restarts."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.store import AnswerStore
from index import IndexSettings
from tests.conftest import StartBot
from tests.discord_fake import FakeDiscord
from tests.test_bot_ask import LEADER, QUESTION, text_of


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample at http://127.0.0.1:`port`/metrics, by name and labels."""
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            return str(reply.read().decode())

    text = await asyncio.to_thread(get)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_the_metrics_endpoint_counts_a_question(start_bot: StartBot,
                                                      fake: FakeDiscord) -> None:
    port = free_port()
    run = await start_bot(metrics_port=port)
    before = await scrape(port)
    assert before[("citebot_questions_total", (("entry", "slash"),))] == 0
    index = run.bot.index
    assert before[("citebot_index_info", (("version", index.version),))] == 1
    assert before[("citebot_index_sentences", ())] == index.sentence_count > 0
    assert before[("citebot_index_articles", ())] == index.article_count

    ix = await fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await fake.reply_to(ix, timeout=30))
    await fake.send_message(run.member, "What colour is the moon's hat?")  # a DM refusal
    await fake.next_bot_message(fake.dm_channel(run.member), timeout=30)

    after = await scrape(port)
    assert after[("citebot_questions_total", (("entry", "slash"),))] == 1
    assert after[("citebot_questions_total", (("entry", "dm"),))] == 1
    assert after[("citebot_answers_total", (("outcome", "answer"),))] == 1
    assert after[("citebot_answers_total", (("outcome", "refusal"),))] == 1
    assert after[("citebot_answer_seconds_count", ())] == 2
    assert after[("citebot_answer_seconds_sum", ())] > 0
    assert ("citebot_gateway_latency_seconds", ()) in after  # NaN until the first heartbeat


async def test_the_metrics_endpoint_listens_on_loopback_only(start_bot: StartBot) -> None:
    port = free_port()
    run = await start_bot(metrics_port=port)
    server = run.bot.metrics._server
    assert server is not None and server.server_address[0] == "127.0.0.1"


async def test_rate_limited_questions_are_counted(start_bot: StartBot,
                                                  fake: FakeDiscord) -> None:
    port = free_port()
    run = await start_bot(metrics_port=port, rate_limit_count=1, rate_limit_seconds=60)
    dm = fake.dm_channel(run.member)
    await fake.send_message(run.member, QUESTION)
    await fake.next_bot_message(dm, timeout=30)
    await fake.send_message(run.member, QUESTION)
    assert "please wait" in text_of(await fake.next_bot_message(dm, after=1, timeout=30))
    assert (await scrape(port))[("citebot_rate_limited_total", ())] == 1


async def test_stats_survive_a_restart(start_bot: StartBot, fake: FakeDiscord,
                                       tmp_path: Path) -> None:
    db = tmp_path / "stats.sqlite3"
    run = await start_bot(feedback_db=str(db))
    for _ in range(2):
        ix = await fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        await fake.reply_to(ix, timeout=30)
    await run.bot.close()

    again = await start_bot(feedback_db=str(db))
    ix = await fake.slash("stats", user=again.member, guild=again.guild)
    shown = await fake.reply_to(ix, timeout=10)
    fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
    assert fields["Questions answered"] == "2"
    assert fields["Median answer time"].endswith(" ms")


def test_an_answer_store_from_before_answer_times_still_opens(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the answers table as older versions made it
        db.execute("CREATE TABLE answers (id INTEGER PRIMARY KEY AUTOINCREMENT, asked_at REAL "
                   "NOT NULL, guild_id INTEGER, channel_id INTEGER, user_id INTEGER NOT NULL, "
                   "question TEXT NOT NULL, abstained INTEGER NOT NULL, confidence REAL NOT "
                   "NULL, citations TEXT NOT NULL)")
        db.execute("INSERT INTO answers (asked_at, user_id, question, abstained, confidence,"
                   " citations) VALUES (0, 1, 'q', 0, 0.9, '[]')")
    db.close()
    assert AnswerStore(path).answer_stats() == (1, None)


async def test_a_metrics_port_in_use_is_logged_and_the_bot_answers_anyway(
        start_bot: StartBot, fake: FakeDiscord) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = await start_bot(metrics_port=taken.getsockname()[1])
        assert [r.getMessage() for r in run.errors.records] == [
            f"no metrics: cannot listen on 127.0.0.1:{taken.getsockname()[1]} "
            "(Address already in use)"]
        run.errors.records.clear()
    await fake.send_message(run.member, QUESTION)
    assert LEADER in text_of(await fake.next_bot_message(fake.dm_channel(run.member),
                                                         timeout=30))


async def test_a_reindex_shows_in_the_metrics(start_bot: StartBot,
                                              own_index_settings: IndexSettings) -> None:
    from tests.test_bot_admin import ARTICLE, finished

    port = free_port()
    run = await start_bot(own_index=own_index_settings, metrics_port=port)
    before = run.bot.index
    (own_index_settings.sources[-1] / "lighthouse.txt").write_bytes(ARTICLE)
    ix = await run.fake.slash("reindex", user=run.fake.owner, guild=run.guild)
    await run.fake.wait_for(lambda: finished(ix), 60)
    after = await scrape(port)
    assert after[("citebot_last_reindex_success", ())] == 1
    assert after[("citebot_last_reindex_seconds", ())] > 0
    assert after[("citebot_last_reindex_timestamp_seconds", ())] > 0
    assert after[("citebot_index_info", (("version", run.bot.index.version),))] == 1
    assert run.bot.index.version != before.version
    assert after[("citebot_index_articles", ())] == before.article_count + 1


async def test_the_process_memory_is_in_the_metrics(start_bot: StartBot) -> None:
    port = free_port()
    await start_bot(metrics_port=port)
    samples = await scrape(port)
    assert samples[("process_resident_memory_bytes", ())] > 50_000_000
