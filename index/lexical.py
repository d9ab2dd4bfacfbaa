"""Word-level evidence: stemmed tokens, BM25 (bm25s) and IDF-weighted word coverage.

Three granularities are indexed: the sentence alone, the sentence in its context
(title + previous + sentence + next), and the whole article.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

WORD = re.compile(r"\w+", re.UNICODE)
LEVELS = ("sentence", "context", "article")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    # NLTK's English list (it has the question words), plus honorifics that every news
    # article repeats
    return frozenset(STOPWORDS_EN_PLUS) | {"whose", "also", "mr", "ms", "mrs", "dr"}


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop words removed, Snowball-stemmed words."""
    stop = _stopwords()
    words = [w for w in WORD.findall(text.lower()) if w not in stop]
    return list(_stemmer().stemWords(words))


def _presence(token_lists: Sequence[Sequence[str]], vocab: dict[str, int]) -> sp.csr_matrix:
    indptr = [0]
    indices: list[int] = []
    for tokens in token_lists:
        ids = sorted({vocab[t] for t in tokens if t in vocab})
        indices.extend(ids)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, np.array(indices, dtype=np.int32), np.array(indptr)),
                         shape=(len(token_lists), len(vocab)))


def _import_bm25s() -> Any:
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
    return bm25s


def _bm25(token_lists: Sequence[Sequence[str]]) -> Any:
    bm25s = _import_bm25s()

    retriever = bm25s.BM25()
    # an empty token list breaks bm25s; a placeholder that no query produces keeps rows aligned
    retriever.index([list(t) or ["\0"] for t in token_lists], show_progress=False)
    return retriever


@dataclass
class QueryTerms:
    """The question's stemmed content words that occur in the corpus, with their weights."""

    tokens: list[str]
    ids: np.ndarray
    idf: np.ndarray
    total_idf: float
    """IDF mass of all the question's words, those the corpus never uses included (so
    unknown words lower every coverage share)."""
    name_ids: np.ndarray
    """Vocabulary ids of the question's capitalised words (names, mostly) after the first."""
    name_count: int
    """How many such words there are, including those the corpus never uses."""

    @property
    def empty(self) -> bool:
        return len(self.tokens) == 0


class Lexicon:
    """BM25 and coverage at the three levels, for one index version."""

    def __init__(self, vocab: dict[str, int], idf: np.ndarray,
                 presence: dict[str, sp.csr_matrix], bm25: dict[str, object]) -> None:
        self.vocab = vocab
        self.idf = idf
        self.presence = presence
        self.bm25 = bm25
        self.max_idf = float(idf.max()) if len(idf) else 1.0

    @classmethod
    def build(cls, sentence_tokens: Sequence[Sequence[str]],
              context_tokens: Sequence[Sequence[str]],
              article_tokens: Sequence[Sequence[str]]) -> Lexicon:
        vocab: dict[str, int] = {}
        for tokens in (*sentence_tokens, *context_tokens, *article_tokens):
            for t in tokens:
                if t not in vocab:
                    vocab[t] = len(vocab)
        levels = dict(zip(LEVELS, (sentence_tokens, context_tokens, article_tokens), strict=True))
        presence = {name: _presence(tokens, vocab) for name, tokens in levels.items()}
        n = max(1, presence["sentence"].shape[0])
        df = np.asarray(presence["sentence"].sum(axis=0)).ravel()
        idf = np.log((n + 1) / (df + 0.5)).astype(np.float32)
        bm25 = {name: _bm25(tokens) for name, tokens in levels.items()}
        return cls(vocab, idf, presence, bm25)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocab.json").write_text(json.dumps(self.vocab), encoding="utf-8")
        np.save(folder / "idf.npy", self.idf)
        for name in LEVELS:
            sp.save_npz(folder / f"presence-{name}.npz", self.presence[name])
            self.bm25[name].save(str(folder / f"bm25-{name}"))  # type: ignore[attr-defined]

    @classmethod
    def load(cls, folder: Path) -> Lexicon:
        bm25s = _import_bm25s()

        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        idf = np.load(folder / "idf.npy")
        presence = {name: sp.load_npz(folder / f"presence-{name}.npz").tocsr()
                    for name in LEVELS}
        bm25 = {name: bm25s.BM25.load(str(folder / f"bm25-{name}")) for name in LEVELS}
        return cls(vocab, idf, presence, bm25)

    def query(self, question: str) -> QueryTerms:
        tokens = list(dict.fromkeys(tokenize(question)))
        known = [t for t in tokens if t in self.vocab]
        ids = np.array([self.vocab[t] for t in known], dtype=np.int64)
        idf = self.idf[ids] if len(ids) else np.zeros(0, dtype=np.float32)
        # a word the corpus never uses weighs a little more than its rarest word
        missing = (len(tokens) - len(known)) * (self.max_idf + math.log(2))
        words = WORD.findall(question)
        names = list(dict.fromkeys(t for w in words[1:] if w[:1].isupper() for t in tokenize(w)))
        name_ids = np.array([self.vocab[t] for t in names if t in self.vocab], dtype=np.int64)
        return QueryTerms(known, ids, idf, float(idf.sum()) + missing, name_ids, len(names))

    def bm25_scores(self, level: str, terms: QueryTerms) -> np.ndarray:
        """BM25 of every item at `level` (sentence rows, or articles)."""
        n = self.presence[level].shape[0]
        if terms.empty:
            return np.zeros(n, dtype=np.float32)
        scores = self.bm25[level].get_scores(terms.tokens)  # type: ignore[attr-defined]
        return np.asarray(scores, dtype=np.float32)

    def coverage(self, level: str, terms: QueryTerms, rows: np.ndarray) -> np.ndarray:
        """IDF-weighted share of the question's content words present in each of `rows`."""
        if terms.empty or terms.total_idf <= 0:
            return np.zeros(len(rows), dtype=np.float32)
        sub = self.presence[level][rows][:, terms.ids]
        return np.asarray(sub @ terms.idf, dtype=np.float32).ravel() / terms.total_idf

    def name_coverage(self, level: str, terms: QueryTerms, row: int) -> float:
        """Share of the question's capitalised words present in item `row` at `level`
        (1.0 when the question has none)."""
        if terms.name_count == 0:
            return 1.0
        if len(terms.name_ids) == 0:
            return 0.0
        found = self.presence[level][row][:, terms.name_ids].toarray().sum()
        return float(found) / terms.name_count
