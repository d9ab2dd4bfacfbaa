"""Checking a feed: one conditional GET, the entries parsed (feedparser), each new or changed
entry's page fetched under the fetch caps and its text extracted (falling back to the text the
feed carries), and its article file written through the feed store.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.ingest import segment
from index.ingest.feeds.store import (
    SHARED_DIR,
    Feed,
    FeedStore,
    Page,
    feeds_dir,
    write_article,
)
from index.ingest.fetch import FetchRefused, IPAddress, fetch_article, fetch_feed
from index.ingest.sources import (
    Article,
    Unreadable,
    normalize_text,
    parse_html,
    parse_text,
    slug,
    suffix_of,
)
from index.settings import IndexSettings

log = logging.getLogger(__name__)

#: feeds checked at once, and entry pages fetched at once
FEED_CONCURRENCY = 4
PAGE_CONCURRENCY = 4

AddressPolicy = Callable[[IPAddress], bool]


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




async def check_all(settings: IndexSettings, store: FeedStore, feeds: list[Feed],
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
        await asyncio.to_thread(write_article, feeds_dir(self.settings) / file, page)
        self.store.record(feed.url, key, file, signature, text_hash, page.url, page.title,
                          page.published, changed=True)
        if known is None:
            tally.new += 1
        else:
            tally.updated += 1

    async def _page(self, entry: Any, title: str, link: str | None,
                    carried: str | None) -> Page:
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
                return Page(article.text, title or article.title,
                             article.url or fetched.url, published or article.published,
                             article.author or author)
            except (FetchRefused, Unreadable) as exc:
                why = str(exc)
        if carried:
            text = await asyncio.to_thread(_html_text, carried)
            if text and segment.sentences(text):
                return Page(text, title or _first_words(text), link, published, author)
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


