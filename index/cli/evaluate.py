"""The quality harness: ReQA-style sentence retrieval scores and abstention figures.

Data is read from the evaluation folder (default `../shared/eval`, setting
`CITEBOT_EVAL_DIR`) and never copied into the project.

- NYT dev split: every question asked against the whole corpus; a hit is a cited sentence
  whose character span overlaps the answer span. MRR, P@1, R@5. Abstention: each question
  asked again with its own article left out, where the right reply is to abstain; AUROC of
  the confidence, and the answer/abstain rates at the configured threshold.
- seed_dev.jsonl: questions about the bundled article; the top citation must match a gold
  sentence, and unanswerable questions must be refused.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.answer.engine import Index
from index.building.builder import build
from index.settings import BUNDLED_CORPUS, IndexSettings
from index.types import Answer, ProgressCallback, Source

NYT_DOCS = "nyt_dev_documents.jsonl.gz"
NYT_QUESTIONS = "nyt_dev_questions.jsonl.gz"
DISTRACTOR_DOCS = "wiki_train_documents.jsonl.gz"
SEED = "seed_dev.jsonl"


def scratch_settings(settings: IndexSettings, name: str) -> IndexSettings:
    """Settings for an evaluation index in `<data_dir>/<name>`, sharing the model export."""
    from dataclasses import replace

    from index.models.embed import model_cache_dir

    return replace(settings, data_dir=settings.data_dir / name,
                   model_cache=str(model_cache_dir(settings)))


def eval_dir() -> Path:
    default = Path(__file__).resolve().parents[3] / "shared" / "eval"
    return Path(os.environ.get("CITEBOT_EVAL_DIR", str(default)))


@dataclass(frozen=True)
class QuestionResult:
    question: str
    rank: int | None  # 1-based rank of the first hit; None when no candidate hits
    confidence: float  # with the whole corpus
    confidence_without_article: float | None  # with its own article left out
    span: str = ""
    """When the top quote is right: 'none' (no answer words shown), 'right' (the dataset's
    answer inside the bold words), 'first' (right, and its first answer at its offsets),
    'wrong'; "" when the top quote is not right."""


@dataclass(frozen=True)
class Scores:
    questions: int
    mrr: float
    p1: float
    r5: float
    auroc: float | None
    answered: float  # share of answerable questions answered at the threshold
    refused_without_article: float | None  # share refused when the article is left out
    span_shown: float = 0.0  # share of right top quotes shown with answer words in bold
    span_right: float = 0.0  # of those, share whose bold words hold the dataset's answer
    span_right_first: float = 0.0  # the same, its first answer at its own offsets only

    def to_json(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def auroc(positive: list[float], negative: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos = np.asarray(positive)
    neg = np.asarray(negative)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    values = np.concatenate([pos, neg])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):  # average ranks of ties
        tie = values == v
        ranks[tie] = ranks[tie].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def summarize(results: list[QuestionResult], threshold: float) -> Scores:
    n = len(results)
    rr = [1.0 / r.rank if r.rank else 0.0 for r in results]
    conf_in = [r.confidence for r in results]
    conf_out = [r.confidence_without_article for r in results
                if r.confidence_without_article is not None]
    spans = [r.span for r in results if r.span]
    shown = [s for s in spans if s != "none"]
    return Scores(
        span_shown=len(shown) / max(1, len(spans)),
        span_right=sum(s in ("right", "first") for s in shown) / max(1, len(shown)),
        span_right_first=sum(s == "first" for s in shown) / max(1, len(shown)),
        questions=n,
        mrr=float(np.mean(rr)) if n else 0.0,
        p1=float(np.mean([r.rank == 1 for r in results])) if n else 0.0,
        r5=float(np.mean([r.rank is not None and r.rank <= 5 for r in results])) if n else 0.0,
        auroc=auroc(conf_in, conf_out) if conf_out else None,
        answered=float(np.mean([c >= threshold for c in conf_in])) if n else 0.0,
        refused_without_article=(float(np.mean([c < threshold for c in conf_out]))
                                 if conf_out else None),
    )


# --- NYT dev split --------------------------------------------------------------------------

def nyt_questions(folder: Path) -> list[dict[str, object]]:
    with gzip.open(folder / NYT_QUESTIONS, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def distractor_documents(folder: Path) -> Path:
    """The Wikipedia training articles (`../shared/train`, next to the eval folder), added
    by `citebot-index eval --distractors` to the NYT index as articles no question asks
    about."""
    return folder.parent / "train" / DISTRACTOR_DOCS


def nyt_index(settings: IndexSettings, folder: Path,
              progress: ProgressCallback | None = None,
              distractors: Path | None = None) -> Index:
    """Index the NYT documents (plus the articles of `distractors`, when given) into
    `settings.data_dir` (incremental: fast when re-run)."""
    sources = [Source(folder / NYT_DOCS)]
    if distractors is not None:
        sources.append(Source(distractors))
    build(settings, progress=progress, sources=sources)
    return Index.open(settings)


def nyt_results(index: Index, questions: list[dict[str, object]],
                leave_out: bool = True) -> Iterator[QuestionResult]:
    docs = {a.doc_id: i for i, a in enumerate(index.articles)}
    for q in questions:
        doc_id = str(q["doc_id"])
        a_start = int(q["answer_start"])  # type: ignore[call-overload]
        a_end = a_start + len(str(q["answer"]))
        article = docs[doc_id]
        ranking = index.rank(str(q["question"]))
        rank = None
        for position, row in enumerate(ranking.rows, 1):
            r = index.rows[int(row)]
            if r.article == article and r.start < a_end and a_start < r.end:
                rank = position
                break
        span = ""
        if rank == 1:
            span = span_verdict(index, q, int(ranking.rows[0]), a_start, a_end)
        without = None
        if leave_out:
            without = index.rank(str(q["question"]),
                                 index.allowed_rows(exclude_doc_ids={doc_id})).confidence
        yield QuestionResult(str(q["question"]), rank, ranking.confidence, without, span)


def span_verdict(index: Index, q: dict[str, object], row: int, a_start: int,
                 a_end: int) -> str:
    """How the answer words that `citebot-index ask` bolds in sentence `row` (the right top
    quote) compare with the dataset's answers (see `QuestionResult.span`)."""
    span = index.answer_span(str(q["question"]), row)
    if span is None:
        return "none"
    if span[0] <= a_start and a_end <= span[1]:
        return "first"
    r = index.rows[row]
    bold = r.text[span[0] - r.start:span[1] - r.start]
    answers = q.get("all_answers") or []
    alternatives = [str(a).strip() for a in answers]  # type: ignore[attr-defined]
    return "right" if any(a and a in bold for a in alternatives) else "wrong"


# --- seed questions about the bundled article ----------------------------------------------

def _norm(text: str) -> str:
    text = text.replace("“", '"').replace("”", '"').replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class SeedResult:
    id: str
    question: str
    answerable: bool
    correct: bool
    abstained: bool
    top: str | None
    quoted: bool = False
    """Whether a gold sentence is among the quotes shown (top or runner-up)."""


def seed_results(index: Index, folder: Path) -> list[SeedResult]:
    out = []
    for line in (folder / SEED).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        answer = index.answer(item["question"])
        gold = {_norm(g) for g in item["gold"]}
        top = answer.citations[0].text if answer.citations else None
        correct = top is not None and _norm(top) in gold if item["answerable"] else answer.abstained
        quoted = any(_norm(c.text) in gold for c in answer.citations)
        out.append(SeedResult(item["id"], item["question"], bool(item["answerable"]), correct,
                              answer.abstained, top, quoted))
    return out


def seed_index(settings: IndexSettings) -> Index:
    """The bundled article alone, indexed into `settings.data_dir`."""
    build(settings, sources=[Source(BUNDLED_CORPUS)])
    return Index.open(settings)


# --- two-turn conversations (followups_dev.jsonl) -------------------------------------------

FOLLOWUPS = "followups_dev.jsonl"
#: follow-up kinds scored together as "follow-ups"
FOLLOW_UP_KINDS = ("pronoun", "ellipsis", "definite")


@dataclass(frozen=True)
class TurnResult:
    id: str
    kind: str
    question: str
    correct: bool
    """Top citation matches a gold sentence (or, with no gold, the answer abstained)."""
    lenient: bool
    """The same, but a citation counts when either normalised text contains the other."""
    read_as_follow_up: bool
    top: str | None


def followup_index(settings: IndexSettings, folder: Path,
                   progress: ProgressCallback | None = None) -> Index:
    """The bundled article and every NYT dev document, indexed into `settings.data_dir`."""
    build(settings, progress=progress,
          sources=[Source(BUNDLED_CORPUS), Source(folder / NYT_DOCS)])
    return Index.open(settings)


def _score(answer: Answer, gold: list[str]) -> tuple[bool, bool]:
    if not gold:
        return answer.abstained, answer.abstained
    if not answer.citations:
        return False, False
    top = _norm(answer.citations[0].text)
    golds = [_norm(g) for g in gold]
    return top in golds, any(top in g or g in top for g in golds)


def followup_results(index: Index, folder: Path
                     ) -> tuple[list[TurnResult], list[TurnResult], list[TurnResult]]:
    """(turn 1, turn 2 in context, turn 2 asked standalone) for every conversation."""
    first: list[TurnResult] = []
    second: list[TurnResult] = []
    alone: list[TurnResult] = []
    for line in (folder / FOLLOWUPS).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        t1, t2 = item["turns"][:2]
        a1 = index.answer(t1["question"])
        a2 = index.answer(t2["question"], context=(a1,))
        s2 = index.answer(t2["question"])
        for out, answer, turn in ((first, a1, t1), (second, a2, t2), (alone, s2, t2)):
            strict, lenient = _score(answer, turn["gold"])
            out.append(TurnResult(item["id"], item["kind"], turn["question"], strict, lenient,
                                  answer.follow_up_of is not None,
                                  answer.citations[0].text if answer.citations else None))
    return first, second, alone


@dataclass(frozen=True)
class ConversationScores:
    """Generated two-turn conversations (`training/generate_conversations.py`): turn 2
    right (top citation overlaps its answer) in context, and asked alone."""

    conversations: int
    read_as_follow_up: int
    correct_in_context: int
    correct_alone: int
    turn1_correct: int


def conversation_index(settings: IndexSettings, folder: Path,
                       progress: ProgressCallback | None = None) -> Index:
    """The Wikipedia training articles (which the generated conversations ask about)."""
    build(settings, progress=progress, sources=[Source(distractor_documents(folder))])
    return Index.open(settings)


def conversation_results(index: Index, path: Path, split: str = "held"
                         ) -> ConversationScores:
    """Each conversation of `split` in `path`: turn 1, then turn 2 in its context and
    alone."""
    def hit(answer: Answer, doc_id: str, turn: dict[str, Any]) -> bool:
        if not answer.citations:
            return False
        c = answer.citations[0]
        a0 = int(turn["answer_start"])
        return c.doc_id == doc_id and c.start < a0 + len(str(turn["answer"])) and a0 < c.end

    n = follow = right = alone = first = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line) if line.strip() else None
        if item is None or item["split"] != split:
            continue
        t1, t2 = item["turns"][:2]
        a1 = index.answer(t1["question"])
        a2 = index.answer(t2["question"], context=(a1,))
        n += 1
        first += hit(a1, item["doc_id"], t1)
        follow += a2.follow_up_of is not None
        right += hit(a2, item["doc_id"], t2)
        alone += hit(index.answer(t2["question"]), item["doc_id"], t2)
    return ConversationScores(n, follow, right, alone, first)


@dataclass(frozen=True)
class SwitchScores:
    questions: int
    read_as_follow_up: int
    correct_alone: int
    correct_after: int


def unrelated_turns(index: Index, questions: list[dict[str, object]]) -> SwitchScores:
    """Each NYT question asked right after the question before it, when that one is about
    another article: how often the unrelated turn is taken as context, and what it costs
    (top citation overlapping the answer span, alone and after the unrelated turn)."""
    def hit(answer: Answer, q: dict[str, object]) -> bool:
        if not answer.citations:
            return False
        c = answer.citations[0]
        start = int(q["answer_start"])  # type: ignore[call-overload]
        end = start + len(str(q["answer"]))
        return c.doc_id == q["doc_id"] and c.start < end and start < c.end

    n = follow = alone = after = 0
    for before, q in zip(questions, questions[1:], strict=False):
        if before["doc_id"] == q["doc_id"]:
            continue
        first = index.answer(str(before["question"]))
        in_context = index.answer(str(q["question"]), context=(first,))
        n += 1
        follow += in_context.follow_up_of is not None
        alone += hit(index.answer(str(q["question"])), q)
        after += hit(in_context, q)
    return SwitchScores(n, follow, alone, after)
