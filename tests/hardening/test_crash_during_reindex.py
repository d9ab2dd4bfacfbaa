"""SIGKILL a build at random points: afterwards the index opens and gives the same answers
as before the build (or, if the kill came after the atomic switch, the new version is
complete), and the next build completes and cleans up."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from index import Answer, Index, IndexSettings, build
from index.settings import BUNDLED_CORPUS
from index.storage import versions as index_versions

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ["Who leads the National Rally party?", "Would Bardella allow pushbacks?",
             "What is the capital of Peru?"]


@dataclass
class Outcome:
    killed: bool
    stage: str  # the last build stage the child reported before it died or finished
    seconds: float
    lines: list[str] = field(default_factory=list)


class BuildWorker:
    """`tests.hardening.build_worker` in a subprocess: builds `settings` in forked children."""

    def __init__(self, settings: IndexSettings) -> None:
        env = {**os.environ, "CITEBOT_DATA_DIR": str(settings.data_dir),
               "CITEBOT_SOURCES": os.pathsep.join(map(str, settings.sources)),
               "CITEBOT_CONFIG": str(settings.data_dir / "none.toml"), "HF_HUB_OFFLINE": "1",
               "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.hardening.build_worker"], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._expect("ready", 180)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("eof")

    def _expect(self, prefix: str, timeout: float) -> tuple[str, list[str]]:
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no {prefix!r} from the build worker after "
                                   + "\n".join(seen)) from None
            if line == "eof":
                raise RuntimeError("the build worker died:\n" + "\n".join(seen))
            if line.startswith(prefix):
                return line, seen
            seen.append(line)

    def build(self, kill_after: float | None = None) -> Outcome:
        """One build; SIGKILLed `kill_after` seconds after it started, unless it ended."""
        assert self.process.stdin is not None
        self.process.stdin.write("build\n")
        self.process.stdin.flush()
        line, _ = self._expect("pid ", 30)
        started = time.monotonic()
        pid = int(line.split()[1])
        if kill_after is not None:
            time.sleep(kill_after)
            with contextlib.suppress(ProcessLookupError):  # it had already finished
                os.kill(pid, signal.SIGKILL)
        line, seen = self._expect("exit ", 120)
        status = int(line.split()[1])
        stages = [s.split()[1] for s in seen if s.startswith("stage ")]
        if any(s.startswith("built ") for s in seen):
            stages.append("finished")
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        assert killed or status == 0, "\n".join(seen)
        return Outcome(killed, stages[-1] if stages else "starting",
                       time.monotonic() - started, seen)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(30)


def answers(settings: IndexSettings) -> tuple[str, list[Answer]]:
    index = Index.open(settings)
    return index.version, [index.answer(q) for q in QUESTIONS]


def new_article(corpus: Path, n: int, rng: random.Random) -> str:
    """Add article `n` (a few sentences, so the build embeds something); returns a question
    only it answers."""
    town = f"Wexley-{n}"
    words = ["harbour", "ferry", "bridge", "museum", "library", "market", "station"]
    sentences = [f"The {rng.choice(words)} in {town} reopened after {n + 2} months of work."]
    sentences += [f"Residents of {town} voted on item {i} of the plan on day {i * n + 1}."
                  for i in range(rng.randint(5, 30))]
    (corpus / f"article-{n:03d}.txt").write_text(
        f"---\ntitle: News from {town}\n---\n" + " ".join(sentences), encoding="utf-8")
    return f"What reopened in {town} after {n + 2} months of work?"


def run_campaign(tmp_path: Path, kills: int, seed: int) -> Counter[str]:
    """Rounds of: change the corpus, SIGKILL a build at a random point, check the index,
    complete a build, check it; until `kills` builds were really killed (a kill that comes
    after the build ended does not count). Returns where the kills landed."""
    rng = random.Random(seed)
    corpus = tmp_path / "corpus"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    settings = IndexSettings(data_dir=tmp_path / "data", sources=(corpus,))
    build(settings)
    worker = BuildWorker(settings)
    landed: Counter[str] = Counter()
    rounds = 0
    try:
        span = worker.build().seconds  # an uncut build (nothing changed) to start with
        while sum(landed.values()) < kills:
            n, rounds = rounds, rounds + 1
            assert rounds <= 4 * kills, f"only {dict(landed)} kills in {rounds} rounds"
            question = new_article(corpus, n, rng)
            version, before = answers(settings)
            outcome = worker.build(kill_after=rng.uniform(0, span))
            now, after = answers(settings)  # opens without error, whatever the kill hit
            if now == version:
                assert after == before, f"round {n}: answers changed after a kill"
            if outcome.killed:
                landed["after the switch" if now != version else outcome.stage] += 1
            finished = worker.build()
            assert not finished.killed and finished.stage == "finished"
            span = max(span, finished.seconds)
            index = Index.open(settings)
            assert "reopened after" in index.answer(question).citations[0].text
            assert f"article-{n:03d}" in {a.doc_id for a in index.articles}
            leftovers = [p.name for p in (settings.data_dir / "versions").iterdir()
                         if p.name.startswith(".")]
            assert leftovers == []
            assert len(index_versions.complete_versions(settings.data_dir)) <= 3
    finally:
        worker.close()
    print(f"\nSIGKILL campaign (seed {seed}): {kills} kills in {rounds} rounds, "
          f"landed in {dict(landed)}")
    report = os.environ.get("CITEBOT_CAMPAIGN_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": "sigkill", "seed": seed, "kills": kills,
                                 "rounds": rounds, "landed": dict(landed)}) + "\n")
    return landed


@pytest.mark.slow
def test_three_builds_killed_at_random_points_lose_nothing(tmp_path: Path) -> None:
    run_campaign(tmp_path, kills=3, seed=random.randrange(1 << 30))


@pytest.mark.long
def test_twenty_five_builds_killed_at_random_points_lose_nothing(tmp_path: Path) -> None:
    landed = run_campaign(tmp_path, kills=25, seed=random.randrange(1 << 30))
    assert sum(landed.values()) == 25


# --- the crash windows a random kill rarely hits, made on purpose ---------------------------

def test_a_build_never_removes_the_version_being_served(bundled_copy: IndexSettings) -> None:
    # Builds that died after finishing a version but before switching to it leave newer
    # versions that are not served; the next build must not delete the served one.
    data = bundled_copy.data_dir
    first = data / "versions" / "v000001"
    for name in ("v000002", "v000003"):
        shutil.copytree(first, first.with_name(name))
    index_versions.remove_stale(data, keep=None)
    assert index_versions.current_version(data) == first


def test_a_half_removed_old_version_never_looks_complete(bundled_copy: IndexSettings) -> None:
    data = bundled_copy.data_dir
    first = data / "versions" / "v000001"
    dying = first.with_name(".removing-v000000-123")  # a deletion that was killed midway
    shutil.copytree(first, dying)
    (dying / "sentences.faiss").unlink()
    assert index_versions.complete_versions(data) == [first]
    index_versions.remove_stale(data, keep=None)
    assert not dying.exists()


@pytest.fixture
def bundled_copy(bot_index_settings: IndexSettings, bot_index: Index,
                 tmp_path: Path) -> IndexSettings:
    from dataclasses import replace

    data = tmp_path / "data"
    shutil.copytree(bot_index_settings.data_dir, data)
    return replace(bot_index_settings, data_dir=data)
