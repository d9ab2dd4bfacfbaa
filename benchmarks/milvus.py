"""The Milvus backend against the files backend, in one run, on a Milvus Lite server on
127.0.0.1 (`tests/servers.py`: a free port, data in the scratch folder):

    python -m benchmarks.milvus                       # every part
    python -m benchmarks.milvus --parts latency --sentences 20000

Parts (issue 20's Measure rows):
- dev: NYT dev (CITEBOT_EVAL_DIR; skipped when missing): the share of questions whose top
  citation is the same on both backends, and the `citebot-index eval` figures side by side.
- latency: answer p50/p99 over synthetic questions at `--sentences` (stand-in vectors for the
  build, as `benchmarks.large`; the real model for questions), Milvus / files in one process.
- follow: a reindex published by A, seconds until answerers B and C (own data dirs) answer
  from it, and whether any answer came from another version than the old or the new one.
- outage: Milvus stopped `--outage` s under a question stream: replies (each an
  IndexUnreachable with its message, or an answer), crashes, seconds to answer again.
- memory: the Milvus server's RSS before and after holding the latency corpus, per million
  sentences (extrapolated linearly from the measured size).
Figures are printed and written to benchmarks/results/milvus.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = Path(os.environ.get("CITEBOT_BENCH_SCRATCH", "/tmp/citebot-bench")) / "milvus"
RESULTS = ROOT / "benchmarks" / "results" / "milvus.json"


def rss_mb(pid: int) -> float:
    """RSS of a process and its children (MB), from /proc."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        status = Path(f"/proc/{current}/status").read_text()
        total += int(status.split("VmRSS:")[1].split()[0]) if "VmRSS:" in status else 0
        for task in Path(f"/proc/{current}/task").iterdir():
            todo += [int(c) for c in (task / "children").read_text().split()]
    return total / 1024


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def milvus_of(settings: Any, server: Any, prefix: str, data_dir: Path) -> Any:
    return dataclasses.replace(settings, data_dir=data_dir, storage_backend="milvus",
                               milvus_uri=server.uri, milvus_prefix=prefix)


def part_dev(server: Any, limit: int) -> dict[str, Any] | None:
    from index import Index, IndexSettings, build
    from index.cli import evaluate
    from index.types import Source

    folder = evaluate.eval_dir()
    if not (folder / evaluate.NYT_DOCS).is_file():
        print(f"dev: {folder / evaluate.NYT_DOCS} not found, skipped")
        return None
    settings = evaluate.scratch_settings(IndexSettings(), "eval-nyt")
    data = SCRATCH / "dev"
    if settings.data_dir.is_dir() and not data.is_dir():  # the eval's index: vectors reused
        shutil.copytree(settings.data_dir, data)
    files_settings = dataclasses.replace(settings, data_dir=data)
    writer = milvus_of(files_settings, server, "dev", data)
    build(writer, sources=[Source(folder / evaluate.NYT_DOCS)])
    files_index = Index.open(files_settings)
    milvus_index = Index.open(dataclasses.replace(writer, data_dir=SCRATCH / "dev-answerer"))
    questions = evaluate.nyt_questions(folder)[:limit] if limit else \
        evaluate.nyt_questions(folder)
    same = sum(int(files_index.rank(str(q["question"])).rows[0])
               == int(milvus_index.rank(str(q["question"])).rows[0]) for q in questions)
    figures = {}
    for name, index in (("files", files_index), ("milvus", milvus_index)):
        results = list(evaluate.nyt_results(index, questions))
        figures[name] = evaluate.summarize(results, settings.abstain_threshold).to_json()
    out = {"questions": len(questions), "same_top": same / len(questions), **figures}
    print(f"dev: top citation identical on {same}/{len(questions)} "
          f"({100 * same / len(questions):.1f}%)")
    for key in ("mrr", "p1", "r5", "auroc", "answered", "refused_without_article"):
        print(f"  {key:24} files {figures['files'][key]}  milvus {figures['milvus'][key]}")
    return out


def synthetic_settings(n: int) -> Any:
    from benchmarks import scale

    return dataclasses.replace(scale.settings_for(n, "-milvus", scale.serving_threads()),
                               data_dir=SCRATCH / f"index-{n}")


def stand_in_build(settings: Any) -> Any:
    """A build with the stand-in vectors of `benchmarks.scale` (all but the embedding)."""
    from benchmarks import scale
    from benchmarks.synthetic import StandInEncoder
    from index.building import builder
    from index.models.embed import settings_label

    stand_in = StandInEncoder(scale.stand_in_bank(), settings_label(settings))
    real = builder.load_encoder
    builder.load_encoder = lambda *a: stand_in  # type: ignore[assignment]
    try:
        return builder.build(settings)
    finally:
        builder.load_encoder = real  # type: ignore[assignment]


def part_latency(server: Any, n: int, count: int) -> dict[str, Any]:
    from benchmarks import scale, synthetic
    from index import Index

    files_settings = synthetic_settings(n)
    writer = milvus_of(files_settings, server, "lat", files_settings.data_dir)
    before = rss_mb(server.process.pid)
    started = time.perf_counter()
    report = stand_in_build(writer)  # the files version, then its publication into Milvus
    build_s = time.perf_counter() - started
    files_index = Index.open(files_settings)
    milvus_index = Index.open(dataclasses.replace(writer, data_dir=SCRATCH / f"lat-ans-{n}"))
    questions = synthetic.questions(scale.load_docs(n), count + 10)
    times: dict[str, list[float]] = {"files": [], "milvus": []}
    same = 0
    for q in questions[:10]:
        files_index.answer(q)
        milvus_index.answer(q)
    for q in questions[10:]:  # interleaved: both see the same load
        t = time.perf_counter()
        a = files_index.answer(q)
        times["files"].append(time.perf_counter() - t)
        t = time.perf_counter()
        b = milvus_index.answer(q)
        times["milvus"].append(time.perf_counter() - t)
        same += [c.text for c in a.citations[:1]] == [c.text for c in b.citations[:1]]
    after = rss_mb(server.process.pid)
    out: dict[str, Any] = {"sentences": report.sentences, "questions": count,
                           "build_and_publish_s": round(build_s, 1),
                           "same_top": same / count, "server_rss_before_mb": round(before),
                           "server_rss_after_mb": round(after)}
    for name, values in times.items():
        out[name] = {"p50_ms": round(percentile(values, 50), 1),
                     "p99_ms": round(percentile(values, 99), 1)}
    out["ratio_p50"] = round(out["milvus"]["p50_ms"] / out["files"]["p50_ms"], 2)
    out["ratio_p99"] = round(out["milvus"]["p99_ms"] / out["files"]["p99_ms"], 2)
    out["server_mb_per_million"] = round((after - before) / report.sentences * 1e6)
    print(f"latency at {report.sentences} sentences ({count} questions): files p50 "
          f"{out['files']['p50_ms']} ms p99 {out['files']['p99_ms']} ms; milvus p50 "
          f"{out['milvus']['p50_ms']} ms p99 {out['milvus']['p99_ms']} ms; ratio "
          f"{out['ratio_p50']}x / {out['ratio_p99']}x; same top citation "
          f"{100 * out['same_top']:.1f}%")
    print(f"memory: Milvus server RSS {out['server_rss_before_mb']} MB empty -> "
          f"{out['server_rss_after_mb']} MB holding {report.sentences} sentences: about "
          f"{out['server_mb_per_million']} MB per million (extrapolated linearly)")
    return out


def small_corpus(folder: Path) -> Path:
    from index.settings import BUNDLED_CORPUS

    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(BUNDLED_CORPUS, folder)
    return folder


def part_follow(server: Any) -> dict[str, Any]:
    from index import Index, IndexSettings, build

    corpus = small_corpus(SCRATCH / "follow-corpus")
    base = IndexSettings(sources=(corpus,), model_cache=str(SCRATCH.parent / "models"))
    writer = milvus_of(base, server, "follow", SCRATCH / "follow-A")
    shutil.rmtree(writer.data_dir, ignore_errors=True)
    build(writer)
    readers = [Index.open(dataclasses.replace(writer, data_dir=SCRATCH / f"follow-{n}"))
               for n in "BC"]
    old = readers[0].version
    (corpus / "lighthouse.md").write_text(
        "---\ntitle: The old lighthouse\n---\nThe harbour master said the lighthouse would be "
        "repainted red and white before the spring.\n", encoding="utf-8")
    question = "What did the harbour master say about the lighthouse?"
    seen: dict[int, float] = {}
    versions: set[str] = set()
    stop = threading.Event()
    switched: list[float] = []

    def ask(i: int) -> None:
        while not stop.is_set():
            answer = readers[i].answer(question)
            versions.add((readers[i].newer() or readers[i]).version)
            if not answer.abstained and i not in seen and switched:
                seen[i] = time.monotonic() - switched[0]
            time.sleep(0.02)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    report = build(writer)
    switched.append(time.monotonic())
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    out = {"poll_seconds": writer.milvus_poll_seconds,
           "seconds": {"BC"[i]: round(s, 2) for i, s in seen.items()},
           "only_old_or_new": versions <= {old, report.version}}
    print(f"follow: reindex on A seen by B and C after {out['seconds']} s (poll every "
          f"{writer.milvus_poll_seconds} s); answers only from the old or new version: "
          f"{out['only_old_or_new']}")
    return out


def part_outage(server: Any, seconds: float) -> dict[str, Any]:
    from index import Index, IndexSettings, IndexUnreachable, build

    corpus = small_corpus(SCRATCH / "outage-corpus")
    base = IndexSettings(sources=(corpus,), model_cache=str(SCRATCH.parent / "models"))
    writer = milvus_of(base, server, "outage", SCRATCH / "outage-A")
    shutil.rmtree(writer.data_dir, ignore_errors=True)
    build(writer)
    index = Index.open(dataclasses.replace(writer, data_dir=SCRATCH / "outage-B"))
    replies = {"answered": 0, "unreachable": 0, "other": 0}
    messages: set[str] = set()
    back: list[float] = []
    state = {"down": False, "returned": 0.0}
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            try:
                index.answer("Who leads the National Rally?")
                replies["answered"] += 1
                if state["returned"] and not back:
                    back.append(time.monotonic() - state["returned"])
            except IndexUnreachable as exc:
                replies["unreachable"] += 1
                messages.add(str(exc))
            except Exception as exc:  # noqa: BLE001 - counted: the figure is "no crash"
                replies["other"] += 1
                messages.add(repr(exc))
            time.sleep(0.05)

    asker = threading.Thread(target=stream)
    asker.start()
    time.sleep(2)
    server.stop()
    time.sleep(seconds)
    server.start()
    state["returned"] = time.monotonic()
    deadline = time.monotonic() + 60
    while not back and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    asker.join()
    out = {"stopped_s": seconds, **replies, "messages": sorted(messages),
           "answering_again_s": round(back[0], 2) if back else None}
    print(f"outage: Milvus stopped {seconds:.0f} s under a question stream: {replies}; "
          f"messages {sorted(messages)}; answering again {out['answering_again_s']} s after "
          f"its return")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="dev,latency,follow,outage")
    parser.add_argument("--sentences", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--dev-questions", type=int, default=0, help="0: all of the dev split")
    parser.add_argument("--outage", type=float, default=30.0)
    args = parser.parse_args(argv)
    from tests.servers import MilvusServer, milvus_available

    if not milvus_available():
        print("milvus-lite or pymilvus is not installed (pip install '.[milvus]'): skipped")
        return
    SCRATCH.mkdir(parents=True, exist_ok=True)
    # a server folder of this run's own (another run may be going on)
    server = MilvusServer(Path(tempfile.mkdtemp(prefix="server-", dir=SCRATCH)) / "data")
    server.start()
    try:
        for part in args.parts.split(","):
            if part == "dev":
                figures = part_dev(server, args.dev_questions)
            elif part == "latency":
                figures = part_latency(server, args.sentences, args.questions)
            elif part == "follow":
                figures = part_follow(server)
            elif part == "outage":
                figures = part_outage(server, args.outage)
            else:
                raise SystemExit(f"no part {part!r} (dev, latency, follow, outage)")
            # read again: another run may have written its parts meanwhile
            results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
            results[part] = figures | {"load": round(os.getloadavg()[0], 1)} if figures else None
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    finally:
        server.stop()
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f}; results in {RESULTS}")


if __name__ == "__main__":
    main()
