"""Hostile articles offered by an admin with `/source add`: odd attachments and URLs that
point inside the network. Each is refused with its reason (before anything is stored or any
connection is made), or stored safely and indexed without its scripts."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from index import IndexSettings
from index.ingest.fetch import FetchRefused, fetch_article
from tests.conftest import Running, StartBot
from tests.test_bot_admin import finished, shown
from tests.test_bot_ask import text_of

NOT_ADDED = "That article was not added"


class Connections:
    """Every TCP connection the event loop is asked to open (aiohttp connects through
    `sock_connect`); any to an address other than 127.0.0.1 is refused on the spot: these
    tests must never leave the machine."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.hosts: list[str] = []
        self._real = loop.sock_connect

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        host = str(address[0])
        self.hosts.append(host)
        if host != "127.0.0.1":
            raise OSError(f"test guard: no connection to {host}")
        await self._real(sock, address)

    @property
    def outside(self) -> list[str]:
        return [h for h in self.hosts if h != "127.0.0.1"]


@pytest_asyncio.fixture
async def connections(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Connections]:
    loop = asyncio.get_running_loop()
    guard = Connections(loop)
    monkeypatch.setattr(loop, "sock_connect", guard.sock_connect)
    yield guard


@pytest_asyncio.fixture
async def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host names resolve through this table only (there is no DNS here); numeric hosts
    resolve as the C library would."""
    table: dict[str, list[str]] = {}
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: str, port: Any, *args: Any, **kw: Any) -> list[Any]:
        if host in table:
            addresses = table[host]
        else:
            try:
                addresses = [socket.inet_ntoa(socket.inet_aton(host))]
            except OSError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port or 80)) for a in addresses]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return table


# --- attachments --------------------------------------------------------------------------

ATTACHMENTS = {
    "binary": ("photo.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "binary file"),
    "empty": ("empty.txt", b"", "empty file"),
    "blank": ("blank.md", b" \n\t\n ", "empty file"),
    "not UTF-8": ("latin.txt", "Le café est fermé.".encode("latin-1"), "not UTF-8"),
    "UTF-16": ("wide.txt", "A sentence here.".encode("utf-16"), "binary file"),
    "huge": ("huge.txt", b"Big. " * 4_000, "larger than"),
    "an executable": ("tool.exe", b"MZ\x90\0", "not a .txt, .md or .html file"),
    "no extension": ("../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash", "not a .txt"),
    "HTML that is all script": ("x.html", b"<html><script>alert(1)</script></html>",
                                "no article text"),
    "front matter only": ("meta.md", b"---\ntitle: T\n---\n", "no article text"),
    "no sentences": ("stars.txt", b"* * *\n\n- - -", "no sentences"),
}


@pytest.mark.parametrize("name", list(ATTACHMENTS))
async def test_a_bad_attachment_is_refused_with_its_reason(
        start_bot: StartBot, own_index_settings: IndexSettings, name: str) -> None:
    filename, data, reason = ATTACHMENTS[name]
    run = await start_bot(own_index=replace(own_index_settings, fetch_max_mb=0.01))
    before = run.bot.index.version
    ix = await run.fake.slash("source", subcommand="add", user=run.fake.owner, guild=run.guild,
                              attachment=(filename, data))
    reply = text_of(await run.fake.reply_to(ix))
    assert NOT_ADDED in reply and reason in reply, reply
    assert not (own_index_settings.data_dir / "articles").exists()
    assert run.bot.index.version == before and not run.bot.reindexing


SCRIPTED = (b"<html><head><title>Tide tables published</title>"
            b"<script>document.write('INJECTED-SCRIPT-TEXT'); fetch('http://10.0.0.1/')</script>"
            b"<style>p { color: red } /* INJECTED-STYLE-TEXT */</style></head><body>"
            b"<article><p>The harbour office published the new tide tables for the Wexley "
            b"estuary on Monday, a week earlier than usual.</p>"
            b"<p onclick=\"alert('INJECTED-HANDLER')\">Fishing crews welcomed the early "
            b"tables ahead of the autumn season.</p></article>"
            b"<iframe src=\"javascript:alert('INJECTED-FRAME')\"></iframe></body></html>")


async def test_an_html_article_is_indexed_without_its_scripts_under_a_safe_name(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    run = await start_bot(own_index=own_index_settings)
    ix = await run.fake.slash("source", subcommand="add", user=run.fake.owner, guild=run.guild,
                              attachment=("../../../etc/cron.d/tides.html", SCRIPTED))
    await run.fake.wait_for(lambda: finished(ix), 60)
    assert "Added `tides.html`" in shown(ix)
    stored = list((own_index_settings.data_dir / "articles").rglob("*"))
    assert [p.name for p in stored if p.is_file()] == ["tides.html"]
    assert all(own_index_settings.data_dir in p.parents for p in stored)
    [article] = [a for a in run.bot.index.articles if a.doc_id == "tides"]
    assert "tide tables" in article.text and "INJECTED" not in article.text
    ask = await run.fake.slash("ask", user=run.member, guild=run.guild,
                               question="When were the Wexley tide tables published?")
    reply = text_of(await run.fake.reply_to(ask))
    assert "**a week earlier** than usual" in reply and "INJECTED" not in reply


# --- URLs ---------------------------------------------------------------------------------

REFUSED_URLS = {
    "loopback": "http://127.0.0.1:{port}/article",
    "loopback, other address": "http://127.8.9.10/",
    "private 10.x": "http://10.0.0.1/admin",
    "private 192.168.x": "http://192.168.1.1/",
    "private 172.16.x": "http://172.16.5.4/",
    "cloud metadata": "http://169.254.169.254/latest/meta-data/",
    "carrier-grade NAT": "http://100.64.0.1/",
    "unspecified": "http://0.0.0.0:{port}/article",
    "IPv6 loopback": "http://[::1]:{port}/article",
    "IPv4-mapped IPv6": "http://[::ffff:169.254.169.254]/",
    "IPv6 link-local with zone": "http://[fe80::1%25eth0]/",
    "decimal IPv4": "http://2130706433:{port}/article",
    "hex IPv4": "http://0x7f.0.0.1:{port}/article",
    "short IPv4": "http://127.1:{port}/article",
    "credentials in URL": "http://user:pass@127.0.0.1:{port}/article",
    "name resolving to loopback": "http://localhost:{port}/article",
    "name resolving to metadata": "http://metadata.example/computeMetadata/v1/",
    "name with one private address among public ones": "http://mixed.example/",
}


@pytest.mark.parametrize("name", list(REFUSED_URLS))
async def test_a_link_inside_the_network_is_refused_before_connecting(
        start_bot: StartBot, own_index_settings: IndexSettings, fake_dns: dict[str, list[str]],
        connections: Connections, name: str) -> None:
    fake_dns.update({"localhost": ["127.0.0.1"], "metadata.example": ["169.254.169.254"],
                     "mixed.example": ["93.184.216.34", "10.0.0.7"]})
    run = await start_bot(own_index=own_index_settings)
    run.fake.files["article"] = b"Secret internal page. It must not be indexed."
    url = REFUSED_URLS[name].format(port=run.fake.port)
    fetches = len([r for r in run.fake.requests if r.path.startswith("/files")])
    ix = await run.fake.slash("source", subcommand="add", user=run.fake.owner, guild=run.guild,
                              url=url)
    reply = text_of(await run.fake.reply_to(ix))
    assert NOT_ADDED in reply and "private or local address" in reply, reply
    assert connections.outside == []
    assert not (own_index_settings.data_dir / "articles").exists()
    assert len([r for r in run.fake.requests if r.path.startswith("/files")]) == fetches


@pytest.mark.parametrize("url,reason", [
    ("file:///etc/passwd", "only http"), ("ftp://127.0.0.1/x.txt", "only http"),
    ("javascript:alert(1)", "only http"), ("gopher://10.0.0.1:70/", "only http"),
    ("http://", "no host name"), ("not a url at all", "only http"),
    ("http://nonexistent.invalid/", "does not resolve"),
])
async def test_a_link_that_is_not_a_web_address_is_refused(
        start_bot: StartBot, own_index_settings: IndexSettings, fake_dns: dict[str, list[str]],
        connections: Connections, url: str, reason: str) -> None:
    run = await start_bot(own_index=own_index_settings)
    ix = await run.fake.slash("source", subcommand="add", user=run.fake.owner, guild=run.guild,
                              url=url)
    reply = text_of(await run.fake.reply_to(ix))
    assert NOT_ADDED in reply and reason in reply, reply
    assert connections.outside == []


@pytest_asyncio.fixture
async def redirector() -> AsyncIterator[str]:
    """A web server on 127.0.0.1 (standing in for a public site) whose /to?url= redirects."""
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    app = web.Application()
    app.add_routes([web.get("/to", redirect)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


def only_the_test_site(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return str(ip) == "127.0.0.1"


@pytest.mark.parametrize("target", [
    "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://127.0.0.2/",
    "http://[::1]/", "http://metadata.example/", "file:///etc/passwd",
])
async def test_a_redirect_into_the_network_is_refused_before_connecting(
        redirector: str, fake_dns: dict[str, list[str]], connections: Connections,
        target: str) -> None:
    fake_dns["metadata.example"] = ["169.254.169.254"]
    with pytest.raises(FetchRefused, match="private or local|only http"):
        await fetch_article(f"{redirector}/to?url={target}", allow_private=False,
                            max_bytes=10_000, timeout=5, address_allowed=only_the_test_site)
    assert connections.hosts == ["127.0.0.1"]  # the first hop only


async def test_nothing_is_changed_by_refused_links(
        start_bot: StartBot, own_index_settings: IndexSettings) -> None:
    run: Running = await start_bot(own_index=own_index_settings)
    before = sorted(p.name for p in own_index_settings.data_dir.rglob("*"))
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "file:///etc/passwd"):
        ix = await run.fake.slash("source", subcommand="add", user=run.fake.owner,
                                  guild=run.guild, url=url)
        assert NOT_ADDED in text_of(await run.fake.reply_to(ix))
    assert sorted(p.name for p in own_index_settings.data_dir.rglob("*")) == before
