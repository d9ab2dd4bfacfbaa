"""`citebot-index feed add|list|remove` and `citebot-index update`: following RSS/Atom feeds."""

from __future__ import annotations

import json

import click

from index.cli.common import print_report, run_build, settings_of, user_errors
from index.types import SHARED, display_date


@click.group()
def feed() -> None:
    """Follow RSS and Atom feeds: `citebot-index update` indexes their new articles."""


@feed.command("add")
@click.argument("url")
@click.option("--collection", default=SHARED, help="Collection its articles belong to.")
@click.pass_context
def feed_add(ctx: click.Context, url: str, collection: str) -> None:
    """Follow the feed at URL (its articles are fetched by the next `update`)."""
    from index.ingest.feeds import add_feed

    with user_errors():
        added = add_feed(settings_of(ctx), url, collection)
    where = f" for collection {collection!r}" if collection else ""
    click.echo(f"Following {url.strip()}{where}; run `citebot-index update` to fetch it."
               if added else f"{url.strip()} is already followed.")


@feed.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
@click.pass_context
def feed_list(ctx: click.Context, as_json: bool) -> None:
    """The followed feeds: URL, collection, articles, last check, last error."""
    from index.ingest.feeds import list_feeds

    with user_errors():
        feeds = list_feeds(settings_of(ctx))
    for f in feeds:
        if as_json:
            click.echo(json.dumps(f.__dict__, ensure_ascii=False))
            continue
        origin = " (setting)" if f.configured else ""
        click.echo(f"{f.url}{origin}\n    collection {f.collection or '(shared)'}, "
                   f"{f.articles} articles, last check {f.last_check or 'never'}, "
                   f"last success {f.last_success or 'never'}"
                   + (f"\n    last error: {f.last_error}" if f.last_error else ""))
    if not as_json:
        click.echo(f"{len(feeds)} feed{'s' if len(feeds) != 1 else ''}." if feeds else
                   "No feeds are followed; add one with `citebot-index feed add URL`.")


@feed.command("remove")
@click.argument("url")
@click.option("--drop-articles", is_flag=True,
              help="Also delete its articles and rebuild the index without them.")
@click.pass_context
def feed_remove(ctx: click.Context, url: str, drop_articles: bool) -> None:
    """Stop following the feed at URL (its articles stay indexed unless --drop-articles)."""
    from index.errors import NothingToIndex
    from index.ingest.feeds import FeedStore, remove_feed

    settings = settings_of(ctx)
    with user_errors():
        dropped = remove_feed(settings, url, drop_articles)
        click.echo(f"No longer following {url.strip()}."
                   + (f" Deleted {dropped} of its articles." if drop_articles else ""))
        if drop_articles:
            try:
                print_report(run_build(settings))
                FeedStore(settings).mark_indexed()
            except NothingToIndex:
                click.echo("No articles are left to index; the current index keeps serving "
                           "until a build has articles to index.", err=True)


@click.command("update")
@click.option("--no-index", is_flag=True, help="Fetch only; index at the next build.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_context
def update_command(ctx: click.Context, no_index: bool, as_json: bool) -> None:
    """Check every feed once and index its new or changed articles.

    Prints a line per feed (new, updated, unchanged, failed with the reason). Exits 0 when
    the update ran, even if a feed failed; non-zero only when nothing could be done.
    """
    from index.building.update import update

    with user_errors():
        report = update(settings_of(ctx), index=not no_index)
    if as_json:
        click.echo(json.dumps({
            "feeds": [r.__dict__ for r in report.feeds],
            "indexed": [a.__dict__ for a in report.indexed],
            "version": report.build.version if report.build else None,
            "build_error": report.build_error, "seconds": round(report.seconds, 3),
        }, ensure_ascii=False))
        return
    for line in (r.line() for r in report.feeds):
        click.echo(line)
    if report.build is not None:
        print_report(report.build)
    for article in report.indexed[:20]:
        date = display_date(article.published)
        click.echo(f"  + {article.title}" + (f" ({date})" if date else "")
                   + (f"\n    {article.url}" if article.url else ""))
    if len(report.indexed) > 20:
        click.echo(f"  …and {len(report.indexed) - 20} more")
    if report.build_error:
        click.echo(f"not indexed: {report.build_error}", err=True)
    click.echo(f"Update done in {report.seconds:.1f}s: {report.new} new, {report.updated} "
               f"updated articles; {len(report.indexed)} newly answerable.")
