"""The `files` storage backend (the default): one version directory on local disk (store.py
describes its files), made current by the `CURRENT` pointer (versions.py). Vectors are
read in place from the memory-mapped FAISS indexes, words from the memory-mapped postings.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import IndexDamaged, IndexNotFound
from index.settings import IndexSettings
from index.storage import store, versions
from index.storage.backend import top_items
from index.storage.lexical import Found, Lexicon, QueryTerms
from index.storage.store import FORMAT, MANIFEST
from index.storage.vectors import StoredVectors, hnsw_ef_search

log = logging.getLogger(__name__)

#: files of a version that only the next build reads (exact vectors, to reuse)
BUILD_ONLY = frozenset({"sentences.npy", "passages.npy"})


def check_format(where: object, manifest: dict[str, object]) -> None:
    """IndexDamaged unless the version was built in the format this code reads."""
    built_format = manifest.get("format")
    if isinstance(built_format, int) and built_format > FORMAT:
        raise IndexDamaged(
            f"{where} was built by a newer citebot (index format {built_format}; "
            f"this one reads format {FORMAT}); upgrade citebot, or run "
            "`citebot-index build` to rebuild the index with this one")
    if built_format != FORMAT:
        raise IndexDamaged(f"{where} was built by an older citebot (index format "
                           f"{built_format}; this one reads {FORMAT}); run "
                           "`citebot-index build` to rebuild it (articles are read again)")


#: below this many items at a level, BM25 is scored for every item once per question (a
#: scatter over the question's postings, cheaper than `Lexicon.top`'s bounds and searches
#: there); above, the top items are found without scoring every one (see `Lexicon.top`)
SCORE_EVERY_ITEM_BELOW = 200_000


class FilesEvidence:
    """A question's evidence from the postings and the FAISS indexes of a version."""

    def __init__(self, version: FilesVersion, question: str, q: np.ndarray) -> None:
        self.version = version
        self.lexicon = version.lexicon
        self.q = q
        self.terms: QueryTerms = self.lexicon.query(question)
        self._found: dict[tuple[str, bytes], Found] = {}
        self._scores: dict[str, np.ndarray] = {}

    def _every(self, level: str) -> np.ndarray | None:
        """BM25 of every item of `level` (once per question) on a small level; else None."""
        if self.lexicon.postings[level].size >= SCORE_EVERY_ITEM_BELOW:
            return None
        scores = self._scores.get(level)
        if scores is None:
            scores = self._scores[level] = self.lexicon.bm25_scores(level, self.terms)
        return scores

    def _find(self, level: str, items: np.ndarray) -> Found:
        """The question's words among `items` (bm25 and coverage of the same items share
        one search)."""
        key = (level, np.asarray(items).tobytes())
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self.lexicon.find(level, self.terms, items)
        return found

    def dense(self, kind: str, k: int, allowed: np.ndarray | None) -> np.ndarray:
        import faiss

        k = min(k, self.version.n)
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        index = self.version.faiss[kind]
        params = None
        if allowed is not None:
            ids = np.flatnonzero(allowed).astype(np.int64)
            if len(ids) == 0:
                return ids
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))  # type: ignore[call-arg]
        _, found = index.search(self.q[None, :], k, params=params)
        hits = found[0]
        return hits[hits >= 0]

    def top(self, level: str, k: int, allowed: np.ndarray | None) -> np.ndarray:
        every = self._every(level)
        if every is not None:
            return top_items(every, k, allowed)
        return self.lexicon.top(level, self.terms, k, allowed)

    def prefetch(self, rows: np.ndarray, articles: np.ndarray) -> None:
        pass  # everything is mapped already

    def vectors(self, kind: str, rows: np.ndarray) -> np.ndarray:
        return self.version.vectors[kind][rows]

    def bm25(self, level: str, items: np.ndarray) -> np.ndarray:
        every = self._every(level)
        if every is not None:
            return every[items]
        return self._find(level, items).bm25()

    def coverage(self, level: str, items: np.ndarray) -> np.ndarray:
        terms = self.terms
        if terms.empty or terms.total_idf <= 0:
            return np.zeros(len(items), dtype=np.float32)
        return self._find(level, items).coverage(terms)

    def names(self, level: str, items: np.ndarray) -> np.ndarray:
        terms = self.terms
        if terms.name_count == 0:
            return np.ones(len(items), dtype=np.float32)
        if len(terms.name_ids) == 0:
            return np.zeros(len(items), dtype=np.float32)
        found = np.zeros(len(items), dtype=np.float32)
        for word in terms.name_ids.tolist():
            found += self.lexicon.holds(level, word, items)
        return found / terms.name_count

    def pairs_found(self, question: str, groups: Sequence[np.ndarray]
                    ) -> tuple[np.ndarray, int] | None:
        return self.lexicon.pairs_found(question, groups)


class FilesVersion:
    """A version directory, opened (see store.py for its files)."""

    def __init__(self, settings: IndexSettings, version_dir: Path) -> None:
        import faiss

        self.version_dir = version_dir
        self.name = version_dir.name
        manifest = store.read_manifest(version_dir)
        check_format(version_dir, manifest)
        self.manifest = manifest
        # the .npy vectors are for the next build to reuse, not for answering
        listed = manifest.get("files")
        store.verify(version_dir, manifest, [name for name in listed if name not in BUILD_ONLY]
                     if isinstance(listed, dict) else None)
        db = store.open_readonly(version_dir / "meta.sqlite")
        try:
            self.articles = store.load_articles(db)
        except Exception as exc:  # sqlite3.DatabaseError and friends on a damaged file
            raise IndexDamaged(f"{version_dir / 'meta.sqlite'} is damaged ({exc}); "
                               "run `citebot-index build`") from None
        finally:
            db.close()
        try:
            spans = np.load(version_dir / "rows.npy", mmap_mode="r")
        except (OSError, ValueError, EOFError) as exc:
            raise IndexDamaged(f"{version_dir / 'rows.npy'} is damaged or missing ({exc}); "
                               "run `citebot-index build`") from None
        if spans.ndim != 2 or spans.shape[1] != 5 or spans.shape[0] != int(
                str(manifest.get("sentences", -1))):
            raise IndexDamaged(f"{version_dir / 'rows.npy'} does not match "
                               f"{version_dir / MANIFEST}; run `citebot-index build`")
        self.spans = np.array(spans)  # 20 bytes a row, read once
        self.n = len(self.spans)

        faiss_mapped = (faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
                        if hasattr(faiss, "IO_FLAG_MMAP_IFC") else 0)

        def load_faiss(name: str) -> Any:
            path = version_dir / name
            try:
                # the vectors mapped, not read, where this faiss can (IndexFlatCodes storage,
                # under Flat and HNSW): processes serving one version share their pages
                index = faiss.read_index(str(path), faiss_mapped)
            except RuntimeError as exc:
                raise IndexDamaged(f"{path} is damaged or missing ({str(exc).splitlines()[0]}); "
                                   "run `citebot-index build`") from None
            if index.ntotal != self.n:
                raise IndexDamaged(f"{path} does not match {version_dir / 'meta.sqlite'}; "
                                   "run `citebot-index build`")
            inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
            if hasattr(inner, "hnsw"):
                inner.hnsw.efSearch = hnsw_ef_search(settings.hnsw_ef_search, index.ntotal)
            return index

        self.faiss = {kind: load_faiss(f"{kind}.faiss") for kind in ("sentences", "passages")}
        self.vectors = {kind: StoredVectors(index) for kind, index in self.faiss.items()}
        try:
            self.lexicon = Lexicon.load(version_dir / "lexicon")
        except (OSError, ValueError, KeyError) as exc:
            raise IndexDamaged(f"{version_dir / 'lexicon'} is damaged or missing ({exc}); "
                               "run `citebot-index build`") from None
        self._db: sqlite3.Connection | None = None  # read-only, for checking quotes
        self._db_lock = threading.Lock()

    def evidence(self, question: str, q: np.ndarray) -> FilesEvidence:
        return FilesEvidence(self, question, q)

    def stored_texts(self, rows: Sequence[int]) -> list[str | None]:
        with self._db_lock:
            if self._db is None:
                self._db = store.open_readonly(self.version_dir / "meta.sqlite")
            return [store.sentence_text(self._db, int(row)) for row in rows]


def open_current(settings: IndexSettings,
                 check: Callable[[FilesVersion], None] = lambda v: None) -> FilesVersion:
    """The version CURRENT points at; if it is damaged (or fails `check` with IndexDamaged),
    the newest intact older one.

    Raises IndexNotFound when nothing was built yet, IndexDamaged when no version is
    usable (the message names the file and says what to run).
    """

    def opened(version_dir: Path) -> FilesVersion:
        version = FilesVersion(settings, version_dir)
        check(version)
        return version

    try:
        return opened(versions.current_version(settings.data_dir))
    except IndexNotFound:
        raise
    except IndexDamaged as damage:
        for older in reversed(versions.complete_versions(settings.data_dir)):
            try:
                version = opened(older)
            except IndexDamaged:
                continue
            log.warning("%s; serving the last good version %s instead", damage, older.name)
            return version
        raise
