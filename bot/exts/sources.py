"""`/sources` lists the indexed articles; `/source add` (admins) adds one and reindexes."""

from __future__ import annotations

import asyncio
from pathlib import PurePath

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.client import NO_MENTIONS, CiteBot, NoIndex
from bot.exts.reindex import ADMINS_ONLY, reindex_in_reply
from bot.log import get_logger
from index import ArticleInfo, ArticleRejected, FetchRefused, fetch_article, with_source_url

log = get_logger(__name__)

FILE_TYPES = (".txt", ".md", ".markdown", ".html", ".htm")


class SourcesPages(discord.ui.View):
    """◀/▶ buttons that flip through the article list."""

    def __init__(self, articles: list[ArticleInfo], per_page: int) -> None:
        super().__init__(timeout=600)
        self.articles = articles
        self.per_page = per_page
        self.page = 0
        self.pages = max(1, -(-len(articles) // per_page))
        self._sync_buttons()

    def embed(self) -> discord.Embed:
        return render.sources_embed(self.articles, self.page, self.per_page)

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1

    async def _flip(self, interaction: discord.Interaction, step: int) -> None:
        self.page = min(max(self.page + step, 0), self.pages - 1)
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.embed(), view=self,
                                                allowed_mentions=NO_MENTIONS)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction,
                       button: discord.ui.Button[SourcesPages]) -> None:
        await self._flip(interaction, -1)

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction,
                   button: discord.ui.Button[SourcesPages]) -> None:
        await self._flip(interaction, 1)


class Sources(commands.Cog):
    """The article list, and adding articles."""

    source = app_commands.Group(name="source", description="Manage the indexed articles")

    def __init__(self, bot: CiteBot) -> None:
        self.bot = bot

    @app_commands.command(name="sources")
    async def sources_command(self, interaction: discord.Interaction) -> None:
        """List the indexed articles: title, link, sentence count and when indexed."""
        await interaction.response.defer(thinking=True)
        try:
            articles = await self.bot.sources(interaction.guild_id)
        except NoIndex as exc:
            await interaction.followup.send(embed=render.error_embed(str(exc)),
                                            allowed_mentions=NO_MENTIONS)
            return
        articles.sort(key=lambda a: (a.title or a.doc_id).casefold())
        pages = SourcesPages(articles, self.bot.settings.sources_per_page)
        send = {"view": pages} if pages.pages > 1 else {}
        await interaction.followup.send(embed=pages.embed(), allowed_mentions=NO_MENTIONS,
                                        wait=True, **send)  # type: ignore[call-overload]

    @source.command(name="add")
    @app_commands.describe(url="A link to the article (http or https)",
                           file="Or the article as a .txt, .md or .html file")
    async def add_command(self, interaction: discord.Interaction, url: str | None = None,
                          file: discord.Attachment | None = None) -> None:
        """Add an article from a link or a file, then reindex (admins only)."""
        if not self.bot.is_admin(interaction.user, interaction.permissions):
            await interaction.response.send_message(ADMINS_ONLY, ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)
            return
        if (url is None) == (file is None):
            await interaction.response.send_message(
                "Give either `url` or `file` (one of them).", ephemeral=True,
                allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(thinking=True)
        settings = self.bot.index_settings
        max_bytes = int(settings.fetch_max_mb * 1_000_000)
        try:
            if file is not None:
                filename, data = await self._read_attachment(file, max_bytes)
            else:
                assert url is not None
                fetched = await fetch_article(
                    url, allow_private=settings.fetch_allow_private, max_bytes=max_bytes,
                    timeout=settings.fetch_timeout)
                filename = fetched.filename
                data = with_source_url(fetched.data, filename, fetched.url)
            collection = self.bot.collection_for_new_article(interaction.guild_id)
            from index import add_article

            stored = await asyncio.to_thread(add_article, settings, filename, data, collection)
        except (FetchRefused, ArticleRejected) as exc:
            await interaction.followup.send(
                embed=render.error_embed(f"That article was not added: {render.escape(str(exc))}"),
                allowed_mentions=NO_MENTIONS)
            return
        log.info("article %s added by %s to collection %r", stored.name, interaction.user.id,
                 collection)
        where = "this server's articles" if collection else "the shared articles"
        intro = f"📥 Added `{discord.utils.escape_markdown(stored.name)}` to {where}.\n"
        await reindex_in_reply(self.bot, interaction, intro)

    @staticmethod
    async def _read_attachment(file: discord.Attachment, max_bytes: int) -> tuple[str, bytes]:
        name = PurePath(file.filename).name
        if not name.lower().endswith(FILE_TYPES):
            raise ArticleRejected(f"{name!r} is not a .txt, .md or .html file")
        if file.size > max_bytes:
            raise ArticleRejected(f"{name!r} is larger than {max_bytes / 1e6:g} MB")
        return name, await file.read()


async def setup(bot: CiteBot) -> None:
    await bot.add_cog(Sources(bot))
