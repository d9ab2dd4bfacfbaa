"""`update(settings)`: check every feed once and index what is new or changed.

Each feed is checked (conditional GET) and each new or changed entry's article written by
`index.ingest.feeds`; then the ordinary incremental build runs: unchanged articles keep their
embeddings, and a changed entry's old sentences leave in the same version switch.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from index.building.builder import build
from index.errors import BuildInProgress, IndexError_
from index.ingest.feeds.check import AddressPolicy, FeedReport, check_all
from index.ingest.feeds.store import FeedError, FeedStore, NewArticle, followed, update_lock
from index.settings import IndexSettings
from index.types import BuildReport


@dataclass(frozen=True)
class UpdateReport:
    feeds: tuple[FeedReport, ...]
    indexed: tuple[NewArticle, ...] = ()
    """New articles that became answerable with this update's build."""
    build: BuildReport | None = None
    build_error: str | None = None
    """Why the build did not run or failed (the fetched articles wait for the next one)."""
    seconds: float = 0.0

    @property
    def new(self) -> int:
        return sum(r.new for r in self.feeds)

    @property
    def updated(self) -> int:
        return sum(r.updated for r in self.feeds)


def update(settings: IndexSettings, *, address_allowed: AddressPolicy | None = None,
           index: bool = True) -> UpdateReport:
    """Check every feed once and index what is new or changed (blocking; runs its own event
    loop, so call it from a worker thread in async code).

    A feed that fails is reported and left as it was; the update still indexes the others.
    Raises UpdateInProgress when another update runs, FeedError when no feed is followed.
    """
    started = time.perf_counter()
    with update_lock(settings):
        store = FeedStore(settings)
        feeds = followed(settings, store)
        if not feeds and not store.needs_build():
            raise FeedError("no feeds are followed; add one with `citebot-index feed add URL` "
                            "or the `feeds` setting")
        reports = asyncio.run(check_all(settings, store, feeds, address_allowed))
        built: BuildReport | None = None
        problem: str | None = None
        indexed: list[NewArticle] = []
        if index and store.needs_build():
            try:
                built = build(settings)
            except BuildInProgress:
                problem = ("a build is running; the fetched articles are indexed by the next "
                           "update or build")
            except IndexError_ as exc:
                problem = str(exc)
            else:
                indexed = store.mark_indexed()
        return UpdateReport(tuple(reports), tuple(indexed), built, problem,
                            time.perf_counter() - started)



#: the name `index` exports it under
update_feeds = update
