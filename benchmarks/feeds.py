"""What a feed update with nothing new costs, against a full build of the same articles.

    .venv/bin/python -m benchmarks.feeds [--articles 100] [--repeat 5]

A feed of N NYT dev articles (from the evaluation data; synthetic ones without it) is served
from 127.0.0.1 (`tests/feed_site.py`). Measured in one run: the first `update` (fetch every
page, full build), then `--repeat` updates with nothing new, answered 304 to the ETag
("not modified"), and as many with the feed served again in full but unchanged (no ETag:
every entry compared, no page fetched, no build), and as many full builds from scratch of
the same article files (`index.build` into an empty data dir). Prints medians (min–max) and
the ratios.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from index import IndexSettings, build
from index.building.update import update
from index.cli.evaluate import NYT_DOCS, eval_dir
from index.ingest.feeds import add_feed, feeds_dir
from tests.feed_site import Entry, FeedSite, Response


def articles(n: int) -> list[Entry]:
    path = eval_dir() / NYT_DOCS
    entries: list[Entry] = []
    if path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= n:
                    break
                row = json.loads(line)
                paragraphs = [p for p in row["text"].split("\n") if p.strip()]
                entries.append(Entry(f"nyt-{i}", row.get("title") or f"Article {i}",
                                     paragraphs, published=f"2026-11-{1 + i % 28:02d}T09:00:00"
                                                           "+00:00"))
    for i in range(len(entries), n):
        entries.append(Entry(f"synthetic-{i}", f"Council notice {i}", [
            f"The council of town {i} met on Monday to discuss the harbour wall. "
            f"Its members voted {i % 9 + 1} to {i % 7 + 1} to fund repairs before winter."
            for _ in range(6)]))
    return entries


def timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s ({min(values):.3f}–{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    site = FeedSite()
    scratch = Path(tempfile.mkdtemp(prefix="citebot-feeds-bench-"))
    try:
        entries = articles(args.articles)
        url = site.set_feed("/feed.xml", entries)
        settings = IndexSettings(data_dir=scratch / "data", sources=(), threads=2,
                                 fetch_allow_private=True)
        add_feed(settings, url)
        first = timed(lambda: update(settings))

        not_modified = [timed(lambda: update(settings)) for _ in range(args.repeat)]
        feed = site.routes["/feed.xml"]
        assert isinstance(feed, Response)
        full_feed = []
        for _ in range(args.repeat):  # a new body each time: no ETag matches, 200 in full
            feed.body += b" "
            full_feed.append(timed(lambda: update(settings)))

        files = feeds_dir(settings)
        builds = []
        for i in range(args.repeat):
            fresh = replace(settings, data_dir=scratch / f"build-{i}", sources=(files,))
            builds.append(timed(lambda fresh=fresh: build(fresh)))  # type: ignore[misc]
            shutil.rmtree(fresh.data_dir, ignore_errors=True)

        base = statistics.median(builds)
        print(f"{len(entries)} articles, {args.repeat} repeats, threads 2")
        print(f"first update (fetch every page + full build): {first:.2f} s")
        print(f"full build from scratch:        {spread(builds)}")
        print(f"update, feed not modified (304): {spread(not_modified)}  "
              f"= {statistics.median(not_modified) / base:.3%} of a build")
        print(f"update, feed unchanged (200):    {spread(full_feed)}  "
              f"= {statistics.median(full_feed) / base:.3%} of a build")
    finally:
        site.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
