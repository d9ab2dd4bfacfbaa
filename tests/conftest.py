"""Shared fixtures.

Bot fixtures: a real index built once per session from the bundled article plus the test
articles in `ARTICLES`, a `FakeDiscord` per test, and `start_bot`, which runs the
unmodified discord.py client against that fake.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio

from bot.settings import BotSettings
from index import IndexSettings
from index.settings import BUNDLED_CORPUS
from tests.discord_fake import FakeDiscord, Guild, User
from tests.feed_site import FeedSite

# The model is packaged locally; nothing may be fetched.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One ONNX export of the model for the whole run (made by the first build), shared by every
# index the tests build and by the processes they start; removed at the end.
if "CITEBOT_MODEL_CACHE" not in os.environ:
    os.environ["CITEBOT_MODEL_CACHE"] = tempfile.mkdtemp(prefix="citebot-test-models-")
    atexit.register(shutil.rmtree, os.environ["CITEBOT_MODEL_CACHE"], True)

# ---- bot fixtures ------------------------------------------------------------------------

#: Extra articles for the bot scenarios, indexed with the bundled one.
ARTICLES = {
    "harbour-festival.txt": (
        "---\ntitle: Harbour festival draws crowds\nurl: https://news.example/harbour-festival\n"
        "---\n"
        "The harbour festival in Port Wexley drew forty thousand visitors on Saturday.\n\n"
        "Organisers posted the schedule with a note addressed to @everyone in the town, "
        "inviting all residents to the fireworks at nine o'clock.\n\n"
        "The fireworks display was paid for by the Port Wexley fishing cooperative.\n"
    ),
    "glacier-survey.txt": (
        "---\ntitle: The glacier survey\nurl: https://news.example/glacier-survey\n---\n"
        "The survey team measured the retreat of the Vallenbreen glacier over the summer. "
        + "The report lists the measuring stations along the glacier: "
        + ", ".join(f"station {name} at {1000 + 37 * i} metres"
                    for i, name in enumerate(
                        ["Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Ginkgo", "Hazel",
                         "Ironwood", "Juniper", "Kapok", "Larch", "Maple", "Nutmeg", "Oak",
                         "Pine", "Quince", "Rowan", "Spruce", "Tamarack", "Umbrella pine",
                         "Viburnum", "Willow", "Xylosma", "Yew", "Zelkova"] * 7))
        + ", and the final station at the summit.\n"
    ),
}


@pytest.fixture(scope="session")
def bot_index_settings(tmp_path_factory: pytest.TempPathFactory) -> IndexSettings:
    """Settings of the session's real index (bundled article + `ARTICLES`), built once."""
    root = tmp_path_factory.mktemp("citebot-index")
    articles = root / "articles"
    articles.mkdir()
    for name, text in ARTICLES.items():
        (articles / name).write_text(text, encoding="utf-8")
    settings = IndexSettings(data_dir=root / "data", sources=(BUNDLED_CORPUS, articles))
    from index import build

    build(settings)
    return settings


#: A story told over several days (front matter `published:`), an undated explainer and a
#: dated article on something else; indexed with the (undated) bundled article.
DATED_ARTICLES = Path(__file__).parent / "data" / "dated"


@pytest.fixture(scope="session")
def dated_settings(tmp_path_factory: pytest.TempPathFactory) -> IndexSettings:
    """Settings of an index of `DATED_ARTICLES` and the bundled article (London time),
    built once."""
    from index import build

    settings = IndexSettings(data_dir=tmp_path_factory.mktemp("dated") / "data",
                             sources=(BUNDLED_CORPUS, DATED_ARTICLES), time_zone="Europe/London")
    build(settings)
    return settings


@pytest.fixture(scope="session")
def bot_index(bot_index_settings: IndexSettings) -> Any:
    """The session's index, opened once (the model loads here)."""
    from index import Index

    return Index.open(bot_index_settings)


@pytest.fixture
def own_index_settings(bot_index_settings: IndexSettings, tmp_path: Path) -> IndexSettings:
    """A private copy of the session index, for tests that add articles or reindex. Its last
    source is an empty folder of its own (`sources[-1]`) where a test may put articles."""
    data_dir = tmp_path / "data"
    shutil.copytree(bot_index_settings.data_dir, data_dir, symlinks=True)
    (data_dir / "build.lock").unlink(missing_ok=True)
    extra = tmp_path / "more-articles"
    extra.mkdir()
    return replace(bot_index_settings, data_dir=data_dir,
                   sources=(*bot_index_settings.sources, extra))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A real PostgreSQL server on 127.0.0.1 for the session (tests/pg_server.py); the tests
    that need it skip with one line where PostgreSQL is not installed (CI installs it)."""
    from tests import pg_server as pg

    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: the PostgreSQL tests are skipped")
    server = pg.start()
    if isinstance(server, str):
        if os.environ.get("CI"):
            pytest.fail(server)
        pytest.skip(server)
    yield server
    from index.database import close_pools

    close_pools()
    server.stop()


@pytest.fixture
def pg_dsn(pg_server: Any) -> Iterator[str]:
    """The DSN of a fresh, empty database on the session's PostgreSQL server."""
    yield pg_server.new_database()
    from index.database import close_pools

    close_pools()


@pytest.fixture(params=["sqlite"])
def state_dsn(request: pytest.FixtureRequest) -> str:
    """The `state_dsn` setting of a test: "" (SQLite files, the default) or, for a test
    marked `@both_states`, also a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_dsn"))
    return ""


#: runs a test once with the state in SQLite and once in PostgreSQL (`state_dsn` fixture)
both_states = pytest.mark.parametrize("state_dsn", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def site() -> Iterator[FeedSite]:
    """A news site on 127.0.0.1 serving a feed and its article pages (tests/feed_site.py)."""
    server = FeedSite()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A fresh fake Discord with one server ("News Club") whose owner is `fake.owner`."""
    server = FakeDiscord()
    await server.start()
    server.add_guild("News Club")
    route_base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield server
    finally:
        await server.stop()
        discord.http.Route.BASE = route_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


class ErrorLog(logging.Handler):
    """Collects ERROR records from discord.py and the bot: exceptions in event handlers are
    logged, not raised, so a scenario must look here to notice them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("discord", "bot")):
            self.records.append(record)


@dataclass
class Running:
    """A bot connected to the fake, with handles tests need."""

    bot: Any  # bot.client.CiteBot
    fake: FakeDiscord
    guild: Guild
    member: User
    errors: ErrorLog

    @property
    def channel(self) -> int:
        return self.guild.channel_id


StartBot = Callable[..., Awaitable[Running]]


@pytest_asyncio.fixture
async def start_bot(fake: FakeDiscord, bot_index_settings: IndexSettings, bot_index: Any,
                    tmp_path: Path) -> AsyncIterator[StartBot]:
    """`await start_bot(**bot_settings)` starts a real discord.py `CiteBot` against `fake`
    and waits until it is ready. It answers from the session index unless `own_index`
    (settings of another data dir) is given; then it opens that one itself. `state_dsn`
    keeps its state in PostgreSQL."""
    bots: list[Any] = []
    tasks: list[asyncio.Task[None]] = []
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)

    async def start(*, own_index: IndexSettings | None = None, token: str | None = None,
                    state_dsn: str = "", **overrides: Any) -> Running:
        from bot import create_bot

        settings = BotSettings(**{
            "api_base": fake.base_url, "gateway_url": fake.gateway_url,
            "feedback_db": str(tmp_path / "bot.sqlite3"), "sync_commands": True,
            "progress_interval": 0.05, **overrides})
        core = replace(own_index or bot_index_settings, state_dsn=state_dsn)
        bot = create_bot(settings, core, index=None if own_index else bot_index,
                         guild_ready_timeout=0.05)
        bots.append(bot)
        await bot.login(token or fake.token)
        task = asyncio.create_task(bot.connect())
        tasks.append(task)
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, task}, timeout=20,
                                     return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if task.done():
                task.result()  # raises the client's error (bad token, refused intent...)
            raise TimeoutError("the bot did not become ready")
        guild = next(iter(fake.guilds.values()))
        member = fake.add_user("reader")
        fake.add_member(guild, member)
        return Running(bot, fake, guild, member, errors)

    try:
        yield start
    finally:
        for bot in bots:
            await bot.close()
        for task in tasks:
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                await task
        logging.getLogger().removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]
    assert not fake.unhandled, f"REST calls the fake does not know: {fake.unhandled}"
