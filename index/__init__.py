"""citebot's answering core: news articles in, exact cited sentences out.

The API the bot (and anyone else) uses::

    from index import Index, build, index_settings

    settings = index_settings()            # CITEBOT_* environment and citebot.toml
    report = build(settings)               # atomic, incremental; BuildInProgress if one runs
    idx = Index.open(settings)             # IndexNotFound / IndexDamaged on user errors
    answer = idx.answer("Who leads the National Rally?")
    for c in answer.citations:
        print(c.text, c.title, c.paragraph, c.sentence, c.start, c.end)
    follow = idx.answer("What does he want?", context=(answer,))  # a follow-up
    print(follow.follow_up_of)             # the question it borrowed from, or None
    dated = idx.answer("What did Starmer say yesterday?")  # or since=, until=
    print(dated.time_range, dated.undated_left_out)
    story = idx.timeline("Channel crossings")  # dated quotes, one per article, oldest first

Heavy modules (FAISS, ONNX Runtime) are imported only when an index is opened or built; torch
only to export the model to ONNX, once (`index/models/embed.py`).

The rooms, lowest first (each may import only the rooms below it; docs/ARCHITECTURE.md):
`errors`, `types`, `settings`; `database` (where the bot's and the feeds' state lives: SQLite
or PostgreSQL, and the writer lock); `ingest/`, `storage/`, `models/`; `answer/`,
`building/`; `cli/`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from index.database import (
    Database,
    Migration,
    PostgresDatabase,
    SQLiteDatabase,
    StateUnavailable,
    Tx,
    state_database,
)
from index.errors import (
    ArticleRejected,
    BuildInProgress,
    DateNotUnderstood,
    IndexDamaged,
    IndexError_,
    IndexNotFound,
    IndexUnreachable,
    NothingToIndex,
)
from index.settings import IndexSettings, SettingsError, index_settings
from index.storage.versions import current_version_name
from index.types import (
    SHARED,
    Answer,
    ArticleInfo,
    BuildProgress,
    BuildReport,
    Citation,
    SkippedFile,
    Source,
    Timeline,
    TimeRange,
)

if TYPE_CHECKING:
    from index.answer.engine import Index
    from index.building.builder import add_article, build
    from index.building.update import UpdateReport, update_feeds
    from index.ingest.feeds import (
        Feed,
        FeedError,
        NewArticle,
        add_feed,
        has_feeds,
        list_feeds,
        remove_feed,
    )
    from index.ingest.fetch import FetchRefused, fetch_article, with_source_url

#: where each lazily imported name lives (its room is imported on first use)
_LAZY = {
    "Index": "index.answer.engine",
    "build": "index.building.builder", "add_article": "index.building.builder",
    "UpdateReport": "index.building.update", "update_feeds": "index.building.update",
    **{name: "index.ingest.feeds" for name in ("Feed", "FeedError", "NewArticle", "add_feed",
                                                "has_feeds", "list_feeds", "remove_feed")},
    **{name: "index.ingest.fetch" for name in ("FetchRefused", "fetch_article",
                                                "with_source_url")},
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = [
    "SHARED", "Answer", "ArticleInfo", "ArticleRejected", "BuildInProgress", "BuildProgress",
    "DateNotUnderstood", "TimeRange", "Timeline",
    "BuildReport", "Citation", "Index", "IndexDamaged", "IndexError_", "IndexNotFound",
    "IndexUnreachable", "IndexSettings", "NothingToIndex", "SettingsError", "SkippedFile",
    "Source", "add_article",
    "build", "current_version_name", "index_settings",
    "Feed", "FeedError", "FetchRefused", "NewArticle", "UpdateReport", "add_feed",
    "fetch_article", "has_feeds", "list_feeds", "remove_feed", "update_feeds", "with_source_url",
    "Database", "Migration", "PostgresDatabase", "SQLiteDatabase", "StateUnavailable", "Tx",
    "state_database",
]
