"""Gateway and REST faults through the fake Discord: dropped connections, invalid sessions,
reconnect requests, 429s with retry-after and 5xx answers. A question is answered or clearly
failed, never silently lost."""

from __future__ import annotations

import pytest

from tests.conftest import Running, StartBot
from tests.discord_fake import EPHEMERAL, Json
from tests.hardening.helpers import forget_expected_errors, index_thread_held
from tests.test_bot_ask import LEADER, QUESTION, text_of


def reply_to_message(run: Running, message: Json) -> Json | None:
    """The bot's reply to the channel message `message`, once it exists."""
    return next((m for m in run.fake.bot_messages(int(message["channel_id"]))
                 if (m.get("message_reference") or {}).get("message_id") == message["id"]),
                None)


WEBHOOK = r"^/webhooks/\d+/[^/]+$"
CHANNEL_MESSAGES = r"^/channels/\d+/messages$"


@pytest.mark.parametrize("abrupt", [False, True], ids=["close-4000", "tcp-abort"])
async def test_a_question_in_flight_when_the_connection_drops_is_answered(
        start_bot: StartBot, abrupt: bool) -> None:
    run = await start_bot()
    with index_thread_held(run):
        ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        await run.fake.wait_for(lambda: ask.callbacks)
        await run.fake.drop_connection(abrupt=abrupt)
        await run.fake.wait_for(lambda: run.fake.resumes == 1, 10)
    assert LEADER in text_of(await run.fake.reply_to(ask, timeout=10))
    assert run.fake.identifies == 1  # resumed, not a new session


async def test_questions_sent_while_disconnected_are_replayed_on_resume(
        start_bot: StartBot) -> None:
    run = await start_bot()
    gate = run.fake.hold_gateway()
    await run.fake.drop_connection()
    me = run.fake.bot_user.id
    asked = await run.fake.send_message(run.member, f"<@{me}> {QUESTION}", guild=run.guild)
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert not run.fake.connected  # both events wait in the session for the bot
    gate.set()
    reply = await run.fake.wait_for(lambda: reply_to_message(run, asked), 10)
    assert LEADER in text_of(reply)
    assert LEADER in text_of(await run.fake.reply_to(ask, timeout=10))
    assert (run.fake.resumes, run.fake.identifies) == (1, 1)


async def test_an_invalid_session_makes_the_bot_identify_again_and_keep_answering(
        start_bot: StartBot) -> None:
    run = await start_bot()
    first = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    answer = await run.fake.reply_to(first)
    with index_thread_held(run):
        in_flight = await run.fake.slash("ask", user=run.member, guild=run.guild,
                                         question=QUESTION)
        await run.fake.wait_for(lambda: in_flight.callbacks)
        await run.fake.invalidate_session(resumable=False)
        await run.fake.wait_for(lambda: run.fake.identifies == 2, 10)
    assert LEADER in text_of(await run.fake.reply_to(in_flight, timeout=10))
    after = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(after, timeout=10))
    # Buttons of answers given in the old session still work.
    vote = next(c["custom_id"] for row in answer["components"] for c in row["components"]
                if c["custom_id"].endswith(":up"))
    click = await run.fake.click(answer, vote, user=run.member, guild=run.guild)
    assert "recorded" in text_of(await run.fake.reply_to(click))


async def test_a_refused_resume_falls_back_to_a_new_session(start_bot: StartBot) -> None:
    run = await start_bot()
    gate = run.fake.hold_gateway()
    await run.fake.drop_connection()
    assert run.fake.session is not None
    run.fake.session.valid = False  # Discord forgot the session meanwhile
    gate.set()
    await run.fake.wait_for(lambda: run.fake.identifies == 2, 10)
    assert run.fake.invalidated == 1 and run.fake.resumes == 0
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(ask, timeout=10))


@pytest.mark.parametrize("fault", ["resumable-invalid-session", "reconnect-request"])
async def test_a_resumable_interruption_resumes_the_session(start_bot: StartBot,
                                                            fault: str) -> None:
    run = await start_bot()
    if fault == "reconnect-request":
        await run.fake.request_reconnect()
    else:
        await run.fake.invalidate_session(resumable=True)
    await run.fake.wait_for(lambda: run.fake.resumes == 1, 10)
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(ask, timeout=10))
    assert run.fake.identifies == 1


async def test_a_429_on_the_follow_up_is_retried_after_retry_after(start_bot: StartBot) -> None:
    run = await start_bot()
    fault = run.fake.fail("POST", WEBHOOK, 429, retry_after=0.3)
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(ask, timeout=10))
    assert fault.served == 1


async def test_a_429_on_a_channel_reply_is_retried(start_bot: StartBot) -> None:
    run = await start_bot()
    fault = run.fake.fail("POST", CHANNEL_MESSAGES, 429, retry_after=0.3, times=2)
    me = run.fake.bot_user.id
    await run.fake.send_message(run.member, f"<@{me}> {QUESTION}", guild=run.guild)
    assert LEADER in text_of(await run.fake.next_bot_message(run.channel, timeout=10))
    assert fault.served == 2


async def test_a_429_on_the_interaction_callback_still_acknowledges_in_time(
        start_bot: StartBot) -> None:
    run = await start_bot()
    fault = run.fake.fail("POST", r"^/interactions/\d+/[^/]+/callback$", 429, retry_after=0.3)
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(ask, timeout=10))
    assert fault.served == 1 and ask.callback_types == [5]


async def test_a_5xx_on_the_follow_up_is_retried(start_bot: StartBot) -> None:
    run = await start_bot()
    fault = run.fake.fail("POST", WEBHOOK, 502)
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(ask, timeout=10))
    assert fault.served == 1


async def test_a_5xx_on_a_channel_reply_is_retried(start_bot: StartBot) -> None:
    # discord.py itself retries 500/502/504 but not 503; the bot retries once more.
    run = await start_bot()
    fault = run.fake.fail("POST", CHANNEL_MESSAGES, 503)
    me = run.fake.bot_user.id
    await run.fake.send_message(run.member, f"<@{me}> {QUESTION}", guild=run.guild)
    assert LEADER in text_of(await run.fake.next_bot_message(run.channel, timeout=10))
    assert fault.served == 1


async def test_a_failing_typing_indicator_does_not_lose_the_answer(start_bot: StartBot) -> None:
    run = await start_bot()
    run.fake.fail("POST", r"^/channels/\d+/typing$", 503, times=100)
    me = run.fake.bot_user.id
    await run.fake.send_message(run.member, f"<@{me}> {QUESTION}", guild=run.guild)
    assert LEADER in text_of(await run.fake.next_bot_message(run.channel, timeout=10))


async def test_a_429_without_via_is_not_retried_and_the_failure_is_logged(
        start_bot: StartBot) -> None:
    # discord.py takes a 429 without `Via` for a Cloudflare ban: the reply cannot be sent,
    # so the failure must at least be logged with the question (not vanish).
    run = await start_bot()
    run.fake.fail("POST", CHANNEL_MESSAGES, 429, via=False, times=100)
    me = run.fake.bot_user.id
    asked = await run.fake.send_message(run.member, f"<@{me}> {QUESTION}", guild=run.guild)
    await run.fake.wait_for(lambda: run.errors.records, 10)
    logged = forget_expected_errors(run, "could not reply")
    assert logged and asked["id"] in logged[0]


@pytest.mark.long
async def test_a_follow_up_that_keeps_failing_ends_in_a_clear_error(start_bot: StartBot) -> None:
    # The webhook adapter tries 5 times (about 25 s of back-off); then the user is told.
    run = await start_bot()
    fault = run.fake.fail("POST", WEBHOOK, 500, times=5)
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    reply = await run.fake.reply_to(ask, timeout=60)
    assert fault.served == 5
    assert "something went wrong" in text_of(reply) and reply["flags"] & EPHEMERAL
    assert forget_expected_errors(run, "/ask failed")
