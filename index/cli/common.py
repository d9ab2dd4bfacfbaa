"""What the commands share: settings from the click context, user errors as messages, the
build progress bar and report."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from index.errors import IndexError_
from index.settings import IndexSettings, SettingsError
from index.types import BuildProgress, BuildReport, Source


def settings_of(ctx: click.Context) -> IndexSettings:
    settings: IndexSettings = ctx.obj
    return settings


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can cause end the command with their message, not a traceback."""
    try:
        yield
    except (IndexError_, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None


class ProgressBar:
    """A tqdm bar per build stage."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.stage = ""

    def __call__(self, p: BuildProgress) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if p.stage != self.stage:
            self.close()
            self.stage = p.stage
            self.bar = tqdm(total=p.total, desc=p.stage, unit=" sentences"
                            if p.stage == "embedding" else " steps", file=sys.stderr,
                            leave=False)
        if self.bar is not None:
            self.bar.n = p.done
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def plural(n: int, noun: str) -> str:
    """`1 article`, `2 articles`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def print_report(report: BuildReport) -> None:
    if report.unchanged:
        click.echo(f"Index {report.version} is up to date: "
                   f"{plural(report.articles, 'article')}, "
                   f"{plural(report.sentences, 'sentence')}.")
    else:
        click.echo(f"Built index {report.version}: {plural(report.articles, 'article')}, "
                   f"{plural(report.sentences, 'sentence')} ({report.embedded_articles} embedded, "
                   f"{report.reused_articles} reused) in {report.seconds:.1f}s.")
    for skipped in report.skipped:
        click.echo(f"skipped {skipped.path}: {skipped.reason}", err=True)


def run_build(settings: IndexSettings, sources: list[Source] | None = None,
              show_progress: bool = True) -> BuildReport:
    from index.building.builder import build

    bar = ProgressBar(show_progress and sys.stderr.isatty())
    try:
        return build(settings, progress=bar, sources=sources)
    finally:
        bar.close()
