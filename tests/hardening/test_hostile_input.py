"""Hostile and odd questions, through every door (a DM, a mention in a server, /ask): each
kind gets the reply it must get, and every reply pings no one and fits Discord's limits."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bot.render import dlen
from tests.conftest import Running, StartBot
from tests.discord_fake import Json
from tests.hardening.test_gateway_faults import reply_to_message
from tests.test_bot_ask import LEADER, QUESTION, text_of

USAGE = "/ask question:"
ANSWERED = "**[1]**"
DONT_SAY = "The indexed articles don't say"
MENTION_QUOTE = "a note addressed to @everyone in the town"


def zalgo(text: str, marks: int = 4) -> str:
    accents = "\u0300\u0301\u0302\u0334\u0338\u0352\u0489"
    return "".join(ch + accents[: marks] if ch.isalpha() else ch for ch in text)


@dataclass(frozen=True)
class Kind:
    """One kind of odd input and what its reply must contain (`expect` takes the reply's
    visible text; `title` checks the echoed question, when there is one)."""

    question: str | Callable[[Running], str]
    expect: Callable[[str], bool]
    title: Callable[[str], bool] = lambda title: True

    def text(self, run: Running) -> str:
        return self.question(run) if callable(self.question) else self.question


def has(*needles: str) -> Callable[[str], bool]:
    return lambda text: all(n in text for n in needles)


def too_long(n: int) -> Callable[[str], bool]:
    return has(f"{n} characters long", "at most 300 characters")


def answered_or_abstained(text: str) -> bool:
    return ANSWERED in text or DONT_SAY in text


def no_bidi_controls(title: str) -> bool:
    return not re.search("[\u202a-\u202e\u2066-\u2069]", title)


padded = QUESTION + " " + "please " * 40
EXACTLY_300 = padded[:300].rstrip() + "?" * (300 - len(padded[:300].rstrip()))

LONG_ZALGO = zalgo("why?" * 350, 9)

KINDS: dict[str, Kind] = {
    "empty": Kind("", has(USAGE)),
    "whitespace": Kind(" \t\n \u3000 ", has(USAGE)),
    "zero-width characters only": Kind("\u200b\u200d\ufeff\u2060", has(USAGE)),
    "emoji only": Kind("🤔🔥👀🇫🇷", has(USAGE)),
    "punctuation only": Kind("?!?...;--", has(USAGE)),
    "10,000 characters": Kind("why?" * 2500, too_long(10_000)),
    "10,000-character word": Kind("a" * 10_000, too_long(10_000)),
    "301 characters": Kind(EXACTLY_300 + "?", too_long(301)),
    "exactly 300 characters": Kind(EXACTLY_300, answered_or_abstained),
    "zalgo": Kind(zalgo(QUESTION), answered_or_abstained),
    "zalgo, over 8,000 characters": Kind(LONG_ZALGO, too_long(len(LONG_ZALGO))),
    "right-to-left script": Kind("من يقود حزب التجمع الوطني؟", answered_or_abstained),
    "right-to-left override": Kind("\u202e" + QUESTION, has(LEADER), no_bidi_controls),
    "directional isolates": Kind("Who \u2067leads\u2069 the National Rally party?",
                                 has(LEADER), no_bidi_controls),
    "code block": Kind("```py\nimport os; os.system('rm -rf /')\n```", answered_or_abstained,
                       lambda t: "```" not in t.replace("\\`", "")),
    "inline code": Kind(f"`{QUESTION}`", has(LEADER)),
    "@everyone": Kind(f"@everyone {QUESTION}", has(LEADER)),
    "@here": Kind(f"@here {QUESTION}", has(LEADER)),
    "role mention": Kind(lambda run: f"<@&{run.guild.id}> {QUESTION}", has(LEADER)),
    "user mention": Kind(lambda run: f"<@{run.fake.owner.id}> {QUESTION}", has(LEADER)),
    "markdown": Kind("**Who** __leads__ ~~the~~ ||National|| Rally *party*?", has(LEADER),
                     lambda t: "\\*\\*Who\\*\\*" in t),
    "masked link": Kind(f"[{QUESTION}](https://evil.example/phish)", answered_or_abstained,
                        lambda t: "\\[" in t),
    "heading and block quote": Kind("# Who leads\n> the National Rally party?", has(LEADER),
                                    lambda t: "\n" not in t),
    "quotes an article sentence with @everyone in it": Kind(
        "Organisers posted the schedule with a note addressed to @everyone in the town",
        has(MENTION_QUOTE)),
    "NUL bytes": Kind("Who leads\x00 the National\x00 Rally party?", answered_or_abstained),
    "lone surrogate": Kind(f"{QUESTION} \ud800", has(LEADER)),
    "terminal escapes and control characters": Kind(
        "Who\x1b[31m leads\x07 the National Rally party?\x08", answered_or_abstained),
    "HTML and script": Kind(f"<script>alert(document.cookie)</script> {QUESTION}",
                            answered_or_abstained),
    "SQL injection": Kind("'; DROP TABLE answers; -- Who leads the National Rally party?",
                          answered_or_abstained),
    "format strings": Kind("%s%s%n {0} {question!r} ${PATH} Who leads the National Rally?",
                           answered_or_abstained),
    "timestamp and custom emoji markup": Kind(f"<t:0:R> <:blob:123456789> {QUESTION}",
                                              answered_or_abstained),
    "a long URL": Kind("https://x.example/" + "a" * 250, answered_or_abstained),
    "path-like words": Kind("../../etc/passwd C:\\Windows\\system32 ~/.ssh/id_rsa",
                            answered_or_abstained),
}


def check_reply(reply: Json, kind: Kind, door: str) -> None:
    text = text_of(reply)
    assert kind.expect(text), f"{door}: unexpected reply {text[:300]!r}"
    mentions = reply["_allowed_mentions"]
    assert mentions["parse"] == [] and not mentions.get("replied_user"), door
    for embed in reply["embeds"]:
        title = embed.get("title", "")
        assert kind.title(title), f"{door}: title {title!r}"
        assert dlen(title) <= 256 and dlen(embed.get("description", "")) <= 4096
        assert sum(dlen(f["name"]) + dlen(f["value"]) for f in embed.get("fields", [])) + dlen(
            title) + dlen(embed.get("description", "")) <= 6000
        assert all(unicodedata.category(ch) != "Cs" for ch in title)


@pytest.mark.parametrize("name", list(KINDS))
async def test_odd_input_gets_the_reply_it_must_get_through_every_door(
        start_bot: StartBot, name: str) -> None:
    kind = KINDS[name]
    run = await start_bot()
    question = kind.text(run)
    me = run.fake.bot_user.id

    dm = await run.fake.send_message(run.member, question)
    check_reply(await run.fake.wait_for(lambda: reply_to_message(run, dm)), kind, "DM")

    mention = await run.fake.send_message(run.member, f"<@{me}> {question}", guild=run.guild)
    check_reply(await run.fake.wait_for(lambda: reply_to_message(run, mention)), kind,
                "mention")

    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=question)
    check_reply(await run.fake.reply_to(ix), kind, "/ask")


async def test_the_answer_store_survives_every_odd_question(start_bot: StartBot) -> None:
    run = await start_bot(rate_limit_count=1000)
    asked = [await run.fake.send_message(run.member, KINDS[name].text(run)) for name in KINDS]
    replies = await run.fake.wait_for(
        lambda: all(reply_to_message(run, m) for m in asked)
        and [text_of(reply_to_message(run, m) or {}) for m in asked], 30)
    answered = [r for r in replies if answered_or_abstained(r)]
    assert len(answered) == run.bot.stats().questions > 20
    assert [a.question for a in [run.bot.store.get_answer(i) for i in (1, len(answered))]
            if a is not None]  # every answer was stored and the table is still readable


@pytest.mark.parametrize("source", ["../../etc/passwd", "/etc/passwd", "x" * 5000,
                                    "bardella-channel-pushbacks\x00", "' OR 1=1 --"])
async def test_a_hostile_source_option_quotes_nothing_and_reads_no_file(
        start_bot: StartBot, source: str) -> None:
    run = await start_bot()
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION,
                              source=source)
    assert DONT_SAY in text_of(await run.fake.reply_to(ix))


@pytest.mark.parametrize("typed", ["", ".*", "(" * 50, "x" * 5000, "\u202e", "../.."])
async def test_hostile_autocomplete_input_is_harmless(start_bot: StartBot, typed: str) -> None:
    run = await start_bot()
    choices = await run.fake.autocomplete("ask", "source", typed, user=run.member,
                                          guild=run.guild)
    assert len(choices) <= 25
    assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
