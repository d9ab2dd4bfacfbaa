"""Memory of shard processes sharing one index: two `python -m bot` processes (shards 0 and
1 of 2) against the local fake Discord (`tests/discord_fake.py`, so it needs the dev
extras), answering from one stand-in index of N sentences (built with `benchmarks.scale`
when missing).

    python -m benchmarks.shards [N]        # default 100000

Prints, for the first process alone and then for both, each process's RSS, PSS and private
memory (USS), and how much of the index files each has resident and shares; the last line
is the JSON of all figures. "Extra memory of the second process" is its private memory
(USS): pages no other process holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.scale import SCRATCH, corpus_path, load_docs

ROOT = Path(__file__).resolve().parents[1]


def memory(pid: int, data_dir: Path) -> dict[str, int]:
    """MB: the process's Rss/Pss/private memory, and of the mappings of `data_dir`'s files
    (the index), how much is resident and how much of that is shared with another process."""
    total = {"rss": 0, "pss": 0, "private": 0, "index_rss": 0, "index_shared": 0}
    in_index = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:  # a mapping's header
            in_index = len(head) >= 6 and head[5].startswith(str(data_dir))
            continue
        if len(head) < 2 or not head[0].endswith(":") or not head[1].isdigit():
            continue
        name, kb = head[0][:-1], int(head[1])
        if name == "Rss":
            total["rss"] += kb
            if in_index:
                total["index_rss"] += kb
        elif name == "Pss":
            total["pss"] += kb
        elif name in ("Private_Clean", "Private_Dirty"):
            total["private"] += kb
        elif name in ("Shared_Clean", "Shared_Dirty") and in_index:
            total["index_shared"] += kb
    return {k: v // 1024 for k, v in total.items()}


async def measure(n: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from benchmarks import synthetic
    from tests.bot_process import bot_process
    from tests.discord_fake import FakeDiscord

    data_dir = SCRATCH / f"index-{n}-stand-in"
    if not (data_dir / "CURRENT").is_file():
        subprocess.run([sys.executable, "-m", "benchmarks.scale", "build", str(n), "stand-in",
                        "1"], check=True, cwd=ROOT)
    questions = synthetic.questions(load_docs(n), 2)
    fake = FakeDiscord(shard_count=2)
    await fake.start()
    guilds = [fake.add_guild(f"Shard {s}", shard=s) for s in (0, 1)]
    reader = fake.add_user("reader")
    env = {"CITEBOT_SOURCES": str(corpus_path(n)), "CITEBOT_SHARD_COUNT": "2",
           "CITEBOT_MAX_FILE_MB": "1000", "CITEBOT_LOG_LEVEL": "WARNING"}
    cwd = SCRATCH / "shards"
    cwd.mkdir(parents=True, exist_ok=True)

    async def ask(shard: int) -> None:
        ix = await fake.slash("ask", user=reader, guild=guilds[shard], question=questions[shard])
        await fake.reply_to(ix, timeout=300)

    out: dict[str, Any] = {"sentences": n}
    try:
        async with bot_process(fake, cwd, data_dir, lambda: 0 in fake.sessions,
                               CITEBOT_SHARD_IDS="0", **env) as first:
            await ask(0)
            out["first_alone"] = memory(first.process.pid, data_dir)
            async with bot_process(fake, cwd, data_dir, lambda: 1 in fake.sessions,
                                   CITEBOT_SHARD_IDS="1", **env) as second:
                await ask(1)
                await ask(0)
                out["first"] = memory(first.process.pid, data_dir)
                out["second"] = memory(second.process.pid, data_dir)
    finally:
        await fake.stop()
    from index.storage.versions import current_version

    out["index_files_mb"] = sum(p.stat().st_size for p in current_version(data_dir).iterdir()
                                if p.suffix in (".npy", ".faiss")) // 2**20
    return out


def main(argv: list[str]) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    n = int(argv[0]) if argv else 100_000
    out = asyncio.run(measure(n))
    a, b = out["first"], out["second"]
    print(f"{n:,} sentences; vector and FAISS files of the current version: "
          f"{out['index_files_mb']} MB")
    print(f"first process alone:  {out['first_alone']}")
    print(f"first, with second:   {a}")
    print(f"second process:       {b}")
    print(f"the second process adds {b['private']} MB of its own (RSS {b['rss']} MB); of the "
          f"{b['index_rss']} MB of index files it has resident, {b['index_shared']} MB are "
          f"shared with the first")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
