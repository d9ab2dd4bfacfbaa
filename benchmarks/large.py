"""Large corpora with the compact index: 100k and 1M sentences (stand-in vectors, as in
`benchmarks.scale`), each task in a fresh process.

    python -m benchmarks.large                 # 100k and 1M (about an hour on 2 cores)
    python -m benchmarks.large --sizes 100000  # one size
    python -m benchmarks.large --report-only   # re-render from benchmarks/results/large.json

For each size: the build (stand-in vectors, so everything but embedding), the serving
process's peak memory and answer latency over synthetic questions, a cold start (fresh
process: imports, model, index, one answer), and recall@10 of the HNSW index (over 8-bit
codes) against exact search on the same float32 vectors. Writes
`benchmarks/results/large.json` and the "Large corpora" section of REPORT.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.speed import replace_section

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SCRATCH = Path(os.environ.get("CITEBOT_BENCH_SCRATCH", "/tmp/citebot-bench"))
QUESTIONS = {100_000: 300, 1_000_000: 100}
#: the figures before the compact index (REPORT.md of the run at 4e122eb)
BEFORE = {
    100_000: {"p50_ms": 23.3, "p99_ms": 30.8, "serve_peak_mb": 1391, "cold_s": 7.7,
              "recall10": 0.97},
    1_000_000: {"p50_ms": 50.8, "p99_ms": 64.7, "serve_peak_mb": 8978, "cold_s": 16.7,
                "recall10": 0.975},
}
TARGETS = {1_000_000: {"p50_ms": 60, "serve_peak_mb": 3000, "cold_s": 10, "recall10": 0.95}}


def task(*args: object) -> dict[str, Any]:
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                        "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.scale", *map(str, args)],
                          cwd=SCRATCH, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{proc.stderr[-3000:]}")
    result = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    result["wall_s"] = wall
    result["load"] = os.getloadavg()[0]
    return result


def measure(n: int, earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    """All tasks at size `n`; with `earlier`, its build (the index on disk) is kept."""
    if earlier is not None:
        out = {"build": earlier["build"]}
    else:
        print(f"{n}: build", file=sys.stderr, flush=True)
        out = {"build": task("build", n, "stand-in", 1)}
    print(f"{n}: serve", file=sys.stderr, flush=True)
    out["serve"] = task("serve", n, "stand-in", QUESTIONS[n])
    print(f"{n}: cold start", file=sys.stderr, flush=True)
    out["cold"] = task("cold", n, "stand-in", 0)
    print(f"{n}: recall", file=sys.stderr, flush=True)
    out["ann"] = task("ann", n, "stand-in", 200)
    return out


def figures(r: dict[str, Any]) -> dict[str, float]:
    lat = r["serve"]["latency_s"]
    ann = r["ann"]
    default = max((k for k in ann if k.startswith("ef") and ann[k]["k"] == 10),
                  key=lambda k: int(k[2:]))
    return {"p50_ms": float(np.percentile(lat, 50) * 1e3),
            "p99_ms": float(np.percentile(lat, 99) * 1e3),
            "serve_peak_mb": float(r["serve"]["peak_rss_mb"]),
            "cold_s": float(r["cold"]["wall_s"]),
            "recall10": float(ann[default]["recall10"]),
            "ef": float(default[2:]),
            "search_ms": float(np.median(ann[default]["latency_s"]) * 1e3),
            "build_s": float(np.median(r["build"]["build_s"])),
            "load": float(r["serve"]["load"])}


def table(results: dict[str, Any]) -> list[str]:
    lines = ["| sentences | | answer p50 / p99 ms | serving peak RSS MB | cold start s | "
             "HNSW recall@10 (efSearch, search ms) | build s (no embedding) | load |",
             "|---|---|---|---|---|---|---|---|"]
    for key in sorted((k for k in results if k.isdigit()), key=int):
        n = int(key)
        f = figures(results[key])
        b = BEFORE.get(n, {})
        t = TARGETS.get(n, {})
        lines.append(f"| {n:,} | before (flat float32 vectors, HNSW-Flat) | {b.get('p50_ms')} / "
                     f"{b.get('p99_ms')} | {b.get('serve_peak_mb')} | {b.get('cold_s')} | "
                     f"{b.get('recall10')} | | |")
        lines.append(f"| | **now** (HNSW over 8-bit codes, vectors read in place) | "
                     f"**{f['p50_ms']:.1f}** / {f['p99_ms']:.1f} | **{f['serve_peak_mb']:.0f}** "
                     f"| **{f['cold_s']:.1f}** | **{f['recall10']:.3f}** ({f['ef']:.0f}, "
                     f"{f['search_ms']:.1f}) | {f['build_s']:.0f} | {f['load']:.1f} |")
        if t:
            lines.append(f"| | target | ≤ {t['p50_ms']} / – | ≤ {t['serve_peak_mb']} | "
                         f"≤ {t['cold_s']} | ≥ {t['recall10']} | | |")
    return lines


MARK_START = "<!-- large:start -->"
MARK_END = "<!-- large:end -->"


def write_report(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "large.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    section = [MARK_START, "## Large corpora, compact index (`python -m benchmarks.large`)", "",
               f"Commit {results.get('commit', '?')}. "
               "Stand-in vectors (see above), real sentence splitting, SQLite, BM25 and FAISS; "
               "questions encoded by the real model (ONNX, one thread). Peak RSS is the "
               "serving process's `ru_maxrss` after the questions, memory-mapped index pages "
               "it touched included. Load: the machine's load average during serving (2 cores).",
               "", *table(results), MARK_END]
    replace_section(RESULTS / "REPORT.md", MARK_START, MARK_END, section)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.large", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--keep-builds", action="store_true",
                        help="serve the indexes the last run built (answer-path changes only)")
    args = parser.parse_args()
    saved = RESULTS / "large.json"
    results = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else {}
    if not args.report_only:
        SCRATCH.mkdir(parents=True, exist_ok=True)
        for n in args.sizes:
            earlier = results.get(str(n)) if args.keep_builds else None
            results[str(n)] = measure(n, earlier)
            results["commit"] = subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                capture_output=True, text=True).stdout.strip()
            write_report(results)  # after each size: a long run keeps what it measured
    write_report(results)
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
