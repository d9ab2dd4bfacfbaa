"""Questions about time and timelines on a story told over several days
(`tests/data/dated/`: the Channel crossings from 24 Nov to 2 Dec 2026, an undated
explainer, a dated article on something else, plus the undated bundled article). The
clock is fixed at noon on Wednesday 2 December 2026, London time."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from index import Index, IndexSettings
from index.cli.main import cli
from tests.conftest import DATED_ARTICLES

pytestmark = pytest.mark.slow

DATED = DATED_ARTICLES
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
UNDATED = 2  # the explainer and the bundled article


@pytest.fixture(scope="session")
def dated(dated_settings: IndexSettings) -> Index:
    return Index.open(dated_settings)


def day_of(citation: object) -> str:
    return str(getattr(citation, "published", ""))[:10]


def test_yesterday_quotes_yesterdays_article(dated: Index) -> None:
    answer = dated.answer("What did the Home Secretary say yesterday?", now=NOW)
    assert not answer.abstained
    assert {day_of(c) for c in answer.citations} == {"2026-12-01"}
    assert answer.time_range is not None and answer.time_range.describe() == "of 1 Dec 2026"


def test_in_november_quotes_the_november_article(dated: Index) -> None:
    # without the time, the best answer is the December one
    assert day_of(dated.answer("What did the Home Secretary say?", now=NOW).citations[0]) \
        == "2026-12-01"
    answer = dated.answer("What did the Home Secretary say in November?", now=NOW)
    assert not answer.abstained and day_of(answer.citations[0]) == "2026-11-24"


def test_since_monday_leaves_out_the_older_articles(dated: Index) -> None:
    assert day_of(dated.answer("What did the Prime Minister say?", now=NOW).citations[0]) \
        == "2026-11-24"
    answer = dated.answer("What did the Prime Minister say since Monday?", now=NOW)
    assert not answer.abstained
    assert {day_of(c) for c in answer.citations} == {"2026-12-02"}


def test_latest_prefers_the_newest_article_that_answers(dated: Index) -> None:
    answer = dated.answer("What did the Prime Minister say most recently?", now=NOW)
    assert not answer.abstained and day_of(answer.citations[0]) == "2026-12-02"
    assert answer.time_range is not None and answer.time_range.recency
    assert answer.undated_left_out == 0  # a preference leaves nothing out
    story = dated.answer("What is the latest on the Channel crossings?", now=NOW)
    assert day_of(story.citations[0]) == "2026-12-02"


def test_undated_articles_are_counted_as_left_out_not_hidden(dated: Index) -> None:
    answer = dated.answer("How many people crossed the Channel yesterday?", now=NOW)
    assert answer.undated_left_out == UNDATED
    assert json.loads(json.dumps(answer.to_json()))["undated_left_out"] == UNDATED


def test_a_range_with_no_article_abstains_and_says_so(dated: Index) -> None:
    answer = dated.answer("Who crossed the Channel in 2015?", now=NOW)
    assert answer.abstained and answer.time_range is not None
    assert answer.time_range.describe() == "of 2015" and answer.undated_left_out == UNDATED


def test_explicit_options_win_over_the_question(dated: Index) -> None:
    answer = dated.answer("What did the Home Secretary say?", since="24 November",
                          until="2026-11-30", now=NOW)
    assert {day_of(c) for c in answer.citations} == {"2026-11-24"}


def test_a_timeline_is_in_date_order_one_quote_per_article_on_the_topic(dated: Index) -> None:
    story = dated.timeline("Channel crossings", now=NOW)
    days = [day_of(c) for c in story.entries]
    assert days == ["2026-11-24", "2026-11-27", "2026-11-30", "2026-12-01", "2026-12-02"]
    assert len({c.doc_id for c in story.entries}) == len(story.entries)
    assert "winter-market" not in " ".join(c.doc_id for c in story.entries)  # off the topic
    assert story.undated == UNDATED  # on the topic, but cannot be placed
    for c in story.entries:  # every quote is the article's text at its span
        assert (DATED / f"{c.doc_id}.md").read_text(encoding="utf-8").find(c.text) >= 0


def test_a_timeline_keeps_the_most_relevant_then_orders_them(dated: Index) -> None:
    story = dated.timeline("Channel crossings", n=2, now=NOW)
    assert len(story.entries) == 2 and story.more == 3
    assert [day_of(c) for c in story.entries] == sorted(day_of(c) for c in story.entries)


def test_a_timeline_of_a_topic_with_nothing_dated_says_so(dated: Index) -> None:
    story = dated.timeline("Jordan Bardella and the National Rally", now=NOW)
    assert story.entries == () and story.undated == 1
    assert dated.timeline("the Apollo moon landing", now=NOW).undated == 0


@pytest.fixture
def run(dated_settings: IndexSettings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(dated_settings.data_dir))
    monkeypatch.setenv("CITEBOT_TIME_ZONE", "Europe/London")

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_cli_ask_json_reports_the_range_used(run) -> None:
    result = run("ask", "--json", "--today", "2026-12-02",
                 "What did the Home Secretary say yesterday?")
    answer = json.loads(result.output)
    assert answer["time_range"]["since"] == answer["time_range"]["until"] == "2026-12-01"
    assert answer["undated_left_out"] == UNDATED


def test_cli_ask_since_until_and_the_reply_says_the_range(run) -> None:
    result = run("ask", "--since", "2026-11-24", "--until", "2026-11-30",
                 "What did the Home Secretary say?")
    assert result.exit_code == 0
    assert result.output.startswith("(from articles of 24–30 Nov 2026; 2 undated articles "
                                    "left out)")
    assert "Small boat arrivals rise again, 24 Nov 2026" in result.output


def test_cli_since_that_is_not_a_date_is_a_clear_error(run) -> None:
    result = run("ask", "--since", "soonish", "What did the Home Secretary say?")
    assert result.exit_code == 1 and "'soonish' is not a date" in result.output


def test_cli_timeline_prints_dated_quotes_oldest_first(run) -> None:
    result = run("timeline", "--today", "2026-12-02", "Channel crossings")
    lines = [line for line in result.output.splitlines() if line[:1].isdigit()]
    assert [line.split("  ")[0] for line in lines] == [
        "24 Nov 2026", "27 Nov 2026", "30 Nov 2026", "1 Dec 2026", "2 Dec 2026"]
    assert "(2 articles on it without a date left out)" in result.output
    data = json.loads(run("timeline", "--json", "Storm Bert").output)
    assert [e["doc_id"] for e in data["entries"]] == ["2026-11-30-storm"]


def test_where_no_article_has_a_date_time_words_are_part_of_the_question(
        bundled: Index) -> None:
    question = "Who did Bardella call a smokescreen in November?"
    answer = bundled.answer(question, now=NOW)
    assert answer.time_range is None and answer.undated_left_out == 0
    assert not answer.abstained and "smokescreen" in answer.citations[0].text
    # an explicit range still applies: nothing dated, so nothing to quote
    limited = bundled.answer(question, since="2026-11-01", now=NOW)
    assert limited.abstained and limited.undated_left_out == 1
