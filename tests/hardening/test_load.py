"""Load through the fake gateway: many users asking at once through every door. Every
question gets an answer or a rate-limit notice, none is lost, the event loop stays
responsive (lag measured) and memory stays bounded."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass

import pytest

from tests.conftest import Running, StartBot
from tests.discord_fake import Interaction, Json, User
from tests.hardening.test_gateway_faults import reply_to_message
from tests.test_bot_ask import text_of

QUESTIONS = ["Who leads the National Rally party?", "Would Bardella allow pushbacks?",
             "Who paid for the fireworks?", "How many visitors did the harbour festival draw?",
             "Which glacier did the survey team measure?", "What is the capital of Peru?"]
NOTICE = "please wait"


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


class LagMonitor:
    """How late the event loop wakes a task that sleeps 20 ms at a time."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.02)
            self.worst = max(self.worst, loop.time() - before - 0.02)
            self.samples += 1

    def __enter__(self) -> LagMonitor:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


@dataclass
class Asked:
    door: str
    user: User
    interaction: Interaction | None = None
    message: Json | None = None

    def reply(self, run: Running) -> Json | None:
        if self.interaction is not None:
            replies = self.interaction.replies
            return replies[-1] if replies else None
        assert self.message is not None
        return reply_to_message(run, self.message)


async def flood(run: Running, questions: int, users: list[User], seconds: float,
                rng: random.Random) -> list[Asked]:
    """Send `questions` questions from random `users` through random doors, spread evenly
    over `seconds`."""
    me = run.fake.bot_user.id
    asked = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(questions):
        user = rng.choice(users)
        door = rng.choice(["/ask", "/ask", "/ask", "mention", "DM"])
        question = rng.choice(QUESTIONS)
        if door == "/ask":
            ix = await run.fake.slash("ask", user=user, guild=run.guild, question=question)
            asked.append(Asked(door, user, interaction=ix))
        elif door == "mention":
            message = await run.fake.send_message(user, f"<@{me}> {question}", guild=run.guild)
            asked.append(Asked(door, user, message=message))
        else:
            asked.append(Asked(door, user, message=await run.fake.send_message(user, question)))
        await asyncio.sleep(max(0.0, start + seconds * (i + 1) / questions - loop.time()))
    return asked


def outcome(text: str) -> str:
    if "**[1]**" in text or "don't say" in text:
        return "answered"
    if NOTICE in text:
        return "rate-limited"
    return "other: " + text[:80]


async def run_load(start_bot: StartBot, *, questions: int, users: int, rounds: int,
                   seconds: float) -> dict[str, object]:
    run = await start_bot(rate_limit_count=5, rate_limit_seconds=30)
    people = [run.fake.add_user(f"reader-{i}") for i in range(users)]
    for person in people:
        run.fake.add_member(run.guild, person)
    rng = random.Random(20261126)
    memory = [rss_mb()]
    outcomes: dict[str, int] = {}
    started = time.monotonic()
    with LagMonitor() as lag:
        for _ in range(rounds):
            run.bot.limiter = type(run.bot.limiter)(5, 30)  # each round starts afresh
            asked = await flood(run, questions, people, seconds, rng)
            await run.fake.wait_for(lambda wave=asked: all(a.reply(run) for a in wave), 300)
            for a in asked:
                reply = a.reply(run)
                assert reply is not None
                kind = outcome(text_of(reply))
                outcomes[kind] = outcomes.get(kind, 0) + 1
            run.fake.forget_history()  # what the fake remembers is not the bot's memory
            memory.append(rss_mb())
    result = {"questions": questions * rounds, "users": users, "outcomes": outcomes,
              "worst_lag_s": round(lag.worst, 3), "lag_samples": lag.samples,
              "seconds": round(time.monotonic() - started, 1),
              "rss_mb": [round(m) for m in memory]}
    print(f"\nload: {json.dumps(result)}")
    report = os.environ.get("CITEBOT_CAMPAIGN_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": "load", **result}) + "\n")
    assert set(outcomes) <= {"answered", "rate-limited"}, outcomes
    assert sum(outcomes.values()) == questions * rounds  # none lost
    assert lag.worst < 1.0
    return result


async def test_200_questions_from_50_users_are_all_answered_or_told_to_wait(
        start_bot: StartBot) -> None:
    result = await run_load(start_bot, questions=200, users=50, rounds=1, seconds=3)
    rss = result["rss_mb"]
    assert isinstance(rss, list) and rss[-1] - rss[0] < 300


@pytest.mark.long
async def test_2000_questions_in_ten_waves_keep_memory_flat(start_bot: StartBot) -> None:
    result = await run_load(start_bot, questions=200, users=50, rounds=10, seconds=3)
    rss = result["rss_mb"]
    assert isinstance(rss, list)
    assert rss[-1] - rss[2] < 100  # after warm-up, no growth per wave worth the name
