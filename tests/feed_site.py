"""A real news site on 127.0.0.1 for the feed tests: RSS feeds, article pages and faults.

It runs `http.server` in a thread, so both plain tests (where `index.building.update` runs its
own event loop) and the bot's async tests can use it. Routes can be changed while it runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Entry:
    """One news item: its feed entry and its article page."""

    slug: str
    title: str
    paragraphs: list[str]
    published: str = "2026-11-26T09:30:00+00:00"
    link: bool = True
    content: bool = False
    """Whether the feed carries the full text (`content:encoded`)."""
    updated: str = ""


@dataclass
class Response:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def page_html(entry: Entry) -> bytes:
    """The entry's article page: headline as <title> and <h1>, then its paragraphs."""
    body = "".join(f"<p>{escape(p)}</p>" for p in entry.paragraphs)
    return (f"<html><head><title>{escape(entry.title)}</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>{escape(entry.title)}</h1>{body}"
            f"</article><footer>© The Wexley Gazette</footer></body></html>").encode()


def rss(site: FeedSite, entries: list[Entry], title: str = "The Wexley Gazette") -> bytes:
    import datetime as dt

    items = []
    for e in entries:
        when = format_datetime(dt.datetime.fromisoformat(e.published))
        parts = [f"<title>{escape(e.title)}</title>",
                 f'<guid isPermaLink="false">{e.slug}</guid>', f"<pubDate>{when}</pubDate>",
                 f"<description>{escape(e.paragraphs[0][:60])}</description>"]
        if e.link:
            parts.append(f"<link>{site.url}/news/{e.slug}</link>")
        if e.content:
            html = "".join(f"<p>{escape(p)}</p>" for p in e.paragraphs)
            parts.append(f"<content:encoded><![CDATA[{html}]]></content:encoded>")
        if e.updated:
            parts.append(f"<atom:updated>{e.updated}</atom:updated>")
        items.append("<item>" + "".join(parts) + "</item>")
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
            f"<title>{escape(title)}</title><link>{site.url}/</link>"
            f"<description>News</description>{''.join(items)}</channel></rss>").encode()


class FeedSite:
    """`routes` maps a path to a `Response` or a handler; `/news/<slug>` pages come from the
    entries of every feed set with `set_feed`. Requests are counted per path in `hits`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Response | Handler] = {}
        self.pages: dict[str, Entry] = {}
        self.hits: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()
        """Requests per path answered 304 Not Modified."""
        site = self

        class Handle(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?", 1)[0]
                site.hits[path] += 1
                route = site.routes.get(path)
                if route is None and path.startswith("/news/") and path[6:] in site.pages:
                    route = Response(page_html(site.pages[path[6:]]))
                if route is None:
                    route = Response(b"not here", "text/plain", 404)
                if callable(route):
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        route(self)
                    return
                etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
                if route.status == 200 and self.headers.get("If-None-Match") == etag:
                    site.conditional[path] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                if route.status == 200:
                    self.send_header("ETag", etag)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handle)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # hanging fault handlers must not hold up stop()
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def set_feed(self, path: str, entries: list[Entry], **kw: Any) -> str:
        """Serve `entries` as an RSS feed at `path` (and their pages); returns its URL."""
        for e in entries:
            self.pages[e.slug] = e
        self.routes[path] = Response(rss(self, entries, **kw), "application/rss+xml")
        return self.url + path

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def slow_body(seconds_per_byte: float = 1.0) -> Handler:
    """Answers 200 at once, then sends its body one byte per `seconds_per_byte`."""
    def handle(h: BaseHTTPRequestHandler) -> None:
        body = b"<rss><channel></channel></rss>"
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for byte in body:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            time.sleep(seconds_per_byte)
    return handle


def no_answer(seconds: float) -> Handler:
    """Accepts the request and says nothing for `seconds`."""
    def handle(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
    return handle


def endless(content_type: str, total: int) -> Handler:
    """A body of `total` bytes streamed without a length (a 50 MB page)."""
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Connection", "close")
        h.end_headers()
        chunk = b"<p>" + b"x" * 65_530 + b"</p>"
        sent = 0
        while sent < total:
            h.wfile.write(chunk)
            sent += len(chunk)
    return handle


def redirect(to: str) -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return handle
