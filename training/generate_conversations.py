"""Two-turn conversations made from the Wikipedia training questions by a rule.

One deterministic command (about a second):

    python training/generate_conversations.py [--out /work/scratch/conversations.jsonl]

The crowd workers of `../shared/train/wiki_train_questions.jsonl.gz` wrote their questions
in sequence over a paragraph, so consecutive questions about one article often name the
same subject. When the second names (a capitalised phrase of two words or more, with its
"the") something the first question also names, the second is rewritten to point back:
the phrase is replaced by a pronoun ("they" for what `index/answer/answer_types.py` reads as
a person's name, "it" otherwise; "their"/"its" for a possessive). Turn 1 is the first
question as written, turn 2 the rewritten one, and its answer (`answer`, `answer_start`)
is the original question's. Pairs whose answers lie in the same sentence are left out: a
follow-up asks for something new (citebot does not quote the previous turn's top sentence
again).

Every fifth article (sorted by doc id, as in `training/fit_ranker.py`) is held out
(`"split": "held"`): `citebot-index eval --conversations FILE` reports on those, and the
follow-up weights are fitted on the others (`--conversations-split train`). The file is
written under /work/scratch, never into the repository.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.answer import answer_types  # noqa: E402

HOLDOUT_EVERY = 5
_NAME = re.compile(r"\b(?P<the>[Tt]he\s+)?(?P<n>[A-Z][a-z]+(?:\s+(?:of\s+)?[A-Z][a-z]+)+)"
                   r"(?P<pos>['’]s)?")


def rewrite(first: str, second: str) -> str | None:
    """`second` with the first name it shares with `first` replaced by a pronoun, or None."""
    for m in _NAME.finditer(second):
        if m.start() == 0 and not m["the"]:
            continue  # the opening word is capitalised anyway
        words = m["n"].split()
        if not any(w in first for w in words if len(w) > 3 and w != "The"):
            continue
        if re.search(r"['’]s\s+$", second[:m.start()]):
            continue  # "Montreal's Victoria Rink": part of a longer name
        person = not m["the"] and answer_types.E_PERSON in answer_types.expressions(second) \
            and m["n"].split()[0].lower() in " ".join(
                answer_types.expressions(second)[answer_types.E_PERSON])
        thing = not person
        pronoun = ("its" if thing else "their") if m["pos"] else ("it" if thing else "they")
        out = second[:m.start()] + pronoun + second[m.end():]
        return out[:1].upper() + out[1:] if m.start() == 0 else out
    return None


def conversations(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for q in questions:
        by_doc[str(q["doc_id"])].append(q)
    docs = sorted(by_doc)
    held = set(docs[::HOLDOUT_EVERY])
    out = []
    for doc in docs:
        qs = by_doc[doc]
        for a, b in zip(qs, qs[1:], strict=False):
            if set(a["gold_sents_any"]) & set(b["gold_sents_any"]):
                continue  # a follow-up asks something new: not what the quote just said
            turn2 = rewrite(str(a["question"]), str(b["question"]))
            if turn2 is None or turn2 == b["question"]:
                continue
            out.append({"id": f"conv-{b['qid']}", "doc_id": doc, "kind": "pronoun",
                        "split": "held" if doc in held else "train",
                        "turns": [{"question": a["question"], "answer": a["answer"],
                                   "answer_start": a["answer_start"]},
                                  {"question": turn2, "original": b["question"],
                                   "answer": b["answer"],
                                   "answer_start": b["answer_start"]}]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/work/scratch/conversations.jsonl"))
    args = parser.parse_args()
    started = time.perf_counter()
    from index.cli import evaluate

    path = evaluate.eval_dir().parent / "train" / "wiki_train_questions.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        questions = [json.loads(line) for line in fh if line.strip()]
    found = conversations(questions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(c) + "\n" for c in found), encoding="utf-8")
    held = sum(c["split"] == "held" for c in found)
    print(f"wrote {len(found)} conversations ({held} held out) to {args.out} in "
          f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
