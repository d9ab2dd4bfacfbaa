"""Answers mark the words that answer (verified like the quote), and cite runners-up only
when they answer too."""

from __future__ import annotations

import numpy as np
import pytest

from index import Index, IndexSettings
from index.answer.engine import CitationMismatch
from index.answer.rank import Ranking

pytestmark = pytest.mark.slow

TYPED = ["Who is the leader of the National Rally?", "Who will lead Reform UK to victory?",
         "Which newspaper did Bardella talk to?", "How long have French police used pushback?",
         "Which country would be made the least attractive for mass immigration?",
         "Who made a joint call with the Prime Minister?", "Where would Bardella allow pushbacks?",
         "Which party does Jordan Bardella lead?", "When will the Government change Article 8?"]


@pytest.fixture(scope="module")
def dated(dated_settings: IndexSettings) -> Index:
    return Index.open(dated_settings)


def test_the_national_rally_answer_marks_jordan_bardella(bundled: Index) -> None:
    top = bundled.answer("Who is the leader of the National Rally?").citations[0]
    assert top.answer == "Jordan Bardella"
    assert top.marked() == ("", "Jordan Bardella", top.text.removeprefix("Jordan Bardella"))


def test_marked_words_are_the_article_text_at_their_offsets(bundled: Index, dated: Index) -> None:
    marked = 0
    for index, questions in ((bundled, TYPED), (dated, [
            "How many people crossed the Channel on Thursday?",
            "How many stalls does the winter market have?",
            "When did no small boats cross the Channel?",
            "How many officers did the French interior minister promise?"])):
        texts = {a.doc_id: a.text for a in index.articles}
        for question in questions:
            for c in index.answer(question).citations:
                if c.answer is None:
                    continue
                marked += 1
                assert c.answer_start is not None and c.answer_end is not None
                assert texts[c.doc_id][c.answer_start:c.answer_end] == c.answer
                assert c.start <= c.answer_start < c.answer_end <= c.end
                assert c.answer in c.text
    assert marked >= 10


def test_the_dated_stories_mark_numbers_and_days(dated: Index) -> None:
    def top(question: str) -> str | None:
        return dated.answer(question).citations[0].answer

    assert top("How many stalls does the winter market have?") == "sixty"
    assert top("When did no small boats cross the Channel?") == "Sunday"
    assert top("How many officers did the French interior minister promise?") == "two hundred"


@pytest.mark.parametrize("question", [
    "Why do people cross the Channel in small boats?",
    "How does Bardella want to change France's immigration policy?",
    "What did Bardella tell The Telegraph?", "Who is Mette Frederiksen?"])
def test_whole_sentence_questions_mark_no_words(bundled: Index, question: str) -> None:
    answer = bundled.answer(question)
    assert answer.citations and all(c.answer is None for c in answer.citations)


def test_an_abstention_marks_nothing_in_its_closest_sentence(bundled: Index) -> None:
    answer = bundled.answer("Who is the president of the United States?")
    assert answer.abstained and answer.closest is not None
    assert answer.closest.answer is None


def test_an_answer_span_outside_the_quote_fails_loudly(bundled: Index) -> None:
    r = bundled.rows[0]
    with pytest.raises(CitationMismatch):
        bundled.citation(0, 1.0, (r.start, r.end + 5))


def rows_starting(index: Index, *openings: str) -> list[int]:
    return [next(i for i in range(len(index.rows)) if index.rows.text(i).startswith(o))
            for o in openings]


def close_ranking(index: Index, monkeypatch: pytest.MonkeyPatch, *openings: str) -> None:
    """Rank the sentences that open so first, all within the margin for runners-up."""
    rows = np.array(rows_starting(index, *openings))
    scores = np.linspace(5.0, 4.9, len(rows)).astype(np.float32)
    monkeypatch.setattr(index, "rank", lambda *a, **k: Ranking(rows, scores, 0.99))


def test_runners_up_without_the_asked_kind_are_not_cited(
        dated_settings: IndexSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    index = Index.open(dated_settings)
    close_ranking(index, monkeypatch, "A record 1,104 people", "No small boats crossed",
                  "Officials said 96 people")
    cited = index.answer("How many people crossed the Channel?").citations
    assert [c.answer for c in cited] == ["1,104", "96"]  # "No small boats ..." holds no number


def test_runners_up_of_whole_sentence_questions_are_cited_as_before(
        dated_settings: IndexSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    index = Index.open(dated_settings)
    close_ranking(index, monkeypatch, "A record 1,104 people", "No small boats crossed",
                  "Officials said 96 people")
    cited = index.answer("Why did people cross the Channel?").citations
    assert [c.text[:14] for c in cited] == ["A record 1,104", "No small boats", "Officials said"]


def test_on_a_hundred_typed_questions_every_mark_is_the_article_text_at_its_offsets(
        dated: Index) -> None:
    texts = {a.doc_id: a.text for a in dated.articles}
    sentences = [dated.rows.text(i) for i in range(len(dated.rows))]
    marked = 0
    for text in sentences:
        words = " ".join(text.rstrip(".").split()[2:9])
        for lead in ("Who", "When", "How many", "Where", "Which country"):
            for c in dated.answer(f"{lead} {words}?").citations:
                if c.answer_start is None or c.answer_end is None:
                    continue
                marked += 1
                assert texts[c.doc_id][c.answer_start:c.answer_end] == c.answer
                assert texts[c.doc_id][c.start:c.end] == c.text
                assert c.start <= c.answer_start < c.answer_end <= c.end
    assert marked >= 50
