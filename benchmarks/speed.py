"""Speed and weight, side by side with a bare sentence-transformers (torch) + FAISS flat stack,
in one run: cold start, answer latency, serving memory, build rate, and the bot's reply time.

    python -m benchmarks.speed              # all rows (about 15 minutes on 2 cores)
    python -m benchmarks.speed --rounds 3   # fewer repetitions of the cold starts

Every figure is a median over repetitions taken back to back on this machine, and every
ratio compares figures taken in the same run. Each measurement runs in a fresh process.
Writes `benchmarks/results/speed.json` and the "Speed and weight" section of REPORT.md.
Both stacks use the packaged all-MiniLM-L6-v2, one thread (the product's default).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SCRATCH = Path(os.environ.get("CITEBOT_BENCH_SCRATCH", "/tmp/citebot-bench")) / "speed"
EVAL = Path(os.environ.get("CITEBOT_EVAL_DIR", str(ROOT.parent / "shared" / "eval")))
QUESTION = "Who is the leader of the National Rally?"
SERVE_QUESTIONS = 300
THREADS = 1


def rss_mb() -> float:
    """Resident memory now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def model_path() -> str:
    from index.models.embed import default_model_path

    return default_model_path()


def nyt_questions() -> list[str]:
    with gzip.open(EVAL / "nyt_dev_questions.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line)["question"] for line in fh][:SERVE_QUESTIONS]


def nyt_sentences() -> list[str]:
    """The NYT dev corpus split by citebot's own splitter (both stacks embed the same)."""
    from index.ingest import segment

    with gzip.open(EVAL / "nyt_dev_documents.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [s.text for line in fh for s in segment.sentences(json.loads(line)["text"])]


def citebot_settings(name: str) -> Any:
    from index import IndexSettings

    return IndexSettings(data_dir=SCRATCH / name, model_cache=str(SCRATCH / "models"),
                         threads=THREADS)


def env() -> dict[str, str]:
    return os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                         "CITEBOT_MODEL_CACHE": str(SCRATCH / "models"),
                         "CITEBOT_THREADS": str(THREADS), "OMP_NUM_THREADS": str(THREADS),
                         "PYTHONPATH": str(ROOT)}


# --- tasks (each runs in its own process: `python -m benchmarks.speed --task NAME`) --------

BARE_COLD = """
import sys, faiss, numpy as np
from sentence_transformers import SentenceTransformer
import torch
torch.set_num_threads(1); faiss.omp_set_num_threads(1)
model = SentenceTransformer(sys.argv[1], device="cpu")
index = faiss.read_index(sys.argv[2])
texts = open(sys.argv[3], encoding="utf-8").read().split("\\n")
q = model.encode([sys.argv[4]], normalize_embeddings=True)
print(texts[int(index.search(q, 1)[1][0][0])])
"""


def git_commit() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()


def task_prepare() -> dict[str, Any]:
    """The bundled index (citebot) and the bundled sentences in a flat FAISS file (bare)."""
    import faiss
    from sentence_transformers import SentenceTransformer

    from index import build
    from index.ingest import segment
    from index.settings import BUNDLED_CORPUS

    shutil.rmtree(SCRATCH / "bundled", ignore_errors=True)
    build(citebot_settings("bundled"))  # also exports the model into SCRATCH/models
    text = next(BUNDLED_CORPUS.glob("*.txt")).read_text(encoding="utf-8")
    sentences = [s.text for s in segment.sentences(text)]
    model = SentenceTransformer(model_path(), device="cpu")
    index = faiss.IndexFlatIP(384)
    index.add(model.encode(sentences, normalize_embeddings=True))
    faiss.write_index(index, str(SCRATCH / "bare-bundled.faiss"))
    (SCRATCH / "bare-bundled.txt").write_text("\n".join(sentences), encoding="utf-8")
    return {"sentences": len(sentences)}


def task_build_bare() -> dict[str, Any]:
    """What a bare stack does to ingest the corpus, timed by the parent as a whole process."""
    import faiss
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(THREADS)
    faiss.omp_set_num_threads(THREADS)
    sentences = nyt_sentences()
    model = SentenceTransformer(model_path(), device="cpu")
    vectors = model.encode(sentences, batch_size=64, normalize_embeddings=True)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    faiss.write_index(index, str(SCRATCH / "bare-nyt.faiss"))
    return {"sentences": len(sentences)}


def task_serve_bare() -> dict[str, Any]:
    import faiss
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(THREADS)
    faiss.omp_set_num_threads(THREADS)
    model = SentenceTransformer(model_path(), device="cpu")
    index = faiss.read_index(str(SCRATCH / "bare-nyt.faiss"))
    questions = nyt_questions()
    latencies = []
    for i, q in enumerate(questions):
        started = time.perf_counter()
        vector = model.encode([q], normalize_embeddings=True)
        index.search(vector, 10)
        if i >= 10:  # the first few warm caches up
            latencies.append(time.perf_counter() - started)
    return {"latency_s": latencies, "rss_mb": rss_mb(), "peak_mb": peak_mb()}


def task_serve_citebot() -> dict[str, Any]:
    from index import Index

    index = Index.open(citebot_settings("nyt"))
    questions = nyt_questions()
    latencies = []
    for i, q in enumerate(questions):
        started = time.perf_counter()
        index.answer(q)
        if i >= 10:
            latencies.append(time.perf_counter() - started)
    return {"latency_s": latencies, "rss_mb": rss_mb(), "peak_mb": peak_mb(),
            "torch_loaded": "torch" in sys.modules}


def task_bot() -> dict[str, Any]:
    """Question to reply through the real discord.py client and the local fake Discord."""
    return asyncio.run(_bot_round_trips(60))


async def _bot_round_trips(count: int) -> dict[str, Any]:
    from bot import create_bot
    from bot.settings import BotSettings
    from index import Index
    from tests.discord_fake import FakeDiscord

    fake = FakeDiscord()
    await fake.start()
    guild = fake.add_guild("News Club")
    settings = citebot_settings("nyt")
    bot_settings = BotSettings(api_base=fake.base_url, gateway_url=fake.gateway_url,
                               feedback_db=str(SCRATCH / "bot.sqlite3"),
                               rate_limit_count=10_000)
    bot = create_bot(bot_settings, settings, index=Index.open(settings),
                     guild_ready_timeout=0.05)
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect())
    await asyncio.wait_for(bot.wait_until_ready(), 30)
    member = fake.add_user("reader")
    fake.add_member(guild, member)
    me = fake.bot_user.id
    latencies = []
    try:
        for q in nyt_questions()[:count]:
            seen = len(fake.bot_messages(guild.channel_id))
            started = time.perf_counter()
            await fake.send_message(member, f"<@{me}> {q}", guild=guild)
            await fake.next_bot_message(guild.channel_id, after=seen)
            latencies.append(time.perf_counter() - started)
    finally:
        await bot.close()
        task.cancel()
        await fake.stop()
    return {"latency_s": latencies[5:]}


TASKS = {"prepare": task_prepare, "build-bare": task_build_bare, "serve-bare": task_serve_bare,
         "serve-citebot": task_serve_citebot, "bot": task_bot}


# --- the parent: runs the tasks and the timed whole processes -------------------------------

def run_task(name: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.speed", "--task", name],
                          cwd=ROOT, env=env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def timed(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def measure(rounds: int) -> dict[str, Any]:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"threads": THREADS, "load_before": os.getloadavg()[0],
                           "commit": git_commit()}
    print("prepare", file=sys.stderr, flush=True)
    out["prepare"] = run_task("prepare")
    cli = [sys.executable, "-m", "index", "--data-dir", str(SCRATCH / "bundled"), "ask",
           QUESTION]
    bare = [sys.executable, "-c", BARE_COLD, model_path(), str(SCRATCH / "bare-bundled.faiss"),
            str(SCRATCH / "bare-bundled.txt"), QUESTION]
    cold: dict[str, list[float]] = {"citebot": [], "bare": []}
    for _ in range(rounds):  # interleaved, so both see the same machine
        print("cold start", file=sys.stderr, flush=True)
        seconds, printed = timed(cli)
        assert "Bardella" in printed, printed
        cold["citebot"].append(seconds)
        seconds, printed = timed(bare)
        assert "Bardella" in printed, printed
        cold["bare"].append(seconds)
    out["cold_s"] = cold

    build: dict[str, list[float]] = {"citebot": [], "bare": []}
    for _ in range(max(1, rounds // 3)):
        print("build", file=sys.stderr, flush=True)
        shutil.rmtree(SCRATCH / "nyt", ignore_errors=True)
        seconds, _ = timed([sys.executable, "-m", "index", "--data-dir", str(SCRATCH / "nyt"),
                            "build", str(EVAL / "nyt_dev_documents.jsonl.gz")])
        build["citebot"].append(seconds)
        seconds, _ = timed([sys.executable, "-m", "benchmarks.speed", "--task", "build-bare"])
        build["bare"].append(seconds)
    out["build_s"] = build
    out["sentences"] = len(nyt_sentences())

    print("serve", file=sys.stderr, flush=True)
    out["serve"] = {"bare": run_task("serve-bare"), "citebot": run_task("serve-citebot")}
    print("bot", file=sys.stderr, flush=True)
    out["bot"] = run_task("bot")
    out["load_after"] = os.getloadavg()[0]
    return out


def p(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q))


def table(r: dict[str, Any]) -> list[str]:
    """The rows of the README / REPORT table, with the ratio to the bare stack."""
    cold_c, cold_b = statistics.median(r["cold_s"]["citebot"]), statistics.median(
        r["cold_s"]["bare"])
    lat_c, lat_b = r["serve"]["citebot"]["latency_s"], r["serve"]["bare"]["latency_s"]
    rss_c, rss_b = r["serve"]["citebot"]["rss_mb"], r["serve"]["bare"]["rss_mb"]
    n = r["sentences"]
    rate_c = n / statistics.median(r["build_s"]["citebot"])
    rate_b = n / statistics.median(r["build_s"]["bare"])
    bot = r["bot"]["latency_s"]
    return [
        "| figure | citebot | bare ST + FAISS | ratio | target |",
        "|---|---|---|---|---|",
        f"| cold start: fresh `citebot-index ask` on the bundled index, to the printed answer "
        f"| {cold_c:.2f} s | {cold_b:.2f} s (import + load + encode + search) "
        f"| {cold_c / cold_b:.2f}× | ≤ 1.0 s and ≤ 0.15× |",
        f"| answer p50 / p99, in process, NYT dev index ({n:,} sentences) "
        f"| {p(lat_c, 50) * 1e3:.1f} / {p(lat_c, 99) * 1e3:.1f} ms "
        f"| {p(lat_b, 50) * 1e3:.1f} / {p(lat_b, 99) * 1e3:.1f} ms "
        f"| {p(lat_c, 50) / p(lat_b, 50):.2f}× / {p(lat_c, 99) / p(lat_b, 99):.2f}× "
        f"| ≤ 1.0× / ≤ 1.5× |",
        f"| serving memory (RSS) after {SERVE_QUESTIONS} questions, NYT dev index "
        f"| {rss_c:.0f} MB | {rss_b:.0f} MB | {rss_c / rss_b:.2f}× | ≤ 0.5× |",
        f"| build, sentences per second, whole process | {rate_c:.0f} | {rate_b:.0f} "
        f"| {rate_c / rate_b:.2f}× | ≥ 1.0× |",
        f"| bot: mention to reply, real discord.py against the local fake "
        f"| {p(bot, 50) * 1e3:.0f} / {p(bot, 99) * 1e3:.0f} ms (p50 / p99) | — | — | report |",
    ]


MARK_START = "<!-- speed:start -->"
MARK_END = "<!-- speed:end -->"


def replace_section(report: Path, start: str, end: str, section: list[str]) -> None:
    """Put `section` (which begins with `start` and ends with `end`) into the report in
    place of the one between those marks, or at its end; the rest is left as it is."""
    text = report.read_text(encoding="utf-8") if report.is_file() else "# Benchmarks\n"
    if start in text:
        head, rest = text.split(start, 1)
        text = head + "\n".join(section) + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(section) + "\n"
    report.write_text(text, encoding="utf-8")


def write_report(r: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(r, indent=1), encoding="utf-8")
    section = [MARK_START, "## Speed and weight (`python -m benchmarks.speed`)", "",
               f"Commit {r.get('commit', '?')}. "
               f"One run, one thread each, machine load {r['load_before']:.1f} before and "
               f"{r['load_after']:.1f} after (2 cores; above 2 means other work ran too). "
               "Medians; ratios against the bare stack measured in the same run.", "",
               *table(r), MARK_END]
    replace_section(RESULTS / "REPORT.md", MARK_START, MARK_END, section)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASKS), help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5, help="cold starts of each stack")
    parser.add_argument("--report-only", action="store_true",
                        help="re-render from benchmarks/results/speed.json")
    args = parser.parse_args()
    if args.task:
        print(json.dumps(TASKS[args.task]()))
        return
    if args.report_only:
        result = json.loads((RESULTS / "speed.json").read_text(encoding="utf-8"))
    else:
        result = measure(args.rounds)
    write_report(result)
    print("\n".join(table(result)))


if __name__ == "__main__":
    main()
