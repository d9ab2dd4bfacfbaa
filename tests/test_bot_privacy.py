"""People's data: `/forget` leaves no row of its user (read from the database itself: the
SQLite file, or PostgreSQL with `state_dsn`) and it stays so after a restart; retention
deletes old rows only; leaving a server deletes its questions (real client, fake Discord,
real index)."""

from __future__ import annotations

import time
from pathlib import Path

from bot.store import AnswerStore, open_store
from index import Answer, IndexSettings
from tests.conftest import Running, StartBot, both_states
from tests.discord_fake import EPHEMERAL
from tests.state_rows import execute, rows_with
from tests.test_bot_ask import LEADER, QUESTION, text_of
from tests.test_bot_conversations import ask

SECRET = "Who paid for the fireworks at Port Wexley zebrafinch?"


def file_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


async def vote(run: Running, answer: dict[str, object]) -> None:
    up = next(c["custom_id"] for row in answer["components"]  # type: ignore[attr-defined]
              for c in row["components"] if c["custom_id"].endswith(":up"))
    click = await run.fake.click(answer, up, user=run.member, guild=run.guild)
    assert "recorded" in text_of(await run.fake.reply_to(click))


@both_states
async def test_forget_deletes_every_row_of_the_user_and_it_survives_a_restart(
        start_bot: StartBot, tmp_path: Path, state_dsn: str) -> None:
    run = await start_bot(rate_limit_count=3, state_dsn=state_dsn)
    db = run.bot.store.database
    in_file = not state_dsn  # SQLite: not even in the file's free pages or its log
    answer = await ask(run, QUESTION)
    await ask(run, SECRET)
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    await run.fake.reply_to(ix)
    await vote(run, answer)
    other = run.fake.add_user("neighbour")
    theirs = await ask(run, QUESTION, user=other)
    assert rows_with(db, run.member.id)
    assert not in_file or SECRET.encode() in file_bytes(run.bot.store.path)

    limited = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert "please wait" in text_of(await run.fake.reply_to(limited))  # 3 asked already
    forget = await run.fake.slash("forget", user=run.member, guild=run.guild)
    told = await run.fake.reply_to(forget)
    said = text_of(told)
    assert "3 questions" in said and "1 👍/👎 vote" in said and told["flags"] & EPHEMERAL

    assert rows_with(db, run.member.id) == {}
    assert not in_file or SECRET.encode() not in file_bytes(run.bot.store.path)
    assert rows_with(db, other.id) == {"answers": 1, **({"rate_limits": 1} if state_dsn
                                                        else {})}  # nobody else's data goes
    again = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(again))  # rate-limit state gone too

    await run.bot.close()
    run = await start_bot(state_dsn=state_dsn)
    assert rows_with(db, run.member.id) == {}  # the new `reader` is another user
    stats = await run.fake.slash("stats", user=other, guild=run.guild)
    assert "Questions answered\n5" in text_of(await run.fake.reply_to(stats))  # a total
    assert run.bot.store.answer_shown_in(int(theirs["id"])) is not None


async def test_the_buttons_of_a_forgotten_answer_say_it_is_gone(start_bot: StartBot) -> None:
    run = await start_bot()
    answer = await ask(run, QUESTION)
    forget = await run.fake.slash("forget", user=run.member, guild=run.guild)
    await run.fake.reply_to(forget)
    up = next(c["custom_id"] for row in answer["components"] for c in row["components"]
              if c["custom_id"].endswith(":up"))
    click = await run.fake.click(answer, up, user=run.member, guild=run.guild)
    assert "no longer on record" in text_of(await run.fake.reply_to(click))


def stored(store: AnswerStore, question: str, user: int, guild: int | None,
           age_days: float) -> int:
    answer_id = store.record_answer(Answer(question, (), True, 0.1), user_id=user,
                                    guild_id=guild, channel_id=1)
    store.record_vote(answer_id, user, 1)
    asked = time.time() - age_days * 86400
    execute(store.database, "UPDATE answers SET asked_at = ? WHERE id = ?", (asked, answer_id))
    execute(store.database, "UPDATE feedback SET voted_at = ? WHERE answer_id = ?",
            (asked, answer_id))
    return answer_id


@both_states
async def test_retention_deletes_old_questions_and_votes_only(start_bot: StartBot,
                                                              tmp_path: Path,
                                                              state_dsn: str) -> None:
    # the file start_bot uses, or the PostgreSQL database
    store = open_store(IndexSettings(state_dsn=state_dsn), tmp_path / "bot.sqlite3")
    old = stored(store, "What happened long ago?", 11, None, age_days=31)
    recent = stored(store, "What happened lately?", 11, None, age_days=29)
    run = await start_bot(retention_days=30, state_dsn=state_dsn)  # at start, then hourly
    privacy = run.bot.get_cog("Privacy")
    await run.fake.wait_for(lambda: privacy.rounds >= 1)
    assert store.get_answer(old) is None and store.get_answer(recent) is not None
    assert [v.answer_id for v in store.votes()] == [recent]
    assert store.conversation(recent) and not store.conversation(old)


@both_states
async def test_leaving_a_server_deletes_its_questions_not_other_servers(
        start_bot: StartBot, state_dsn: str) -> None:
    run = await start_bot(message_content_intent=True, state_dsn=state_dsn)
    other_guild = run.fake.add_guild("Elsewhere")
    kept = run.bot.store.record_answer(Answer("Kept?", (), True, 0.1), user_id=5,
                                       guild_id=other_guild.id, channel_id=1)
    answer = await ask(run, QUESTION)
    ix = await run.fake.slash("answers", subcommand="here", user=run.fake.owner,
                              guild=run.guild)
    await run.fake.reply_to(ix)
    gone = run.bot.store.answer_shown_in(int(answer["id"]))
    assert gone is not None
    await run.fake.remove_bot(run.guild)
    await run.fake.wait_for(lambda: run.bot.store.answer_channels() == [])
    assert run.bot.store.get_answer(gone.id) is None and run.bot.answer_channels == {}
    assert run.bot.store.get_answer(kept) is not None
