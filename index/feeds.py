"""Following RSS and Atom feeds: new entries become indexed articles without anyone adding them.

    <data_dir>/feeds.sqlite3        the feeds, their HTTP validators (ETag, Last-Modified),
                                    last check / success / error, and every entry seen
                                    (guid or link -> article file)
    <data_dir>/feeds/<collection>/  one article file per entry (front matter: title, url,
                                    published, author), which `build` reads like any source

`update(settings)` checks every feed once (conditional GET), fetches the page of each new or
changed entry under the fetch caps (falling back to the text the feed carries), writes its
article atomically, and runs the ordinary incremental build: unchanged articles keep their
embeddings, and a changed entry's old sentences leave in the same version switch.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import hashlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index import segment
from index.errors import BuildInProgress, IndexError_
from index.fetch import FetchRefused, IPAddress, fetch_article, fetch_feed
from index.settings import IndexSettings
from index.sources import (
    Article,
    Unreadable,
    normalize_text,
    parse_html,
    parse_text,
    slug,
    suffix_of,
)
from index.types import SHARED, BuildReport

log = logging.getLogger(__name__)

FEEDS_DB = "feeds.sqlite3"
FEEDS_DIR = "feeds"
SHARED_DIR = "_shared"
#: feeds checked at once, and entry pages fetched at once
FEED_CONCURRENCY = 4
PAGE_CONCURRENCY = 4
COLLECTION_NAME = re.compile(r"[0-9A-Za-z_-]{1,40}")

AddressPolicy = Callable[[IPAddress], bool]


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


@dataclass(frozen=True)
class FeedReport:
    """What one check of one feed did."""

    url: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped_old: int = 0
    skipped_cap: int = 0
    dropped: int = 0
    """Stored articles removed because newer ones exceed `feed_max_articles`."""
    failed: tuple[str, ...] = ()
    """One reason per entry that could not be indexed (it is tried again next time)."""
    error: str | None = None
    """Why the feed itself could not be read (nothing of it changed)."""
    not_modified: bool = False
    note: str | None = None

    def line(self) -> str:
        """One line for the update report."""
        if self.error:
            return f"{self.url}: failed — {self.error}"
        if self.not_modified:
            return f"{self.url}: not modified since the last check"
        parts = [f"{self.new} new", f"{self.updated} updated", f"{self.unchanged} unchanged",
                 f"{len(self.failed)} failed"]
        if self.duplicates:
            parts.append(f"{self.duplicates} already indexed from another entry")
        if self.skipped_old:
            parts.append(f"{self.skipped_old} older than feed_max_age_days skipped")
        if self.skipped_cap:
            parts.append(f"{self.skipped_cap} beyond feed_max_articles skipped")
        if self.dropped:
            parts.append(f"{self.dropped} oldest dropped (feed_max_articles)")
        text = f"{self.url}: " + ", ".join(parts)
        if self.note:
            text += f" ({self.note})"
        return text + "".join(f"\n    failed: {reason}" for reason in self.failed[:20]) + (
            f"\n    …and {len(self.failed) - 20} more" if len(self.failed) > 20 else "")


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
    return _followed(settings, FeedStore(settings.data_dir))


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


def _followed(settings: IndexSettings, store: FeedStore) -> list[Feed]:
    """The feeds of the setting (recorded on first sight) and those added at run time; a
    feed since taken out of the setting is no longer followed (its articles stay)."""
    configured = {url.strip() for url in settings.feeds}
    for url in sorted(configured):
        store.add(url, SHARED, configured=True)
    return [f for f in store.feeds() if not f.configured or f.url in configured]


# --- update ----------------------------------------------------------------------------------

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


def update(settings: IndexSettings, *, address_allowed: AddressPolicy | None = None,
           index: bool = True) -> UpdateReport:
    """Check every feed once and index what is new or changed (blocking; runs its own event
    loop, so call it from a worker thread in async code).

    A feed that fails is reported and left as it was; the update still indexes the others.
    Raises UpdateInProgress when another update runs, FeedError when no feed is followed.
    """
    started = time.perf_counter()
    with update_lock(settings.data_dir):
        store = FeedStore(settings.data_dir)
        feeds = _followed(settings, store)
        if not feeds and not store.needs_build():
            raise FeedError("no feeds are followed; add one with `citebot-index feed add URL` "
                            "or the `feeds` setting")
        reports = asyncio.run(_check_all(settings, store, feeds, address_allowed))
        built: BuildReport | None = None
        problem: str | None = None
        indexed: list[NewArticle] = []
        if index and store.needs_build():
            from index.builder import build

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


async def _check_all(settings: IndexSettings, store: FeedStore, feeds: list[Feed],
                     allowed: AddressPolicy | None) -> list[FeedReport]:
    feed_slots = asyncio.Semaphore(FEED_CONCURRENCY)
    checker = _Checker(settings, store, allowed, asyncio.Semaphore(PAGE_CONCURRENCY))

    async def one(feed: Feed) -> FeedReport:
        async with feed_slots:
            try:
                return await checker.check(feed)
            except Exception as exc:  # a bug must not cost the other feeds their update
                log.exception("checking %s failed", feed.url)
                report = FeedReport(feed.url, error=f"internal error ({type(exc).__name__}); "
                                                    "see the log")
                store.checked(feed.url, report.error, success=False)
                return report

    return list(await asyncio.gather(*(one(f) for f in feeds)))


@dataclass
class _Tally:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Page:
    """An entry's article: text and what is known about it."""

    text: str
    title: str
    url: str | None
    published: str | None
    author: str | None


class _Checker:
    def __init__(self, settings: IndexSettings, store: FeedStore,
                 allowed: AddressPolicy | None, page_slots: asyncio.Semaphore) -> None:
        self.settings = settings
        self.store = store
        self.allowed = allowed
        self.page_slots = page_slots
        self.max_bytes = int(settings.fetch_max_mb * 1_000_000)

    async def check(self, feed: Feed) -> FeedReport:
        import feedparser

        row = self.store.feed_row(feed.url)
        etag, modified = (row[2], row[3]) if row else (None, None)
        try:
            fetched = await fetch_feed(
                feed.url, allow_private=self.settings.fetch_allow_private,
                max_bytes=self.max_bytes, timeout=self.settings.fetch_timeout,
                address_allowed=self.allowed, etag=etag, last_modified=modified)
        except FetchRefused as exc:
            self.store.checked(feed.url, str(exc), success=False)
            return FeedReport(feed.url, error=str(exc))
        if fetched.not_modified:
            self.store.checked(feed.url, None, success=True)
            return FeedReport(feed.url, not_modified=True)
        parsed = await asyncio.to_thread(
            feedparser.parse, fetched.data,
            response_headers={"content-type": fetched.content_type,
                              "content-location": fetched.url})
        entries = [e for e in parsed.entries if _entry_link(e) or _entry_text(e)]
        problem = _not_a_feed(parsed, fetched.content_type, bool(entries))
        if problem is not None and "web page" in problem:
            named = _feed_link(fetched.data, fetched.url)
            if named:
                problem += f"; the page names a feed: {named}"
        if problem is not None:
            self.store.checked(feed.url, problem, success=False)
            return FeedReport(feed.url, error=problem)
        note = None
        if parsed.get("bozo") and parsed.get("bozo_exception") is not None and _is_xml_error(
                parsed.bozo_exception):
            note = f"malformed XML ({_short(parsed.bozo_exception)}), read leniently"

        chosen, too_old, over_cap = self._select(parsed.entries)
        tally = _Tally()
        await asyncio.gather(*(self._entry(feed, e, tally) for e in chosen))
        dropped = self._enforce_cap(feed)
        failed = tuple(tally.failed)
        error = (f"{len(failed)} entries failed, e.g. {failed[0]}" if failed else None)
        # with failures, forget the validators so the next check reads the whole feed again
        self.store.checked(feed.url, error, success=True,
                           validators=(None, None) if failed else (fetched.etag,
                                                                   fetched.last_modified))
        return FeedReport(feed.url, tally.new, tally.updated, tally.unchanged, tally.duplicates,
                          too_old, over_cap, dropped, failed, note=note)

    def _select(self, entries: list[Any]) -> tuple[list[Any], int, int]:
        """The newest `feed_max_articles` entries not older than `feed_max_age_days`."""
        settings = self.settings
        stamped = [(_entry_time(e), i, e) for i, e in enumerate(entries)]
        too_old = 0
        if settings.feed_max_age_days > 0:
            cutoff = time.time() - settings.feed_max_age_days * 86400
            kept = [s for s in stamped if s[0] is None or s[0] >= cutoff]
            too_old = len(stamped) - len(kept)
            stamped = kept
        if stamped and all(s[0] is not None for s in stamped):
            stamped.sort(key=lambda s: (-(s[0] or 0.0), s[1]))
        cap = max(0, settings.feed_max_articles)
        return [s[2] for s in stamped[:cap]], too_old, max(0, len(stamped) - cap)

    async def _entry(self, feed: Feed, entry: Any, tally: _Tally) -> None:
        title = _clean(entry.get("title")) or ""
        link = _entry_link(entry)
        carried = _entry_text(entry)
        name = title or link or "(untitled entry)"
        if not link and not carried:
            tally.failed.append(f"entry {name[:80]!r} has neither a link nor any text")
            return
        key = _clean(entry.get("id")) or link or "text:" + _hash(carried or "")[:24]
        signature = _hash("\0".join(str(x) for x in (
            dict.get(entry, "updated", ""), title, link, carried or "", entry.get("summary", ""))))
        known = self.store.entry(feed.url, key)
        if (known is not None and known.signature == signature
                and (feeds_dir(self.settings) / known.file).is_file()):
            tally.unchanged += 1
            return
        try:
            page = await self._page(entry, title, link, carried)
        except Unreadable as exc:
            tally.failed.append(f"entry {name[:80]!r}: {exc}")
            return
        text_hash = _hash(page.text)
        if (known is not None and known.text_hash == text_hash
                and (feeds_dir(self.settings) / known.file).is_file()):
            self.store.touch(feed.url, key, signature)
            tally.unchanged += 1
            return
        twin = self.store.duplicate_of(feed.collection, page.url, text_hash, feed.url, key)
        if twin is not None and (feeds_dir(self.settings) / twin.file).is_file() and (
                known is None or known.file == twin.file):
            self.store.record(feed.url, key, twin.file, signature, text_hash, page.url,
                              page.title, page.published, changed=False, indexed=True)
            tally.duplicates += 1
            return
        file = known.file if known is not None else self._file_name(feed, key, page.title)
        await asyncio.to_thread(_write_article, feeds_dir(self.settings) / file, page)
        self.store.record(feed.url, key, file, signature, text_hash, page.url, page.title,
                          page.published, changed=True)
        if known is None:
            tally.new += 1
        else:
            tally.updated += 1

    async def _page(self, entry: Any, title: str, link: str | None,
                    carried: str | None) -> _Page:
        """The entry's article: its page's main text, else the text the feed carries."""
        published = _entry_date(entry)
        author = _clean(entry.get("author")) or None
        why = ""
        if link:
            try:
                async with self.page_slots:
                    fetched = await fetch_article(
                        link, allow_private=self.settings.fetch_allow_private,
                        max_bytes=self.max_bytes, timeout=self.settings.fetch_timeout,
                        address_allowed=self.allowed)
                article = await asyncio.to_thread(_parse_page, fetched.filename, fetched.data)
                return _Page(article.text, title or article.title,
                             article.url or fetched.url, published or article.published,
                             article.author or author)
            except (FetchRefused, Unreadable) as exc:
                why = str(exc)
        if carried:
            text = await asyncio.to_thread(_html_text, carried)
            if text and segment.sentences(text):
                return _Page(text, title or _first_words(text), link, published, author)
            raise Unreadable(f"{why + '; ' if why else ''}the text in the feed has no sentences")
        raise Unreadable(f"{why}, and the feed carries no text of it")

    def _file_name(self, feed: Feed, key: str, title: str) -> str:
        stem = slug(title)[:60]
        digest = _hash(f"{feed.collection}\0{key}")[:10]
        return f"{feed.collection or SHARED_DIR}/{stem}-{digest}.txt"

    def _enforce_cap(self, feed: Feed) -> int:
        """Drop the feed's oldest stored articles beyond `feed_max_articles`."""
        doomed = self.store.oldest_beyond(feed.url, max(0, self.settings.feed_max_articles))
        if not doomed:
            return 0
        for name in self.store.forget(feed.url, [k for k, _ in doomed]):
            (feeds_dir(self.settings) / name).unlink(missing_ok=True)
        self.store.mark_dirty()
        return len(doomed)


# --- reading entries ------------------------------------------------------------------------

def _not_a_feed(parsed: Any, content_type: str, usable: bool) -> str | None:
    """Why a downloaded document is not a usable feed, or None."""
    if parsed.get("version") and usable:
        return None
    exc = parsed.get("bozo_exception")
    if content_type in ("text/html", "application/xhtml+xml") and not parsed.get("version"):
        return "the URL serves a web page (HTML), not an RSS or Atom feed"
    if parsed.get("version"):
        if exc is not None and _is_xml_error(exc):
            return f"malformed XML ({_short(exc)}); no entry could be read"
        if not parsed.entries:
            return None  # an empty feed is a feed
        return "no entry of the feed has a link or any text"
    if exc is not None and _is_xml_error(exc):
        return f"not an RSS or Atom feed: malformed XML ({_short(exc)})"
    return "not an RSS or Atom feed"


def _feed_link(html: bytes, base: str) -> str | None:
    """The feed a web page advertises (`<link rel="alternate" type="application/rss+xml">`)."""
    from urllib.parse import urljoin

    text = html[:200_000].decode("utf-8", "replace")
    for tag in re.findall(r"<link\b[^>]*>", text, re.IGNORECASE):
        if (re.search(r"rel=[\"']?alternate", tag, re.IGNORECASE)
                and re.search(r"type=[\"']?application/(rss|atom)\+xml", tag, re.IGNORECASE)):
            href = re.search(r"href=[\"']([^\"']+)", tag, re.IGNORECASE)
            if href:
                return urljoin(base, href.group(1))
    return None


def _is_xml_error(exc: BaseException) -> bool:
    import xml.sax

    return isinstance(exc, xml.sax.SAXException)


def _short(exc: BaseException) -> str:
    text = str(exc)
    where = re.match(r"<unknown>:(\d+):(\d+): (.*)", text)
    if where:
        text = f"line {where[1]}, column {where[2]}: {where[3]}"
    return text[:120]


def _entry_link(entry: Any) -> str | None:
    link = _clean(entry.get("link"))
    if link and link.startswith(("http://", "https://")):
        return link
    return None


def _entry_text(entry: Any) -> str | None:
    """The full text the entry carries (`content:encoded`, Atom `content`), if any."""
    parts = [c.get("value", "") for c in entry.get("content") or [] if c.get("value")]
    text = "\n".join(parts).strip()
    return text or None


# dict.get: feedparser's own get() warns when "updated" is missing
def _entry_time(entry: Any) -> float | None:
    stamp = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    return float(calendar.timegm(stamp)) if stamp else None


def _entry_date(entry: Any) -> str | None:
    stamp = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    return time.strftime("%Y-%m-%d", stamp) if stamp else None


def _clean(value: Any) -> str:
    return " ".join(str(value).split()) if value else ""


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _first_words(text: str) -> str:
    words = text.split()
    return " ".join(words[:10]) + ("…" if len(words) > 10 else "")


def _parse_page(filename: str, data: bytes) -> Article:
    kind = suffix_of(Path(filename))
    article = (parse_html if kind in {".html", ".htm"} else parse_text)(Path(filename), data)
    if not segment.sentences(article.text):
        raise Unreadable("no sentences found on the page")
    return article


BLOCKS = ("p", "li", "blockquote", "h2", "h3", "h4", "h5", "h6", "pre")


def _html_text(fragment: str) -> str:
    """Plain paragraphs from the HTML (or plain text) a feed carries."""
    import lxml.html

    if "<" not in fragment:
        return normalize_text(fragment)
    try:
        root = lxml.html.fromstring(f"<div>{fragment}</div>")
    except (ValueError, lxml.etree.ParserError):
        return ""
    for bad in root.xpath("//script|//style|//iframe|//noscript"):
        bad.drop_tree()
    blocks = [" ".join(el.text_content().split()) for el in root.iter(*BLOCKS)
              if not any(a.tag in BLOCKS for a in el.iterancestors())]
    blocks = [b for b in blocks if b]
    if not blocks:
        blocks = [" ".join(line.split()) for line in root.text_content().splitlines()]
    return "\n\n".join(b for b in blocks if b)


def _front_value(value: str | None) -> str:
    return " ".join((value or "").split())


def _write_article(path: Path, page: _Page) -> None:
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


#: the name `index` exports it under
update_feeds = update

__all__ = ["Feed", "FeedError", "FeedReport", "FeedStore", "NewArticle", "UpdateInProgress",
           "UpdateReport", "add_feed", "list_feeds", "remove_feed", "update", "update_feeds"]
