"""The bot's and the feeds' state in SQLite (the default) and in PostgreSQL (`state_dsn`, a
real server on 127.0.0.1): the same behaviour on both; in PostgreSQL it is one memory for
processes that share nothing else, as on separate machines — a `/forget` or a retention
deletion leaves no row anywhere, the rate limit counts across them, a build or feed update
on one blocks the others, and the schema is migrated once however many start at once."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from bot.ratelimit import SharedRateLimiter
from bot.store import AnswerChannel, AnswerStore, open_store
from index import (
    Answer,
    BuildInProgress,
    Citation,
    IndexSettings,
    Migration,
    SettingsError,
    StateUnavailable,
    state_database,
)
from index.database import RETRY_AFTER
from tests.conftest import both_states
from tests.state_rows import execute, rows_with

ROOT = Path(__file__).resolve().parents[1]
BIG = 2**62 + 12345  # Discord ids are 64-bit
CITED = Citation(doc_id="harbour", title="Harbour", url=None, paragraph=2, sentence=1,
                 start=0, end=47, text="The fireworks were paid for by the cooperative.",
                 score=0.9)


def store_for(tmp_path: Path, state_dsn: str) -> AnswerStore:
    return open_store(IndexSettings(data_dir=tmp_path, state_dsn=state_dsn),
                      tmp_path / "bot.sqlite3")


@pytest.fixture
def store(tmp_path: Path, state_dsn: str) -> AnswerStore:
    return store_for(tmp_path, state_dsn)


def answer(store: AnswerStore, user: int, question: str = "Who paid for the fireworks?",
           guild: int | None = 1, channel: int = 10, **kw: Any) -> int:
    return store.record_answer(Answer(question, (CITED,), False, 0.8), user_id=user,
                               guild_id=guild, channel_id=channel, **kw)


def python(code: str, **env: str) -> subprocess.Popen[str]:
    """A separate Python process (as on another machine: it shares only the database)."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **env}, cwd=ROOT)


def finish(process: subprocess.Popen[str], stdin: str = "") -> str:
    out, err = process.communicate(stdin, timeout=120)
    assert process.returncode == 0, err[-2000:]
    return out


# -- the same behaviour on both ---------------------------------------------------------------

@both_states
def test_answers_and_conversations_are_kept(store: AnswerStore) -> None:
    first = answer(store, BIG, guild=BIG, channel=BIG)
    store.set_message(first, BIG + 1)
    second = answer(store, BIG, "And who lit them?", guild=BIG, channel=BIG,
                    previous_id=first, seconds=0.25)
    shown = store.answer_shown_in(BIG + 1)
    assert shown is not None and (shown.id, shown.user_id, shown.guild_id) == (first, BIG, BIG)
    assert shown.citations == (CITED,)
    assert [a.id for a in store.conversation(second)] == [first, second]
    latest = store.last_answer(BIG, BIG)
    assert latest is not None and latest.question == "And who lit them?"
    assert store.last_answer(BIG, BIG, since=time.time() + 60) is None
    assert store.get_answer(999_999) is None and store.answer_shown_in(5) is None
    abstained = store.record_answer(Answer("Why?", (), True, 0.1, CITED), user_id=3,
                                    guild_id=None, channel_id=None)
    kept = store.get_answer(abstained)
    assert kept is not None and kept.as_answer().closest == CITED and kept.guild_id is None


@both_states
def test_votes_change_and_an_unknown_answer_is_refused(store: AnswerStore) -> None:
    shown = answer(store, 5)
    assert store.record_vote(shown, 6, 1) and store.record_vote(shown, 6, -1)
    assert store.record_vote(shown, 7, 1)
    assert not store.record_vote(shown + 100, 6, 1)
    assert sorted((v.user_id, v.vote) for v in store.votes()) == [(6, -1), (7, 1)]
    assert store.votes()[0].citations == (CITED,)


@both_states
def test_stats_count_every_answer_ever_given(store: AnswerStore) -> None:
    assert store.answer_stats() == (0, None)
    for seconds in (0.1, 0.3, 0.2):
        answer(store, 5, seconds=seconds)
    store.forget_user(5)
    answer(store, 6, seconds=0.4)
    assert store.answer_stats() == (4, 0.4)  # a running total; the median of those kept


@both_states
def test_answer_channels_are_set_changed_and_removed(store: AnswerStore) -> None:
    store.set_answer_channel(AnswerChannel(BIG, 1))
    store.set_answer_channel(AnswerChannel(20, 2, "reply", forum=True))
    store.set_answer_channel(AnswerChannel(BIG, 1, "reply"))
    assert store.answer_channels() == [AnswerChannel(20, 2, "reply", True),
                                       AnswerChannel(BIG, 1, "reply", False)]
    assert store.remove_answer_channel(20) and not store.remove_answer_channel(20)
    assert store.answer_channels() == [AnswerChannel(BIG, 1, "reply", False)]


@both_states
def test_forget_leaves_no_row_of_the_user_in_any_table(store: AnswerStore) -> None:
    mine = answer(store, BIG)
    store.set_message(mine, 77)
    theirs = answer(store, 8, previous_id=mine)  # a follow-up of mine, in a shared thread
    store.record_vote(theirs, BIG, 1)
    store.record_vote(mine, 8, -1)
    if store.database.dialect == "postgres":
        SharedRateLimiter(5, 60, store.database).hit(BIG)
    assert rows_with(store.database, BIG)
    forgotten = store.forget_user(BIG)
    assert (forgotten.questions, forgotten.votes) == (1, 1)
    assert rows_with(store.database, BIG) == {}
    assert store.get_answer(theirs) is not None and store.votes() == []
    assert [a.id for a in store.conversation(theirs)] == [theirs]  # starts afresh


@both_states
def test_retention_deletes_old_questions_and_votes_only(store: AnswerStore) -> None:
    old, recent = answer(store, 11), answer(store, 12)
    store.record_vote(old, 13, 1)
    store.record_vote(recent, 13, 1)
    long_ago = time.time() - 40 * 86400
    execute(store.database, "UPDATE answers SET asked_at = ? WHERE id = ?", (long_ago, old))
    execute(store.database, "UPDATE feedback SET voted_at = ? WHERE answer_id = ?",
            (long_ago, old))
    if store.database.dialect == "postgres":  # a rate-limit row of a long-idle asker too
        SharedRateLimiter(5, 60, store.database, clock=lambda: long_ago).hit(11)
    assert store.delete_older_than(time.time() - 30 * 86400) == (1, 1)
    assert store.get_answer(old) is None and store.get_answer(recent) is not None
    assert rows_with(store.database, 11) == {}
    assert [v.answer_id for v in store.votes()] == [recent]


@both_states
def test_leaving_a_server_deletes_its_questions_and_channels(store: AnswerStore) -> None:
    gone, kept = answer(store, 5, guild=BIG), answer(store, 5, guild=2)
    store.record_vote(gone, 6, 1)
    store.set_answer_channel(AnswerChannel(30, BIG))
    assert store.forget_guild(BIG) == (1, 1, 1)
    assert rows_with(store.database, BIG) == {} and store.get_answer(kept) is not None


DEMO = (Migration(1, "CREATE TABLE demo (id INTEGER PRIMARY KEY)",
                  "CREATE TABLE demo (id BIGINT PRIMARY KEY)"),
        Migration(2, "ALTER TABLE demo ADD COLUMN note TEXT",
                  "ALTER TABLE demo ADD COLUMN note TEXT"))


@both_states
def test_a_new_schema_step_is_applied_once_in_order(tmp_path: Path, state_dsn: str) -> None:
    from index import database as db_module

    def fresh() -> Any:  # as a process of the next version of citebot opens it
        db_module._migrated.clear()
        return state_database(IndexSettings(data_dir=tmp_path, state_dsn=state_dsn),
                              tmp_path / "demo.sqlite3")

    fresh().migrate("demo", DEMO[:1])
    execute(fresh(), "INSERT INTO demo (id) VALUES (1)")
    fresh().migrate("demo", DEMO)
    fresh().migrate("demo", DEMO)  # again: nothing to do
    database = fresh()
    execute(database, "UPDATE demo SET note = 'kept' WHERE id = 1")
    with database.transaction() as tx:
        assert tx.execute("SELECT id, note FROM demo").fetchall() == [(1, "kept")]
        assert tx.execute("SELECT version FROM schema_version WHERE component = 'demo'"
                          " ORDER BY version").fetchall() == [(1,), (2,)]


# -- PostgreSQL: one memory for processes that share nothing else --------------------------

def test_two_processes_and_one_forget_leave_no_row_of_the_user(pg_dsn: str,
                                                               tmp_path: Path) -> None:
    other = python(f"""
        import sys
        from bot.ratelimit import SharedRateLimiter
        from bot.store import AnswerChannel, open_store
        from index import Answer, IndexSettings
        from pathlib import Path
        store = open_store(IndexSettings(state_dsn={pg_dsn!r}), Path("unused"))
        a = store.record_answer(Answer("Who paid?", (), True, 0.1), user_id={BIG},
                                guild_id=1, channel_id=2)
        store.set_message(a, 555)
        b = store.record_answer(Answer("Who else?", (), True, 0.1), user_id=9,
                                guild_id=1, channel_id=2, previous_id=a)
        store.record_vote(b, {BIG}, 1)
        store.record_vote(a, 9, 1)
        SharedRateLimiter(5, 60, store.database).hit({BIG})
        print(a, b, flush=True)
        sys.stdin.readline()  # the other process forgets the user meanwhile
        print(store.get_answer(a) is None, store.get_answer(b) is not None,
              store.answer_shown_in(555) is None, len(store.votes()))
        """)
    assert other.stdout is not None
    mine, theirs = map(int, other.stdout.readline().split())
    here = store_for(tmp_path, pg_dsn)  # this process: its own store object
    assert set(rows_with(here.database, BIG)) == {"answers", "feedback", "rate_limits"}
    forgotten = here.forget_user(BIG)
    assert (forgotten.questions, forgotten.votes) == (1, 1)
    assert rows_with(here.database, BIG) == {}
    assert finish(other, "\n").split() == ["True", "True", "True", "0"]  # seen there too
    assert here.get_answer(theirs) is not None and here.get_answer(mine) is None


def test_the_rate_limit_counts_across_processes(pg_dsn: str, tmp_path: Path) -> None:
    store_for(tmp_path, pg_dsn)  # the schema
    askers = [python(f"""
        import sys
        from bot.ratelimit import SharedRateLimiter
        from index import state_database, IndexSettings
        from pathlib import Path
        limiter = SharedRateLimiter(5, 60, state_database(IndexSettings(state_dsn={pg_dsn!r}),
                                                          Path("unused")))
        sys.stdin.readline()  # all at once
        print(" ".join(str(limiter.hit(42)) for _ in range(3)))
        """) for _ in range(4)]
    for process in askers:  # each asks 3 questions, 12 in all, at the same moment
        assert process.stdin is not None
        process.stdin.write("\n")
        process.stdin.flush()
    waits = [float(w) for p in askers for w in finish(p).split()]
    assert sum(w == 0.0 for w in waits) == 5  # the limit of one user, whichever process
    assert all(0 < w <= 60 for w in waits if w)
    here = SharedRateLimiter(5, 60, store_for(tmp_path, pg_dsn).database)
    assert here.hit(42) > 0 and here.hit(43) == 0.0  # another user has their own count
    later = SharedRateLimiter(5, 60, here.database, clock=lambda: time.time() + 61)
    assert later.hit(42) == 0.0  # the window has passed


def test_processes_starting_at_once_migrate_the_schema_once(pg_dsn: str,
                                                            tmp_path: Path) -> None:
    code = """
        import sys
        from pathlib import Path
        from bot.store import open_store
        from index import IndexSettings
        from index.ingest.feeds.store import FeedStore
        settings = IndexSettings(data_dir=Path(sys.argv[1]), state_dsn=sys.argv[2])
        sys.stdin.readline()
        open_store(settings, settings.data_dir / "bot.sqlite3")
        FeedStore(settings)
        print("ok")
        """
    for dsn, where in ((pg_dsn, tmp_path), ("", tmp_path / "shared")):  # and SQLite's file
        starting = [subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(where), dsn], text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT) for _ in range(4)]
        for process in starting:
            assert process.stdin is not None
            process.stdin.write("\n")
            process.stdin.flush()
        assert [finish(p).strip() for p in starting] == ["ok"] * 4
        # PostgreSQL holds both components; SQLite a file each (bot.sqlite3, feeds.sqlite3)
        with store_for(where, dsn).database.transaction() as tx:
            assert tx.execute("SELECT component, version FROM schema_version ORDER BY"
                              " component").fetchall() == (
                [("bot", 1), ("feeds", 1)] if dsn else [("bot", 1)])


def test_a_state_database_that_cannot_be_reached_says_which_without_the_password(
        tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    settings = IndexSettings(state_dsn=f"postgresql://citebot:hunter2@127.0.0.1:{port}/state")
    assert "hunter2" not in repr(settings)
    with pytest.raises(StateUnavailable) as caught:
        open_store(settings, tmp_path / "unused")
    message = str(caught.value)
    assert f"postgresql://citebot@127.0.0.1:{port}/state cannot be used" in message
    assert "hunter2" not in message
    with pytest.raises(SettingsError, match="postgresql://"):
        IndexSettings(state_dsn="mysql://citebot@db/state")
    with pytest.raises(SettingsError, match="state_password_file"):
        open_store(IndexSettings(state_dsn=settings.state_dsn,
                                 state_password_file=str(tmp_path / "missing")),
                   tmp_path / "unused")


def test_the_password_may_come_from_a_file(pg_server: Any, pg_dsn: str,
                                           tmp_path: Path) -> None:
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE ROLE guarded LOGIN PASSWORD 'sesame'")
        conn.execute(f"GRANT ALL ON DATABASE {pg_dsn.rsplit('/', 1)[1]} TO guarded")
        conn.execute("GRANT ALL ON SCHEMA public TO guarded")
    secret = tmp_path / "pgpassword"
    secret.write_text("sesame\n")
    dsn = pg_dsn.replace(f"{pg_server.dsn().split('@')[0]}@", "postgresql://guarded@")
    store = open_store(IndexSettings(state_dsn=dsn, state_password_file=str(secret)),
                       tmp_path / "unused")
    assert store.get_answer(answer(store, 5)) is not None
    secret.write_text("open barley")
    with pytest.raises(StateUnavailable, match="password authentication failed") as caught:
        open_store(IndexSettings(state_dsn=dsn, state_password_file=str(secret)),
                   tmp_path / "unused").answer_stats()
    assert "barley" not in str(caught.value)


# -- the writer lock across machines -----------------------------------------------------------

@pytest.mark.slow
def test_a_build_on_another_machine_gets_build_in_progress(pg_dsn: str, tmp_path: Path
                                                           ) -> None:
    from index import Index, build
    from index.building.update import update
    from index.ingest.feeds.store import UpdateInProgress, update_lock
    from index.settings import BUNDLED_CORPUS

    machine_a = IndexSettings(data_dir=tmp_path / "a", sources=(BUNDLED_CORPUS,),
                              state_dsn=pg_dsn)
    machine_b = IndexSettings(data_dir=tmp_path / "b", sources=(BUNDLED_CORPUS,),
                              state_dsn=pg_dsn)
    building = python(f"""
        import sys, time
        from pathlib import Path
        from index import IndexSettings, build
        from index.settings import BUNDLED_CORPUS

        def progress(p):
            if p.stage == "embedding":
                print("embedding", flush=True)
                time.sleep(600)  # killed here, mid-build
        build(IndexSettings(data_dir=Path({str(machine_a.data_dir)!r}),
                            sources=(BUNDLED_CORPUS,), state_dsn={pg_dsn!r}), progress)
        """)
    assert building.stdout is not None
    try:
        assert building.stdout.readline().strip() == "embedding"
        with pytest.raises(BuildInProgress) as caught:
            build(machine_b)
        assert str(caught.value) == (
            "a build on a machine sharing " + pg_dsn + " is already running; wait for it to "
            "finish")
        with update_lock(machine_a), pytest.raises(UpdateInProgress, match="feed update on a "
                                                   "machine sharing postgresql://"):
            update(machine_b)
    finally:
        building.kill()  # kill -9 of the writer mid-build: its lock goes with it
        building.wait()
    report = build(machine_b)
    assert not report.unchanged and Index.open(machine_b).article_count == 1


def test_without_state_dsn_the_locks_stay_files_in_the_data_dir(tmp_path: Path) -> None:
    from index.building.builder import build_lock

    settings = IndexSettings(data_dir=tmp_path / "data")
    with build_lock(settings):
        assert (tmp_path / "data" / "build.lock").exists()
        with pytest.raises(BuildInProgress, match=f"a build of {tmp_path / 'data'} is "
                                                  "already running"):
            from index import build

            build(settings)


# -- two bot processes, one memory ------------------------------------------------------------

@pytest.mark.slow
async def test_two_bot_processes_share_the_rate_limit_and_one_forget_clears_both(
        fake: Any, own_index_settings: IndexSettings, pg_dsn: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Two `python -m bot` processes with data dirs of their own (as on two machines), one
    shard each, the same `state_dsn`."""
    import shutil

    from index import PostgresDatabase
    from tests.bot_process import bot_process
    from tests.test_bot_ask import LEADER, QUESTION, text_of

    fake.shard_count = 2
    guilds = [fake.add_guild(f"Shard {n}", shard=n) for n in (0, 1)]
    reader = fake.add_user("reader")
    machines = [own_index_settings.data_dir, tmp_path / "machine-b"]
    shutil.copytree(machines[0], machines[1], symlinks=True)
    env = {"CITEBOT_SOURCES": os.pathsep.join(map(str, own_index_settings.sources)),
           "CITEBOT_SHARD_COUNT": "2", "CITEBOT_STATE_DSN": pg_dsn,
           "CITEBOT_RATE_LIMIT_COUNT": "2", "CITEBOT_RATE_LIMIT_SECONDS": "600"}

    async def ask(guild: Any) -> dict[str, Any]:
        ix = await fake.slash("ask", user=reader, guild=guild, question=QUESTION)
        return await fake.reply_to(ix, timeout=60)

    async with bot_process(fake, tmp_path, machines[0], lambda: 0 in fake.sessions,
                           CITEBOT_SHARD_IDS="0", **env) as first, \
            bot_process(fake, tmp_path, machines[1], lambda: 1 in fake.sessions,
                        CITEBOT_SHARD_IDS="1", **env) as second:
        assert first.process.returncode is None and second.process.returncode is None
        assert LEADER in text_of(await ask(guilds[0]))  # machine A
        shown = await ask(guilds[1])  # machine B
        assert LEADER in text_of(shown)
        up = next(c["custom_id"] for row in shown["components"] for c in row["components"]
                  if c["custom_id"].endswith(":up"))
        click = await fake.click(shown, up, user=reader, guild=guilds[1])
        assert "recorded" in text_of(await fake.reply_to(click, timeout=30))
        assert "please wait" in text_of(await ask(guilds[0]))  # 2 asked, on either machine

        database = PostgresDatabase(pg_dsn)
        assert set(rows_with(database, reader.id)) == {"answers", "feedback", "rate_limits"}
        forget = await fake.slash("forget", user=reader, guild=guilds[1])  # on machine B
        said = text_of(await fake.reply_to(forget, timeout=30))
        assert "2 questions" in said and "1 👍/👎 vote" in said
        left = rows_with(database, reader.id)
        assert left == {}
        assert LEADER in text_of(await ask(guilds[0]))  # machine A forgot the count too
    with capsys.disabled():
        print(f"\ntwo bot processes (separate data dirs, one state_dsn), one /forget: rows "
              f"of the user left in any table: {sum(left.values())}")


# -- PostgreSQL down ---------------------------------------------------------------------------

@pytest.fixture
def own_pg_server() -> Any:
    """A PostgreSQL server of the test's own, which it may stop and start again."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: the PostgreSQL tests "
                                          "are skipped")
    from tests import pg_server as pg

    server = pg.start()
    if isinstance(server, str):
        if os.environ.get("CI"):
            pytest.fail(server)
        pytest.skip(server)
    yield server
    from index.database import close_pools

    close_pools()
    server.stop()


async def test_while_postgresql_is_down_askers_are_told_and_answers_come_back_after(
        start_bot: Any, own_pg_server: Any) -> None:
    from bot.client import STATE_DOWN
    from tests.test_bot_ask import LEADER, QUESTION, text_of

    run = await start_bot(state_dsn=own_pg_server.new_database())
    fake, me = run.fake, run.bot.user.id

    async def slash() -> str:
        ix = await fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        return text_of(await fake.reply_to(ix, timeout=30))

    async def mention() -> str:
        before = len(fake.bot_messages(run.channel))
        await fake.send_message(run.member, f"<@{me}> {QUESTION}", guild=run.guild)
        return text_of(await fake.next_bot_message(run.channel, after=before, timeout=30))

    ix = await fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    shown = await fake.reply_to(ix, timeout=30)
    assert LEADER in text_of(shown)
    buttons = {c["custom_id"].rsplit(":", 1)[-1] if ":vote:" in c["custom_id"] else
               c["custom_id"].split(":")[1]: c["custom_id"]
               for row in shown["components"] for c in row["components"]}
    own_pg_server.pause()
    try:
        assert STATE_DOWN in await slash()
        assert STATE_DOWN in await mention()
        for button in (buttons["up"], buttons["context"]):  # 👍 and Show context
            click = await fake.click(shown, button, user=run.member, guild=run.guild)
            assert STATE_DOWN in text_of(await fake.reply_to(click, timeout=30))
        forget = await fake.slash("forget", user=run.member, guild=run.guild)
        assert STATE_DOWN in text_of(await fake.reply_to(forget, timeout=30))
        assert run.bot.is_ready() and not run.bot.is_closed()  # it keeps running
    finally:
        own_pg_server.resume()
    await asyncio.sleep(RETRY_AFTER)  # while it was down, calls failed at once for this long
    assert LEADER in await slash()  # no restart: the next call connects again by itself
    assert LEADER in await mention()
    logged = [r.getMessage() for r in run.errors.records]
    assert logged and all("the state database postgresql://citebot@127.0.0.1:" in line
                          and "cannot be used" in line for line in logged), logged
    run.errors.records.clear()  # the outage's own lines, one per question


async def test_a_bot_that_cannot_reach_postgresql_at_start_exits_to_be_restarted(
        fake: Any, tmp_path: Path) -> None:
    """Status 1 (systemd restarts it) when PostgreSQL is down; 2 (not restarted: the
    operator must act) for an unreadable password file."""
    import socket

    from tests.bot_process import bot_process

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    dsn = f"postgresql://citebot:hunter2@127.0.0.1:{port}/state"
    async with bot_process(fake, tmp_path, tmp_path / "data", lambda: False,
                           CITEBOT_STATE_DSN=dsn) as down:
        pass
    assert down.process.returncode == 1, down.output[-2000:]
    assert f"cannot start: the state database postgresql://citebot@127.0.0.1:{port}/state " \
           f"cannot be used" in down.output
    assert "hunter2" not in down.output
    async with bot_process(fake, tmp_path, tmp_path / "data", lambda: False,
                           CITEBOT_STATE_DSN=dsn,
                           CITEBOT_STATE_PASSWORD_FILE=str(tmp_path / "missing")) as bad:
        pass
    assert bad.process.returncode == 2, bad.output[-2000:]
    assert "state_password_file" in bad.output


@pytest.mark.slow
def test_a_build_while_postgresql_is_down_says_so_and_the_index_keeps_serving(
        own_pg_server: Any, tmp_path: Path) -> None:
    from index import Index, build
    from index.settings import BUNDLED_CORPUS

    settings = IndexSettings(data_dir=tmp_path / "data", sources=(BUNDLED_CORPUS,),
                             state_dsn=own_pg_server.new_database())
    first = build(settings)
    own_pg_server.pause()
    try:
        with pytest.raises(StateUnavailable, match="the state database postgresql://citebot@"
                                                   "127.0.0.1:.* cannot be used"):
            build(settings)
        index = Index.open(settings)  # the version built before serves on
        assert index.version == first.version
        assert "Bardella" in index.answer("Who leads the National Rally party?"
                                          ).citations[0].text
    finally:
        own_pg_server.resume()


async def test_a_server_that_does_not_answer_gets_the_asker_a_reply_in_time(
        start_bot: Any, own_pg_server: Any) -> None:
    """A network partition: connections are not refused, they hang until connect_timeout.
    The slash command must still be acknowledged within Discord's 3 s (the fake enforces
    it) and say what is wrong; later questions fail at once until a retry succeeds."""
    from bot.client import STATE_DOWN
    from tests.test_bot_ask import LEADER, QUESTION, text_of

    run = await start_bot(state_dsn=own_pg_server.new_database())

    async def slash() -> str:
        ix = await run.fake.slash("ask", user=run.member, guild=run.guild,
                                  question=QUESTION)
        return text_of(await run.fake.reply_to(ix, timeout=60))

    assert LEADER in await slash()
    own_pg_server.pause()
    with socket.socket() as hung:  # listens on the server's port, never accepts
        hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hung.bind(("127.0.0.1", own_pg_server.port))
        hung.listen(64)
        try:
            assert STATE_DOWN in await slash()
            assert STATE_DOWN in await slash()
        finally:
            hung.close()
            own_pg_server.resume()
    await asyncio.sleep(RETRY_AFTER)
    assert LEADER in await slash()
    assert run.bot.is_ready()
    run.errors.records.clear()  # the outage's own lines
