"""The bot on the Milvus backend (a real Milvus Lite server, tests/servers.py): when Milvus
is stopped the asker is told so, the bot keeps running, and answers again once it is back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from index import IndexSettings, build
from index.settings import BUNDLED_CORPUS
from tests.conftest import StartBot
from tests.servers import milvus_server

QUESTION = "Who leads the National Rally?"


async def test_an_unreachable_index_is_a_clear_reply_and_the_bot_recovers(
        start_bot: StartBot, tmp_path: Path) -> None:
    with milvus_server(tmp_path / "milvus") as server:
        writer = IndexSettings(data_dir=tmp_path / "writer", sources=(BUNDLED_CORPUS,),
                               storage_backend="milvus", milvus_uri=server.uri,
                               milvus_timeout=2.0)
        build(writer)
        run = await start_bot(own_index=replace(writer, data_dir=tmp_path / "answerer"))
        server.stop()
        ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        reply = await run.fake.reply_to(ix)
        assert "the index is unreachable, try again shortly" in str(reply["embeds"][0])
        server.start()
        ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
        reply = await run.fake.reply_to(ix)
        assert "Bardella" in reply["embeds"][0]["description"]
