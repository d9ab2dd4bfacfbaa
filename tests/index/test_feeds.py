"""Following feeds with `citebot-index feed add|list|remove` and `update`, against a real news
site on 127.0.0.1 (RSS, article pages, ETags), the real model, FAISS and SQLite."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from index import Index, IndexSettings
from index.building.update import update
from index.cli.main import cli
from index.ingest.feeds import feeds_dir, list_feeds
from tests.conftest import both_states
from tests.feed_site import Entry, FeedSite

pytestmark = pytest.mark.slow

HARBOUR = Entry("harbour-wall", "Harbour wall approved", [
    "The Wexley council approved the new harbour wall on Tuesday after a long debate.",
    "Work on the wall starts in the spring and will take two years, the council said.",
])
FERRY = Entry("ferry-timetable", "Winter ferry timetable", [
    "The island ferry will sail twice a day during the winter months.",
    "The ferry company blamed the reduced timetable on a shortage of engineers.",
], published="2026-11-27T08:00:00+00:00")


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state_dsn: str) -> Any:
    """`run(*args)` runs `citebot-index` on a data dir of its own, feeds only, private
    addresses allowed (the site is on 127.0.0.1); the feeds' state in PostgreSQL for the
    tests marked `both_states`."""
    for key, value in {"CITEBOT_DATA_DIR": str(tmp_path / "data"), "CITEBOT_SOURCES": "",
                       "CITEBOT_FETCH_ALLOW_PRIVATE": "1", "CITEBOT_STATE_DSN": state_dsn,
                       "CITEBOT_CONFIG": str(tmp_path / "none.toml")}.items():
        monkeypatch.setenv(key, value)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def ask(run: Any, question: str) -> dict[str, Any]:
    result = run("ask", "--json", question)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.output)
    return answer


def test_a_feed_entry_becomes_answerable_with_its_url_and_date(site: FeedSite, run: Any) -> None:
    url = site.set_feed("/feed.xml", [HARBOUR])
    assert run("feed", "add", url).exit_code == 0
    result = run("update")
    assert result.exit_code == 0, result.output
    assert f"{url}: 1 new, 0 updated, 0 unchanged, 0 failed" in result.output
    assert "Harbour wall approved" in result.output  # the newly answerable article
    top = ask(run, "When did the council approve the harbour wall?")["citations"][0]
    assert "approved the new harbour wall on Tuesday" in top["text"]
    assert top["url"] == f"{site.url}/news/harbour-wall"
    assert top["published"] == "2026-11-26"
    assert top["title"] == "Harbour wall approved"
    shown = run("ask", "When did the council approve the harbour wall?").output
    assert "— Harbour wall approved, 26 Nov 2026, paragraph 1, sentence 1" in shown


def test_the_headline_is_the_title_not_a_quotable_sentence(site: FeedSite, run: Any) -> None:
    run("feed", "add", site.set_feed("/feed.xml", [HARBOUR]))
    run("update")
    answer = ask(run, "Harbour wall approved")
    quoted = [c["text"] for c in answer["citations"]] + [(answer["closest"] or {}).get("text")]
    assert "Harbour wall approved" not in quoted


@both_states
def test_a_new_entry_is_embedded_alone_and_nothing_new_is_cheap(site: FeedSite, run: Any
                                                                ) -> None:
    url = site.set_feed("/feed.xml", [HARBOUR])
    run("feed", "add", url)
    run("update")
    site.set_feed("/feed.xml", [FERRY, HARBOUR])
    result = run("update")
    assert f"{url}: 1 new, 0 updated, 1 unchanged, 0 failed" in result.output
    assert "(1 embedded, 1 reused)" in result.output
    assert "ferry will sail twice a day" in ask(run, "How often will the ferry sail in winter?"
                                                )["citations"][0]["text"]
    pages = site.hits["/news/harbour-wall"] + site.hits["/news/ferry-timetable"]
    version = run("sources").output.splitlines()[-1]

    again = run("update")
    assert again.exit_code == 0
    assert f"{url}: not modified since the last check" in again.output
    assert site.conditional["/feed.xml"] == 1  # answered 304 to the ETag
    assert site.hits["/news/harbour-wall"] + site.hits["/news/ferry-timetable"] == pages
    assert "Built index" not in again.output
    assert run("sources").output.splitlines()[-1] == version


@both_states
def test_a_changed_entry_replaces_its_old_sentences(site: FeedSite, run: Any) -> None:
    url = site.set_feed("/feed.xml", [HARBOUR])
    run("feed", "add", url)
    run("update")
    corrected = replace(HARBOUR, paragraphs=[
        "The Wexley council rejected the new harbour wall on Tuesday after a long debate.",
        HARBOUR.paragraphs[1]], updated="2026-11-26T12:00:00Z")
    site.set_feed("/feed.xml", [corrected])
    result = run("update")
    assert f"{url}: 0 new, 1 updated, 0 unchanged, 0 failed" in result.output
    texts = [c["text"] for c in ask(run, "What did the council decide about the harbour wall?"
                                     )["citations"]]
    assert any("rejected the new harbour wall" in t for t in texts)
    assert not any("approved the new harbour wall" in t for t in texts)
    sources = run("sources", "--json").output.splitlines()
    assert len(sources) == 1  # one article, replaced in place


@both_states
def test_feed_list_and_remove_with_drop_articles(site: FeedSite, run: Any) -> None:
    url = site.set_feed("/feed.xml", [HARBOUR, FERRY])
    run("feed", "add", url, "--collection", "club")
    run("update")
    listed = run("feed", "list").output
    assert url in listed and "collection club, 2 articles" in listed
    assert "last error" not in listed
    result = run("feed", "remove", url, "--drop-articles")
    assert result.exit_code == 0
    assert "Deleted 2 of its articles" in result.output
    assert "No feeds are followed" in run("feed", "list").output


def test_feed_commands_refuse_bad_input_clearly(run: Any) -> None:
    bad = run("feed", "add", "file:///etc/passwd")
    assert bad.exit_code == 1 and "not an http:// or https:// URL" in bad.output
    unknown = run("feed", "remove", "http://127.0.0.1:9/feed")
    assert unknown.exit_code == 1 and "is not followed" in unknown.output
    none = run("update")
    assert none.exit_code == 1 and "no feeds are followed" in none.output


def test_feeds_from_the_setting_are_followed(site: FeedSite, tmp_path: Path) -> None:
    url = site.set_feed("/feed.xml", [HARBOUR])
    settings = IndexSettings(data_dir=tmp_path / "data", sources=(), feeds=(url,),
                             fetch_allow_private=True)
    report = update(settings)
    assert [r.new for r in report.feeds] == [1]
    assert [f.configured for f in list_feeds(settings)] == [True]
    assert Index.open(settings).article_count == 1


@both_states
def test_the_newest_articles_are_kept_within_the_cap(site: FeedSite, tmp_path: Path,
                                                     state_dsn: str) -> None:
    entries = [Entry(f"n{i}", f"Council notice {i}", [
        f"Notice {i}: the council meets on day {i} of the month to discuss the harbour."],
        published=f"2026-11-{10 + i:02d}T09:00:00+00:00") for i in range(4)]
    url = site.set_feed("/feed.xml", entries[:3])
    settings = IndexSettings(data_dir=tmp_path / "data", sources=(), feeds=(url,),
                             fetch_allow_private=True, feed_max_articles=2,
                             state_dsn=state_dsn)
    first = update(settings).feeds[0]
    assert (first.new, first.skipped_cap) == (2, 1)
    site.set_feed("/feed.xml", entries)
    second = update(settings).feeds[0]
    assert (second.new, second.unchanged, second.dropped) == (1, 1, 1)
    titles = sorted(a.title for a in Index.open(settings).sources())
    assert titles == ["Council notice 2", "Council notice 3"]
    assert len(list(feeds_dir(settings).rglob("*.txt"))) == 2


@both_states
def test_an_update_that_meets_a_running_build_indexes_at_the_next(site: FeedSite,
                                                                    tmp_path: Path,
                                                                    state_dsn: str) -> None:
    from index.building.builder import build_lock

    url = site.set_feed("/feed.xml", [HARBOUR])
    settings = IndexSettings(data_dir=tmp_path / "data", sources=(), feeds=(url,),
                             fetch_allow_private=True, state_dsn=state_dsn)
    with build_lock(settings):  # another build is running
        held = update(settings)
    assert held.feeds[0].new == 1 and held.build is None and held.indexed == ()
    assert "a build is running" in (held.build_error or "")
    later = update(settings)
    assert later.feeds[0].not_modified
    assert [a.title for a in later.indexed] == ["Harbour wall approved"]
    assert Index.open(settings).article_count == 1


def test_feed_articles_carry_their_dates_into_time_questions_and_timelines(
        site: FeedSite, run: Any) -> None:
    later = Entry("harbour-wall-work", "Work starts on the harbour wall", [
        "Builders began work on the Wexley harbour wall on Saturday, weeks ahead of plan.",
    ], published="2026-11-28T10:00:00+00:00")
    url = site.set_feed("/feed.xml", [HARBOUR, FERRY, later])
    assert run("feed", "add", url).exit_code == 0
    assert run("update").exit_code == 0
    story = json.loads(run("timeline", "--json", "the Wexley harbour wall").output)
    assert [(e["title"], e["published"][:10]) for e in story["entries"]] == [
        ("Harbour wall approved", "2026-11-26"),
        ("Work starts on the harbour wall", "2026-11-28")]  # not the ferry, oldest first
    result = run("ask", "--json", "--today", "2026-11-29",
                 "What happened to the harbour wall yesterday?")
    answer = json.loads(result.output)
    assert answer["time_range"]["since"] == "2026-11-28"
    assert "Builders began work" in answer["citations"][0]["text"]
