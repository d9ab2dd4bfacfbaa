"""Fit the answer-words scorer (`index/answer/answer_words_model.json`).

One command, deterministic (no sampling; L-BFGS from zeros), about 15 seconds on one core:

    nice python training/fit_answer_words.py [--train-dir ../shared/train]
        [--eval-dir ../shared/eval] [--write]

Data: the Wikipedia training questions (`../shared/train/`) and NYT dev questions 800-1499
(never 0-799, which `citebot-index eval` reports on) whose asked kind a few words can
answer (`answer_words.read_question`), each with the sentence that holds its answer (the
sentence of the benchmark's own segmentation that contains `answer_start`: the sentence a
right top quote shows). A candidate expression is right when it contains one of the
question's answers (`answer` at its offsets, or any of `all_answers` as text): the figure
`citebot-index eval` reports ("the dataset's answer inside the bold words").

Split by article, as `fit_ranker.py` does: every fifth article (sorted by doc id) of each
set is held out; the shipped weights are fitted on the rest. Per group of kinds (names,
numbers, dates), a linear scorer over `answer_words.FEATURES` is fitted with a softmax over
each question's candidates (the probability it puts on the right ones; L2 1e-2; a news
question weighs as two Wikipedia ones). Printed, for the hand-set `RULE_WEIGHTS` and the
fitted weights: the share of questions shown a span whose span is right, with every fifth
of the articles held out in turn (fitted on the other four; the steadier comparison) and on
the held-out fifth, with how often any candidate is right (the ceiling).

Measured (this version): every fold held out in turn, right of shown, rules / fitted:
Wikipedia 0.602 / 0.619 (3,057 questions), NYT 800-1499 0.694 / 0.706 (360).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.answer import answer_words as aw  # noqa: E402

HOLDOUT_EVERY = 5
L2 = 1e-2
NYT_FIT = range(800, 1500)  # NYT dev 0-799 is what `citebot-index eval` reports on: never here
NYT_WEIGHT = 2.0  # a news question counts as much as this many Wikipedia questions


def train_dir() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared" / "train"


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


class Item:
    """One question: its group, candidate features and which candidates are right."""

    def __init__(self, group: int, x: np.ndarray, right: np.ndarray, fold: int,
                 weight: float) -> None:
        self.group = group
        self.weight = weight
        self.x = x
        self.right = right
        self.fold = fold  # the article's fold (fold 0 is the held-out part)
        self.held_out = fold == 0


def right_candidates(kept: list[aw.Candidate], sentence: str, a0: int, a1: int,
                     answers: list[str]) -> np.ndarray:
    """Per candidate: does it contain one of the answers (sentence offsets a0, a1 for the
    main one)."""
    out = np.zeros(len(kept), dtype=bool)
    texts = [a.strip() for a in answers if a.strip() and a.strip() in sentence]
    for i, c in enumerate(kept):
        if c.start <= a0 and a1 <= c.end:
            out[i] = True
        else:
            words = sentence[c.start:c.end]
            out[i] = any(t in words for t in texts)
    return out


def items(documents: Path, questions: list[dict[str, Any]], weight: float = 1.0) -> list[Item]:
    docs = {d["doc_id"]: d for d in load_jsonl(documents)}
    fold = {doc_id: i % HOLDOUT_EVERY for i, doc_id in enumerate(sorted(docs))}
    out = []
    for q in questions:
        read = aw.read_question(q["question"])
        if read is None:
            continue
        doc = docs[q["doc_id"]]
        a0 = int(q["answer_start"])
        a1 = a0 + len(q["answer"])
        span = next(((s, e) for s, e in doc["sent_spans"] if s <= a0 < e), None)
        if span is None:
            continue
        s, e = span
        sentence = doc["text"][s:e]
        toks, stems, cands = aw._sentence(sentence)
        kept, x = aw.features(read, toks, stems, cands)
        right = right_candidates(kept, sentence, a0 - s, a1 - s, q["all_answers"])
        out.append(Item(aw._GROUP[read.kind], x, right, fold[q["doc_id"]], weight))
    return out


def fit(group: list[Item]) -> np.ndarray:
    usable = [it for it in group if len(it.right) and it.right.any()]
    dim = len(aw.FEATURES)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        mass_total = sum(it.weight for it in usable)
        total = 0.5 * L2 * float(w @ w) * mass_total
        grad = L2 * w * mass_total
        for it in usable:
            z = it.x @ w
            z = z - z.max()
            p = np.exp(z)
            p /= p.sum()
            mass = p[it.right].sum()
            total -= it.weight * np.log(max(mass, 1e-12))
            # d(-log mass)/dw = E_p[x] - E_{p | right}[x]
            q = np.where(it.right, p, 0.0) / max(mass, 1e-12)
            grad += it.weight * ((p - q) @ it.x)
        return total, grad

    result = minimize(loss, np.zeros(dim), jac=True, method="L-BFGS-B",
                      options={"maxiter": 500})
    return np.asarray(result.x)


def fit_groups(data: list[Item]) -> dict[str, np.ndarray]:
    return {name: fit([it for it in data if it.group == g]) for g, name in enumerate(aw.GROUPS)}


def figures(group: list[Item], w: dict[str, np.ndarray]) -> dict[str, float]:
    """Share of questions whose chosen candidate is right, of those shown one (and how often
    one is shown; how often any candidate is right)."""
    shown = [it for it in group if len(it.right)]
    right = sum(bool(it.right[int(np.argmax(it.x @ w[aw.GROUPS[it.group]]))]) for it in shown)
    ceiling = sum(bool(it.right.any()) for it in group)
    return {"questions": len(group), "shown": round(len(shown) / max(1, len(group)), 4),
            "right_of_shown": round(right / max(1, len(shown)), 4),
            "ceiling": round(ceiling / max(1, len(group)), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="Save the model file.")
    parser.add_argument("--train-dir", type=Path, default=train_dir(),
                        help="The training data folder (default ../shared/train).")
    parser.add_argument("--eval-dir", type=Path, default=train_dir().parent / "eval",
                        help="The NYT dev split's folder (questions 800-1499 are fitted on).")
    args = parser.parse_args()
    if not (args.train_dir / "wiki_train_questions.jsonl.gz").is_file():
        sys.exit(f"{args.train_dir} has no training questions; nothing to fit")
    started = time.perf_counter()
    sets = {"wiki": items(args.train_dir / "wiki_train_documents.jsonl.gz",
                          load_jsonl(args.train_dir / "wiki_train_questions.jsonl.gz"))}
    if (args.eval_dir / "nyt_dev_questions.jsonl.gz").is_file():
        nyt = load_jsonl(args.eval_dir / "nyt_dev_questions.jsonl.gz")
        sets["nyt 800-1499"] = items(args.eval_dir / "nyt_dev_documents.jsonl.gz",
                                     [nyt[i] for i in NYT_FIT if i < len(nyt)], NYT_WEIGHT)
    data = [it for part in sets.values() for it in part]
    rules = aw.weights_array(aw.RULE_WEIGHTS)
    fitted = fit_groups([it for it in data if not it.held_out])
    report: dict[str, Any] = {}
    # every fold held out in turn (fitted on the other four): a steadier comparison
    folds = [fit_groups([it for it in data if it.fold != f]) for f in range(HOLDOUT_EVERY)]
    for label, part in sets.items():
        shown = [it for it in part if len(it.right)]
        row = {}
        for name in ("rules", "fitted"):
            row[name] = round(sum(bool(it.right[int(np.argmax(it.x @ (
                rules if name == "rules" else folds[it.fold])[aw.GROUPS[it.group]]))])
                for it in shown) / max(1, len(shown)), 4)
        report[f"{label}, 5-fold"] = row
        print(f"{label}, every fold held out in turn ({len(shown)} questions with a span): "
              f"right of shown: rules {row['rules']:.3f}, fitted {row['fitted']:.3f}")
    for label, part in sets.items():
        for g, name in (*enumerate(aw.GROUPS), (None, "all")):
            test = [it for it in part if it.held_out and (g is None or it.group == g)]
            row = {"rules": figures(test, rules), "fitted": figures(test, fitted)}
            report[f"{label}, held out, {name}"] = row
            print(f"{label} held out, {name}: {len(test)} questions, a span for "
                  f"{row['fitted']['shown']:.0%}; right of shown: rules "
                  f"{row['rules']['right_of_shown']:.3f}, fitted "
                  f"{row['fitted']['right_of_shown']:.3f} (any candidate right: "
                  f"{row['fitted']['ceiling']:.3f})")
    print(f"{time.perf_counter() - started:.0f} s")
    if args.write:
        aw.MODEL_PATH.write_text(json.dumps(
            {"features": list(aw.FEATURES),
             "weights": {g: [round(float(v), 4) for v in w] for g, w in fitted.items()},
             "trained_on": "wiki_train and NYT dev 800-1499, all but every fifth article "
                           "(sorted by doc id) of each",
             "held_out": report}, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {aw.MODEL_PATH}")


if __name__ == "__main__":
    main()
