"""Fit the follow-up weights of `index/answer/followup.py` on generated conversations.

One deterministic command (a grid search; about two minutes on two cores):

    nice python training/fit_followup.py [--conversations /work/scratch/conversations.jsonl]

The conversations come from `training/generate_conversations.py` (Wikipedia training
questions, the second rewritten to point back). The grid runs over QUOTE_WEIGHT (the last
top quote's embedding added to the question's) and NEAR_PRIOR (a bonus for the sentences
near that quote, decaying over NEAR_SCALE sentences), each conversation of the `train`
split asked through the real `Index.answer(question, context=...)` over the Wikipedia
training articles; the best point (ties: the smaller weights) is printed, with its figure
on the held-out split. The chosen values are written into followup.py by hand (two
numbers); `citebot-index eval --followups` checks them on the dev conversations.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.answer import followup  # noqa: E402
from index.cli import evaluate  # noqa: E402
from index.settings import index_settings  # noqa: E402

QUOTE_WEIGHTS = (0.0, 0.3, 0.6)
NEAR_PRIORS = (0.0, 1.0, 2.0, 4.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=Path,
                        default=Path("/work/scratch/conversations.jsonl"))
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    started = time.perf_counter()
    settings = index_settings(data_dir=args.data_dir)
    index = evaluate.conversation_index(evaluate.scratch_settings(settings, "eval-wiki"),
                                        evaluate.eval_dir())
    best: tuple[int, float, float] | None = None
    for qw, near in itertools.product(QUOTE_WEIGHTS, NEAR_PRIORS):
        followup.QUOTE_WEIGHT, followup.NEAR_PRIOR = qw, near
        s = evaluate.conversation_results(index, args.conversations, "train")
        print(f"  QUOTE_WEIGHT {qw} NEAR_PRIOR {near}: train {s.correct_in_context}/"
              f"{s.conversations} right in context ({time.perf_counter() - started:.0f} s)",
              flush=True)
        if best is None or s.correct_in_context > best[0]:
            best = (s.correct_in_context, qw, near)
    assert best is not None
    followup.QUOTE_WEIGHT, followup.NEAR_PRIOR = best[1], best[2]
    held = evaluate.conversation_results(index, args.conversations, "held")
    print(f"best: QUOTE_WEIGHT = {best[1]}, NEAR_PRIOR = {best[2]}; held out "
          f"{held.correct_in_context}/{held.conversations} right in context (alone "
          f"{held.correct_alone}); {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
