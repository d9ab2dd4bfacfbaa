"""Damaged index files: each gives a clear error naming the file and what to run; the last
good version is served where one exists; the bot keeps running and says what is wrong."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from index import Index, IndexDamaged, IndexSettings
from tests.bot_process import bot_process
from tests.conftest import StartBot
from tests.discord_fake import FakeDiscord
from tests.hardening.helpers import forget_expected_errors
from tests.test_bot_admin import finished, shown
from tests.test_bot_ask import LEADER, QUESTION, text_of

FIX = "citebot-index build"


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def corrupt(path: Path) -> None:
    """Flip 64 bytes in the middle: the size and the header stay right."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    path.write_bytes(bytes(data))


def empty(path: Path) -> None:
    path.write_bytes(b"")


def delete(path: Path) -> None:
    path.unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncate, "corrupted": corrupt, "emptied": empty, "deleted": delete}
FILES = ["sentences.faiss", "passages.faiss", "meta.sqlite", "rows.npy",
         "lexicon/vocab.json", "lexicon/idf.npy", "lexicon/sentence-bm25.npy"]
FILE_CASES = [(f, d) for f in FILES for d in DAMAGE]

POINTERS: dict[str, Callable[[Path], None]] = {
    "empty": lambda p: p.write_text(""),
    "garbage text": lambda p: p.write_text("hello world\n"),
    "binary": lambda p: p.write_bytes(b"\xff\xfe\x00\x01"),
    "names a missing version": lambda p: p.write_text("v000099\n"),
    "path traversal": lambda p: p.write_text("../../etc\n"),
    "deleted": lambda p: p.unlink(),
    "a directory": lambda p: (p.unlink(), p.mkdir()),  # type: ignore[func-returns-value]
}


def unescaped(text: str) -> str:
    """Text shown on Discord without markdown escapes (paths have underscores)."""
    return text.replace("\\", "")


def data_copy(source: IndexSettings, tmp_path: Path, *, versions: int) -> IndexSettings:
    """A copy of the session index with `versions` identical versions; CURRENT names the
    newest."""
    data = tmp_path / "data"
    shutil.copytree(source.data_dir, data)
    (data / "build.lock").unlink(missing_ok=True)
    first = data / "versions" / "v000001"
    for n in range(2, versions + 1):
        shutil.copytree(first, first.with_name(f"v{n:06d}"))
    (data / "CURRENT").write_text(f"v{versions:06d}\n")
    return replace(source, data_dir=data)


@pytest.mark.parametrize("name,damage", FILE_CASES)
def test_a_damaged_only_version_names_the_file_and_the_fix(
        bot_index_settings: IndexSettings, bot_index: Index, tmp_path: Path, name: str,
        damage: str) -> None:
    settings = data_copy(bot_index_settings, tmp_path, versions=1)
    path = settings.data_dir / "versions" / "v000001" / name
    DAMAGE[damage](path)
    with pytest.raises(IndexDamaged) as caught:
        Index.open(settings)
    assert str(path) in str(caught.value) and FIX in str(caught.value)


@pytest.mark.parametrize("name,damage", FILE_CASES)
def test_a_damaged_current_version_falls_back_to_the_last_good_one(
        bot_index_settings: IndexSettings, bot_index: Index, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, name: str, damage: str) -> None:
    settings = data_copy(bot_index_settings, tmp_path, versions=2)
    path = settings.data_dir / "versions" / "v000002" / name
    DAMAGE[damage](path)
    with caplog.at_level(logging.WARNING, logger="index"):
        index = Index.open(settings)
    assert index.version == "v000001"
    assert index.answer(QUESTION) == bot_index.answer(QUESTION)
    assert str(path) in caplog.text and "serving the last good version v000001" in caplog.text


@pytest.mark.parametrize("name", ["sentences.npy", "passages.npy"])
def test_damaged_vectors_kept_for_reuse_are_not_reused(
        bot_index_settings: IndexSettings, bot_index: Index, tmp_path: Path,
        name: str) -> None:
    """The .npy vectors only feed the next build (answers read the FAISS files): damage
    there leaves answering alone, and the next build embeds afresh instead of copying it."""
    settings = data_copy(bot_index_settings, tmp_path, versions=1)
    corrupt(settings.data_dir / "versions" / "v000001" / name)
    assert Index.open(settings).answer(QUESTION) == bot_index.answer(QUESTION)
    more = tmp_path / "more"
    more.mkdir()
    (more / "late.txt").write_text("A late article arrived.", encoding="utf-8")
    from index import build

    report = build(replace(settings, sources=(*settings.sources, more)))
    assert report.reused_articles == 0 and report.embedded_articles == report.articles
    rebuilt = Index.open(settings).answer(QUESTION)
    assert rebuilt.citations[0].text == bot_index.answer(QUESTION).citations[0].text


@pytest.mark.parametrize("damage", list(POINTERS))
def test_a_damaged_pointer_names_itself_or_the_good_version_serves(
        bot_index_settings: IndexSettings, bot_index: Index, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, damage: str) -> None:
    settings = data_copy(bot_index_settings, tmp_path, versions=1)
    POINTERS[damage](settings.data_dir / "CURRENT")
    with caplog.at_level(logging.WARNING, logger="index"):
        index = Index.open(settings)
    assert index.version == "v000001"
    assert index.answer(QUESTION) == bot_index.answer(QUESTION)
    assert str(settings.data_dir / "CURRENT") in caplog.text and FIX in caplog.text


@pytest.mark.parametrize("damage", ["garbage", "deleted"])
def test_a_damaged_manifest_names_the_version_and_the_fix(
        bot_index_settings: IndexSettings, tmp_path: Path, damage: str) -> None:
    settings = data_copy(bot_index_settings, tmp_path, versions=1)
    manifest = settings.data_dir / "versions" / "v000001" / "manifest.json"
    if damage == "deleted":
        manifest.unlink()
    else:
        manifest.write_bytes(b"{not json")
    with pytest.raises(IndexDamaged, match=rf"v000001.*{FIX}"):
        Index.open(settings)


def test_a_missing_model_directory_names_it_and_the_setting(
        bot_index_settings: IndexSettings, tmp_path: Path) -> None:
    missing = tmp_path / "models" / "minilm"
    settings = replace(data_copy(bot_index_settings, tmp_path, versions=1), model=str(missing))
    manifest = settings.data_dir / "versions" / "v000001" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "model": str(missing)}))  # built with that model
    with pytest.raises(IndexDamaged, match=rf"{missing}.*CITEBOT_MODEL"):
        Index.open(settings)


def test_a_missing_packaged_model_says_how_to_reinstall(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from index.models import embed

    monkeypatch.setattr(embed, "default_model_path", lambda: str(tmp_path / "gone"))
    with pytest.raises(IndexDamaged, match=r"gone is missing.*pip install --force-reinstall"):
        embed._load.__wrapped__("", "onnx", True, True, str(tmp_path / "cache"), 1, 64)


# --- the bot ------------------------------------------------------------------------------

async def test_the_bot_serves_the_last_good_version_when_the_current_one_is_damaged(
        start_bot: StartBot, bot_index_settings: IndexSettings, tmp_path: Path) -> None:
    settings = data_copy(bot_index_settings, tmp_path, versions=2)
    corrupt(settings.data_dir / "versions" / "v000002" / "sentences.faiss")
    run = await start_bot(own_index=settings)
    assert run.bot.index.version == "v000001"
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(ix))


async def test_the_bot_with_no_usable_index_says_why_and_recovers_with_reindex(
        start_bot: StartBot, bot_index_settings: IndexSettings, tmp_path: Path) -> None:
    settings = data_copy(bot_index_settings, tmp_path, versions=1)
    db = settings.data_dir / "versions" / "v000001" / "meta.sqlite"
    corrupt(db)
    run = await start_bot(own_index=settings)
    assert forget_expected_errors(run, "no index to answer from")
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    told = unescaped(text_of(await run.fake.reply_to(ix)))
    assert "cannot be used" in told and str(db) in told and "/reindex" in told
    stats = await run.fake.slash("stats", user=run.member, guild=run.guild)
    assert str(db) in unescaped(text_of(await run.fake.reply_to(stats)))

    fix = await run.fake.slash("reindex", user=run.fake.owner, guild=run.guild)
    await run.fake.wait_for(lambda: finished(fix), 60)
    assert "Reindexed" in shown(fix)
    ix = await run.fake.slash("ask", user=run.member, guild=run.guild, question=QUESTION)
    assert LEADER in text_of(await run.fake.reply_to(ix))


@pytest.mark.slow
async def test_python_m_bot_with_a_damaged_index_stays_up_and_says_why(
        fake: FakeDiscord, bot_index_settings: IndexSettings, tmp_path: Path) -> None:
    settings = data_copy(bot_index_settings, tmp_path, versions=1)
    faiss_file = settings.data_dir / "versions" / "v000001" / "sentences.faiss"
    truncate(faiss_file)
    async with bot_process(fake, tmp_path, settings.data_dir) as run:
        guild = next(iter(fake.guilds.values()))
        reader = fake.add_user("reader")
        for _ in range(3):  # it keeps answering: no crash, no restart loop
            ix = await fake.slash("ask", user=reader, guild=guild, question=QUESTION)
            told = unescaped(text_of(await fake.reply_to(ix, timeout=30)))
            assert str(faiss_file) in told and "/reindex" in told
        assert run.process.returncode is None and fake.identifies == 1
    assert str(faiss_file) in run.output
