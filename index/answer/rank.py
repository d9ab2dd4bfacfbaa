"""How an answer is chosen: candidate sentences, their evidence, a learned score, abstention.

1. Candidates: the nearest sentences and passages in the vector indexes (FAISS, or Milvus:
   the storage backend, `index/storage/backend.py`), the best BM25
   sentences and contexts, and every sentence of the best-matching articles.
   The vectors come from the packaged model with citebot's tuning (`index/models/embed.py`,
   learned by `training/tune_encoder.py`): it puts a question nearer the sentence that
   answers it than the stock model, which was trained on paraphrases.
2. Evidence for each candidate (`Ranker.features`, names in RANK_FEATURES):
   - ten signals, each a z-score against a fixed sample of the corpus (so scores mean the
     same whatever the candidate set; each article as likely in it as any other, so that a
     few long articles added to a news collection do not move the scale: with the 48
     Wikipedia articles of `eval --distractors` half the sentences, 11% of the sample):
     dense similarity of the sentence alone, of the sentence read in its article (one
     encoder pass over the title, the previous sentence and the following ones), of its
     best neighbour, and of its article's best sentence;
     BM25 of the sentence, of its context (title + neighbours), of its article and of its
     best neighbour; the IDF-weighted share of the question's words in the sentence and in
     its context;
   - the raw cosines, each signal's distance to the best candidate and reciprocal rank in
     the candidate set, the sentence's position in its article and its length, the share
     of the question's names and of its word pairs found in the sentence and its context;
   - answer-type evidence (`index/answer/answer_types.py`): the kind of thing the question asks
     for (person, organisation, place, country, number, money, percent, date, reason,
     yes/no, other) and whether the sentence and its neighbours hold a new expression of
     that kind (one the question does not already contain), per kind.
3. The score is a linear model over that evidence, learned with a listwise softmax loss
   (`index/answer/ranker_model.json`); the top sentences are cited.
4. Abstention: a logistic model gives a confidence in 0..1 from evidence that means the
   same in any corpus: the top candidate's raw similarities and word coverage, whether the
   single signals agree on its article, how many of the question's names its article and
   context contain, whether it, its neighbours and its article hold an expression of the
   asked kind, and how far it stands out in its article. (Evidence that depends on the
   corpus, such as z-scores or margins over other articles, is measured by the refit but
   given no weight: a question about one article is judged like one about thousands.)
   The bias puts the default threshold 0.5 where 7% of the answerable NYT fit questions
   are refused.

Follow-up questions (`index/answer/followup.py`) use the same ranking through one small hook: they
are ranked with their expanded text and vector, and `rank(..., prior=...)` adds a per-row
score (a bonus for the article the conversation is about); rows with a bonus join the
candidates (the sentences just quoted are left out through `allowed`, and lend their
neighbours no word pairs). Without `prior`, nothing changes. (The ranking scores are
scaled by the refit to the spread the round-1 fused score had, so the prior and the
citation margin keep their meaning.)

Both models are fitted by `training/fit_ranker.py` (one command, from scratch) on the
Wikipedia training questions of `../shared/train/` (every fifth article held out) and NYT
dev questions 800–1499; `citebot-index eval` reports on NYT dev questions 0–799.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from index.answer import answer_types
from index.storage import lexical
from index.storage.backend import Evidence, Version
from index.storage.lexical import QueryTerms

FEATURES = ("d_sent", "d_pass", "d_nb", "d_docmax", "b_sent", "b_ctx", "b_doc", "b_nb",
            "c_sent", "c_ctx")

#: expressions that may be the answer to a question of no particular kind ("What ...?")
OTHER_EXPRESSIONS = {"o_proper": answer_types.E_PROPER, "o_number": answer_types.E_NUMBER,
                     "o_date": answer_types.E_DATE, "o_quote": answer_types.E_QUOTE}

#: what the ranking model weighs, per candidate (Ranker.features)
RANK_FEATURES = (
    *FEATURES,
    "d_sent_raw", "d_pass_raw", "d_nb_raw",
    "gap_d_sent", "gap_d_pass", "gap_c_sent", "gap_c_ctx", "gap_b_sent", "gap_b_ctx",
    "pos_log", "first", "len_log", "names_sent", "names_ctx", "bigram_sent", "bigram_ctx",
    "rr_d_sent", "rr_d_pass", "rr_b_sent", "rr_b_ctx", "rr_c_sent", "rr_d_docmax", "rr_b_doc",
    "t_sent", "t_nb",
    *(f"t_sent:{name}" for name in answer_types.QUESTION_TYPES
      if answer_types.ANSWERED_BY[answer_types.QUESTION_TYPES.index(name)]),
    *OTHER_EXPRESSIONS,
)
RANK_INDEX = {name: i for i, name in enumerate(RANK_FEATURES)}

#: evidence that means the same in any corpus (cosines, coverage shares, agreement, answer
#: types): z-scores and the fused score depend on corpus size, and one article must be
#: judged like thousands
ABSTAIN_FEATURES = ("d_sent", "d_pass", "d_nb", "d_docmax", "c_sent", "c_ctx", "c_doc",
                    "agree_d_sent", "agree_b_sent", "agree_d_pass", "agree_b_ctx", "top5_same",
                    "names_article", "names_context", "typed", "type_top", "type_article",
                    "stand_out", "q_missing", "margin_d_article", "margin_c_article",
                    "z_d_sent", "z_d_pass", "z_b_ctx", "score_top", "score_margin")
#: of ABSTAIN_FEATURES, those that depend on the corpus (z-scores against its sample,
#: margins over the other articles, which a one-article collection does not have, and the
#: share of the question's words its vocabulary lacks, large in a small corpus): measured
#: by the refit, but given no weight, so a question about one article is judged like one
#: about thousands
ABSTAIN_CORPUS_RELATIVE = ("q_missing", "margin_d_article", "margin_c_article", "z_d_sent",
                           "z_d_pass", "z_b_ctx", "score_top", "score_margin")

#: the first-stage score (round-1 weights over FEATURES' z-scores) picks the candidates
#: whose words are read for word-pair and answer-type evidence: the best EVIDENCE_ROWS
FIRST_STAGE = np.array([0.34, 0.17, 0.11, 0.08, 0.0, 0.03, 0.13, 0.0, 0.13, 0.18],
                       dtype=np.float32)
EVIDENCE_ROWS = 120
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
    evidence: Evidence
    """Where the question's stored evidence is read (the version's backend)."""
    allowed: np.ndarray | None = None
    """The rows that may be quoted (None: all). A neighbour that may not (a follow-up's
    earlier quote: whole articles left out never split a neighbourhood) lends the candidate
    none of its word pairs: they are the previous question's words, not this one's."""


def reference_sample(row_article: np.ndarray, article_rows: np.ndarray) -> np.ndarray:
    """SAMPLE_ROWS rows (sorted, seeded) that the z-scores are measured against, each
    article as likely as any other rather than each sentence: a few long articles
    (Wikipedia's 160 sentences against a news story's 16) do not set the scale alone."""
    n = len(row_article)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # weighted sampling without replacement: the smallest exponential keys / weight, the
    # weight of a row 1 / its article's length
    keys = np.random.default_rng(0).exponential(size=n) * article_rows[row_article]
    return np.sort(np.argpartition(keys, min(n, SAMPLE_ROWS) - 1)[:SAMPLE_ROWS])


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


class Ranker:
    def __init__(self, version: Version, row_article: np.ndarray,
                 article_first_row: np.ndarray, article_rows: np.ndarray,
                 text_of: Callable[[int], str] | None = None) -> None:
        self.version = version  # the storage backend's opened version (storage/backend.py)
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
        # typed expressions of each sentence (computed on first use)
        # a sentence's text by row (read on demand), for the evidence computed from words
        self.text_of = text_of
        self._log_length = np.full(len(row_article), -1.0, dtype=np.float32)
        self._bigram_memo: list[str | None] = \
            [None] * (len(row_article) if text_of is not None else 0)
        self.types = answer_types.TypeEvidence(text_of, len(row_article)) \
            if text_of is not None else None
        self.sample = reference_sample(row_article, article_rows)

    # --- candidates ---------------------------------------------------------------------
    def candidates(self, question: str, q: np.ndarray, allowed: np.ndarray | None = None,
                   extra: np.ndarray | None = None) -> tuple[Candidates, Candidates]:
        """(pool, sample): evidence for the candidate rows (plus the rows `extra`) and for
        the reference sample."""
        ev = self.version.evidence(question, q)
        terms = ev.terms
        parts = [ev.dense("sentences", DENSE_CANDIDATES, allowed),
                 ev.dense("passages", DENSE_CANDIDATES, allowed),
                 ev.top("sentence", LEXICAL_CANDIDATES, allowed),
                 ev.top("context", LEXICAL_CANDIDATES, allowed)]
        allowed_articles = None
        if allowed is not None:
            allowed_articles = np.zeros(len(self.article_rows), dtype=bool)
            allowed_articles[self.row_article[allowed]] = True
        for a in ev.top("article", TOP_ARTICLES, allowed_articles):
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
        has_prev, has_next = self.has_prev[both], self.has_next[both]
        # one gather of the (memory-mapped) vectors the candidates and neighbours need
        needed, where = np.unique(np.concatenate([both, prev_rows, next_rows]),
                                  return_inverse=True)
        articles = self.row_article[both]
        ev.prefetch(needed, np.unique(articles))
        similarity = ev.vectors("sentences", needed) @ q
        d_sent = similarity[where[:m]]
        d_prev = np.where(has_prev, similarity[where[m:2 * m]], -1.0)
        d_next = np.where(has_next, similarity[where[2 * m:]], -1.0)
        order = np.argsort(both, kind="stable")  # gathers in row order read pages in order
        d_pass = np.empty(m, dtype=np.float32)
        d_pass[order] = ev.vectors("passages", both[order]) @ q
        d_nb = np.maximum(d_prev, d_next)
        d_nb = np.where(d_nb < -0.5, d_sent, d_nb)  # a one-sentence article: its own score
        b_sent_near = ev.bm25("sentence", needed)
        b_sent = b_sent_near[where[:m]]
        b_prev = np.where(has_prev, b_sent_near[where[m:2 * m]], 0.0)
        b_next = np.where(has_next, b_sent_near[where[2 * m:]], 0.0)
        # an article's best sentence among the rows we looked at
        docmax = np.full(len(self.article_rows), -1.0, dtype=np.float32)
        np.maximum.at(docmax, articles, np.maximum(d_sent, d_nb))
        raw = np.stack([
            d_sent,
            d_pass,
            d_nb,
            docmax[articles],
            b_sent,
            ev.bm25("context", both),
            ev.bm25("article", articles),
            np.maximum(b_prev, b_next),
            ev.coverage("sentence", both),
            ev.coverage("context", both),
        ], axis=1).astype(np.float32)
        cov_article = ev.coverage("article", articles)

        ref = raw[len(pool):]
        mean = ref.mean(axis=0)
        std = ref.std(axis=0)
        z = (raw - mean) / np.where(std > 1e-6, std, 1.0)
        n_pool = len(pool)
        return (Candidates(pool, z[:n_pool], raw[:n_pool], cov_article[:n_pool],
                           articles[:n_pool], terms, ev, allowed),
                Candidates(sample, z[n_pool:], raw[n_pool:], cov_article[n_pool:],
                           articles[n_pool:], terms, ev, allowed))

    # --- ranking ------------------------------------------------------------------------
    def features(self, question: str, pool: Candidates) -> np.ndarray:
        """RANK_FEATURES of every candidate in `pool` (rows in pool order)."""
        rows = pool.rows
        n = len(rows)
        raw, z = pool.raw, pool.features
        f = np.zeros((n, len(RANK_FEATURES)), dtype=np.float32)
        f[:, :len(FEATURES)] = z
        col = RANK_INDEX
        for name in ("d_sent", "d_pass", "d_nb"):
            f[:, col[name + "_raw"]] = raw[:, FEATURES.index(name)]
        for name in ("d_sent", "d_pass", "c_sent", "c_ctx"):
            v = raw[:, FEATURES.index(name)]
            f[:, col["gap_" + name]] = v - v.max()
        for name in ("b_sent", "b_ctx"):
            v = z[:, FEATURES.index(name)]
            f[:, col["gap_" + name]] = v - v.max()
        # reciprocal rank of each candidate in the pool by each single signal
        for name in ("d_sent", "d_pass", "b_sent", "b_ctx", "c_sent", "d_docmax", "b_doc"):
            v = raw[:, FEATURES.index(name)]
            above = n - np.searchsorted(np.sort(v), v, side="right")  # ties share a rank
            f[:, col["rr_" + name]] = 1.0 / (above + 2.0)
        position = rows - self.article_first_row[pool.articles]
        f[:, col["pos_log"]] = np.log1p(position)
        f[:, col["first"]] = position == 0
        if self.text_of is not None:
            f[:, col["len_log"]] = self._length(rows)
        f[:, col["names_sent"]] = pool.evidence.names("sentence", rows)
        f[:, col["names_ctx"]] = pool.evidence.names("context", rows)
        if self.types is None:
            return f
        # Word pairs and typed expressions read the sentences' words: only for the best
        # candidates by the first-stage score (the model was trained on the best 120 by
        # it), so a question costs the same at 6,000 sentences as at a million
        focus = np.zeros(n, dtype=bool)
        focus[np.argsort(-(z @ FIRST_STAGE), kind="stable")[:EVIDENCE_ROWS]] = True
        # word pairs need words of the question in the context: skip rows with none
        some = focus & (raw[:, FEATURES.index("c_ctx")] > 0)
        f[some, col["bigram_sent"]], f[some, col["bigram_ctx"]] = \
            self._bigrams(question, rows[some], pool.allowed, pool.evidence)
        kind = answer_types.question_type(question)
        f_all, f = f, f[focus]
        rows = rows[focus]
        prev_rows = np.where(self.has_prev[rows], rows - 1, -1)
        next_rows = np.where(self.has_next[rows], rows + 1, -1)
        if answer_types.ANSWERED_BY[kind]:
            near = np.unique(np.concatenate([rows, prev_rows[prev_rows >= 0],
                                             next_rows[next_rows >= 0]]))
            match = self.types.matches(near, kind, question)
            lookup = dict(zip(near.tolist(), match.tolist(), strict=True))
            t_sent = match[np.searchsorted(near, rows)]
            t_prev = np.array([lookup.get(r, 0.0) for r in prev_rows.tolist()], dtype=np.float32)
            t_next = np.array([lookup.get(r, 0.0) for r in next_rows.tolist()], dtype=np.float32)
            f[:, col["t_sent"]] = t_sent
            f[:, col["t_nb"]] = np.maximum(t_prev, t_next)
            f[:, col["t_sent:" + answer_types.QUESTION_TYPES[kind]]] = t_sent
        elif kind == answer_types.OTHER:
            for name, bit in OTHER_EXPRESSIONS.items():
                f[:, col[name]] = self.types.has(rows, bit, question)
        f_all[focus] = f
        return f_all

    def _length(self, rows: np.ndarray) -> np.ndarray:
        """log(1 + characters) of each row's sentence (remembered once read)."""
        unknown = rows[self._log_length[rows] < 0]
        if len(unknown):
            assert self.text_of is not None
            self._log_length[unknown] = np.log1p([len(self.text_of(r))
                                                   for r in unknown.tolist()])
        return self._log_length[rows]

    def _pairs(self, row: int) -> str:
        """The sentence's consecutive word pairs as one string, "|a b|b c|" (remembered: a
        string, not a set of tuples, so that a million remembered rows cost the garbage
        collector nothing; sets of tuples made it pause answers for up to 100 ms)."""
        found = self._bigram_memo[row]
        if found is None:
            assert self.text_of is not None
            tokens = lexical.tokenize(self.text_of(row))
            found = "|" + "|".join(f"{a} {b}" for a, b in zip(tokens, tokens[1:],
                                                                strict=False)) + "|"
            self._bigram_memo[row] = found
        return found

    def _bigrams(self, question: str, rows: np.ndarray, allowed: np.ndarray | None = None,
                 evidence: Evidence | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per row: share of the question's word pairs (consecutive content words, stemmed)
        found in the sentence, and in the sentence with its neighbours."""
        sent = np.zeros(len(rows), dtype=np.float32)
        ctx = np.zeros(len(rows), dtype=np.float32)
        if evidence is not None and len(rows):
            beside = [np.where(self.has_prev[rows], rows - 1, -1),
                      np.where(self.has_next[rows], rows + 1, -1)]
            if allowed is not None:
                beside = [np.where(allowed[np.maximum(r, 0)], r, -1) for r in beside]
            mine = evidence.pairs_found(question, [rows])
            if mine is not None:  # the words kept at build: no text read, no tokenizing
                context = evidence.pairs_found(question, [rows, *beside])
                assert context is not None
                if mine[1] == 0:
                    return sent, ctx
                return mine[0] / mine[1], context[0] / context[1]
        tokens = lexical.tokenize(question)
        wanted = {f"|{a} {b}|" for a, b in zip(tokens, tokens[1:], strict=False)}
        if not wanted:
            return sent, ctx

        def found(row: int) -> set[str]:
            pairs = self._pairs(row)
            return {w for w in wanted if w in pairs}

        for i, row in enumerate(rows.tolist()):
            own = found(row)
            near = set(own)
            if self.has_prev[row] and (allowed is None or allowed[row - 1]):
                near |= found(row - 1)
            if self.has_next[row] and (allowed is None or allowed[row + 1]):
                near |= found(row + 1)
            sent[i] = len(own)
            ctx[i] = len(near)
        return sent / len(wanted), ctx / len(wanted)

    def rank(self, question: str, q: np.ndarray, allowed: np.ndarray | None = None,
             model: Model | None = None, prior: np.ndarray | None = None) -> Ranking:
        """Candidates best first, with the confidence that the best one answers.

        `prior` (one value per row, or None) is added to the score; rows where it is
        positive are candidates too (see `index/answer/followup.py`)."""
        return self.rank_with_evidence(question, q, allowed, model, prior)[0]

    def rank_with_evidence(self, question: str, q: np.ndarray,
                           allowed: np.ndarray | None = None, model: Model | None = None,
                           prior: np.ndarray | None = None
                           ) -> tuple[Ranking, np.ndarray | None]:
        """`rank`, plus the abstention evidence the confidence came from (None: no
        candidate)."""
        nothing = Ranking(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), 0.0)
        if self.n == 0 or (allowed is not None and not allowed.any()):
            return nothing, None  # no article may be quoted: no statistics to compute either
        extra = None if prior is None else np.flatnonzero(prior > 0)
        pool, _ = self.candidates(question, q, allowed, extra)
        if len(pool.rows) == 0:
            return nothing, None
        model = model or load_model()
        fused = self.features(question, pool) @ model.weights
        if prior is not None:
            fused = fused + prior[pool.rows]
        order = np.argsort(-fused, kind="stable")
        x = self.abstain_features(question, pool, order, fused)
        return Ranking(pool.rows[order], fused[order], model.confidence(x)), x

    def abstain_features(self, question: str, pool: Candidates, order: np.ndarray,
                         fused: np.ndarray) -> np.ndarray:
        """ABSTAIN_FEATURES of the top candidate.

        Besides the raw evidence of the top sentence: whether the best candidate by each
        single signal comes from the same article (answerable questions make the signals
        agree), how many of the question's names its article and context contain, and
        whether it, its neighbours and its article hold an expression of the kind the
        question asks for (1 for questions that ask for no particular kind).
        """
        top = order[0]
        raw = pool.raw[top]
        article = int(pool.articles[top])
        row = int(pool.rows[top])
        agree = [float(pool.articles[np.argmax(pool.raw[:, FEATURES.index(name)])] == article)
                 for name in ("d_sent", "b_sent", "d_pass", "b_ctx")]
        kind = answer_types.question_type(question)
        typed = bool(answer_types.ANSWERED_BY[kind]) and self.types is not None
        t_top = t_article = 1.0
        if typed:
            assert self.types is not None
            first = int(self.article_first_row[article])
            span = np.arange(first, first + min(int(self.article_rows[article]),
                                                ARTICLE_ROWS_CAP))
            near = np.arange(max(first, row - 1),
                             min(first + int(self.article_rows[article]), row + 2))
            t_top = float(self.types.matches(near, kind, question).max())
            t_article = max(t_top, float(self.types.matches(span, kind, question).max()))
        # how the top sentence stands out in its article, and its article among the others
        d_sent = pool.raw[:, FEATURES.index("d_sent")]
        same = pool.articles == article
        stand_out = float(raw[FEATURES.index("d_sent")] - d_sent[same].mean())
        others = ~same
        margin_d = margin_c = 0.0
        if others.any():
            docmax = pool.raw[:, FEATURES.index("d_docmax")]
            margin_d = float(raw[FEATURES.index("d_docmax")] - docmax[others].max())
            margin_c = float(pool.coverage_article[top] - pool.coverage_article[others].max())
        score_margin = float(fused[top] - fused[others].max()) if others.any() else 0.0
        terms = pool.terms
        q_missing = 1.0 - float(terms.idf.sum()) / terms.total_idf if terms.total_idf > 0 \
            else 1.0
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
            float(pool.evidence.names("article", np.array([article]))[0]),
            float(pool.evidence.names("context", np.array([row]))[0]),
            float(typed),
            t_top,
            t_article,
            stand_out,
            q_missing,
            margin_d,
            margin_c,
            pool.features[top, FEATURES.index("d_sent")],
            pool.features[top, FEATURES.index("d_pass")],
            pool.features[top, FEATURES.index("b_ctx")],
            fused[top],
            score_margin,
        ], dtype=np.float32)


# --- the fitted model -----------------------------------------------------------------------

MODEL_FILE = Path(__file__).with_name("ranker_model.json")


@dataclass(frozen=True)
class Model:
    """Ranking weights over RANK_FEATURES and the abstention model (ranker_model.json)."""

    weights: np.ndarray
    abstain_mean: np.ndarray
    abstain_scale: np.ndarray
    abstain_coef: np.ndarray
    abstain_bias: float

    def confidence(self, x: np.ndarray) -> float:
        """How likely the top candidate answers the question (0..1)."""
        z = float(((x - self.abstain_mean) / self.abstain_scale) @ self.abstain_coef)
        return sigmoid(z + self.abstain_bias)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        if (tuple(data["rank_features"]) != RANK_FEATURES
                or tuple(data["abstain_features"]) != ABSTAIN_FEATURES):
            raise ValueError("the ranker model does not match the features of this code; "
                             "refit it with `python training/fit_ranker.py`")
        arr = {k: np.asarray(data[k], dtype=np.float32)
               for k in ("weights", "abstain_mean", "abstain_scale", "abstain_coef")}
        return cls(arr["weights"], arr["abstain_mean"], arr["abstain_scale"],
                   arr["abstain_coef"], float(data["abstain_bias"]))


@lru_cache(maxsize=1)
def load_model() -> Model:
    """The packaged model (read once; no network)."""
    return Model.from_json(json.loads(MODEL_FILE.read_text(encoding="utf-8")))
