"""Fetching articles and feeds from URLs (`/source add`, feeds), without letting a URL reach
inside.

http(s) only; size and time caps; and unless allowed, no loopback, private, link-local or
other non-public address: every redirect hop is checked, every address a host name resolves
to is checked, and the connection goes to exactly the addresses that were checked (so a DNS
answer that changes between the check and the connection cannot slip through).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
TEXT_TYPES = {"text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt",
              "text/markdown": ".md", "text/x-markdown": ".md"}
#: what a feed may be served as (an HTML page is let through so the reader can say that it is
#: a web page, not a feed)
FEED_TYPES = {"application/rss+xml": ".xml", "application/atom+xml": ".xml",
              "application/rdf+xml": ".xml", "application/xml": ".xml", "text/xml": ".xml",
              "application/feed+json": ".json", "application/json": ".json",
              "text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt",
              "application/octet-stream": ".xml"}


class FetchRefused(Exception):
    """The URL cannot be fetched; the message says why, for the person who gave it."""


@dataclass(frozen=True)
class Fetched:
    url: str
    """The final URL, after redirects."""
    filename: str
    """A file name with the extension of the content type (`.html`, `.txt` or `.md`)."""
    data: bytes
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    """True when a conditional request was answered 304 (then `data` is empty)."""


def is_public(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses; False for loopback, private, link-local,
    carrier-grade NAT, reserved, multicast and unspecified ones (IPv4-mapped IPv6 included)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def fetch_article(url: str, *, allow_private: bool, max_bytes: int, timeout: float,
                        address_allowed: Callable[[IPAddress], bool] | None = None) -> Fetched:
    """Download `url` (following at most 5 redirects) and return its bytes.

    `address_allowed` decides which IP addresses may be contacted; by default `is_public`,
    or every address when `allow_private` is true. Raises `FetchRefused`.
    """
    allowed = address_allowed or ((lambda ip: True) if allow_private else is_public)
    return await _guarded(url, allowed, max_bytes, timeout, TEXT_TYPES, {}, "the page")


async def fetch_feed(url: str, *, allow_private: bool, max_bytes: int, timeout: float,
                     address_allowed: Callable[[IPAddress], bool] | None = None,
                     etag: str | None = None, last_modified: str | None = None) -> Fetched:
    """Download the feed at `url` under the same caps as `fetch_article`, conditionally when
    `etag` / `last_modified` are given (then a 304 gives `not_modified`)."""
    allowed = address_allowed or ((lambda ip: True) if allow_private else is_public)
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                         "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return await _guarded(url, allowed, max_bytes, timeout, FEED_TYPES, headers, "the feed")


async def _guarded(url: str, allowed: Callable[[IPAddress], bool], max_bytes: int,
                   timeout: float, types: Mapping[str, str], headers: Mapping[str, str],
                   what: str) -> Fetched:
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(URL(url.strip()), allowed, max_bytes, timeout, types, headers,
                                what)
    except TimeoutError:
        raise FetchRefused(f"{what} took longer than {timeout:g} s to download") from None
    except aiohttp.ClientError as exc:
        raise FetchRefused(f"{what} could not be downloaded ({_client_error(exc)})") from None
    except ValueError as exc:
        raise FetchRefused(f"that is not a usable URL ({exc})") from None


def _client_error(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused"
        return f"connection failed: {type(exc.os_error).__name__}"
    return type(exc).__name__


async def _fetch(url: URL, allowed: Callable[[IPAddress], bool], max_bytes: int,
                 timeout: float, types: Mapping[str, str], headers: Mapping[str, str],
                 what: str) -> Fetched:
    for _hop in range(MAX_REDIRECTS + 1):
        addresses = await _checked_addresses(url, allowed)
        connector = aiohttp.TCPConnector(resolver=_PinnedResolver(url.host or "", addresses),
                                         use_dns_cache=False, force_close=True)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"User-Agent": "citebot (article fetcher)", **headers},
        ) as session, session.get(url, allow_redirects=False) as response:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise FetchRefused(f"the server redirected (HTTP {response.status}) nowhere")
                url = url.join(URL(location))
                log.debug("redirected to %s", url)
                continue
            if response.status == 304 and ("If-None-Match" in headers
                                           or "If-Modified-Since" in headers):
                return Fetched(str(response.url), "", b"", "", headers.get("If-None-Match"),
                               headers.get("If-Modified-Since"), not_modified=True)
            if response.status != 200:
                raise FetchRefused(f"the server answered HTTP {response.status}")
            mime = response.content_type.lower()
            if mime not in types:
                raise FetchRefused(f"that is not a web page or text file ({mime or 'no type'})"
                                   if types is TEXT_TYPES else
                                   f"that is not a feed ({mime or 'no type'})")
            length = response.content_length
            if length is not None and length > max_bytes:
                raise FetchRefused(f"{what} is larger than {max_bytes / 1e6:g} MB")
            data = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > max_bytes:
                    raise FetchRefused(f"{what} is larger than {max_bytes / 1e6:g} MB")
            return Fetched(str(response.url), _filename(url, types[mime]), bytes(data), mime,
                           response.headers.get("ETag"), response.headers.get("Last-Modified"))
    raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")


async def _checked_addresses(url: URL, allowed: Callable[[IPAddress], bool]) -> list[str]:
    """The addresses `url`'s host resolves to, every one of them allowed; else FetchRefused."""
    if url.scheme not in ("http", "https"):
        raise FetchRefused("only http:// and https:// links can be added")
    host = url.host
    if not host:
        raise FetchRefused("the link has no host name")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        ips = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, url.port, type=socket.SOCK_STREAM)
        except OSError:
            raise FetchRefused(f"the host name {host!r} does not resolve") from None
        ips = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    refused = [ip for ip in ips if not allowed(ip)]
    if refused or not ips:
        raise FetchRefused(f"{host} is a private or local address; such links are not fetched")
    return sorted({str(ip) for ip in ips})


class _PinnedResolver(AbstractResolver):
    """Resolves only the checked host, to only the checked addresses."""

    def __init__(self, host: str, addresses: list[str]) -> None:
        self.host = host
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host != self.host:
            raise OSError(f"unexpected host {host!r}")
        return [ResolveResult(hostname=host, host=ip, port=port,
                              family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST)
                for ip in self.addresses]

    async def close(self) -> None:
        return None


def with_source_url(data: bytes, filename: str, url: str) -> bytes:
    """The article with `url` recorded the way the core reads it (front matter in text
    files, a canonical link in HTML), so its citations link back to the page. Files that
    already name their URL, or are not UTF-8, are returned unchanged."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    safe_url = url.replace("\n", "").replace("\r", "")
    if filename.endswith(".html"):
        if re.search(r"rel=[\"']?canonical|property=[\"']?og:url", text, re.IGNORECASE):
            return data
        link = f'<link rel="canonical" href="{safe_url.replace(chr(34), "%22")}">'
        head = re.search(r"<head[^>]*>", text, re.IGNORECASE)
        at = head.end() if head else 0
        return (text[:at] + link + text[at:]).encode("utf-8")
    # The core trims the text and unifies line ends before it looks for front matter.
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").strip()
    front = re.match(r"---[ \t]*\n(.*?)\n---[ \t]*(?:\n|$)", text, re.DOTALL)
    if front is None:
        return f"---\nurl: {safe_url}\n---\n{text}".encode()
    if re.search(r"^url\s*:", front.group(1), re.IGNORECASE | re.MULTILINE):
        return data
    at = front.start(1)
    return (text[:at] + f"url: {safe_url}\n" + text[at:]).encode("utf-8")


def _filename(url: URL, extension: str) -> str:
    stem = url.path.rstrip("/").rsplit("/", 1)[-1] or url.host or "article"
    stem = re.sub(r"\.(html?|txt|md|php|aspx?)$", "", stem, flags=re.IGNORECASE)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:80] or "article"
    return stem + extension
