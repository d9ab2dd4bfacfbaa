"""Following RSS and Atom feeds: `store` keeps which feeds are followed, their validators and
the article file of every entry; `check` reads a feed and writes its new or changed articles.

The update that checks every feed and then builds is `index.building.update`.
"""

from index.ingest.feeds.store import (
    Feed,
    FeedError,
    FeedStore,
    NewArticle,
    UpdateInProgress,
    add_feed,
    feeds_dir,
    has_feeds,
    list_feeds,
    remove_feed,
)

__all__ = ["Feed", "FeedError", "FeedStore", "NewArticle", "UpdateInProgress", "add_feed",
           "feeds_dir", "has_feeds", "list_feeds", "remove_feed"]
