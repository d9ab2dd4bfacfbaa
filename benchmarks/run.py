"""One command for every benchmark: `python -m benchmarks [--quick]`.

Runs each task in its own process, back to back on this machine, keeps the raw figures
under the scratch folder, then writes benchmarks/results/REPORT.md, summary.json and the
PNG plots. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from index.storage.vectors import HNSW_FROM

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SCRATCH = Path(os.environ.get("CITEBOT_BENCH_SCRATCH", "/tmp/citebot-bench"))
EVAL = Path(os.environ.get("CITEBOT_EVAL_DIR", str(ROOT.parent / "shared" / "eval")))

FULL_SIZES = {1_000: "real", 10_000: "real", 100_000: "stand-in", 1_000_000: "stand-in"}
QUICK_SIZES = {1_000: "real", 10_000: "stand-in"}
CONTENDERS = ["citebot", "st-faiss", "bm25s", "txtai-dense", "txtai-hybrid",
              "llamaindex-chunks", "llamaindex-sentences"]
QUICK_CONTENDERS = ["citebot", "st-faiss", "bm25s"]


def code_snapshot(rev: str) -> Path:
    """index/ as of `rev`, extracted read-only (git archive) so a run measures one commit
    even while the working tree changes."""
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], check=True,
                         capture_output=True, text=True).stdout.strip()
    target = SCRATCH / f"src-{rev}"
    if not target.is_dir():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "index"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


class Runner:
    def __init__(self, resume: bool, code: Path | None, raw: str = "raw") -> None:
        self.raw = SCRATCH / raw
        self.raw.mkdir(parents=True, exist_ok=True)
        self.resume = resume
        path = [str(code)] if code else []
        self.env = os.environ | {
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "CITEBOT_EVAL_DIR": str(EVAL), "CITEBOT_BENCH_SCRATCH": str(SCRATCH),
            "PYTHONPATH": os.pathsep.join(path + [str(ROOT)]),
        }

    def task(self, module: str, *args: object) -> dict[str, Any] | None:
        """Run `python -m benchmarks.<module> args` in a fresh process; its JSON, with
        `wall_s` (spawn to exit) added. Failures are recorded, not raised."""
        key = "-".join([module, *map(str, args)])
        cached = self.raw / f"{key}.json"
        if self.resume and cached.is_file():
            return dict(json.loads(cached.read_text()))
        print(f"[{time.strftime('%H:%M:%S')}] {key}", file=sys.stderr, flush=True)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        # cwd outside the checkout: the snapshot of index/ (if any) must win on sys.path
        proc = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *map(str, args)],
                              cwd=SCRATCH, env=self.env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            result: dict[str, Any] = {"error": proc.stderr.strip().splitlines()[-1:]}
        else:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["wall_s"] = wall
        # other work on the machine meanwhile shows as a 1-minute load average well above 2
        result["load"] = [load_before, os.getloadavg()[0]]
        cached.write_text(json.dumps(result))
        return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="1k (real model) and 10k (stand-in vectors) sentences, three "
                             "contenders, 200 questions: a few minutes.")
    parser.add_argument("--questions", type=int, default=None,
                        help="NYT dev questions to score (default 800; 200 with --quick).")
    parser.add_argument("--at", metavar="REV", default=None,
                        help="Measure index/ as of this git revision (default: working tree).")
    parser.add_argument("--resume", action="store_true",
                        help="Reuse raw results of tasks already run (from the scratch folder).")
    parser.add_argument("--only", choices=["scale", "contenders"], default=None)
    parser.add_argument("--note", default=None,
                        help="A sentence about this run to print at the top of the report "
                             "(e.g. other work on the machine); kept with the raw results.")
    parser.add_argument("--report-only", action="store_true",
                        help="Re-render the report from the raw results of the last run.")
    args = parser.parse_args(argv)

    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    names = QUICK_CONTENDERS if args.quick else CONTENDERS
    questions = args.questions or (200 if args.quick else 800)
    code = None
    at = "working tree"
    if args.at and not args.report_only:
        code = code_snapshot(args.at)
        at = code.name.removeprefix("src-")
    runner = Runner(args.resume or args.report_only, code, "raw-quick" if args.quick else "raw")
    measured = runner.raw / "code.txt"
    if args.report_only or (args.resume and measured.is_file()):
        at = measured.read_text().strip() if measured.is_file() else at
    else:
        measured.write_text(at + "\n")
    if args.report_only:
        runner.task = lambda module, *a: runner_cached(runner, module, *a)  # type: ignore
    started = time.perf_counter()
    results: dict[str, Any] = {"contenders": {}, "scale": {}}
    if args.only != "scale":
        if (EVAL / "nyt_dev_documents.jsonl.gz").is_file():
            for name in names:
                results["contenders"][name] = runner.task("contenders", name, questions)
        else:
            print(f"{EVAL} not found: quality comparison skipped", file=sys.stderr)
    if args.only != "contenders":
        for n, mode in sizes.items():
            repeats = 3 if n <= 1_000 else 1
            large = n > 100_000  # keep the full run near an hour
            results["scale"][n] = {
                "mode": mode,
                "build": runner.task("scale", "build", n, mode, repeats),
                "serve": runner.task("scale", "serve", n, mode, 100 if large else 300),
                "cold": [runner.task("scale", "cold", n, mode, i) for i in range(1 if large
                                                                                 else 3)],
            }
            if n >= HNSW_FROM:
                results["scale"][n]["ann"] = runner.task("scale", "ann", n, mode, 200)
    note_file = runner.raw / "note.txt"
    if args.note:
        note_file.write_text(args.note + "\n")
    results["meta"] = {
        "note": note_file.read_text().strip() if note_file.is_file() else "",
        "at": at, "quick": args.quick, "questions": questions,
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "run_minutes": (time.perf_counter() - started) / 60,
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip(),
    }
    out = RESULTS / "quick" if args.quick else RESULTS  # a quick run never replaces a full one
    out.mkdir(parents=True, exist_ok=True)
    from benchmarks import report

    report.write(results, out)
    print(f"wrote {out / 'REPORT.md'}", file=sys.stderr)


def runner_cached(runner: Runner, module: str, *args: object) -> dict[str, Any] | None:
    key = "-".join([module, *map(str, args)])
    cached = runner.raw / f"{key}.json"
    return dict(json.loads(cached.read_text())) if cached.is_file() else None


if __name__ == "__main__":
    main()
