"""Building an index version: read articles, split sentences, embed, write, switch atomically.

Unchanged articles (same content hash, same model) reuse the previous version's
sentences and embeddings. Only one build runs at a time (a file lock, or with `state_dsn` a
PostgreSQL advisory lock that builds on every machine see).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.database import writer_lock
from index.errors import (
    ArticleRejected,
    BuildInProgress,
    IndexDamaged,
    IndexNotFound,
    NothingToIndex,
)
from index.ingest import segment
from index.ingest.sources import (
    Article,
    Unreadable,
    parse_html,
    parse_text,
    read_sources,
    suffix_of,
)
from index.models.embed import load_encoder, settings_label
from index.settings import IndexSettings
from index.storage import lexical, store, versions
from index.storage.store import FORMAT, TEXT_FORMAT
from index.storage.vectors import faiss_index, faiss_kind
from index.types import SHARED, BuildProgress, BuildReport, ProgressCallback, Source

log = logging.getLogger(__name__)

SHARED_DIR = "_shared"


def context_text(title: str, previous: str, sentence: str, following: str) -> str:
    return " ".join(part for part in (title, previous, sentence, following) if part)


def articles_dir(settings: IndexSettings, collection: str = SHARED) -> Path:
    return settings.data_dir / "articles" / (collection or SHARED_DIR)


def configured_sources(settings: IndexSettings) -> list[Source]:
    """The configured sources plus every article added with `add_article` or from a feed."""
    found = [Source(Path(p), SHARED) for p in settings.sources]
    for added in (settings.data_dir / "articles", settings.data_dir / "feeds"):
        if added.is_dir():
            for folder in sorted(p for p in added.iterdir() if p.is_dir()):
                found.append(Source(folder, SHARED if folder.name == SHARED_DIR
                                    else folder.name))
    return found


@contextmanager
def build_lock(settings: IndexSettings) -> Iterator[None]:
    """One build at a time: `<data_dir>/build.lock`, or with `state_dsn` a lock that every
    machine sees (`index.database.writer_lock`)."""
    def busy(where: str) -> BuildInProgress:
        return BuildInProgress(f"a build {where} is already running; wait for it to finish")

    with writer_lock(settings, "build", busy=busy):
        yield


@dataclass
class _Previous:
    """What a build may reuse from the current version."""

    version: Path | None
    manifest: dict[str, object]
    by_hash: dict[str, tuple[store.ArticleRow, list[store.SentenceRow]]]
    sentences: np.ndarray | None
    passages: np.ndarray | None


def _load_previous(settings: IndexSettings) -> _Previous:
    empty = _Previous(None, {}, {}, None, None)
    try:
        version = versions.current_version(settings.data_dir)
        manifest = store.read_manifest(version)
        if manifest.get("format") != FORMAT:
            return empty
        # vectors of the label the settings give or, for a model that fell back to torch,
        # of the one the encoder actually has
        label = manifest.get("model")
        if label != settings_label(settings) and label != load_encoder(settings).label:
            return empty
        # damaged vectors or sentences must not be carried into the new version
        store.verify(version, manifest, ("meta.sqlite", "sentences.npy", "passages.npy"))
        db = store.open_readonly(version / "meta.sqlite")
        try:
            articles = store.load_articles(db)
            table = store.load_sentence_table(db)
        finally:
            db.close()
        sentences = np.load(version / "sentences.npy", mmap_mode="r")
        passages = np.load(version / "passages.npy", mmap_mode="r")
    except (IndexNotFound, IndexDamaged, OSError, ValueError) as exc:
        log.debug("not reusing the previous version: %s", exc)
        return empty
    by_hash: dict[str, tuple[store.ArticleRow, list[store.SentenceRow]]] = {}
    for a in articles:
        rows = [store.SentenceRow(a.first_row + i, a.id, *table[a.first_row + i][1:])
                for i in range(a.n_sentences)]
        by_hash[a.content_hash] = (a, rows)
    return _Previous(version, manifest, by_hash, sentences, passages)


def build(settings: IndexSettings, progress: ProgressCallback | None = None,
          sources: list[Source] | None = None) -> BuildReport:
    """Build a new version from `sources` (default: the configured ones) and switch to it.

    Raises BuildInProgress when another build runs. If nothing changed since the current
    version, no new version is made (`report.unchanged`).
    """
    started = time.perf_counter()
    report = progress or (lambda p: None)
    with build_lock(settings):
        versions.remove_stale(settings.data_dir, keep=None)
        todo = sources if sources is not None else configured_sources(settings)
        report(BuildProgress("reading", 0, len(todo)))
        articles, skipped = read_sources([(s.path, s.collection) for s in todo],
                                         int(settings.max_file_mb * 1_000_000))
        report(BuildProgress("reading", len(todo), len(todo)))
        previous = _load_previous(settings)

        fingerprint = [f"{a.collection}\t{a.doc_id}\t{a.content_hash}\t{a.source}"
                       for a in articles]
        if not articles:
            raise NothingToIndex(
                "no articles to index in " + ", ".join(str(s.path) for s in todo)
                + "".join(f"\n  skipped {s.path}: {s.reason}" for s in skipped[:20])
                + "\nNothing was changed; the previous index (if any) keeps serving.")
        old_count = int(str(previous.manifest.get("sentences", 0)))
        if (previous.version is not None and previous.manifest.get("fingerprint") == fingerprint
                and previous.manifest.get("text_format") == TEXT_FORMAT
                and previous.manifest.get("faiss") == faiss_kind(settings.faiss_index,
                                                                  old_count)):
            served = previous.version.name
            if settings.storage_backend == "milvus":
                from index.storage import milvus

                if milvus.current_fingerprint(settings) != fingerprint:
                    # built here, but Milvus serves something else: publish this version
                    milvus.remove_unfinished(settings)
                    served = milvus.publish(settings, previous.version, _publishing(report))
            return BuildReport(served, len(articles), old_count, 0,
                               len(articles), tuple(skipped),
                               time.perf_counter() - started, unchanged=True)

        name = versions.next_version_name(settings.data_dir)
        work = versions.versions_dir(settings.data_dir) / f".building-{name}-{os.getpid()}"
        work.mkdir(parents=True)
        try:
            counts = _write_version(settings, work, articles, previous, report)
            store.write_manifest(work, {
                "format": FORMAT, "text_format": TEXT_FORMAT, "version": name,
                "model": counts[2],
                "articles": len(articles), "sentences": counts[0],
                "faiss": faiss_kind(settings.faiss_index, counts[0]),
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "fingerprint": fingerprint,
                "files": store.seal_files(work),
            })
            final = versions.versions_dir(settings.data_dir) / name
            work.rename(final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        if settings.storage_backend == "milvus":
            # answerers read Milvus only; the files version stays here for the next build to
            # reuse its vectors. What a dead build left in Milvus is never visible (the alias
            # is switched last) and is dropped first.
            from index.storage import milvus

            milvus.remove_unfinished(settings)
            name = milvus.publish(settings, final, _publishing(report))
        versions.switch_to(settings.data_dir, final)
        versions.remove_stale(settings.data_dir, keep=final)
        return BuildReport(name, len(articles), counts[0], counts[1],
                           len(articles) - counts[1], tuple(skipped),
                           time.perf_counter() - started)


def _publishing(report: ProgressCallback) -> Callable[[int, int], None]:
    return lambda done, total: report(BuildProgress("writing", done, total))


def _write_version(settings: IndexSettings, work: Path, articles: list[Article],
                   previous: _Previous, report: ProgressCallback) -> tuple[int, int, str]:
    """Write everything but the manifest into `work`; returns (sentences, embedded articles,
    the label of the model that made the vectors)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    db = store.create(work / "meta.sqlite")
    rows: list[store.SentenceRow] = []
    titles: list[str] = []
    reuse: list[tuple[int, int, int]] = []  # (new first row, old first row, count)
    to_embed: list[tuple[int, int, str]] = []  # (first row, count, title) of new articles
    for article_id, article in enumerate(articles):
        first = len(rows)
        old = previous.by_hash.get(article.content_hash)
        if old is not None and previous.manifest.get("text_format") == TEXT_FORMAT:
            split = old[1]  # same splitter as before: keep its sentences
        else:
            split = [store.SentenceRow(0, 0, s.paragraph, s.sentence, s.start, s.end, s.text)
                     for s in segment.sentences(article.text)]
        new_rows = [store.SentenceRow(first + i, article_id, r.paragraph, r.sentence,
                                      r.start, r.end, r.text)
                    for i, r in enumerate(split)]
        # same texts in the same order embed to the same vectors (the title is in the hash)
        if old is not None and [r.text for r in old[1]] == [r.text for r in new_rows]:
            reuse.append((first, old[0].first_row, len(new_rows)))
        else:
            to_embed.append((first, len(new_rows), article.title))
        rows.extend(new_rows)
        titles.extend([article.title] * len(new_rows))
        store.insert_article(db, store.ArticleRow(
            article_id, article.doc_id, article.collection, article.title, article.url,
            article.published, article.author, article.source, article.text,
            article.content_hash, now, first, len(new_rows)), new_rows)
    db.commit()
    db.close()

    texts = [r.text for r in rows]
    n = len(rows)
    encoder = load_encoder(settings) if to_embed else None
    label = encoder.label if encoder else str(previous.manifest.get("model",
                                                                settings_label(settings)))
    dim = encoder.dim if encoder else (previous.sentences.shape[1]
                                       if previous.sentences is not None else 384)
    sent_vecs = np.zeros((n, dim), dtype=np.float32)
    pass_vecs = np.zeros((n, dim), dtype=np.float32)
    for new_first, old_first, count in reuse:
        assert previous.sentences is not None and previous.passages is not None
        sent_vecs[new_first:new_first + count] = previous.sentences[old_first:old_first + count]
        pass_vecs[new_first:new_first + count] = previous.passages[old_first:old_first + count]

    if encoder is not None:
        total = sum(count for _, count, _ in to_embed)
        done = 0
        report(BuildProgress("embedding", 0, total))
        step = max(1, settings.batch_size * 8)  # sentences per progress step
        group: list[tuple[int, int, str]] = []
        for item in [*to_embed, None]:
            if item is not None:
                group.append(item)
                if sum(count for _, count, _ in group) < step:
                    continue
            if not group:
                break
            chosen = [i for first, count, _ in group for i in range(first, first + count)]
            sent_vecs[chosen] = encoder.encode([texts[i] for i in chosen])
            in_context = encoder.encode_in_context(
                [(title, texts[first:first + count]) for first, count, title in group])
            for (first, count, _), vectors in zip(group, in_context, strict=True):
                pass_vecs[first:first + count] = vectors
            done += len(chosen)
            report(BuildProgress("embedding", done, total))
            group = []

    report(BuildProgress("writing", 0, 1))
    np.save(work / "sentences.npy", sent_vecs)
    np.save(work / "passages.npy", pass_vecs)
    spans = np.array([(r.article, r.paragraph, r.sentence, r.start, r.end) for r in rows],
                     dtype=np.int32).reshape(n, 5)
    np.save(work / "rows.npy", spans)
    import faiss

    kind = faiss_kind(settings.faiss_index, n)
    faiss.write_index(faiss_index(sent_vecs, kind), str(work / "sentences.faiss"))
    faiss.write_index(faiss_index(pass_vecs, kind), str(work / "passages.faiss"))

    sentence_tokens = [lexical.tokenize(t) for t in texts]
    title_tokens = {a.title: lexical.tokenize(a.title) for a in articles}
    context_tokens = []
    for i, r in enumerate(rows):
        tokens = list(title_tokens[titles[i]])
        for j in (i - 1, i, i + 1):
            if 0 <= j < n and rows[j].article == r.article:
                tokens.extend(sentence_tokens[j])
        context_tokens.append(tokens)
    article_tokens = [title_tokens[a.title] + lexical.tokenize(a.text) for a in articles]
    lexical.Lexicon.build(sentence_tokens, context_tokens, article_tokens).save(work / "lexicon")
    report(BuildProgress("writing", 1, 1))
    return n, len(to_embed), label


# --- adding single articles ---------------------------------------------------------------

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
ADDABLE = {".txt", ".md", ".markdown", ".html", ".htm"}


def safe_filename(filename: str) -> str:
    """A plain file name: no directories, no leading dots, only safe characters."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = SAFE_NAME.sub("-", base).lstrip(".-") or "article"
    return base[:120]


def add_article(settings: IndexSettings, filename: str, data: bytes,
                collection: str = SHARED) -> Path:
    """Check an article file and store it among the added articles of `collection`.

    It is indexed by the next `build`. Raises ArticleRejected with a message for the user.
    """
    name = safe_filename(filename)
    kind = suffix_of(Path(name))
    if kind not in ADDABLE:
        raise ArticleRejected(f"{filename!r}: only .txt, .md and .html articles can be added")
    if len(data) > settings.max_file_mb * 1_000_000:
        raise ArticleRejected(f"{filename!r} is larger than the "
                              f"{settings.max_file_mb:g} MB cap")
    try:
        article = (parse_html if kind in {".html", ".htm"} else parse_text)(Path(name), data)
    except Unreadable as exc:
        raise ArticleRejected(f"{filename!r}: {exc}") from None
    if not segment.sentences(article.text):
        raise ArticleRejected(f"{filename!r}: no sentences found")
    if collection and not re.fullmatch(r"[0-9A-Za-z_-]{1,40}", collection):
        raise ValueError(f"bad collection name {collection!r}")
    folder = articles_dir(settings, collection)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target
