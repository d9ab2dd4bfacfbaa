"""The bot's state in SQLite (the default) and in PostgreSQL (`state_dsn`), in one run:

1. **Latency of typical store calls** (`bot/store.py`, `bot/ratelimit.py`) on a SQLite
   file and on a PostgreSQL server on 127.0.0.1 (Debian's package, started here in a
   temporary directory with PostgreSQL's own durability defaults, `tests/pg_server.py`),
   each on a store of `--answers` stored answers: record an answer, the last answer of a
   user in a channel (follow-ups), a rate-limit check (in SQLite's deployment the limit is
   in memory; in PostgreSQL it is one upsert shared by every process), `/forget` of a user
   with 3 questions and a vote. Baseline: one bare round trip (`SELECT 1` in a
   transaction) on each, measured in the same run. Calls alternate between the two
   backends, so both see the same machine load.
2. **PostgreSQL stopped under a store**: how long a call takes to fail (the first one, which
   finds the pool's connection dead, and the ones after), and the first call after the
   server is back (no restart of the caller).
3. **Two bot processes, one `/forget`** (`python -m bot` twice against the local fake
   Discord, `tests/discord_fake.py`, so it needs the dev extras): separate data dirs, one
   `state_dsn`; rows per table of the user who forgets, and of another user, before and
   after; then PostgreSQL stopped for a question and started again.

    python -m benchmarks.state [--repeat 300] [--answers 5000] [--skip-bots]

Not part of `make test`. The last line is the JSON of all figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Who paid for the fireworks?"
#: answered by the bundled article (index/corpus), which the bots' index holds
BOT_QUESTION = "Who leads the National Rally party?"


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": round(statistics.median(ordered) * 1000, 3),
            "p90": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 3)}


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def latency(dsn: str, folder: Path, repeat: int, answers: int) -> dict[str, Any]:
    from bot.ratelimit import RateLimiter, SharedRateLimiter
    from bot.store import open_store
    from index import Answer, Citation, IndexSettings

    cited = Citation(doc_id="harbour", title="Harbour", url=None, paragraph=2, sentence=1,
                     start=0, end=47, text="The fireworks were paid for by the cooperative.",
                     score=0.9)
    answer = Answer(QUESTION, (cited,), False, 0.8)
    stores = {"sqlite": open_store(IndexSettings(data_dir=folder), folder / "bot.sqlite3"),
              "postgres": open_store(IndexSettings(data_dir=folder, state_dsn=dsn),
                                     folder / "unused.sqlite3")}
    limiters = {"sqlite": RateLimiter(5, 30),
                "postgres": SharedRateLimiter(5, 30, stores["postgres"].database)}
    rng = random.Random(7)
    users = 1000
    for store in stores.values():  # a store in use: many askers, some votes
        for n in range(answers):
            made = store.record_answer(answer, user_id=n % users, guild_id=1,
                                       channel_id=10 + n % 7)
            if n % 5 == 0:
                store.record_vote(made, (n + 1) % users, 1)

    def bare(name: str) -> Callable[[], Any]:
        database = stores[name].database

        def call() -> None:
            with database.transaction() as db:
                db.execute("SELECT 1").fetchone()
        return call

    fresh = iter(range(10**6, 10**7))
    ops: dict[str, Callable[[str], Callable[[], Any]]] = {
        "bare round trip": bare,
        "record an answer": lambda name: lambda: stores[name].record_answer(
            answer, user_id=rng.randrange(users), guild_id=1, channel_id=10),
        "last_answer lookup": lambda name: lambda: stores[name].last_answer(
            rng.randrange(users), 10 + rng.randrange(7)),
        "rate-limit check": lambda name: lambda: limiters[name].hit(rng.randrange(users)),
    }
    out: dict[str, Any] = {}
    for op, make in ops.items():
        samples: dict[str, list[float]] = {"sqlite": [], "postgres": []}
        for _ in range(repeat):
            for name in samples:
                samples[name].append(_timed(make(name)))
        out[op] = {name: _ms(s) for name, s in samples.items()}
    # /forget of a user with 3 questions and one vote (made untimed before each)
    samples = {"sqlite": [], "postgres": []}
    for _ in range(repeat):
        for name, store in stores.items():
            user = next(fresh)
            made = [store.record_answer(answer, user_id=user, guild_id=1, channel_id=10)
                    for _ in range(3)]
            store.record_vote(made[0], user, 1)
            limiters[name].hit(user)

            def forget(store: Any = store, name: str = name, user: int = user) -> None:
                store.forget_user(user)  # what /forget runs
                limiters[name].forget(user)
            samples[name].append(_timed(forget))
    out["forget a user (/forget)"] = {name: _ms(s) for name, s in samples.items()}
    return out


def outage(server: Any, dsn: str, folder: Path) -> dict[str, Any]:
    """PostgreSQL stopped under a store that has been in use; then started again."""
    from bot.ratelimit import SharedRateLimiter
    from bot.store import open_store
    from index import IndexSettings, StateUnavailable
    from index.database import RETRY_AFTER

    store = open_store(IndexSettings(data_dir=folder, state_dsn=dsn), folder / "unused")
    limiter = SharedRateLimiter(5, 30, store.database)
    store.last_answer(1, 10)
    limiter.hit(1)

    def failing(call: Callable[[], Any]) -> tuple[float, str]:
        start = time.perf_counter()
        try:
            call()
        except StateUnavailable as exc:
            return time.perf_counter() - start, str(exc)
        return time.perf_counter() - start, "(no error)"

    out: dict[str, Any] = {}
    server.pause()
    try:
        first, message = failing(lambda: store.last_answer(1, 10))
        later = [failing(lambda: store.last_answer(1, 10))[0] for _ in range(20)]
        limited = [_timed(lambda: limiter.hit(2)) for _ in range(20)]
        out["first call after the stop, s"] = round(first, 3)
        out["next calls, ms"] = _ms(later)
        out["rate-limit check while down (counted in-process), ms"] = _ms(limited)
        out["message"] = message
    finally:
        stopped = time.perf_counter()
        server.resume()
        out["server restart, s"] = round(time.perf_counter() - stopped, 2)
    out["until a call succeeds after the restart, s"] = round(_until_up(store), 2)
    out["calls after the restart, ms"] = _ms([_timed(lambda: store.last_answer(1, 10))
                                              for _ in range(50)])
    # a network partition: the port listens but never answers (no refusal)
    import socket

    time.sleep(RETRY_AFTER)
    server.pause()
    with socket.socket() as hung:
        hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hung.bind(("127.0.0.1", server.port))
        hung.listen(64)
        try:
            first, message = failing(lambda: store.last_answer(1, 10))
            out["partition: first call, s"] = round(first, 2)
            out["partition: message"] = message
            out["partition: next calls (within the retry window), ms"] = _ms(
                [failing(lambda: store.last_answer(1, 10))[0] for _ in range(20)])
            time.sleep(RETRY_AFTER)

            async def check() -> float:  # timed in the loop (asyncio.run's exit waits for
                start = time.perf_counter()  # the worker thread still connecting)
                await limiter.check(3)
                return time.perf_counter() - start
            out["partition: rate-limit check as the bot awaits it, s"] = round(
                asyncio.run(check()), 2)
        finally:
            hung.close()
            server.resume()
    out["partition: until a call succeeds after it ends, s"] = round(_until_up(store), 2)
    return out


def _until_up(store: Any) -> float:
    """Seconds until a store call succeeds (tried every 50 ms)."""
    from index import StateUnavailable

    start = time.perf_counter()
    while True:
        try:
            store.last_answer(1, 10)
            return time.perf_counter() - start
        except StateUnavailable:
            time.sleep(0.05)


def _table_rows(database: Any) -> dict[str, int]:
    from tests.state_rows import tables

    with database.transaction() as db:
        return {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                for t in sorted(tables(database))}


async def two_bots(server: Any, folder: Path) -> dict[str, Any]:
    from index import IndexSettings, PostgresDatabase, build
    from tests.bot_process import bot_process
    from tests.discord_fake import FakeDiscord
    from tests.state_rows import rows_with

    dsn = server.new_database()
    machines = [folder / "machine-a", folder / "machine-b"]
    build(IndexSettings(data_dir=machines[0]))  # the bundled article
    shutil.copytree(machines[0], machines[1], symlinks=True)
    fake = FakeDiscord(shard_count=2)
    await fake.start()
    guilds = [fake.add_guild(f"Shard {n}", shard=n) for n in (0, 1)]
    reader, other = fake.add_user("reader"), fake.add_user("other")
    env = {"CITEBOT_SHARD_COUNT": "2", "CITEBOT_STATE_DSN": dsn,
           "CITEBOT_RATE_LIMIT_COUNT": "100", "CITEBOT_LOG_LEVEL": "WARNING"}

    replies: list[Any] = []

    async def ask(guild: Any, user: Any) -> tuple[float, str]:
        start = time.perf_counter()
        ix = await fake.slash("ask", user=user, guild=guild, question=BOT_QUESTION)
        reply = await fake.reply_to(ix, timeout=120)
        replies.append(reply)
        text = " ".join([reply.get("content") or ""] + [
            f"{e.get('title', '')} {e.get('description', '')}" for e in reply.get("embeds")
            or []])
        return time.perf_counter() - start, " ".join(text.split())

    database = PostgresDatabase(dsn)
    out: dict[str, Any] = {}
    cwd = folder / "cwd"
    cwd.mkdir()
    try:
        async with bot_process(fake, cwd, machines[0], lambda: 0 in fake.sessions,
                               CITEBOT_SHARD_IDS="0", **env) as first, \
                bot_process(fake, cwd, machines[1], lambda: 1 in fake.sessions,
                            CITEBOT_SHARD_IDS="1", **env) as second:
            assert first.process.returncode is None, first.output[-2000:]
            assert second.process.returncode is None, second.output[-2000:]
            for guild in guilds:  # the reader asks on both machines, votes on B
                await ask(guild, reader)
                await ask(guild, other)
            await ask(guilds[1], reader)
            shown = replies[-1]  # the reader's answer on machine B: both vote on it there
            up = next(c["custom_id"] for row in shown["components"]
                      for c in row["components"] if c.get("custom_id", "").endswith(":up"))
            for user in (reader, other):
                await fake.reply_to(await fake.click(shown, up, user=user, guild=guilds[1]),
                                    timeout=60)
            out["tables before"] = _table_rows(database)
            out["reader's rows before"] = rows_with(database, reader.id)
            out["other's rows before"] = rows_with(database, other.id)
            forget = await fake.slash("forget", user=reader, guild=guilds[0])  # machine A
            reply = await fake.reply_to(forget, timeout=60)
            out["/forget said"] = " ".join(
                (reply.get("content") or "").split()) or json.dumps(reply.get("embeds"))[:300]
            out["tables after"] = _table_rows(database)
            out["reader's rows after"] = rows_with(database, reader.id)
            out["other's rows after"] = rows_with(database, other.id)
            # PostgreSQL stopped: a question on each machine, then started again
            server.pause()
            try:
                down = [await ask(guild, other) for guild in guilds]
            finally:
                server.resume()
            out["while PostgreSQL is down: reply s, text"] = [
                (round(s, 2), text[:160]) for s, text in down]
            back = []
            for guild in guilds:  # asked every half second until answered
                start, refused = time.perf_counter(), 0
                while True:
                    seconds, text = await ask(guild, other)
                    if "National Rally" in text:
                        break
                    refused += 1
                    await asyncio.sleep(0.5)
                back.append({"until answered, s": round(time.perf_counter() - start, 2),
                             "refused before": refused, "last reply s": round(seconds, 2),
                             "text": text[:80]})
            out["after it is back"] = back
            out["both processes still running"] = (first.process.returncode is None
                                                   and second.process.returncode is None)
    finally:
        await fake.stop()
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.state")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--answers", type=int, default=5000)
    parser.add_argument("--skip-bots", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    import logging

    # the outage's warnings, one per call ("counted in this process only", the pool's
    # reconnect attempts): the figures below say what happened
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    from tests import pg_server

    server = pg_server.start(durable=True)
    if isinstance(server, str):
        sys.exit(server)
    folder = Path(tempfile.mkdtemp(prefix="citebot-state-bench-"))
    out: dict[str, Any] = {}
    try:
        out["latency"] = latency(server.new_database(), folder / "latency", args.repeat,
                                 args.answers)
        print(f"store calls, median (p90) ms over {args.repeat}, {args.answers:,} answers "
              f"stored; PostgreSQL {server.bin.parts[-2]} on 127.0.0.1, fsync on")
        print(f"{'call':28} {'SQLite':>16} {'PostgreSQL':>16} {'PG/SQLite':>10}")
        for op, by in out["latency"].items():
            s, p = by["sqlite"], by["postgres"]
            ratio = p["p50"] / s["p50"] if s["p50"] else float("inf")
            print(f"{op:28} {s['p50']:>8.3f} ({s['p90']:.3f}) {p['p50']:>8.3f} "
                  f"({p['p90']:.3f}) {ratio:>9.1f}x")
        out["outage"] = outage(server, server.new_database(), folder / "outage")
        print("PostgreSQL stopped under a store:")
        for key, value in out["outage"].items():
            print(f"  {key}: {value}")
        if not args.skip_bots:
            out["two bots"] = asyncio.run(two_bots(server, folder))
            print("two bot processes (separate data dirs, one state_dsn), one /forget:")
            for key, value in out["two bots"].items():
                print(f"  {key}: {value}")
    finally:
        from index.database import close_pools

        close_pools()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
