"""`Index`: one opened index version, answering questions with verified citations."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from index.answer import answer_words, dates, followup, timeline
from index.answer.rank import Ranker, Ranking
from index.errors import IndexDamaged, IndexUnreachable
from index.ingest import segment
from index.models.embed import Encoder, load_encoder
from index.settings import IndexSettings
from index.storage import files, store
from index.storage.backend import Version
from index.types import Answer, ArticleInfo, Citation, Timeline, TimeRange

log = logging.getLogger(__name__)


class CitationMismatch(AssertionError):
    """A quote does not match the stored article text at its span: a bug, never shown as an
    answer."""


@dataclass(frozen=True)
class _Row:
    article: int
    paragraph: int
    sentence: int
    start: int
    end: int
    text: str


class SentenceTable(Sequence[_Row]):
    """Every sentence row of a version, from one int32 array (article, paragraph,
    sentence, start, end) instead of an object per row; a row's text is its article's text
    at the span (the text the splitter stored is checked against it when quoted)."""

    def __init__(self, spans: np.ndarray, articles: Sequence[store.ArticleRow]) -> None:
        self.spans = spans
        self.articles = articles

    def __len__(self) -> int:
        return len(self.spans)

    @overload
    def __getitem__(self, row: int) -> _Row: ...
    @overload
    def __getitem__(self, row: slice) -> Sequence[_Row]: ...

    def __getitem__(self, row: int | slice) -> _Row | Sequence[_Row]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        article, paragraph, sentence, start, end = self.spans[row].tolist()
        return _Row(article, paragraph, sentence, start, end,
                    self.articles[article].text[start:end])

    def text(self, row: int) -> str:
        """The text of sentence `row` (its article's text at its span)."""
        article, _, _, start, end = self.spans[row].tolist()
        return self.articles[article].text[start:end]

    @property
    def article(self) -> np.ndarray:
        """The article of every row."""
        return np.asarray(self.spans[:, 0], dtype=np.int64)


class Index:
    """An opened index version. Thread-safe for concurrent `answer` calls.

    Open with `Index.open(settings)`; a newer version built meanwhile is picked up by
    opening again (the old object keeps serving its own version until dropped).
    """

    def __init__(self, settings: IndexSettings, stored: Version, encoder: Encoder) -> None:
        self.settings = settings
        self.stored = stored  # the storage backend's opened version (storage/backend.py)
        self.version = stored.name
        self.version_dir: Path | None = getattr(stored, "version_dir", None)
        self.encoder = encoder
        self.articles = stored.articles
        self.rows = SentenceTable(stored.spans, self.articles)
        row_article = self.rows.article
        first = np.array([a.first_row for a in self.articles], dtype=np.int64)
        counts = np.array([a.n_sentences for a in self.articles], dtype=np.int64)
        self.ranker = Ranker(stored, row_article, first, counts, text_of=self.rows.text)
        self._days: np.ndarray | None = None  # per article, its day (dates.article_days)
        self._follower: _Follower | None = None

    # --- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: IndexSettings) -> Index:
        """Open the current version; if it is damaged, the newest intact older one.

        Raises IndexNotFound when nothing was built yet, IndexDamaged when no version is
        usable (the message names the file and says what to run).
        """
        encoder: list[Encoder] = []

        def check_model(version: Version) -> None:
            if not encoder:
                encoder.append(load_encoder(settings))
            if version.manifest.get("model") != encoder[0].label:
                raise IndexDamaged(
                    f"{getattr(version, 'version_dir', version.name)} was built with the model "
                    f"{version.manifest.get('model')!r}, but the settings ask for "
                    f"{encoder[0].label!r}; run `citebot-index build`")

        if settings.storage_backend == "milvus":
            from index.storage import milvus

            client = milvus.connect(settings)
            version = milvus.open_current(settings, client)
            check_model(version)
            index = cls(settings, version, encoder[0])
            index._follower = _Follower(settings, client, index)
            return index
        return cls(settings, files.open_current(settings, check_model), encoder[0])

    def newer(self) -> Index | None:
        """The newer version another process switched to, already opened (None: none seen).
        With the Milvus backend a thread asks every `milvus_poll_seconds`, and `answer` and
        `timeline` use the newest version by themselves; with the files backend the holder
        follows the `CURRENT` pointer (`current_version_name`) and opens it."""
        latest = self._follower.latest if self._follower is not None else self
        return None if latest is self else latest

    # --- facts --------------------------------------------------------------------------
    @property
    def article_count(self) -> int:
        return len(self.articles)

    @property
    def sentence_count(self) -> int:
        return len(self.rows)

    def sources(self, collections: Collection[str] | None = None) -> list[ArticleInfo]:
        """The indexed articles (in `collections`, when given), in index order."""
        return [ArticleInfo(a.doc_id, a.title, a.url, a.n_sentences, a.indexed_at, a.source,
                            a.collection)
                for a in self.articles if collections is None or a.collection in collections]

    def paragraph_text(self, citation: Citation) -> str:
        """The whole paragraph a citation was quoted from."""
        article = self._article_at(citation)
        for start, end in segment.paragraphs(article.text):
            if start <= citation.start < end:
                return article.text[start:end]
        return citation.text

    def _article_at(self, citation: Citation) -> store.ArticleRow:
        for a in self.articles:
            if a.doc_id == citation.doc_id and a.text[citation.start:citation.end] == citation.text:
                return a
        raise KeyError(f"{citation.doc_id} is not in index version {self.version}")

    # --- answering ----------------------------------------------------------------------
    def allowed_rows(self, collections: Collection[str] | None = None,
                     doc_ids: Collection[str] | None = None,
                     exclude_doc_ids: Collection[str] = ()) -> np.ndarray | None:
        """Boolean row mask: articles in `collections` and in `doc_ids` (None: no limit),
        less `exclude_doc_ids`. None when nothing is filtered."""
        if collections is None and doc_ids is None and not exclude_doc_ids:
            return None
        # plain set membership: NumPy string arrays would drop trailing NULs and let
        # "doc\0" match "doc"
        colls = None if collections is None else set(collections)
        wanted = None if doc_ids is None else set(doc_ids)
        unwanted = set(exclude_doc_ids)
        ok = np.fromiter(((colls is None or a.collection in colls)
                          and (wanted is None or a.doc_id in wanted)
                          and a.doc_id not in unwanted for a in self.articles),
                         dtype=bool, count=len(self.articles))
        if ok.all():
            return None  # every article may be quoted: search without a filter
        return ok[self.ranker.row_article]

    def rank(self, question: str, allowed: np.ndarray | None = None) -> Ranking:
        q = self.encoder.encode([question])[0]
        return self.ranker.rank(question, q, allowed)

    def answer(self, question: str, k: int | None = None,
               collections: Collection[str] | None = None,
               doc_ids: Collection[str] | None = None,
               exclude_doc_ids: Collection[str] = (),
               context: Sequence[Answer] = (),
               since: str | dt.date | None = None, until: str | dt.date | None = None,
               now: dt.datetime | None = None) -> Answer:
        """The sentences that answer `question`, best first, or an abstention.

        `collections` and `doc_ids` limit the articles searched (None: all of them);
        `exclude_doc_ids` leaves articles out. `context` holds the conversation's earlier
        answers, oldest first: a follow-up ("What did he say about patrols?") borrows from
        them (`index/answer/followup.py`) and its answer's `follow_up_of` names the question it
        borrowed from. Without context, or for a question read as new, the answer is the
        standalone one.

        Time (`index/answer/dates.py`): `since`/`until` (dates or text: "2026-12-01",
        "Monday"; both included) or, without them, a time expression in the question
        ("yesterday", "in November", "latest") limit the articles to those published then,
        or prefer the newest; "today" is `now` (default: the clock) in the `time_zone`
        setting. The answer's `time_range` says which, and `undated_left_out` how many
        articles without a date a filter left out. Where no article searched has a date,
        the question's time words are read as part of the question (options still apply).
        Raises DateNotUnderstood for a `since`/`until` that is not a date.
        """
        latest = self.newer()
        if latest is not None:
            return latest.answer(question, k, collections, doc_ids, exclude_doc_ids, context,
                                 since, until, now)
        k = self.settings.max_citations if k is None else k
        question = question.strip()
        when, ranked = self.time_of(question, since, until, now)
        if not question or self.sentence_count == 0:
            return Answer(question, (), True, 0.0, None, time_range=when)
        allowed = self.allowed_rows(collections, doc_ids, exclude_doc_ids)
        undated = 0
        if when is not None and when.phrase and not dates.any_dated(
                self.article_days(), self.ranker.row_article, allowed):
            when, ranked = None, question  # no article has a date: the words are the question's
        if when is not None and not when.recency:
            allowed, undated = dates.in_range(self.article_days(), self.ranker.row_article,
                                              allowed, when)
        reading = self.read(ranked, context)
        if reading.is_follow_up:
            ranking = self.rank_follow_up(reading, allowed)
        else:
            ranking = self.rank(ranked, allowed)
        if when is not None and when.recency:
            ranking = self._prefer_recent(ranking, reading, ranked, allowed)
        if len(ranking.rows) == 0:
            return Answer(question, (), True, 0.0, None, reading.follow_up_of,
                          time_range=when, undated_left_out=undated)
        if ranking.confidence < self.settings.abstain_threshold:
            closest = self.citation(int(ranking.rows[0]), float(ranking.scores[0]))
            return Answer(question, (), True, ranking.confidence, closest,
                          reading.follow_up_of, time_range=when, undated_left_out=undated)
        citations = self._cite(ranking, k, ranked)
        return Answer(question, tuple(citations), False, ranking.confidence, None,
                      reading.follow_up_of, time_range=when, undated_left_out=undated)

    # --- time ---------------------------------------------------------------------------
    def today(self, now: dt.datetime | None = None) -> dt.date:
        """The day it is at `now` (default: the clock) in the `time_zone` setting."""
        now = now or dt.datetime.now(dt.UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
        return now.astimezone(self.settings.zone()).date()

    def time_of(self, question: str, since: str | dt.date | None = None,
                until: str | dt.date | None = None, now: dt.datetime | None = None
                ) -> tuple[TimeRange | None, str]:
        """The time range asked for (the options, else the question's own words) and the
        question as it is ranked (without the words that named the time)."""
        today = self.today(now)
        explicit = dates.time_range(since, until, today)
        when, ranked = dates.read_time(question, today)
        if explicit is not None:
            return explicit, ranked if when is not None and not when.recency else question
        return when, ranked

    def article_days(self) -> np.ndarray:
        """Per article, the day it was published (an ordinal; 0 when it has no date)."""
        if self._days is None:
            self._days = dates.article_days([a.published for a in self.articles],
                                            self.settings.zone())
        return self._days

    def _in_article(self, article: int, allowed: np.ndarray | None) -> np.ndarray:
        rows = self.ranker.row_article == article
        return rows if allowed is None else rows & allowed

    def _prefer_recent(self, ranking: Ranking, reading: followup.Reading, ranked: str,
                       allowed: np.ndarray | None) -> Ranking:
        def alone(article: int) -> Ranking:
            mask = self._in_article(article, allowed)
            return self.rank_follow_up(reading, mask) if reading.is_follow_up \
                else self.rank(ranked, mask)

        return dates.prefer_recent(ranking, self.article_days(), self.ranker.row_article,
                                   alone, self.settings.abstain_threshold)

    def timeline(self, topic: str, n: int = 8, collections: Collection[str] | None = None,
                 since: str | dt.date | None = None, until: str | dt.date | None = None,
                 now: dt.datetime | None = None) -> Timeline:
        """How a story developed: up to `n` dated quotes about `topic`, at most one per
        article, oldest first (`index/answer/timeline.py`). An article is about the topic
        when, ranked alone, its best sentence passes the abstention threshold of answers.
        `since`/`until` (or a time expression in the topic) limit the dates shown.
        """
        latest = self.newer()
        if latest is not None:
            return latest.timeline(topic, n, collections, since, until, now)
        topic = topic.strip()
        when, ranked = self.time_of(topic, since, until, now)
        if when is not None and when.recency:
            when, ranked = None, topic  # a timeline is in date order already
        if not ranked or self.sentence_count == 0 or n < 1:
            return Timeline(topic, (), time_range=when)
        allowed = self.allowed_rows(collections)
        q = self.encoder.encode([ranked])[0]
        ranking = self.ranker.rank(ranked, q, allowed)
        days = self.article_days()
        if when is not None:  # on topic but dated outside the range: -1, neither shown nor
            # counted as undated
            lo = when.since.toordinal() if when.since else 1
            hi = when.until.toordinal() if when.until else dt.date.max.toordinal()
            days = np.where((days == 0) | ((days >= lo) & (days <= hi)), days, -1)
        entries, undated, more = timeline.select(
            ranking, self.ranker.row_article, days, n,
            lambda a: self.ranker.rank(ranked, q, self._in_article(a, allowed)),
            self.settings.abstain_threshold, max(3 * n, 24))
        return Timeline(topic, tuple(self.citations([e.row for e in entries],
                                                    [e.score for e in entries])),
                        undated, more, when)

    def read(self, question: str, context: Sequence[Answer] = ()) -> followup.Reading:
        """How `question` is read after the answers in `context` (`index/answer/followup.py`)."""
        if not context:
            return followup.Reading(question, "standalone")
        wanted = {c.doc_id for a in context for c in (*a.citations, a.closest) if c}
        texts = {a.doc_id: a.text for a in self.articles if a.doc_id in wanted}
        return followup.read(question, context, lambda doc_id: texts.get(doc_id, ""))

    def rank_follow_up(self, reading: followup.Reading,
                       allowed: np.ndarray | None = None) -> Ranking:
        """Rank a follow-up: its expanded text for BM25, its embedding plus the borrowed
        words' for the dense signals, the conversation's article as a prior; sentences
        already quoted are not quoted again (a follow-up asks for something new)."""
        last = reading.quoted[-1] if reading.quoted else None
        quote = [last.text] if last is not None and followup.QUOTE_WEIGHT > 0 else []
        vectors = self.encoder.encode([reading.question, reading.borrowed, *quote])
        q = vectors[0] + followup.BORROWED_WEIGHT * vectors[1]
        if quote:
            q = q + followup.QUOTE_WEIGHT * vectors[2]
        q = (q / max(float(np.linalg.norm(q)), 1e-9)).astype(np.float32)
        prior = np.zeros(self.sentence_count, dtype=np.float32)
        wanted = set(reading.prior_doc_ids)
        quoted = {(c.doc_id, c.start, c.end) for c in reading.quoted}
        quoted_docs = {c.doc_id for c in reading.quoted}
        # the last quote, when the sentences near it get a bonus
        near = last if followup.NEAR_PRIOR > 0 and last is not None \
            and last.doc_id in wanted else None
        fresh = np.ones(self.sentence_count, dtype=bool)
        for a in self.articles:
            if a.doc_id in wanted:
                prior[a.first_row:a.first_row + a.n_sentences] = followup.ARTICLE_PRIOR
            if a.doc_id in quoted_docs:
                for row in range(a.first_row, a.first_row + a.n_sentences):
                    r = self.rows[row]
                    fresh[row] = (a.doc_id, r.start, r.end) not in quoted
                    if near is not None and a.doc_id == near.doc_id and r.start == near.start:
                        # the sentences near the last quote: what the asker just read
                        span = np.arange(a.first_row, a.first_row + a.n_sentences)
                        prior[span] += followup.NEAR_PRIOR * np.exp(
                            -np.abs(span - row) / followup.NEAR_SCALE)
        allowed = fresh if allowed is None else allowed & fresh
        prior[~allowed] = 0.0
        return self.ranker.rank(reading.expanded, q, allowed, prior=prior)

    def _cite(self, ranking: Ranking, k: int, question: str) -> list[Citation]:
        """The top sentence, plus runners-up that score close to it (at most `k`), each with
        the words that answer `question` marked. When a few words answer it (who, when, how
        many ...), a runner-up without such words is not cited: it does not answer."""
        top = float(ranking.scores[0])
        typed = answer_words.answers_kind(question)
        chosen = [(0, self.answer_span(question, int(ranking.rows[0])))]
        for i in range(1, min(len(ranking.rows), 10)):
            if len(chosen) >= k or float(ranking.scores[i]) < top - CITE_MARGIN:
                break  # scores fall from here on
            span = self.answer_span(question, int(ranking.rows[i])) if typed else None
            if typed and span is None:
                continue
            chosen.append((i, span))
        return self.citations([int(ranking.rows[i]) for i, _ in chosen],
                              [float(ranking.scores[i]) for i, _ in chosen],
                              [span for _, span in chosen])

    def answer_span(self, question: str, row: int) -> tuple[int, int] | None:
        """The words of sentence `row` that answer `question`, as offsets in its article's
        text (None: the whole sentence answers, or no words of the asked kind are there)."""
        local = answer_words.answer_span(question, self.rows.text(row))
        if local is None:
            return None
        start = int(self.rows.spans[row, 3])
        return start + local[0], start + local[1]

    def citation(self, row: int, score: float,
                 answer: tuple[int, int] | None = None) -> Citation:
        """The citation for a sentence row, verified (see `citations`)."""
        return self.citations([row], [score], [answer])[0]

    def citations(self, rows: Sequence[int], scores: Sequence[float],
                  answers: Sequence[tuple[int, int] | None] | None = None) -> list[Citation]:
        """The citations for sentence rows, verified: the sentence text stored when the
        version was built must be the article's text at each row's span, and the answer
        words (offsets in the article text), when given, that text's part at theirs."""
        stored = self.stored.stored_texts(rows)
        spans = list(answers) if answers is not None else [None] * len(rows)
        found = []
        for row, score, text, answer in zip(rows, scores, stored, spans, strict=True):
            r = self.rows[row]
            a = self.articles[r.article]
            if text != r.text or not r.text.strip():
                raise CitationMismatch(
                    f"row {row} of {self.version}: stored sentence {text!r} does not match "
                    f"the article text at [{r.start}, {r.end}): {r.text!r}")
            a0, a1 = answer if answer is not None else (None, None)
            if a0 is not None and a1 is not None and not (
                    r.start <= a0 < a1 <= r.end
                    and a.text[a0:a1] == r.text[a0 - r.start:a1 - r.start]):
                raise CitationMismatch(f"row {row} of {self.version}: answer span [{a0}, {a1}) "
                                       f"is not a part of the quote [{r.start}, {r.end})")
            found.append(Citation(a.doc_id, a.title, a.url, r.paragraph, r.sentence, r.start,
                                  r.end, r.text, score, a.published, a0, a1))
        return found


#: runners-up within this fused-score distance of the best sentence are cited too
CITE_MARGIN = 0.3


class _Follower:
    """Follows the version Milvus serves for the answerers opened from one `Index.open`: a
    thread asks which version the alias names every `milvus_poll_seconds` (one small call)
    and opens a new one before answering from it, so no question waits for the opening."""

    def __init__(self, settings: IndexSettings, client: object, first: Index) -> None:
        self.settings = settings
        self.client = client
        self.latest = first
        self.seen = first.version
        self.unreachable = False
        threading.Thread(target=_follow, args=(weakref.ref(self),), daemon=True,
                         name="citebot-follow-version").start()

    def check(self) -> None:
        from index.storage import milvus

        try:
            name = milvus.current_name(self.client, self.settings)
        except IndexUnreachable:
            if not self.unreachable:
                log.warning("Milvus %s is unreachable; still answering from version %s once "
                            "it is back", self.settings.milvus_uri, self.latest.version)
            self.unreachable = True
            return
        if self.unreachable:
            log.info("Milvus %s answers again", self.settings.milvus_uri)
            self.unreachable = False
        if name is None or name == self.seen:
            return
        try:
            version = milvus.MilvusVersion(self.settings, self.client, name)
            encoder = self.latest.encoder
            if version.manifest.get("model") != encoder.label:
                raise IndexDamaged(f"version {name} was built with the model "
                                   f"{version.manifest.get('model')!r}, not {encoder.label!r}")
        except IndexUnreachable:
            return  # tried again at the next poll
        except IndexDamaged as exc:
            log.error("could not open index version %s: %s; still answering from %s", name,
                      exc, self.latest.version)
            self.seen = name
            return
        fresh = Index(self.settings, version, encoder)
        fresh._follower = self
        self.latest, self.seen = fresh, name
        log.info("the index was switched to version %s by another process; answering from it",
                 name)


def _follow(follower: weakref.ref[_Follower]) -> None:
    while (alive := follower()) is not None:
        pause = max(0.05, alive.settings.milvus_poll_seconds)
        try:
            alive.check()
        except Exception:  # a bug: logged, and the thread goes on following
            log.exception("following the index version failed")
        del alive
        time.sleep(pause)
