"""Fetching articles for `/source add`: only public http(s) addresses, capped in size and time,
checked at every redirect and for every address a name resolves to."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from index.ingest.fetch import FetchRefused, fetch_article, is_public, with_source_url

ARTICLE = b"The council approved the new harbour wall on Tuesday."


@pytest_asyncio.fixture
async def site() -> AsyncIterator[str]:
    """A small web server on 127.0.0.1; yields its base URL."""
    async def article(request: web.Request) -> web.Response:
        return web.Response(body=ARTICLE, content_type="text/plain")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for _ in range(100):
            await response.write(b"x" * 10_000)
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(text="late")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG", content_type="image/png")

    app = web.Application()
    app.add_routes([web.get("/article", article), web.get("/redirect", redirect),
                    web.get("/huge", huge), web.get("/slow", slow), web.get("/image", image)])
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.shutdown()
    await runner.cleanup()


def only_127_0_0_1(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A policy under which the test server counts as public and every other address not."""
    return str(ip) == "127.0.0.1"


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "::",
])
def test_local_and_private_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_global_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


async def fetch(url: str, **kw: object) -> bytes:
    options: dict[str, object] = {"allow_private": False, "max_bytes": 100_000, "timeout": 2.0}
    options.update(kw)
    return (await fetch_article(url, **options)).data  # type: ignore[arg-type]


async def test_a_public_page_is_fetched(site: str) -> None:
    assert await fetch(f"{site}/article", address_allowed=only_127_0_0_1) == ARTICLE


async def test_a_loopback_page_is_refused_by_default(site: str) -> None:
    with pytest.raises(FetchRefused, match="private or local"):
        await fetch(f"{site}/article")


async def test_a_loopback_page_is_fetched_when_private_addresses_are_allowed(site: str) -> None:
    assert await fetch(f"{site}/article", allow_private=True) == ARTICLE


async def test_a_redirect_to_a_private_address_is_refused(site: str) -> None:
    port = site.rsplit(":", 1)[1]
    with pytest.raises(FetchRefused, match="private or local"):
        await fetch(f"{site}/redirect?to=http://127.0.0.2:{port}/article",
                    address_allowed=only_127_0_0_1)


async def test_a_redirect_to_an_allowed_address_is_followed(site: str) -> None:
    fetched = await fetch_article(f"{site}/redirect?to=/article", allow_private=False,
                                  max_bytes=1000, timeout=2, address_allowed=only_127_0_0_1)
    assert fetched.data == ARTICLE and fetched.url == f"{site}/article"
    assert fetched.filename == "article.txt"


async def test_every_address_of_a_name_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    # There is no DNS here: the loop's resolver answers one public and one private address
    # for the name, and one private address is enough to refuse the link.
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: str, port: object, **kw: object) -> list[tuple[object, ...]]:
        assert host == "news.example"
        return [(2, 1, 6, "", ("93.184.216.34", 80)), (2, 1, 6, "", ("10.0.0.5", 80))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    with pytest.raises(FetchRefused, match="private or local"):
        await fetch("http://news.example/article")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.txt",
                                 "gopher://example.com/", "javascript:alert(1)"])
async def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(FetchRefused, match="only http"):
        await fetch(url, allow_private=True)


async def test_a_page_over_the_size_cap_is_refused(site: str) -> None:
    with pytest.raises(FetchRefused, match="larger than"):
        await fetch(f"{site}/huge", allow_private=True, max_bytes=50_000)


async def test_a_page_over_the_time_cap_is_refused(site: str) -> None:
    with pytest.raises(FetchRefused, match="longer than"):
        await fetch(f"{site}/slow", allow_private=True, timeout=0.3)


async def test_a_non_text_page_is_refused(site: str) -> None:
    with pytest.raises(FetchRefused, match="not a web page"):
        await fetch(f"{site}/image", allow_private=True)


def test_the_page_url_is_recorded_in_a_text_article() -> None:
    assert with_source_url(b"Body.", "a.txt", "https://n.example/a") == (
        b"---\nurl: https://n.example/a\n---\nBody.")
    assert with_source_url(b"---\ntitle: T\n---\nBody.", "a.txt", "https://n.example/a") == (
        b"---\nurl: https://n.example/a\ntitle: T\n---\nBody.")
    named = b"---\nurl: https://elsewhere/\n---\nBody."
    assert with_source_url(named, "a.md", "https://n.example/a") == named


def test_the_page_url_is_recorded_in_html_as_a_canonical_link() -> None:
    html = b"<html><head><title>T</title></head><body><p>Body.</p></body></html>"
    out = with_source_url(html, "a.html", "https://n.example/a")
    assert b'<head><link rel="canonical" href="https://n.example/a"><title>' in out
    canonical = b'<head><link rel="canonical" href="https://n.example/b"></head>'
    assert with_source_url(canonical, "a.html", "https://n.example/a") == canonical
