"""Reading the time a question names (no model: the words and dates alone). Today is
Wednesday 2 December 2026 throughout."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from index import DateNotUnderstood, TimeRange
from index.answer.dates import published_day, read_time, time_range

TODAY = dt.date(2026, 12, 2)  # a Wednesday
D = dt.date


@pytest.mark.parametrize(("question", "since", "until"), [
    ("What did Starmer say yesterday?", D(2026, 12, 1), D(2026, 12, 1)),
    ("What happened today?", TODAY, TODAY),
    ("What happened this week?", D(2026, 11, 30), TODAY),
    ("What happened last week?", D(2026, 11, 23), D(2026, 11, 29)),
    ("What changed since Monday?", D(2026, 11, 30), None),
    ("What did Bardella promise in November?", D(2026, 11, 1), D(2026, 11, 30)),
    ("What did he promise in March?", D(2026, 3, 1), D(2026, 3, 31)),  # the last March past
    ("Who won in 2015?", D(2015, 1, 1), D(2015, 12, 31)),
    ("What was said before 3 March?", None, D(2026, 3, 2)),
    ("How many crossed after 30 November?", D(2026, 12, 1), None),
    ("What did he say on 1 December?", D(2026, 12, 1), D(2026, 12, 1)),
    ("What happened on Dec 1, 2026?", D(2026, 12, 1), D(2026, 12, 1)),
    ("What did he say in the past 3 days?", D(2026, 11, 30), TODAY),
    ("What happened 2 days ago?", D(2026, 11, 30), D(2026, 11, 30)),
    ("Who spoke between 24 November and 27 November?", D(2026, 11, 24), D(2026, 11, 27)),
    ("What did they agree in May 2025?", D(2025, 5, 1), D(2025, 5, 31)),
])
def test_a_time_expression_becomes_a_range_of_days(question: str, since: dt.date | None,
                                                    until: dt.date | None) -> None:
    when, _ = read_time(question, TODAY)
    assert when is not None and (when.since, when.until, when.recency) == (since, until, False)


@pytest.mark.parametrize("question", ["What's the latest on the Channel crossings?",
                                      "What was the most recent figure?",
                                      "What has Starmer said recently?"])
def test_asking_for_the_latest_is_a_preference_not_a_filter(question: str) -> None:
    when, _ = read_time(question, TODAY)
    assert when == TimeRange(recency=True, phrase=when.phrase) and when.phrase


@pytest.mark.parametrize("question", ["Who leads the National Rally?", "Who may lead France?",
                                      "What did the March report say?",
                                      "Who won the 2015 election?"])
def test_questions_that_name_no_time_are_left_alone(question: str) -> None:
    assert read_time(question, TODAY) == (None, question)


def test_the_words_that_named_the_time_are_not_ranked() -> None:
    assert read_time("What did Starmer say yesterday?", TODAY)[1] == "What did Starmer say?"
    assert read_time("What did he promise in November?", TODAY)[1] == "What did he promise?"


def test_options_take_dates_and_relative_words() -> None:
    assert time_range("2026-11-24", "yesterday", TODAY) == TimeRange(D(2026, 11, 24),
                                                                       D(2026, 12, 1))
    assert time_range("Monday", None, TODAY) == TimeRange(D(2026, 11, 30), None)
    assert time_range(None, None, TODAY) is None


@pytest.mark.parametrize(("since", "until"), [("blorp", None), (None, "the 45th"),
                                              ("2026-12-02", "2026-11-01")])
def test_an_option_that_is_not_a_date_is_a_clear_error(since: str | None,
                                                       until: str | None) -> None:
    with pytest.raises(DateNotUnderstood):
        time_range(since, until, TODAY)


def test_published_dates_are_read_in_the_configured_zone() -> None:
    london, new_york = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
    assert published_day("2026-11-26", london) == D(2026, 11, 26)
    assert published_day("2026-12-01T23:30:00-05:00", london) == D(2026, 12, 2)
    assert published_day("2026-12-02T01:30:00+00:00", new_york) == D(2026, 12, 1)
    assert published_day("Tue, 01 Dec 2026 10:00:00 GMT", london) == D(2026, 12, 1)
    assert published_day("sometime", london) is None and published_day(None, london) is None


@pytest.mark.parametrize(("when", "text"), [
    (TimeRange(D(2026, 12, 1), D(2026, 12, 1)), "of 1 Dec 2026"),
    (TimeRange(D(2026, 12, 1), D(2026, 12, 2)), "of 1–2 Dec 2026"),
    (TimeRange(D(2026, 11, 1), D(2026, 11, 30)), "of Nov 2026"),
    (TimeRange(D(2015, 1, 1), D(2015, 12, 31)), "of 2015"),
    (TimeRange(D(2026, 11, 30), None), "since 30 Nov 2026"),
    (TimeRange(None, D(2026, 3, 2)), "up to 2 Mar 2026"),
    (TimeRange(D(2026, 11, 24), D(2026, 12, 2)), "of 24 Nov – 2 Dec 2026"),
])
def test_a_range_reads_naturally(when: TimeRange, text: str) -> None:
    assert when.describe() == text


@pytest.mark.parametrize("question", ["Who did Bush defeat in the 2000 South Carolina primaries?",
                                      "What share was Hispanic in 2009-2013?",
                                      "In 2016 what would the threshold change to?"])
def test_a_year_used_as_an_adjective_is_not_a_range(question: str) -> None:
    assert read_time(question, TODAY)[0] is None
