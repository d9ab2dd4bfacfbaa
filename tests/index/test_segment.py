"""Sentence splitting: tricky news cases, and spans that slice the article text exactly."""

from hypothesis import given, settings
from hypothesis import strategies as st

from index.ingest.segment import paragraphs, sentences


def texts(text: str) -> list[str]:
    return [s.text for s in sentences(text)]


def test_titles_and_abbreviations_do_not_end_sentences() -> None:
    text = ("Mr. Farage met Dr. Smith in the U.S. on Monday. They spoke at No. 10 Downing St. "
            "for an hour.")
    assert texts(text) == ["Mr. Farage met Dr. Smith in the U.S. on Monday.",
                           "They spoke at No. 10 Downing St. for an hour."]


def test_a_quotation_after_said_stays_with_its_sentence() -> None:
    text = 'Mr Bardella said: "We will close the border." The crowd cheered.'
    assert texts(text) == ['Mr Bardella said: "We will close the border."', "The crowd cheered."]


def test_curly_quotes_close_the_sentence_they_belong_to() -> None:
    text = "“They don’t want to play the game,” said Mr. Burnham. “They may be the future.”"
    assert texts(text) == ["“They don’t want to play the game,” said Mr. Burnham.",
                           "“They may be the future.”"]


def test_paragraph_and_sentence_numbers_are_one_based_and_restart_per_paragraph() -> None:
    found = sentences("First one. Second one.\n\nThird one.")
    assert [(s.paragraph, s.sentence) for s in found] == [(1, 1), (1, 2), (2, 1)]


def test_paragraphs_are_split_on_blank_lines_only() -> None:
    text = "Line one\nstill paragraph one.\n\n  \nParagraph two."
    assert [text[a:b] for a, b in paragraphs(text)] == ["Line one\nstill paragraph one.",
                                                        "Paragraph two."]


def test_punctuation_only_fragments_are_not_sentences() -> None:
    assert texts("A real sentence.\n\n* * *\n\nAnother one.") == ["A real sentence.",
                                                                   "Another one."]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
                max_size=8).map(lambda parts: ". ".join(parts)))
def test_every_span_slices_the_text_exactly(text: str) -> None:
    previous_end = 0
    for s in sentences(text):
        assert text[s.start:s.end] == s.text
        assert s.text.strip() == s.text and s.text
        assert s.start >= previous_end
        previous_end = s.end


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["Mr. Smith left.", "U.S. troops rose.", "“Yes,” he said.",
                                 "No. 10 replied!", "\n\n", " ", "Is it 3.5 or 4?", "\n"]),
                max_size=20).map("".join))
def test_news_like_text_keeps_every_word(text: str) -> None:
    found = sentences(text)
    covered = "".join(s.text for s in found)
    assert "".join(text.split()) == "".join(covered.split())
