"""The storage backend interface: what one opened index version serves the engine and the
ranker, whatever holds it.

Two backends implement it: `files` (`storage/files.py`: a version directory of FAISS
indexes, SQLite and BM25 postings on local disk, made current by the `CURRENT` pointer; the
default) and `milvus` (`storage/milvus.py`: collections in a Milvus server, made current by
a collection alias). The ranker (`answer/rank.py`) decides how an answer is chosen; it reads
its candidates and their evidence only through `Evidence`, and the engine reads articles,
sentence spans and the stored sentence texts only through `Version`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from index.storage.lexical import QueryTerms
from index.storage.store import ArticleRow

#: the vector kinds: each sentence alone, and each sentence read in its article
KINDS = ("sentences", "passages")


class Evidence(Protocol):
    """One question's view of the stored evidence of a version.

    Rows are sentence rows (0..n-1), items are rows or, at the "article" level, article ids.
    `allowed` is a boolean mask over rows (over articles for `top("article", ...)`) of what
    may be returned; None allows everything.
    """

    terms: QueryTerms
    """The question's stemmed words that the version's vocabulary knows, with their IDF."""

    def dense(self, kind: str, k: int, allowed: np.ndarray | None) -> np.ndarray:
        """The rows of the (up to) `k` vectors of `kind` nearest the question's."""
        ...

    def top(self, level: str, k: int, allowed: np.ndarray | None) -> np.ndarray:
        """The (up to) `k` items of `level` with the highest BM25 above 0, in no order."""
        ...

    def prefetch(self, rows: np.ndarray, articles: np.ndarray) -> None:
        """A hint: the evidence of `rows` and `articles` is read next (one round trip for a
        remote store)."""
        ...

    def vectors(self, kind: str, rows: np.ndarray) -> np.ndarray:
        """float32 [len(rows), dim]: the stored vectors of `kind` of `rows`."""
        ...

    def bm25(self, level: str, items: np.ndarray) -> np.ndarray:
        """BM25 of the question's words in each of `items`."""
        ...

    def coverage(self, level: str, items: np.ndarray) -> np.ndarray:
        """IDF-weighted share of the question's content words present in each of `items`."""
        ...

    def names(self, level: str, items: np.ndarray) -> np.ndarray:
        """Share of the question's capitalised words in each of `items` (1: it has none)."""
        ...

    def pairs_found(self, question: str, groups: Sequence[np.ndarray]
                    ) -> tuple[np.ndarray, int] | None:
        """Per candidate i, how many distinct word pairs of the question (consecutive
        content words, stemmed) occur in any of the sentences `groups[k][i]` (-1: none),
        and how many pairs the question has; None if the version keeps no sentence words
        (the ranker then reads and tokenizes the texts)."""
        ...


class Version(Protocol):
    """One opened index version."""

    name: str
    manifest: dict[str, object]
    articles: list[ArticleRow]
    """Every article, in index order (with its full text)."""
    spans: np.ndarray
    """int32 [n, 5]: article, paragraph, sentence, start, end of every sentence row."""

    def evidence(self, question: str, q: np.ndarray) -> Evidence:
        """The evidence for one question (`q`: its unit vector)."""
        ...

    def stored_texts(self, rows: Sequence[int]) -> list[str | None]:
        """The sentence texts stored when the version was built (None: absent), to check
        every quote against."""
        ...


def top_items(scores: np.ndarray, k: int, allowed: np.ndarray | None) -> np.ndarray:
    """The (up to) `k` items with the highest of `scores` above 0 (and `allowed`)."""
    # only rows that hold a question word score above 0: choose among those alone
    scored = np.flatnonzero(scores > 0) if allowed is None \
        else np.flatnonzero((scores > 0) & allowed)
    k = min(k, len(scored))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    values = scores[scored]
    if len(values) > 40 * k:
        # the k-th best of a sample is a floor under the k-th best of all: only rows
        # above it can be among the top k (a large corpus has many rows per word)
        sample = values[::len(values) // (20 * k)]
        floor = np.partition(sample, len(sample) - k)[len(sample) - k]
        scored, values = scored[values >= floor], values[values >= floor]
    return scored[np.argpartition(-values, k - 1)[:k]]
