"""Builds: incremental reuse, one at a time, atomic switch, damage handled with clear errors."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from filelock import FileLock

from index import (
    ArticleRejected,
    BuildInProgress,
    Index,
    IndexDamaged,
    IndexNotFound,
    IndexSettings,
    NothingToIndex,
    add_article,
    build,
)
from index.storage.versions import current_version

pytestmark = pytest.mark.slow

QUESTION = "Who is the leader of the National Rally?"


def top(settings: IndexSettings, question: str = QUESTION) -> str:
    return Index.open(settings).answer(question).citations[0].text


def test_opening_before_any_build_says_what_to_run(settings: IndexSettings) -> None:
    with pytest.raises(IndexNotFound, match="citebot-index build"):
        Index.open(settings)


def test_unchanged_articles_reuse_their_embeddings(settings: IndexSettings, corpus: Path) -> None:
    first = build(settings)
    assert (first.articles, first.embedded_articles) == (1, 1)
    again = build(settings)
    assert again.unchanged and again.version == first.version
    (corpus / "second.txt").write_text("A harbour festival drew forty thousand visitors.",
                                       encoding="utf-8")
    grown = build(settings)
    assert (grown.articles, grown.embedded_articles, grown.reused_articles) == (2, 1, 1)
    assert grown.version != first.version
    assert top(settings).startswith("Jordan Bardella")


@pytest.mark.parametrize("quantize", [False, True])
def test_reused_embeddings_equal_fresh_ones(settings: IndexSettings, corpus: Path,
                                            tmp_path: Path, quantize: bool) -> None:
    import numpy as np

    settings = replace(settings, quantize=quantize)
    build(settings)
    (corpus / "second.txt").write_text("Another article. With two sentences.", encoding="utf-8")
    build(settings)
    fresh = IndexSettings(data_dir=tmp_path / "fresh", sources=(corpus,), quantize=quantize)
    build(fresh)
    for name in ("sentences.npy", "passages.npy"):
        a = np.load(current_version(settings.data_dir) / name)
        b = np.load(current_version(fresh.data_dir) / name)
        assert np.allclose(a, b, atol=1e-5)


def test_a_second_build_is_told_one_is_already_running(settings: IndexSettings) -> None:
    settings.data_dir.mkdir(parents=True)
    with FileLock(str(settings.data_dir / "build.lock")), \
            pytest.raises(BuildInProgress, match="already running"):
        build(settings)


def test_a_bad_file_is_skipped_and_the_build_goes_on(settings: IndexSettings,
                                                     corpus: Path) -> None:
    (corpus / "binary.txt").write_bytes(b"\x00\xff" * 50)
    report = build(settings)
    assert report.articles == 1
    assert [Path(s.path).name for s in report.skipped] == ["binary.txt"]


def test_killing_a_build_halfway_leaves_the_previous_index_answering(
        settings: IndexSettings, corpus: Path) -> None:
    build(settings)
    before = Index.open(settings).answer(QUESTION)
    # enough new text that the embedding stage takes a while
    for i in range(40):
        (corpus / f"filler-{i}.txt").write_text(
            " ".join(f"Filler article {i} sentence {j} about harbour trade and fishing quotas."
                     for j in range(60)), encoding="utf-8")
    env = dict(os.environ, CITEBOT_DATA_DIR=str(settings.data_dir), CITEBOT_SOURCES=str(corpus))
    proc = subprocess.Popen([sys.executable, "-m", "index", "build"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    versions = settings.data_dir / "versions"
    deadline = time.monotonic() + 120
    while not any((p / "meta.sqlite").exists() for p in versions.glob(".building-*")):
        assert proc.poll() is None, "the build ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    after = Index.open(settings).answer(QUESTION)
    assert after == before
    report = build(settings)  # and a new build completes, cleaning up the dead one
    assert report.articles == 41
    assert not list(versions.glob(".building-*"))


def test_a_damaged_current_version_falls_back_to_the_last_good_one(
        settings: IndexSettings, corpus: Path) -> None:
    first = build(settings)
    (corpus / "second.txt").write_text("Another article entirely.", encoding="utf-8")
    second = build(settings)
    faiss_file = settings.data_dir / "versions" / second.version / "sentences.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    index = Index.open(settings)
    assert index.version == first.version
    assert index.answer(QUESTION).citations[0].text.startswith("Jordan Bardella")


def test_a_damaged_only_version_names_the_file_and_the_fix(settings: IndexSettings) -> None:
    report = build(settings)
    db = settings.data_dir / "versions" / report.version / "meta.sqlite"
    db.write_bytes(b"garbage" * 100)
    with pytest.raises(IndexDamaged, match=r"meta\.sqlite.*citebot-index build"):
        Index.open(settings)


def test_a_garbled_pointer_is_logged_and_the_last_good_version_serves(
        settings: IndexSettings, caplog: pytest.LogCaptureFixture) -> None:
    report = build(settings)
    (settings.data_dir / "CURRENT").write_text("../../etc", encoding="utf-8")
    assert Index.open(settings).version == report.version
    assert "CURRENT is damaged" in caplog.text


def test_private_collections_are_only_searched_when_allowed(settings: IndexSettings) -> None:
    add_article(settings, "guild-news.txt",
                b"The Port Wexley harbour festival drew forty thousand visitors on Saturday.",
                collection="4242")
    build(settings)
    index = Index.open(settings)
    question = "How many visitors did the Port Wexley festival draw?"
    shared_only = index.answer(question, collections={""})
    assert all(c.doc_id != "guild-news" for c in shared_only.citations)
    assert shared_only.abstained
    mine = index.answer(question, collections={"", "4242"})
    assert mine.citations[0].doc_id == "guild-news"
    # naming a private article does not get round the collection filter
    assert index.answer(question, collections={""}, doc_ids={"guild-news"}).closest is None
    only = index.answer("Who leads the National Rally?", collections={"", "4242"},
                        doc_ids={"guild-news"})
    assert all(c.doc_id == "guild-news" for c in (*only.citations, only.closest) if c)
    assert [a.doc_id for a in index.sources({""})] == ["bardella-channel-pushbacks"]


def test_added_articles_are_checked_and_given_safe_names(settings: IndexSettings) -> None:
    with pytest.raises(ArticleRejected, match="UTF-8"):
        add_article(settings, "latin.txt", "caf\xe9".encode("latin-1"))
    with pytest.raises(ArticleRejected, match="only .txt, .md and .html"):
        add_article(settings, "tool.exe", b"MZ")
    with pytest.raises(ArticleRejected, match="empty"):
        add_article(settings, "blank.md", b"   ")
    path = add_article(settings, "../../etc/passwd.txt", b"Root was here. Twice.")
    assert path.parent == settings.data_dir / "articles" / "_shared"
    assert path.name == "passwd.txt"


def test_sources_without_any_article_are_a_clear_error_that_changes_nothing(
        settings: IndexSettings, corpus: Path) -> None:
    first = build(settings)
    for f in corpus.iterdir():
        f.unlink()
    (corpus / "huge.txt").write_text("x" * 100, encoding="utf-8")
    small_cap = replace(settings, max_file_mb=0.00005)
    with pytest.raises(NothingToIndex, match=r"(?s)no articles to index.*huge\.txt: larger than"):
        build(small_cap)
    assert Index.open(settings).version == first.version


def test_changing_the_faiss_kind_rebuilds_an_unchanged_corpus(settings: IndexSettings) -> None:
    import faiss

    build(settings)
    report = build(replace(settings, faiss_index="hnsw"))
    assert not report.unchanged and report.reused_articles == 1
    index = faiss.read_index(str(current_version(settings.data_dir) / "sentences.faiss"))
    assert hasattr(faiss.downcast_index(index.index), "hnsw")
    opened = Index.open(replace(settings, faiss_index="hnsw"))
    assert opened.answer(QUESTION).citations[0].text.startswith("Jordan Bardella")


def test_an_article_with_no_sentences_builds_and_the_index_says_it_does_not_know(
        settings: IndexSettings, tmp_path: Path) -> None:
    folder = tmp_path / "punctuation"
    folder.mkdir()
    (folder / "dashes.txt").write_text("—. ", encoding="utf-8")
    only = replace(settings, data_dir=tmp_path / "data", sources=(folder,))
    report = build(only)
    assert report.articles == 1 and report.sentences == 0
    answer = Index.open(only).answer("What happened?")
    assert answer.abstained and not answer.citations
