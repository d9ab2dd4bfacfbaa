"""Admin commands: /reindex and /source add, who may run them, and answering meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from index import IndexSettings
from tests.conftest import Running, StartBot
from tests.discord_fake import EPHEMERAL, MANAGE_GUILD, MEMBER_PERMISSIONS, Interaction
from tests.test_bot_ask import LEADER, QUESTION, text_of

ARTICLE = (b"---\ntitle: Lighthouse keepers return\n---\n"
           b"The Skerryvore lighthouse will again have resident keepers from next spring, "
           b"the trust that runs it announced.\n")
LIGHTHOUSE_Q = "When will the Skerryvore lighthouse have resident keepers again?"


def hold_builds(run: Running) -> threading.Event:
    """Make the bot's next build wait (on its worker thread) until the event is set; the
    real build then runs as usual."""
    gate = threading.Event()
    real: Callable[..., Any] = run.bot.build_and_open

    def held(progress: Any) -> Any:
        gate.wait(30)
        return real(progress)

    run.bot.build_and_open = held
    return gate


def shown(ix: Interaction) -> str:
    """The text of the bot's (possibly edited) first reply to `ix`."""
    return str((ix.original or {}).get("content") or "")


def finished(ix: Interaction) -> bool:
    return "✅" in shown(ix)


async def test_an_admin_reindexes_and_sees_progress_then_the_result(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings)
    before = run.bot.index.version
    (own_index_settings.sources[-1] / "lighthouse.txt").write_bytes(ARTICLE)
    ix = await run.fake.slash("reindex", user=run.fake.owner, guild=run.guild)
    await run.fake.wait_for(lambda: finished(ix), 60)
    assert ix.callback_types == [5]
    assert any("Reindexing" in (e.get("content") or "") for e in ix.edits)
    assert "Reindexed: **4** articles" in shown(ix)
    assert "1 embedded, 3 reused" in shown(ix)
    assert f"index `{run.bot.index.version}`" in shown(ix)
    assert run.bot.index.version != before
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=LIGHTHOUSE_Q)
    assert "resident keepers from **next spring**" in text_of(await run.fake.reply_to(ask))


async def test_a_reindex_with_nothing_new_says_so(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings)
    before = run.bot.index
    ix = await run.fake.slash("reindex", user=run.fake.owner, guild=run.guild)
    await run.fake.wait_for(lambda: finished(ix), 60)
    assert "Nothing changed" in shown(ix)
    assert run.bot.index is before


async def test_a_member_may_not_reindex(start_bot: StartBot,
                                        own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings)
    before = run.bot.index.version
    ix = await run.fake.slash("reindex", user=run.member, guild=run.guild)
    reply = await run.fake.reply_to(ix)
    assert reply["flags"] & EPHEMERAL and "Only server managers" in reply["content"]
    assert run.bot.index.version == before and not run.bot.reindexing


async def test_admin_roles_and_users_from_the_settings_may_reindex(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings)
    role = run.fake.add_role(run.guild, "editors")
    editor = run.fake.add_user("editor")
    run.fake.add_member(run.guild, editor, roles=[role], permissions=MEMBER_PERMISSIONS)
    await run.bot.close()
    run = await start_bot(own_index=own_index_settings, admin_role_ids=(role,))
    ix = await run.fake.slash("reindex", user=editor, guild=run.guild)
    await run.fake.wait_for(lambda: finished(ix), 60)


async def test_questions_are_answered_while_a_reindex_runs(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings)
    gate = hold_builds(run)
    try:
        reindex = await run.fake.slash("reindex", user=run.fake.owner, guild=run.guild)
        await run.fake.wait_for(lambda: run.bot.reindexing)
        ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        assert LEADER in text_of(await run.fake.reply_to(ask))
        again = await run.fake.slash("reindex", user=run.fake.owner, guild=run.guild)
        told = await run.fake.reply_to(again)
        assert told["flags"] & EPHEMERAL and "already running" in told["content"]
        assert "Reindexed" not in shown(reindex)
    finally:
        gate.set()
    await run.fake.wait_for(lambda: finished(reindex), 60)


async def test_an_added_file_is_seen_only_by_its_server(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings, per_server_collections=True)
    other = run.fake.add_guild("Other Server")
    await run.bot.close()
    run = await start_bot(own_index=own_index_settings, per_server_collections=True)
    ix = await run.fake.slash("source", subcommand="add", user=run.fake.owner, guild=run.guild,
                              attachment=("lighthouse.txt", ARTICLE))
    await run.fake.wait_for(lambda: finished(ix), 60)
    assert "this server's articles" in shown(ix)

    here = await run.fake.slash("ask", user=run.member, guild=run.guild, question=LIGHTHOUSE_Q)
    assert "resident keepers from **next spring**" in text_of(await run.fake.reply_to(here))
    stranger = run.fake.add_user("stranger")
    there = await run.fake.slash("ask", user=stranger, guild=other, question=LIGHTHOUSE_Q)
    assert "from next spring" not in text_of(await run.fake.reply_to(there))
    dm = await run.fake.slash("ask", user=stranger, question=LIGHTHOUSE_Q)
    assert "from next spring" not in text_of(await run.fake.reply_to(dm))
    listed = await run.fake.slash("sources", user=stranger, guild=other)
    assert "Lighthouse" not in text_of(await run.fake.reply_to(listed))
    offered = await run.fake.autocomplete("ask", "source", "light", user=stranger, guild=other)
    assert offered == []
    [mine] = await run.fake.autocomplete("ask", "source", "light", user=run.member,
                                         guild=run.guild)
    # Even naming the article directly from another server quotes nothing from it.
    there = await run.fake.slash("ask", user=stranger, guild=other, question=LIGHTHOUSE_Q,
                                 source=mine["value"])
    assert "from next spring" not in text_of(await run.fake.reply_to(there))


async def test_a_member_may_not_add_sources(start_bot: StartBot,
                                            own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings)
    ix = await run.fake.slash("source", subcommand="add", user=run.member, guild=run.guild,
                              attachment=("lighthouse.txt", ARTICLE))
    reply = await run.fake.reply_to(ix)
    assert reply["flags"] & EPHEMERAL and "Only server managers" in reply["content"]
    assert not (own_index_settings.data_dir / "articles").exists()


async def test_a_binary_file_is_rejected_with_the_reason(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings)
    ix = await run.fake.slash("source", subcommand="add", user=run.fake.owner, guild=run.guild,
                              attachment=("photo.txt", b"\x89PNG\r\n\x1a\n\0\0\0"))
    reply = await run.fake.reply_to(ix)
    assert "was not added" in text_of(reply)


async def test_a_link_to_a_private_address_is_refused(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings)
    run.fake.files["lighthouse.txt"] = ARTICLE
    ix = await run.fake.slash("source", subcommand="add", user=run.fake.owner, guild=run.guild,
                              url=run.fake.file_url("lighthouse.txt"))
    reply = await run.fake.reply_to(ix)
    assert "private or local address" in text_of(reply)


async def test_a_link_is_fetched_when_private_addresses_are_allowed(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    from dataclasses import replace

    settings = replace(own_index_settings, fetch_allow_private=True)
    run = await start_bot(own_index=settings)
    run.fake.files["lighthouse.txt"] = ARTICLE
    ix = await run.fake.slash("source", subcommand="add", user=run.fake.owner, guild=run.guild,
                              url=run.fake.file_url("lighthouse.txt"))
    await run.fake.wait_for(lambda: finished(ix), 60)
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild, question=LIGHTHOUSE_Q)
    reply = await run.fake.reply_to(ask)
    assert "resident keepers from **next spring**" in text_of(reply)
    # The citation links to the page the article came from.
    assert run.fake.file_url("lighthouse") in text_of(reply)


@pytest.mark.parametrize("permissions", [MANAGE_GUILD | MEMBER_PERMISSIONS])
async def test_manage_server_is_enough_to_reindex(
        start_bot: StartBot, own_index_settings: IndexSettings, permissions: int) -> None:
    run = await start_bot(own_index=own_index_settings)
    manager = run.fake.add_user("manager")
    run.fake.add_member(run.guild, manager, permissions=permissions)
    ix = await run.fake.slash("reindex", user=manager, guild=run.guild)
    await run.fake.wait_for(lambda: finished(ix), 60)
