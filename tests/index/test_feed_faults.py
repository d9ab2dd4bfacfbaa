"""Feeds that fail, and entries that cannot be read: each gives a clear line in the report
and in `feed list`, nothing already indexed is lost, and the next check recovers once the
server does. Everything is served from 127.0.0.1 by a real HTTP server."""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from index import Index, IndexSettings
from index.building.update import UpdateReport, update
from index.ingest.feeds import add_feed, list_feeds, remove_feed
from index.ingest.feeds.check import FeedReport
from index.storage import versions
from tests.feed_site import (
    Entry,
    FeedSite,
    Response,
    endless,
    no_answer,
    page_html,
    redirect,
    slow_body,
)
from tests.index.test_feeds import FERRY, HARBOUR

pytestmark = pytest.mark.slow

TIMEOUT = 0.5
HARBOUR_Q = "When did the council approve the harbour wall?"
FERRY_Q = "How often will the ferry sail in winter?"


def only_127_0_0_1(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """127.0.0.1 (the test site) counts as public; every other address, 127.0.0.2 included,
    as private."""
    return str(ip) == "127.0.0.1"


@pytest.fixture(scope="module")
def site() -> Iterator[FeedSite]:
    server = FeedSite()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def base(site: FeedSite, tmp_path_factory: pytest.TempPathFactory) -> IndexSettings:
    """A data dir following one good feed whose article (the harbour wall) is indexed."""
    settings = IndexSettings(data_dir=tmp_path_factory.mktemp("feeds") / "data", sources=(),
                             fetch_allow_private=True, fetch_timeout=TIMEOUT,
                             fetch_max_mb=0.5)
    add_feed(settings, site.set_feed("/feed.xml", [HARBOUR]))
    assert update(settings, address_allowed=only_127_0_0_1).feeds[0].new == 1
    return settings


@pytest.fixture
def settings(base: IndexSettings, tmp_path: Path) -> IndexSettings:
    """A private copy of `base`."""
    shutil.copytree(base.data_dir, tmp_path / "data")
    return replace(base, data_dir=tmp_path / "data")


def run(settings: IndexSettings) -> UpdateReport:
    return update(settings, address_allowed=only_127_0_0_1)


def line_of(report: UpdateReport, url: str) -> FeedReport:
    return next(r for r in report.feeds if r.url == url)


def last_error(settings: IndexSettings, url: str) -> str | None:
    return next(f.last_error for f in list_feeds(settings) if f.url == url)


def top_text(settings: IndexSettings, question: str) -> str:
    answer = Index.open(settings).answer(question)
    return answer.citations[0].text if answer.citations else ""


FEED_FAULTS = {
    "http-500": (Response(b"oops", "text/plain", 500), "the server answered HTTP 500"),
    "http-404": (Response(b"gone", "text/plain", 404), "the server answered HTTP 404"),
    "http-410": (Response(b"gone", "text/plain", 410), "the server answered HTTP 410"),
    "no-answer": (no_answer(3), f"the feed took longer than {TIMEOUT:g} s to download"),
    "one-byte-a-second": (slow_body(1.0), f"the feed took longer than {TIMEOUT:g} s"),
    "malformed-xml": (Response(b"<rss><channel><item><title>Broken", "application/rss+xml"),
                      "malformed XML (line 2, column 33: no element found); "
                      "no entry could be read"),
    "html-page": (Response(page_html(HARBOUR)),
                  "the URL serves a web page (HTML), not an RSS or Atom feed"),
    "binary": (Response(b"\x89PNG\r\n\x1a\n\0\0\0", "image/png"),
               "that is not a feed (image/png)"),
}


@pytest.mark.parametrize("fault", FEED_FAULTS)
def test_a_failing_feed_is_reported_loses_nothing_and_recovers(
        fault: str, site: FeedSite, settings: IndexSettings) -> None:
    handler, expected = FEED_FAULTS[fault]
    path = f"/{fault}.xml"
    site.routes[path] = handler
    url = site.url + path
    add_feed(settings, url)
    before = versions.current_version(settings.data_dir)

    report = run(settings)
    assert f"{url}: failed — {expected}" in line_of(report, url).line()
    assert expected in (last_error(settings, url) or "")
    assert line_of(report, site.url + "/feed.xml").not_modified  # the good feed is fine
    assert report.build is None and versions.current_version(settings.data_dir) == before

    site.set_feed(path, [FERRY])
    recovered = run(settings)
    assert line_of(recovered, url).new == 1 and last_error(settings, url) is None
    assert "ferry will sail twice a day" in top_text(settings, FERRY_Q)
    assert "approved the new harbour wall" in top_text(settings, HARBOUR_Q)


def test_a_web_page_that_names_its_feed_says_which(site: FeedSite,
                                                   settings: IndexSettings) -> None:
    site.routes["/home"] = Response(b'<html><head><link rel="alternate" '
                                    b'type="application/rss+xml" href="/feed.xml"></head>'
                                    b"<body><p>Welcome.</p></body></html>")
    add_feed(settings, site.url + "/home")
    line = line_of(run(settings), site.url + "/home").line()
    assert f"not an RSS or Atom feed; the page names a feed: {site.url}/feed.xml" in line


def test_a_feed_that_refuses_connections_recovers_when_its_server_is_back(
        settings: IndexSettings) -> None:
    down = FeedSite()
    port = down.port
    url = down.set_feed("/feed.xml", [FERRY])
    down.stop()
    add_feed(settings, url)
    report = run(settings)
    assert "could not be downloaded (connection refused)" in line_of(report, url).line()
    assert "connection refused" in (last_error(settings, url) or "")

    back = FeedSite(port=port)
    try:
        back.set_feed("/feed.xml", [FERRY])
        assert line_of(run(settings), url).new == 1
        assert "ferry will sail twice a day" in top_text(settings, FERRY_Q)
        assert "approved the new harbour wall" in top_text(settings, HARBOUR_Q)
    finally:
        back.stop()


def test_a_feed_redirected_to_a_private_address_is_refused(site: FeedSite,
                                                           settings: IndexSettings) -> None:
    site.routes["/moved.xml"] = redirect(f"http://127.0.0.2:{site.port}/feed.xml")
    url = site.url + "/moved.xml"
    add_feed(settings, url)
    line = line_of(run(settings), url).line()
    assert "127.0.0.2 is a private or local address; such links are not fetched" in line


def test_entries_that_cannot_be_read_are_reported_and_retried(site: FeedSite,
                                                              settings: IndexSettings) -> None:
    huge = Entry("huge", "Huge page", ["A page far over the size cap."])
    huge_with_text = Entry("huge-with-text", "Lighthouse keepers return", [
        "The Skerryvore lighthouse will have resident keepers again from next spring."],
        content=True)
    binary = Entry("picture", "A picture", ["Only an image."])
    bare = Entry("bare", "Nothing to read", ["-"], link=False)
    private = Entry("private", "Inside job", ["Behind a redirect."])
    for e in (huge, huge_with_text):
        site.routes[f"/news/{e.slug}"] = endless("text/html", 50_000_000)
    site.routes["/news/picture"] = Response(b"\x89PNG\r\n\x1a\n" + bytes(500), "image/png")
    site.routes["/news/private"] = redirect(f"http://127.0.0.2:{site.port}/news/harbour-wall")
    url = site.set_feed("/mixed.xml", [huge, huge_with_text, binary, bare, private, FERRY])
    add_feed(settings, url)

    report = line_of(run(settings), url)
    text = report.line()
    assert (report.new, len(report.failed)) == (2, 4), text
    assert "'Huge page': the page is larger than 0.5 MB, and the feed carries no text" in text
    assert "'A picture': that is not a web page or text file (image/png)" in text
    assert "'Nothing to read' has neither a link nor any text" in text
    assert "'Inside job': 127.0.0.2 is a private or local address" in text
    assert "4 entries failed" in (last_error(settings, url) or "")
    # the page was too big, so the full text the feed carries was indexed instead
    assert "resident keepers again" in top_text(
        settings, "When will the Skerryvore lighthouse have keepers again?")
    assert "approved the new harbour wall" in top_text(settings, HARBOUR_Q)

    del site.routes["/news/huge"], site.routes["/news/picture"]
    again = line_of(run(settings), url)  # a failure forgets the ETag: the whole feed is read
    assert (again.new, again.unchanged, len(again.failed)) == (2, 2, 2), again.line()


def test_the_same_entry_in_two_feeds_is_indexed_once(site: FeedSite,
                                                     settings: IndexSettings) -> None:
    url = site.set_feed("/also.xml", [HARBOUR], title="Wexley Weekly")
    add_feed(settings, url)
    before = versions.current_version(settings.data_dir)
    report = line_of(run(settings), url)
    assert (report.new, report.duplicates) == (0, 1)
    assert "1 already indexed from another entry" in report.line()
    assert versions.current_version(settings.data_dir) == before
    assert Index.open(settings).article_count == 1
    remove_feed(settings, url, drop_articles=True)  # the other feed still holds it
    assert len(list((settings.data_dir / "feeds").rglob("*.txt"))) == 1


def test_a_feed_of_ten_thousand_entries_keeps_the_newest(site: FeedSite,
                                                        settings: IndexSettings) -> None:
    # lean items (title, link, date): feedparser alone takes seconds over 10,000 of them
    items = []
    for i in range(10_000):
        site.pages[f"bulk-{i}"] = Entry(f"bulk-{i}", f"Tide table {i}", [
            f"High water on day {i} is at {i % 12 + 1} o'clock at Wexley pier."])
        items.append(f"<item><title>Tide table {i}</title><link>{site.url}/news/bulk-{i}</link>"
                     f"<pubDate>Mon, {1 + i // 1000:02d} Jan 2024 00:00:00 +0000</pubDate></item>")
    site.routes["/bulk.xml"] = Response(
        ('<?xml version="1.0"?><rss version="2.0"><channel><title>Tides</title>'
         + "".join(items) + "</channel></rss>").encode(), "application/rss+xml")
    url = site.url + "/bulk.xml"
    settings = replace(settings, feed_max_articles=3, fetch_max_mb=5.0, fetch_timeout=20)
    add_feed(settings, url)
    report = line_of(run(settings), url)
    assert (report.new, report.skipped_cap) == (3, 9_997), report.line()
    assert "9997 beyond feed_max_articles skipped" in report.line()
    titles = {a.title for a in Index.open(settings).sources()}
    assert titles == {"Harbour wall approved", "Tide table 9000", "Tide table 9001",
                      "Tide table 9002"}  # the old article, and the 3 newest
