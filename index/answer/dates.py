"""Questions about time: the days a question's time expression asks for, the articles'
`published` days it is compared with, and the preference for newer articles.

`read_time(question, today)` finds one expression ("yesterday", "this week", "in
November", "since Monday", "before 3 March", "in 2015", "latest"...) and turns it into a
`TimeRange` of whole days in the configured time zone: a filter (only articles published
then may be quoted; `Index.answer` passes it as the allowed-rows mask) or, for "latest",
"most recent"..., a preference (`prefer_recent`: among the sentences that score nearly
as well as the best, the newest article's, if the same abstention evidence says it
answers). Written-out dates ("3 March", "Dec 2, 2026", "2026-12-02") are read by
python-dateutil; the words around them (since, before, in, last ...) are matched here, as
dateutil reads dates, not what a sentence does with them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from index.errors import DateNotUnderstood
from index.types import TimeRange

if TYPE_CHECKING:
    from index.answer.rank import Ranking

#: sentences within this many points of the best score may give way to a newer article's
#: (the scale of the learned ranker; a story's newer article scored 0.8-1.1 below its best
#: in the dated test corpus)
RECENCY_MARGIN = 1.5
#: at most this many newer articles are checked with the abstention evidence
RECENCY_ARTICLES = 5

MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
          "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
_MONTH = rf"(?:{MONTHS})\.?"
_WEEKDAY = rf"(?:last\s+)?(?:{'|'.join(WEEKDAYS)})"
DATE = (rf"(?:\d{{4}}-\d\d-\d\d|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}"
        rf"|{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+{_YEAR})?"
        rf"|{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?(?![\d:])"
        rf"|{_MONTH}(?:\s+{_YEAR})?|{_YEAR}|{_WEEKDAY})")
_COUNT = r"\d+|two|three|four|five|six|seven|ten"
_RELATIVE = re.compile(
    r"\b(?P<word>today|tonight|this\s+morning|this\s+evening|yesterday|last\s+night"
    r"|this\s+week|last\s+week|this\s+month|last\s+month|this\s+year|last\s+year"
    rf"|(?:in\s+the\s+|over\s+the\s+)?(?:past|last)\s+(?P<n>{_COUNT})\s+"
    r"(?P<unit>days?|weeks?|months?|years?)"
    rf"|(?P<ago>{_COUNT})\s+(?P<ago_unit>days?|weeks?)\s+ago)\b", re.I)
_BETWEEN = re.compile(rf"\b(?:between|from)\s+(?P<a>{DATE})\s+(?:and|to|until|till)\s+"
                      rf"(?P<b>{DATE})\b", re.I)
_ANCHORED = re.compile(rf"\b(?P<prep>since|after|before|until|till|on|in|during|from)\s+"
                       rf"(?P<the>the\s+)?(?P<date>{DATE})\b(?P<next>[-–/]?\s*[\w]*)", re.I)
#: a date written as an adjective ("the 2000 primaries", "2009-2013", "in 2016 what ...")
#: names when something happened, not when articles were published; after a year or a
#: month these words still leave it a time of publication
_AFTER_DATE = frozenset({"about", "and", "or", "on", "to", "from", "that", "when", "while",
                         "for", "as", "by", "with", "against", "over", "regarding"})
_RECENT = re.compile(r"\b(?:the\s+)?(?:latest|most\s+recent(?:ly)?|newest|recent(?:ly)?"
                     r"|lately|these\s+days)\b", re.I)
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10}

Found = tuple[tuple[int, int], TimeRange]


def read_time(question: str, today: dt.date) -> tuple[TimeRange | None, str]:
    """The days `question` asks about (None: it names no time), and the question without
    the words that said so (what is ranked: "yesterday" is a filter, not a topic)."""
    for finder in (_between, _relative, _anchored, _recent):
        found = finder(question, today)
        if found is not None:
            (start, end), when = found
            rest = " ".join(f"{question[:start]} {question[end:]}".split())
            rest = re.sub(r"\s+([?.!,;:])", r"\1", rest)
            return when, (rest if any(c.isalnum() for c in rest) else question)
    return None, question


def time_range(since: str | dt.date | None, until: str | dt.date | None,
               today: dt.date) -> TimeRange | None:
    """The range of explicit `since`/`until` options (dates, or text such as "2026-12-01",
    "3 March", "Monday", "yesterday"; both inclusive); None when neither is given.
    Raises DateNotUnderstood for text that is not a date."""
    if since is None and until is None:
        return None
    first = _option(since, today, "since", 0)
    last = _option(until, today, "until", 1)
    if first is not None and last is not None and first > last:
        raise DateNotUnderstood(f"since ({first:%d %b %Y}) is after until ({last:%d %b %Y})")
    return TimeRange(first, last)


def _option(value: str | dt.date | None, today: dt.date, name: str, end: int
            ) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    text = value.strip()
    if not text:
        return None
    days = parse_day(text, today)
    if days is None:
        relative = _relative(text, today)
        if relative is not None and relative[0] == (0, len(text)):
            pair = (relative[1].since, relative[1].until)
            days = (pair[0] or today, pair[1] or today)
    if days is None:
        raise DateNotUnderstood(f"{name}: {text[:40]!r} is not a date; try 2026-12-01, "
                                "3 March, Monday or yesterday")
    return days[end]


def _between(question: str, today: dt.date) -> Found | None:
    m = _BETWEEN.search(question)
    if not m:
        return None
    a, b = parse_day(m["a"], today), parse_day(m["b"], today)
    if a is None or b is None:
        return None
    return m.span(), TimeRange(min(a[0], b[0]), max(a[1], b[1]), phrase=m[0])


def _relative(question: str, today: dt.date) -> Found | None:
    m = _RELATIVE.search(question)
    if not m:
        return None
    from dateutil.relativedelta import relativedelta

    word = " ".join(m["word"].lower().split())
    monday = today - dt.timedelta(days=today.weekday())
    first = today.replace(day=1)
    one = dt.timedelta(days=1)
    days: tuple[dt.date, dt.date]
    if word in ("today", "tonight", "this morning", "this evening"):
        days = (today, today)
    elif word in ("yesterday", "last night"):
        days = (today - one, today - one)
    elif word == "this week":
        days = (monday, today)
    elif word == "last week":
        days = (monday - 7 * one, monday - one)
    elif word == "this month":
        days = (first, today)
    elif word == "last month":
        days = (first - relativedelta(months=1), first - one)
    elif word == "this year":
        days = (today.replace(month=1, day=1), today)
    elif word == "last year":
        days = (dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31))
    elif m["ago"]:
        n = _number(m["ago"])
        if m["ago_unit"].lower().startswith("d"):
            days = (today - n * one, today - n * one)
        else:  # "two weeks ago": that week
            start = monday - 7 * n * one
            days = (start, start + 6 * one)
    else:
        n, unit = _number(m["n"]), m["unit"].lower().rstrip("s")
        step = {"day": relativedelta(days=n), "week": relativedelta(weeks=n),
                "month": relativedelta(months=n), "year": relativedelta(years=n)}[unit]
        days = (today - step + one, today)
    return m.span(), TimeRange(days[0], days[1], phrase=m[0])


def _anchored(question: str, today: dt.date) -> Found | None:
    for m in _ANCHORED.finditer(question):
        prep = m["prep"].lower()
        text = m["date"]
        follower = m["next"].strip().lower()
        bare = re.fullmatch(rf"{_MONTH}(?:\s+{_YEAR})?|{_YEAR}", text, re.I) is not None
        if bare and (m["the"] or follower[:1] in "-–/" and follower
                     or follower and follower not in _AFTER_DATE):
            continue
        if prep in ("in", "during") and re.fullmatch(_WEEKDAY, text, re.I):
            continue  # "in Monday's speech" names no range
        if prep == "on" and re.fullmatch(rf"{_MONTH}(?:\s+{_YEAR})?|{_YEAR}", text, re.I):
            continue  # "on May ..." is rarely a date
        parsed = parse_day(text, today)
        if parsed is None:
            continue
        first, last = parsed
        one = dt.timedelta(days=1)
        days: tuple[dt.date | None, dt.date | None] = {
            "since": (first, None), "after": (last + one, None), "before": (None, first - one),
            "until": (None, last), "till": (None, last)}.get(prep, (first, last))
        return (m.start(), m.end("date")), TimeRange(days[0], days[1],
                                                     phrase=question[m.start():m.end("date")])
    return None


def _recent(question: str, today: dt.date) -> Found | None:
    m = _RECENT.search(question)
    if not m:
        return None
    return m.span(), TimeRange(recency=True, phrase=m[0].strip())


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word.lower()]


#: dateutil fills what a text leaves out from a default: parsing with two defaults that
#: differ in every part tells which parts were written
_DEFAULTS = (dt.datetime(2000, 1, 1), dt.datetime(2004, 2, 2))


def parse_day(text: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first and last day `text` names ("3 March" one day, "November" a month,
    "2015" a year, "Monday" the latest Monday up to today); a year left out is the latest
    that is not in the future. None if it is not a date."""
    words = " ".join(text.lower().split())
    name = words.removeprefix("last ")
    if name in WEEKDAYS:
        back = (today.weekday() - WEEKDAYS.index(name)) % 7
        if back == 0 and words.startswith("last "):
            back = 7
        day = today - dt.timedelta(days=back)
        return day, day
    from dateutil import parser
    from dateutil.relativedelta import relativedelta

    try:
        a, b = (parser.parse(text, default=d, dayfirst=True) for d in _DEFAULTS)
    except (ValueError, OverflowError):
        return None
    has_year, has_month, has_day = a.year == b.year, a.month == b.month, a.day == b.day
    if not has_month:
        return (dt.date(a.year, 1, 1), dt.date(a.year, 12, 31)) if has_year and not has_day \
            else None
    year = a.year if has_year else today.year
    if has_day:
        try:
            day = dt.date(year, a.month, a.day)
        except ValueError:
            return None
        if not has_year and day > today:
            day = day.replace(year=year - 1) if (a.month, a.day) != (2, 29) else day
        return day, day
    first = dt.date(year, a.month, 1)
    if not has_year and first > today:
        first = first.replace(year=year - 1)
    return first, first + relativedelta(months=1) - dt.timedelta(days=1)


def published_day(published: str | None, zone: ZoneInfo) -> dt.date | None:
    """The day an article was published, in `zone` (a date-time with an offset is moved
    there; a plain date is taken as it is); None when unknown or unreadable."""
    text = (published or "").strip()
    if not text:
        return None
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        from dateutil import parser

        try:
            moment = parser.parse(text)
        except (ValueError, OverflowError):
            return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.date()


def article_days(published: Sequence[str | None], zone: ZoneInfo) -> np.ndarray:
    """Per article, its publication day as an ordinal (`date.toordinal()`; 0: undated)."""
    return np.fromiter(((d.toordinal() if (d := published_day(p, zone)) else 0)
                        for p in published), dtype=np.int64, count=len(published))


def visible_articles(days: np.ndarray, row_article: np.ndarray,
                     allowed: np.ndarray | None) -> np.ndarray:
    """Per article, whether `allowed` holds any of its rows (None: all do)."""
    visible = np.ones(len(days), dtype=bool)
    if allowed is not None:
        visible[:] = False
        visible[row_article[allowed]] = True
    return visible


def any_dated(days: np.ndarray, row_article: np.ndarray, allowed: np.ndarray | None) -> bool:
    """Whether any article `allowed` holds has a date: where none has (the bundled sample,
    most data sets), a question's time words are part of what it asks, not a filter."""
    return bool((visible_articles(days, row_article, allowed) & (days > 0)).any())


def in_range(days: np.ndarray, row_article: np.ndarray, allowed: np.ndarray | None,
             when: TimeRange) -> tuple[np.ndarray, int]:
    """The rows that may be quoted for `when` (those of `allowed` whose article was
    published in it), and how many articles `allowed` had that carry no date."""
    visible = visible_articles(days, row_article, allowed)
    lo = when.since.toordinal() if when.since else 1
    hi = when.until.toordinal() if when.until else dt.date.max.toordinal()
    dated_in = (days > 0) & (days >= lo) & (days <= hi)
    rows = (visible & dated_in)[row_article]
    return rows, int((visible & (days == 0)).sum())


def prefer_recent(ranking: Ranking, days: np.ndarray, row_article: np.ndarray,
                  in_article: Callable[[int], Ranking], threshold: float) -> Ranking:
    """`ranking`, or, when an article newer than its best sentence's has a sentence within
    RECENCY_MARGIN of the best score and answers by itself (`in_article(a)`: the ranking
    of article `a` alone, confidence at least `threshold`), the newest such ranking."""
    if len(ranking.rows) == 0:
        return ranking
    top = float(ranking.scores[0])
    close = ranking.rows[ranking.scores >= top - RECENCY_MARGIN]
    best_day = int(days[row_article[int(ranking.rows[0])]])
    articles = list(dict.fromkeys(int(a) for a in row_article[close]))
    newer = sorted((a for a in articles if int(days[a]) > best_day),
                   key=lambda a: -int(days[a]))
    for article in newer[:RECENCY_ARTICLES]:
        alone = in_article(article)
        if len(alone.rows) and alone.confidence >= threshold:
            return alone
    return ranking
