"""The Milvus storage backend against a real Milvus Lite server on 127.0.0.1 (tests/servers.py):
the same answers as the files backend, a reindex seen by another answerer, a writer killed
mid-build, Milvus stopped and back, and a token that never reaches a log."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index import Index, IndexSettings, IndexUnreachable, build
from index.settings import BUNDLED_CORPUS
from tests.servers import MilvusServer, milvus_server

DATED = Path(__file__).parents[1] / "data" / "dated"
NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)

QUESTIONS = [
    "Who leads the National Rally?",
    "What did Bardella say about pushbacks?",
    "How many people crossed the Channel on Monday?",
    "What did the Home Secretary promise?",
    "What happened during the storm?",
    "Why do people cross the Channel?",
    "What did the Prime Minister say yesterday?",
    "What is the latest on the returns deal?",
    "Which team won the football match?",
    "What is sold at the winter market?",
]


def until(check, seconds: float = 30.0):  # type: ignore[no-untyped-def]
    """Poll `check` until it returns something true (the waits are limits, not timings)."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    with milvus_server(tmp_path_factory.mktemp("milvus") / "data") as running:
        yield running


def corpus_copy(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copytree(BUNDLED_CORPUS, folder / "bundled")
    shutil.copytree(DATED, folder / "dated")
    # a sentence of stop words only has no BM25 weights (Milvus refuses an empty sparse vector)
    (folder / "quote.md").write_text("---\ntitle: The harbour wall\n---\nThe harbour wall was "
                                     "finished in June.\n\nIt is what it is.\n",
                                     encoding="utf-8")
    return folder


def milvus_settings(server: MilvusServer, data_dir: Path, corpus: Path,
                    prefix: str) -> IndexSettings:
    return IndexSettings(data_dir=data_dir, sources=(corpus,), storage_backend="milvus",
                         milvus_uri=server.uri, milvus_prefix=prefix, milvus_poll_seconds=0.2,
                         time_zone="Europe/London")


@pytest.fixture(scope="module")
def both(server: MilvusServer, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Index, Index, IndexSettings]:
    """The same corpus indexed by the files backend and into Milvus."""
    root = tmp_path_factory.mktemp("both")
    corpus = corpus_copy(root / "corpus")
    files_settings = IndexSettings(data_dir=root / "files", sources=(corpus,),
                                   time_zone="Europe/London")
    build(files_settings)
    settings = milvus_settings(server, root / "writer", corpus, "same")
    build(settings)
    # the answerer has a data directory of its own, as on another machine: nothing local
    answerer = dataclasses.replace(settings, data_dir=root / "answerer")
    return Index.open(files_settings), Index.open(answerer), settings


def key(answer):  # type: ignore[no-untyped-def]
    return (answer.abstained, [(c.doc_id, c.start, c.end, c.text) for c in answer.citations],
            round(answer.confidence, 4))


def test_milvus_answers_as_the_files_backend(both: tuple[Index, Index, IndexSettings]) -> None:
    files_index, milvus_index, _ = both
    assert not (milvus_index.settings.data_dir / "versions").exists()
    assert milvus_index.sentence_count == files_index.sentence_count
    for question in QUESTIONS:
        assert key(milvus_index.answer(question, now=NOW)) == \
            key(files_index.answer(question, now=NOW)), question
    # filters, follow-ups and timelines read the same evidence
    source = files_index.sources()[0].doc_id
    assert key(milvus_index.answer(QUESTIONS[2], doc_ids={source}, now=NOW)) == \
        key(files_index.answer(QUESTIONS[2], doc_ids={source}, now=NOW))
    first = files_index.answer(QUESTIONS[3], now=NOW)
    assert key(milvus_index.answer("What else did she say?", context=(first,), now=NOW)) == \
        key(files_index.answer("What else did she say?", context=(first,), now=NOW))
    assert milvus_index.timeline("Channel crossings", now=NOW) == \
        files_index.timeline("Channel crossings", now=NOW)
    assert milvus_index.paragraph_text(first.citations[0]) == \
        files_index.paragraph_text(first.citations[0])


def test_a_reindex_is_followed_by_another_answerer_and_never_half_written(
        server: MilvusServer, tmp_path: Path) -> None:
    corpus = corpus_copy(tmp_path / "corpus")
    writer = milvus_settings(server, tmp_path / "writer", corpus, "follow")
    build(writer)
    reader = Index.open(dataclasses.replace(writer, data_dir=tmp_path / "reader"))
    old = reader.version
    question = "What did the harbour master say about the lighthouse?"
    assert reader.answer(question).abstained
    (corpus / "lighthouse.md").write_text(
        "---\ntitle: The old lighthouse\n---\nThe harbour master said the lighthouse would be "
        "repainted red and white before the spring.\n\nVisitors will be allowed to climb it "
        "again in May.\n", encoding="utf-8")
    seen: set[str] = set()
    failures: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:  # answers while the build writes: each from a complete version
        while not stop.is_set():
            try:
                answer = reader.answer(QUESTIONS[0])
                assert answer.citations and "Bardella" in answer.citations[0].text
                seen.add((reader.newer() or reader).version)
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                return

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        report = build(writer)
    finally:
        time.sleep(0.3)
        stop.set()
        asker.join()
    assert not failures, failures
    assert seen <= {old, report.version}
    followed = until(lambda: not reader.answer(question).abstained)
    assert followed, "the answerer did not follow the new version"
    top = reader.answer(question).citations[0]
    assert top.title == "The old lighthouse" and "repainted" in top.text
    assert (reader.newer() or reader).version == report.version != old


WRITER = """
import sys
from pathlib import Path
from index import IndexSettings, build
build(IndexSettings(data_dir=Path(sys.argv[1]), sources=(Path(sys.argv[2]),),
                    storage_backend="milvus", milvus_uri=sys.argv[3], milvus_prefix="killed"))
"""


def test_a_writer_killed_mid_build_leaves_the_previous_version_answering(
        server: MilvusServer, tmp_path: Path) -> None:
    from pymilvus import MilvusClient

    corpus = corpus_copy(tmp_path / "corpus")
    settings = milvus_settings(server, tmp_path / "writer", corpus, "killed")
    first = build(settings)
    reader = Index.open(dataclasses.replace(settings, data_dir=tmp_path / "reader"))
    before = reader.answer(QUESTIONS[0])
    # enough new sentences that publishing them takes a while
    (corpus / "long.md").write_text("---\ntitle: A long report\n---\n" + "\n\n".join(
        f"Inspector number {i} counted {i * 7} boats in harbour {i % 13}." for i in range(600)),
        encoding="utf-8")
    client = MilvusClient(uri=server.uri)
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(settings.data_dir),
                                str(corpus), server.uri], env={**os.environ})
    try:
        started = until(lambda: any(n.startswith("killed_") and first.version not in n
                                    for n in client.list_collections()) or process.poll(),
                        120)
        assert started and process.poll() is None, "the build finished before it was killed"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    # nothing partial is visible: the alias still names the version built first
    assert client.describe_alias("killed_current")["collection_name"] == \
        f"killed_{first.version}_sentences"
    assert key(reader.answer(QUESTIONS[0])) == key(before)
    assert key(Index.open(reader.settings).answer(QUESTIONS[0])) == key(before)
    # the next build succeeds, and what the dead one left is gone
    report = build(settings)
    assert report.version != first.version
    fresh = Index.open(reader.settings)
    assert fresh.version == report.version
    assert not fresh.answer("How many boats did inspector number 12 count?").abstained
    left = {n.split("_")[1] for n in client.list_collections() if n.startswith("killed_")}
    assert left == {first.version, report.version}


def test_milvus_stopped_is_a_clear_error_and_answering_resumes(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    secret = "s3cret-milvus-token-4711"
    token_file = tmp_path / "token"
    token_file.write_text(secret + "\n", encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    with milvus_server(tmp_path / "milvus") as server:
        settings = dataclasses.replace(
            milvus_settings(server, tmp_path / "writer", corpus_copy(tmp_path / "corpus"),
                            "stopped"), milvus_token_file=str(token_file), milvus_timeout=2.0)
        build(settings)
        index = Index.open(dataclasses.replace(settings, data_dir=tmp_path / "reader"))
        good = key(index.answer(QUESTIONS[0]))
        server.stop()
        for question in QUESTIONS[:2]:
            with pytest.raises(IndexUnreachable) as raised:
                index.answer(question)
            assert str(raised.value) == "the index is unreachable, try again shortly"
        with pytest.raises(IndexUnreachable):
            Index.open(index.settings)
        server.start()
        assert until(lambda: _answers(index) == good, 60), "answering did not resume"
    assert secret not in caplog.text
    assert secret not in repr(settings)
    assert "unreachable" in caplog.text


def _answers(index: Index) -> object:
    try:
        return key(index.answer(QUESTIONS[0]))
    except IndexUnreachable:
        return None


def test_the_token_comes_from_the_environment_when_no_file_is_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from index.storage import milvus

    monkeypatch.setenv("CITEBOT_MILVUS_TOKEN", "from-env")
    assert milvus.token(IndexSettings(storage_backend="milvus")) == "from-env"
    with pytest.raises(IndexUnreachable, match="token file"):
        milvus.token(IndexSettings(storage_backend="milvus", milvus_token_file="/nonexistent"))
