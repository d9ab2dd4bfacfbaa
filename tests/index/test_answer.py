"""Answers on the bundled article: the right sentence, an exact span, honest abstention."""

import numpy as np
import pytest

from index import Index, IndexSettings
from index.answer.engine import CitationMismatch, SentenceTable
from index.settings import BUNDLED_CORPUS

pytestmark = pytest.mark.slow

ARTICLE = (BUNDLED_CORPUS / "bardella-channel-pushbacks.txt").read_text(encoding="utf-8")


def test_the_national_rally_question_cites_the_bardella_sentence(bundled: Index) -> None:
    answer = bundled.answer("Who is the leader of the National Rally?")
    assert not answer.abstained
    top = answer.citations[0]
    assert top.text.startswith("Jordan Bardella, the leader of the far-right National Rally")
    assert (top.paragraph, top.sentence) == (1, 2)
    assert top.title == "Bardella channel pushbacks"


def test_every_citation_span_slices_the_stored_article_exactly(bundled: Index) -> None:
    article = bundled.articles[0].text
    for question in ("Who is Mette Frederiksen?", "What did Bardella tell The Telegraph?",
                     "Whom is Bardella expected to succeed?"):
        for c in bundled.answer(question).citations:
            assert article[c.start:c.end] == c.text
            assert c.text in ARTICLE


def test_a_question_the_article_does_not_answer_is_refused(bundled: Index) -> None:
    answer = bundled.answer("What is the GDP of France?")
    assert answer.abstained
    assert answer.citations == ()
    assert answer.closest is not None  # shown as "closest, not an answer"


def test_the_bm25_hint_case_ranks_the_succession_sentence_first(bundled: Index) -> None:
    answer = bundled.answer("Whom is Bardella expected to succeed?")
    texts = [c.text for c in answer.citations]
    assert any("succeed Emmanuel Macron" in t for t in texts[:2])


def test_at_most_k_citations_are_returned(bundled: Index) -> None:
    assert len(bundled.answer("What did Bardella say about pushbacks?", k=1).citations) == 1


def test_an_empty_question_is_an_abstention_not_an_error(bundled: Index) -> None:
    assert bundled.answer("   ").abstained


def test_a_span_that_does_not_match_the_text_fails_loudly(
        bundled_settings: IndexSettings) -> None:
    index = Index.open(bundled_settings)
    spans = np.array(index.rows.spans)
    spans[0, 3] += 1  # the first sentence's span now starts one character late
    index.rows = SentenceTable(spans, index.articles)
    with pytest.raises(CitationMismatch):
        index.citation(0, 1.0)


def test_show_context_returns_the_whole_paragraph(bundled: Index) -> None:
    top = bundled.answer("Who is the leader of the National Rally?").citations[0]
    paragraph = bundled.paragraph_text(top)
    assert paragraph.startswith("The UK will be allowed")
    assert top.text in paragraph and paragraph.endswith("govern neighbouring nations together.")
