"""The small frozen records that cross the boundary between `index/` and its callers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: The collection every server sees: the bundled and admin-chosen shared articles.
SHARED = ""


@dataclass(frozen=True)
class Citation:
    """One quoted sentence and exactly where it comes from.

    `text == article_text[start:end]` is verified before a citation is returned.
    `paragraph` and `sentence` are 1-based; `sentence` counts within the paragraph.
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
        }

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

    def to_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "citations": [c.to_json() for c in self.citations],
            "closest": self.closest.to_json() if self.closest else None,
            "follow_up_of": self.follow_up_of,
        }


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
