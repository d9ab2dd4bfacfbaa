"""The feeds' state: which feeds are followed, their HTTP validators, every entry seen, and
the article file each entry became.

    <data_dir>/feeds.sqlite3        the feeds, their HTTP validators (ETag, Last-Modified),
                                    last check / success / error, and every entry seen
                                    (guid or link -> article file)
    <data_dir>/feeds/<collection>/  one article file per entry (front matter: title, url,
                                    published, author), which `build` reads like any source
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from index.errors import IndexError_
from index.settings import IndexSettings
from index.types import SHARED

FEEDS_DB = "feeds.sqlite3"
FEEDS_DIR = "feeds"
SHARED_DIR = "_shared"
COLLECTION_NAME = re.compile(r"[0-9A-Za-z_-]{1,40}")


class FeedError(IndexError_):
    """A feed command cannot be done (bad URL, unknown feed...); the message says why."""


class UpdateInProgress(IndexError_):
    """Another feed update holds the lock."""


# --- records ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Feed:
    """One followed feed and its state, as `feed list` shows it."""

    url: str
    collection: str
    configured: bool
    """True when it comes from the `feeds` setting (not removable at run time)."""
    articles: int
    last_check: str | None
    last_success: str | None
    last_error: str | None


@dataclass(frozen=True)
class NewArticle:
    """An article that became answerable through a feed."""

    title: str
    url: str | None
    collection: str
    feed: str
    published: str | None = None



# --- where feeds and their articles live ---------------------------------------------------

def feeds_dir(settings: IndexSettings) -> Path:
    return settings.data_dir / FEEDS_DIR


def collection_dir(settings: IndexSettings, collection: str) -> Path:
    return feeds_dir(settings) / (collection or SHARED_DIR)


def check_url(url: str) -> str:
    """`url` trimmed, if it is an http(s) URL with a host; else FeedError."""
    from yarl import URL

    url = url.strip()
    try:
        parsed = URL(url)
    except ValueError as exc:
        raise FeedError(f"{url!r} is not a usable URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FeedError(f"{url!r} is not an http:// or https:// URL")
    return url


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    configured INTEGER NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_check TEXT,
    last_success TEXT,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS entries (
    feed TEXT NOT NULL,
    key TEXT NOT NULL,
    file TEXT NOT NULL,          -- relative to <data_dir>/feeds
    signature TEXT NOT NULL,     -- what the feed said about the entry
    text_hash TEXT NOT NULL,
    url TEXT,
    title TEXT NOT NULL,
    published TEXT,
    seen_at TEXT NOT NULL,
    indexed INTEGER NOT NULL DEFAULT 0,
    is_new INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (feed, key)
);
CREATE INDEX IF NOT EXISTS entries_file ON entries (file);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class _Entry:
    feed: str
    key: str
    file: str
    signature: str
    text_hash: str
    url: str | None


class FeedStore:
    """The feeds' SQLite state. Each call opens its own connection (any thread may call)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FEEDS_DB
        data_dir.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as db, db:
            yield db

    # feeds
    def add(self, url: str, collection: str, configured: bool = False) -> bool:
        """Follow `url` (feeding `collection`); False if it was already followed."""
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO feeds (url, collection, configured, added_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (url) DO NOTHING", (url, collection, int(configured), _now()))
            return cursor.rowcount > 0

    def feed_row(self, url: str) -> tuple[str, bool, str | None, str | None] | None:
        """(collection, configured, etag, last_modified) of a followed feed."""
        with self._db() as db:
            row = db.execute("SELECT collection, configured, etag, last_modified FROM feeds"
                             " WHERE url = ?", (url,)).fetchone()
        return None if row is None else (row[0], bool(row[1]), row[2], row[3])

    def feeds(self) -> list[Feed]:
        with self._db() as db:
            rows = db.execute(
                "SELECT f.url, f.collection, f.configured, COUNT(DISTINCT e.file),"
                " f.last_check, f.last_success, f.last_error FROM feeds f"
                " LEFT JOIN entries e ON e.feed = f.url GROUP BY f.url ORDER BY f.added_at, f.url"
            ).fetchall()
        return [Feed(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def remove(self, url: str) -> list[str]:
        """Stop following `url`; returns the files only its entries referred to."""
        with self._db() as db:
            files = [r[0] for r in db.execute(
                "SELECT DISTINCT file FROM entries WHERE feed = ? AND file NOT IN"
                " (SELECT file FROM entries WHERE feed != ?)", (url, url))]
            db.execute("DELETE FROM entries WHERE feed = ?", (url,))
            db.execute("DELETE FROM feeds WHERE url = ?", (url,))
        return files

    def checked(self, url: str, error: str | None, *, success: bool,
                validators: tuple[str | None, str | None] | None = None) -> None:
        """Record a check; `validators` (ETag, Last-Modified) replace the stored ones if given."""
        now = _now()
        with self._db() as db:
            db.execute("UPDATE feeds SET last_check = ?, last_error = ? WHERE url = ?",
                       (now, error, url))
            if success:
                db.execute("UPDATE feeds SET last_success = ? WHERE url = ?", (now, url))
            if validators is not None:
                db.execute("UPDATE feeds SET etag = ?, last_modified = ? WHERE url = ?",
                           (*validators, url))

    # entries
    def entry(self, feed: str, key: str) -> _Entry | None:
        with self._db() as db:
            row = db.execute("SELECT feed, key, file, signature, text_hash, url FROM entries"
                             " WHERE feed = ? AND key = ?", (feed, key)).fetchone()
        return None if row is None else _Entry(*row)

    def duplicate_of(self, collection: str, url: str | None, text_hash: str,
                     feed: str, key: str) -> _Entry | None:
        """Another entry of the same collection with the same article URL or the same text."""
        with self._db() as db:
            row = db.execute(
                "SELECT e.feed, e.key, e.file, e.signature, e.text_hash, e.url FROM entries e"
                " JOIN feeds f ON f.url = e.feed WHERE f.collection = ?"
                " AND NOT (e.feed = ? AND e.key = ?) AND (e.text_hash = ? OR e.url = ?)"
                " LIMIT 1", (collection, feed, key, text_hash, url or "\0")).fetchone()
        return None if row is None else _Entry(*row)

    def record(self, feed: str, key: str, file: str, signature: str, text_hash: str,
               url: str | None, title: str, published: str | None, *, changed: bool,
               indexed: bool = False) -> None:
        """Store an entry; `changed` means its article file was (re)written."""
        with self._db() as db:
            db.execute(
                "INSERT INTO entries (feed, key, file, signature, text_hash, url, title,"
                " published, seen_at, indexed, is_new) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (feed, key) DO UPDATE SET file = excluded.file,"
                " signature = excluded.signature, text_hash = excluded.text_hash,"
                " url = excluded.url, title = excluded.title, published = excluded.published,"
                " indexed = CASE WHEN ? THEN 0 ELSE entries.indexed END",
                (feed, key, file, signature, text_hash, url, title, published, _now(),
                 int(indexed), int(not indexed), int(changed)))

    def touch(self, feed: str, key: str, signature: str) -> None:
        with self._db() as db:
            db.execute("UPDATE entries SET signature = ? WHERE feed = ? AND key = ?",
                       (signature, feed, key))

    def oldest_beyond(self, feed: str, keep: int) -> list[tuple[str, str]]:
        """(key, file) of the feed's entries beyond the newest `keep` (by date, then seen)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT key, file FROM entries WHERE feed = ? ORDER BY"
                " COALESCE(published, '') DESC, seen_at DESC, rowid DESC LIMIT -1 OFFSET ?",
                (feed, keep)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def forget(self, feed: str, keys: list[str]) -> list[str]:
        """Drop entries; returns their files that no other entry refers to."""
        with self._db() as db:
            files = {r[0] for key in keys for r in db.execute(
                "SELECT file FROM entries WHERE feed = ? AND key = ?", (feed, key))}
            db.executemany("DELETE FROM entries WHERE feed = ? AND key = ?",
                           [(feed, k) for k in keys])
            still = {r[0] for r in db.execute(
                f"SELECT file FROM entries WHERE file IN ({','.join('?' * len(files))})",
                tuple(files))} if files else set()
        return sorted(files - still)

    # indexing state
    def needs_build(self) -> bool:
        with self._db() as db:
            pending = db.execute("SELECT 1 FROM entries WHERE indexed = 0 LIMIT 1").fetchone()
            dirty = db.execute("SELECT 1 FROM meta WHERE key = 'dirty'").fetchone()
        return pending is not None or dirty is not None

    def mark_dirty(self) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('dirty', '1')")

    def mark_indexed(self) -> list[NewArticle]:
        """Everything written so far is in the index now; returns the new articles."""
        with self._db() as db:
            rows = db.execute(
                "SELECT MIN(e.title), MIN(e.url), f.collection, MIN(e.feed), MIN(e.published)"
                " FROM entries e JOIN feeds f ON f.url = e.feed"
                " WHERE e.indexed = 0 AND e.is_new = 1 GROUP BY e.file, f.collection"
                " ORDER BY MIN(e.published) DESC, MIN(e.rowid)").fetchall()
            db.execute("UPDATE entries SET indexed = 1, is_new = 0 WHERE indexed = 0")
            db.execute("DELETE FROM meta WHERE key = 'dirty'")
        return [NewArticle(*r) for r in rows]


# --- feed commands ---------------------------------------------------------------------------

def add_feed(settings: IndexSettings, url: str, collection: str = SHARED) -> bool:
    """Follow the feed at `url`; its articles go to `collection`. False if already followed."""
    url = check_url(url)
    if collection and not COLLECTION_NAME.fullmatch(collection):
        raise FeedError(f"bad collection name {collection!r} (letters, digits, - and _)")
    store = FeedStore(settings.data_dir)
    existing = store.feed_row(url)
    if existing is not None and existing[0] != collection:
        raise FeedError(f"{url} is already followed for collection {existing[0]!r}")
    return store.add(url, collection)


def has_feeds(settings: IndexSettings) -> bool:
    """Whether any feed may be followed (cheap; writes nothing)."""
    return bool(settings.feeds) or (settings.data_dir / FEEDS_DB).is_file()


def list_feeds(settings: IndexSettings) -> list[Feed]:
    """Every followed feed (the `feeds` setting's and those added at run time)."""
    return followed(settings, FeedStore(settings.data_dir))


def remove_feed(settings: IndexSettings, url: str, drop_articles: bool = False) -> int:
    """Stop following `url`. With `drop_articles`, delete its articles (they leave the index
    at the next build); returns how many were deleted. FeedError if it is not followed."""
    url = url.strip()
    if url in {u.strip() for u in settings.feeds}:
        raise FeedError(f"{url} is in the `feeds` setting (CITEBOT_FEEDS / citebot.toml); "
                        "remove it there")
    store = FeedStore(settings.data_dir)
    if store.feed_row(url) is None:
        raise FeedError(f"{url} is not followed (see `citebot-index feed list`)")
    # a running update must not write entries of a feed that is gone
    with update_lock(settings.data_dir, wait=REMOVE_WAIT_SECONDS):
        files = store.remove(url)
        if not drop_articles:
            return 0
        for name in files:
            (feeds_dir(settings) / name).unlink(missing_ok=True)
        store.mark_dirty()
    return len(files)


def followed(settings: IndexSettings, store: FeedStore) -> list[Feed]:
    """The feeds of the setting (recorded on first sight) and those added at run time; a
    feed since taken out of the setting is no longer followed (its articles stay)."""
    configured = {url.strip() for url in settings.feeds}
    for url in sorted(configured):
        store.add(url, SHARED, configured=True)
    return [f for f in store.feeds() if not f.configured or f.url in configured]


# --- the update lock ------------------------------------------------------------------------


#: how long `remove_feed` waits for a running update to finish
REMOVE_WAIT_SECONDS = 60.0


@contextmanager
def update_lock(data_dir: Path, wait: float = 0.0) -> Iterator[None]:
    from filelock import FileLock, Timeout

    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / "feeds.lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise UpdateInProgress(f"a feed update of {data_dir} is already running; "
                               "try again when it has finished") from None
    try:
        yield
    finally:
        lock.release()



# --- article files --------------------------------------------------------------------------

@dataclass(frozen=True)
class Page:
    """An entry's article: text and what is known about it."""

    text: str
    title: str
    url: str | None
    published: str | None
    author: str | None



def _front_value(value: str | None) -> str:
    return " ".join((value or "").split())


def write_article(path: Path, page: Page) -> None:
    """The article as a text file with front matter, written atomically."""
    lines = ["---", f"title: {_front_value(page.title)}"]
    for key, value in (("url", page.url), ("published", page.published),
                       ("author", page.author)):
        if value and _front_value(value):
            lines.append(f"{key}: {_front_value(value)}")
    lines += ["---", page.text.strip(), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)

