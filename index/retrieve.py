"""How an answer is chosen: candidate sentences, their evidence, one fused score, abstention.

1. Candidates: the nearest sentences and passages in the FAISS indexes, the best BM25
   sentences and contexts, and every sentence of the best-matching articles.
2. Evidence for each candidate, each turned into a z-score against a fixed sample of the
   corpus (so scores mean the same whatever the candidate set):
   dense similarity of the sentence alone, of the sentence read in its article (one
   encoder pass over the title, the previous sentence and the following ones), of its best
   neighbour, and of its article's best sentence; BM25 of the
   sentence, of its context (title + neighbours) and of its article, and of its best
   neighbour; the IDF-weighted share of the question's words found in the sentence and in
   its context.
3. The fused score is a weighted sum; the top sentences are cited.
4. Abstention: a logistic model gives a confidence in 0..1 from the top candidate's raw
   dense similarities and word coverage, whether the single signals agree on its article,
   and how many of the question's names its article and context contain.

Follow-up questions (`index/followup.py`) use the same ranking through one small hook: they
are ranked with their expanded text and vector, and `rank(..., prior=...)` adds a per-row
score (a bonus for the article the conversation is about); rows with a bonus join the
candidates (the sentences just quoted are left out through `allowed`). Without `prior`,
nothing changes.

The weights were fitted on questions 800–1499 of the NYT dev split and are reported on
questions 0–799 (`citebot-index eval`); `benchmarks/fit_weights.py` refits them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.lexical import Lexicon, QueryTerms
from index.vectors import VectorRows

FEATURES = ("d_sent", "d_pass", "d_nb", "d_docmax", "b_sent", "b_ctx", "b_doc", "b_nb",
            "c_sent", "c_ctx")

#: fused score = WEIGHTS · z-scored features
WEIGHTS = np.array([0.34, 0.17, 0.11, 0.08, 0.0, 0.03, 0.13, 0.0, 0.13, 0.18], dtype=np.float32)

#: evidence that means the same in any corpus (cosines, coverage shares, agreement): z-scores
#: and the fused score depend on corpus size, and one article must be judged like thousands
ABSTAIN_FEATURES = ("d_sent", "d_pass", "d_nb", "d_docmax", "c_sent", "c_ctx", "c_doc",
                    "agree_d_sent", "agree_b_sent", "agree_d_pass", "agree_b_ctx", "top5_same",
                    "names_article", "names_context")
#: confidence = sigmoid(ABSTAIN_COEF · (x - ABSTAIN_MEAN) / ABSTAIN_SCALE + ABSTAIN_BIAS)
ABSTAIN_MEAN = np.array([
    0.4722, 0.4123, 0.3029, 0.4931, 0.5341, 0.5796, 0.6344, 0.5314, 0.5814, 0.505,
    0.6771, 0.5653, 0.8054, 0.7884
], dtype=np.float32)
ABSTAIN_SCALE = np.array([
    0.161, 0.1528, 0.1427, 0.1505, 0.2578, 0.2543, 0.2556, 0.499, 0.4933, 0.5,
    0.4676, 0.3023, 0.3636, 0.376
], dtype=np.float32)
ABSTAIN_COEF = np.array([
    0.68, -0.108, -0.089, 0.391, 0.332, 0.715, 0.315, 0.281, 0.281, 0.07, 0.423,
    0.045, 0.699, 0.051
], dtype=np.float32)
ABSTAIN_BIAS = -0.048

DENSE_CANDIDATES = 100
LEXICAL_CANDIDATES = 100
TOP_ARTICLES = 3
ARTICLE_ROWS_CAP = 400
SAMPLE_ROWS = 1024


@dataclass(frozen=True)
class Ranking:
    """Candidates best first: `rows` (sentence rows), `scores` (fused), and the confidence
    that the best one answers the question."""

    rows: np.ndarray
    scores: np.ndarray
    confidence: float


@dataclass(frozen=True)
class Candidates:
    """Evidence for a set of rows: `features[i]` (z-scored, in FEATURES order) for `rows[i]`."""

    rows: np.ndarray
    features: np.ndarray
    raw: np.ndarray
    coverage_article: np.ndarray
    articles: np.ndarray
    terms: QueryTerms


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


class Ranker:
    def __init__(self, sentences: VectorRows, passages: VectorRows, faiss_sentences: object,
                 faiss_passages: object, lexicon: Lexicon, row_article: np.ndarray,
                 article_first_row: np.ndarray, article_rows: np.ndarray) -> None:
        self.sentences = sentences
        self.passages = passages
        self.faiss = {"sentences": faiss_sentences, "passages": faiss_passages}
        self.lexicon = lexicon
        self.row_article = row_article
        self.article_first_row = article_first_row
        self.article_rows = article_rows
        n = len(row_article)
        self.n = n
        same_prev = np.zeros(n, dtype=bool)
        if n > 1:
            same_prev[1:] = row_article[1:] == row_article[:-1]
        self.has_prev = same_prev
        self.has_next = np.zeros(n, dtype=bool)
        if n > 1:
            self.has_next[:-1] = same_prev[1:]
        rng = np.random.default_rng(0)
        self.sample = np.sort(rng.choice(n, size=min(n, SAMPLE_ROWS), replace=False)) \
            if n else np.zeros(0, dtype=np.int64)

    # --- candidates ---------------------------------------------------------------------
    def _dense_hits(self, name: str, q: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
        import faiss

        k = min(DENSE_CANDIDATES, self.n)
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        index = self.faiss[name]
        params = None
        if allowed is not None:
            ids = np.flatnonzero(allowed).astype(np.int64)
            if len(ids) == 0:
                return ids
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))  # type: ignore[call-arg]
        _, found = index.search(q[None, :], k, params=params)  # type: ignore[attr-defined]
        hits = found[0]
        return hits[hits >= 0]

    @staticmethod
    def _top(scores: np.ndarray, k: int, allowed: np.ndarray | None) -> np.ndarray:
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

    def candidates(self, question: str, q: np.ndarray, allowed: np.ndarray | None = None,
                   extra: np.ndarray | None = None) -> tuple[Candidates, Candidates]:
        """(pool, sample): evidence for the candidate rows (plus the rows `extra`) and for
        the reference sample."""
        terms = self.lexicon.query(question)
        b_sent_all = self.lexicon.bm25_scores("sentence", terms)
        b_ctx_all = self.lexicon.bm25_scores("context", terms)
        b_doc_all = self.lexicon.bm25_scores("article", terms)

        parts = [self._dense_hits("sentences", q, allowed),
                 self._dense_hits("passages", q, allowed),
                 self._top(b_sent_all, LEXICAL_CANDIDATES, allowed),
                 self._top(b_ctx_all, LEXICAL_CANDIDATES, allowed)]
        doc_scores = b_doc_all.copy()
        if allowed is not None:
            allowed_articles = np.zeros(len(doc_scores), dtype=bool)
            allowed_articles[self.row_article[allowed]] = True
            doc_scores[~allowed_articles] = -np.inf
        for a in self._top(doc_scores, TOP_ARTICLES, None):
            first = self.article_first_row[a]
            parts.append(np.arange(first, first + min(self.article_rows[a], ARTICLE_ROWS_CAP)))
        if extra is not None:
            parts.append(extra)
        pool = np.unique(np.concatenate(parts).astype(np.int64)) if parts else np.zeros(0, int)
        if allowed is not None:
            pool = pool[allowed[pool]]
        sample = self.sample if allowed is None else self.sample[allowed[self.sample]]
        if len(sample) < 2:
            sample = pool

        both = np.concatenate([pool, sample])
        m = len(both)
        prev_rows = np.where(self.has_prev[both], both - 1, both)
        next_rows = np.where(self.has_next[both], both + 1, both)
        # one gather of the (memory-mapped) vectors the candidates and neighbours need
        needed, where = np.unique(np.concatenate([both, prev_rows, next_rows]),
                                  return_inverse=True)
        similarity = self.sentences[needed] @ q
        d_sent = similarity[where[:m]]
        d_prev = np.where(self.has_prev[both], similarity[where[m:2 * m]], -1.0)
        d_next = np.where(self.has_next[both], similarity[where[2 * m:]], -1.0)
        order = np.argsort(both, kind="stable")  # gathers in row order read pages in order
        d_pass = np.empty(m, dtype=np.float32)
        d_pass[order] = self.passages[both[order]] @ q
        d_nb = np.maximum(d_prev, d_next)
        d_nb = np.where(d_nb < -0.5, d_sent, d_nb)  # a one-sentence article: its own score
        b_prev = np.where(self.has_prev[both], b_sent_all[prev_rows], 0.0)
        b_next = np.where(self.has_next[both], b_sent_all[next_rows], 0.0)
        # an article's best sentence among the rows we looked at
        articles = self.row_article[both]
        docmax = np.full(len(self.article_rows), -1.0, dtype=np.float32)
        np.maximum.at(docmax, articles, np.maximum(d_sent, d_nb))
        raw = np.stack([
            d_sent,
            d_pass,
            d_nb,
            docmax[articles],
            b_sent_all[both],
            b_ctx_all[both],
            b_doc_all[articles],
            np.maximum(b_prev, b_next),
            self.lexicon.coverage("sentence", terms, both),
            self.lexicon.coverage("context", terms, both),
        ], axis=1).astype(np.float32)
        cov_article = self.lexicon.coverage("article", terms, articles)

        ref = raw[len(pool):]
        mean = ref.mean(axis=0)
        std = ref.std(axis=0)
        z = (raw - mean) / np.where(std > 1e-6, std, 1.0)
        n_pool = len(pool)
        return (Candidates(pool, z[:n_pool], raw[:n_pool], cov_article[:n_pool],
                           articles[:n_pool], terms),
                Candidates(sample, z[n_pool:], raw[n_pool:], cov_article[n_pool:],
                           articles[n_pool:], terms))

    # --- ranking ------------------------------------------------------------------------
    def rank(self, question: str, q: np.ndarray, allowed: np.ndarray | None = None,
             weights: np.ndarray = WEIGHTS, prior: np.ndarray | None = None) -> Ranking:
        """`prior` (one value per row, or None) is added to the fused score; rows where it
        is positive are candidates too (see `index/followup.py`)."""
        nothing = Ranking(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), 0.0)
        if self.n == 0 or (allowed is not None and not allowed.any()):
            return nothing  # no article may be quoted: no statistics to compute either
        extra = None if prior is None else np.flatnonzero(prior > 0)
        pool, _ = self.candidates(question, q, allowed, extra)
        if len(pool.rows) == 0:
            return nothing
        fused = pool.features @ weights
        if prior is not None:
            fused = fused + prior[pool.rows]
        order = np.argsort(-fused, kind="stable")
        confidence = confidence_of(abstain_features(pool, fused, order, self.lexicon))
        return Ranking(pool.rows[order], fused[order], confidence)


def confidence_of(x: np.ndarray) -> float:
    """The abstention model: how likely the top candidate answers the question."""
    return sigmoid(float(((x - ABSTAIN_MEAN) / ABSTAIN_SCALE) @ ABSTAIN_COEF) + ABSTAIN_BIAS)


def abstain_features(pool: Candidates, fused: np.ndarray, order: np.ndarray,
                     lexicon: Lexicon) -> np.ndarray:
    """ABSTAIN_FEATURES of the top candidate.

    Besides the raw evidence of the top sentence: whether the best candidate by each single
    signal comes from the same article (answerable questions make the signals agree), and
    how many of the question's names its article and context contain.
    """
    top = order[0]
    raw = pool.raw[top]
    article = pool.articles[top]
    agree = [float(pool.articles[np.argmax(pool.raw[:, FEATURES.index(name)])] == article)
             for name in ("d_sent", "b_sent", "d_pass", "b_ctx")]
    return np.array([
        raw[FEATURES.index("d_sent")],
        raw[FEATURES.index("d_pass")],
        raw[FEATURES.index("d_nb")],
        raw[FEATURES.index("d_docmax")],
        raw[FEATURES.index("c_sent")],
        raw[FEATURES.index("c_ctx")],
        pool.coverage_article[top],
        *agree,
        float(np.mean(pool.articles[order[:5]] == article)),
        lexicon.name_coverage("article", pool.terms, int(article)),
        lexicon.name_coverage("context", pool.terms, int(pool.rows[top])),
    ], dtype=np.float32)
