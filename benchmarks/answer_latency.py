"""Answer latency of `Index.answer` on the NYT dev index, in one process.

    python benchmarks/answer_latency.py [--data-dir data/eval-nyt] [--questions 300]

Asks the NYT dev questions twice: the first pass is reported as "cold" (typed expressions
of sentences not seen before are computed then), the second as "warm". Prints the median
and the 90th percentile of each pass. To compare two versions of the code, run it with each
on the same index, back to back (PYTHONPATH pointing at the other checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
if str(Path.cwd()) not in sys.path:
    sys.path.insert(0, str(Path.cwd()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data/eval-nyt"))
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    from index import Index, index_settings
    from index.cli.evaluate import eval_dir, nyt_questions

    index = Index.open(index_settings(data_dir=args.data_dir))
    questions = [str(q["question"]) for q in nyt_questions(eval_dir())][:args.questions]
    for q in questions[:10]:
        index.answer(q)
    out = {}
    for name in ("cold", "warm"):
        times = []
        for q in questions:
            started = time.perf_counter()
            index.answer(q)
            times.append(time.perf_counter() - started)
        times.sort()
        out[name] = {"p50_ms": round(statistics.median(times) * 1e3, 2),
                     "p90_ms": round(times[int(0.9 * len(times))] * 1e3, 2)}
    print(json.dumps({"code": str(Path(sys.modules["index"].__file__ or "").parent), **out}))


if __name__ == "__main__":
    main()
