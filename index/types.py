"""The small frozen records that cross the boundary between `index/` and its callers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The collection every server sees: the bundled and admin-chosen shared articles.
SHARED = ""


@dataclass(frozen=True)
class Citation:
    """One quoted sentence and exactly where it comes from.

    `text == article_text[start:end]` is verified before a citation is returned.
    `paragraph` and `sentence` are 1-based; `sentence` counts within the paragraph.
    `answer_start`/`answer_end`, when set, are the words of the quote that answer the
    question (`index/answer/answer_words.py`), as offsets in the article text like `start`
    and `end`: `answer == article_text[answer_start:answer_end]`, a part of `text`.
    """

    doc_id: str
    title: str
    url: str | None
    paragraph: int
    sentence: int
    start: int
    end: int
    text: str
    score: float
    published: str | None = None
    """The article's publication date as the source gives it (ISO `2026-11-26` mostly)."""
    answer_start: int | None = None
    answer_end: int | None = None

    def __post_init__(self) -> None:
        if (self.answer_start is None) != (self.answer_end is None):
            raise ValueError("answer_start and answer_end are set together")
        if self.answer_start is not None and self.answer_end is not None and not (
                self.start <= self.answer_start < self.answer_end <= self.end):
            raise ValueError(f"answer span [{self.answer_start}, {self.answer_end}) is not "
                             f"inside the quote [{self.start}, {self.end})")

    @property
    def answer(self) -> str | None:
        """The words of the quote that answer the question, or None (the whole quote)."""
        if self.answer_start is None or self.answer_end is None:
            return None
        return self.text[self.answer_start - self.start:self.answer_end - self.start]

    def marked(self) -> tuple[str, str, str]:
        """The quote cut around its answer words: (before, answer, after); (text, "", "")
        when it has none."""
        if self.answer_start is None or self.answer_end is None:
            return self.text, "", ""
        a, b = self.answer_start - self.start, self.answer_end - self.start
        return self.text[:a], self.text[a:b], self.text[b:]

    def to_json(self) -> dict[str, object]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "url": self.url,
            "paragraph": self.paragraph,
            "sentence": self.sentence,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "score": round(self.score, 4),
            "published": self.published,
            "answer": None if self.answer is None else {
                "text": self.answer, "start": self.answer_start, "end": self.answer_end},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Citation:
        """The citation `to_json` wrote (also one written before answer words were kept)."""
        fields = {k: v for k, v in data.items() if k != "answer"}
        answer = data.get("answer")
        if isinstance(answer, dict):
            fields["answer_start"], fields["answer_end"] = answer["start"], answer["end"]
        return cls(**fields)

    @property
    def date(self) -> str | None:
        """The publication date for people ("26 Nov 2026"), or None when unknown."""
        return display_date(self.published)


def display_date(published: str | None) -> str | None:
    """"26 Nov 2026" for an ISO date or date-time; other text as it is (trimmed)."""
    import datetime as dt

    text = (published or "").strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text[:10])
    except ValueError:
        return text[:40]
    return f"{day.day} {day.strftime('%b')} {day.year}"


@dataclass(frozen=True)
class TimeRange:
    """The days a question asks about, both ends included (None: open), in the configured
    time zone; or, with `recency`, a preference for the newest articles instead of a
    filter. `phrase` is what the question said ("yesterday"; empty for explicit options)."""

    since: dt.date | None = None
    until: dt.date | None = None
    recency: bool = False
    phrase: str = ""

    def describe(self) -> str:
        """For people: "of 1 Dec 2026", "of 1–2 Dec 2026", "of Nov 2026", "since 30 Nov
        2026", "up to 2 Mar 2026", "newest first"."""
        a, b = self.since, self.until
        if self.recency or (a is None and b is None):
            return "newest first" if self.recency else "of any date"
        if a is None:
            return f"up to {_day(b)}"
        if b is None:
            return f"since {_day(a)}"
        if a == b:
            return f"of {_day(a)}"
        if (a.month, a.day, b.month, b.day) == (1, 1, 12, 31) and a.year == b.year:
            return f"of {a.year}"
        if a.day == 1 and (a.year, a.month) == (b.year, b.month) and \
                (b + dt.timedelta(days=1)).day == 1:
            return f"of {a:%b} {a.year}"
        if (a.year, a.month) == (b.year, b.month):
            return f"of {a.day}–{_day(b)}"
        if a.year == b.year:
            return f"of {a.day} {a:%b} – {_day(b)}"
        return f"of {_day(a)} – {_day(b)}"

    def to_json(self) -> dict[str, object]:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "recency": self.recency, "phrase": self.phrase,
                "description": self.describe()}


def _day(day: dt.date | None) -> str:
    assert day is not None
    return f"{day.day} {day:%b} {day.year}"


@dataclass(frozen=True)
class Answer:
    """What `Index.answer` returns.

    When `abstained` is true, `citations` is empty and `closest` may hold the best
    sentence found, which is *not* an answer (for "closest match" displays).
    `follow_up_of` is set when the question was read in the context of an earlier one.
    """

    question: str
    citations: tuple[Citation, ...]
    abstained: bool
    confidence: float
    closest: Citation | None = None
    follow_up_of: str | None = None
    """The earlier question this one was read as a follow-up of (None: read on its own)."""
    time_range: TimeRange | None = None
    """The days the question asked about ("yesterday"), or its preference for the newest
    articles ("latest"); None when it named no time."""
    undated_left_out: int = 0
    """Articles without a date that a time filter left out (never dropped silently)."""

    def to_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "citations": [c.to_json() for c in self.citations],
            "closest": self.closest.to_json() if self.closest else None,
            "follow_up_of": self.follow_up_of,
            "time_range": self.time_range.to_json() if self.time_range else None,
            "undated_left_out": self.undated_left_out,
        }


@dataclass(frozen=True)
class Timeline:
    """What `Index.timeline` returns: for a topic, one dated quote per article about it,
    oldest first."""

    topic: str
    entries: tuple[Citation, ...]
    """Each the sentence of its article that best answers or states the topic."""
    undated: int = 0
    """Articles about the topic left out because they carry no date."""
    more: int = 0
    """Dated articles about the topic beyond the quotes asked for."""
    time_range: TimeRange | None = None
    """The days the quotes were limited to (None: any)."""

    def to_json(self) -> dict[str, object]:
        return {"topic": self.topic, "entries": [c.to_json() for c in self.entries],
                "undated": self.undated, "more": self.more,
                "time_range": self.time_range.to_json() if self.time_range else None}


@dataclass(frozen=True)
class ArticleInfo:
    """One indexed article, as listed by `Index.sources()`."""

    doc_id: str
    title: str
    url: str | None
    sentences: int
    indexed_at: str
    source: str
    collection: str = SHARED


@dataclass(frozen=True)
class Source:
    """A file or folder of articles to index, and the collection its articles belong to."""

    path: Path
    collection: str = SHARED


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class BuildProgress:
    """Reported during a build: `stage` is 'reading', 'embedding' or 'writing'."""

    stage: str
    done: int
    total: int


ProgressCallback = Callable[[BuildProgress], None]


@dataclass(frozen=True)
class BuildReport:
    version: str
    articles: int
    sentences: int
    embedded_articles: int
    reused_articles: int
    skipped: tuple[SkippedFile, ...] = field(default_factory=tuple)
    seconds: float = 0.0
    unchanged: bool = False
    """True when nothing changed since the current version, so no new version was made."""
