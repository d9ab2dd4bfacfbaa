"""The words of a quote that answer the question: which ones are marked, and when none are."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from index.answer.answer_words import answer_span, read_question
from index.settings import BUNDLED_CORPUS

ARTICLE = (BUNDLED_CORPUS / "bardella-channel-pushbacks.txt").read_text(encoding="utf-8")
DATED = Path(__file__).parents[1] / "data" / "dated"


def sentence(start: str) -> str:
    """The sentence of the bundled article (or the dated test articles) that opens so."""
    texts = [ARTICLE] + [p.read_text(encoding="utf-8") for p in sorted(DATED.glob("*.md"))]
    for text in texts:
        at = text.find(start)
        if at >= 0:
            end = min(i for i in (text.find(". ", at), text.find(".\n", at), len(text) - 1)
                      if i >= 0)
            return text[at:end + 1]
    raise AssertionError(f"no sentence opens with {start!r}")


def marked(question: str, text: str) -> str | None:
    span = answer_span(question, text)
    return None if span is None else text[span[0]:span[1]]


@pytest.mark.parametrize(("question", "opening", "words"), [
    ("Who is the leader of the National Rally?", "Jordan Bardella, the leader", "Jordan Bardella"),
    ("Who leads the National Rally?", "Jordan Bardella, the leader", "Jordan Bardella"),
    ("Which newspaper did Bardella talk to?", "Mr Bardella told The Telegraph",
     "The Telegraph"),
    ("How long have French police used pushback?", "It is understood that French police",
     "several years"),
    ("Who will lead Reform UK to victory?", "He also believes that Nigel Farage", "Nigel Farage"),
    ("Which country would be made the least attractive for mass immigration?",
     "France would be made", "France"),
    ("How many people crossed the Channel on Thursday?", "Officials said 96 people", "96"),
    ("How many people crossed the Channel in small boats on Tuesday?", "A record 1,104",
     "1,104"),
    ("How many more officers did the French interior minister promise?",
     "The French interior minister promised", "two hundred"),
    ("How many stalls does the winter market have?", "The Port Wexley winter market", "sixty"),
    ("When did no small boats cross the Channel?", "No small boats crossed", "Sunday"),
    ("Since when have 1,200 people been sent back?", "The Home Secretary defended", "August"),
])
def test_the_words_of_the_asked_kind_that_answer_are_marked(question: str, opening: str,
                                                            words: str) -> None:
    assert marked(question, sentence(opening)) == words


@pytest.mark.parametrize("question", [
    "Why do people cross the Channel in small boats?",
    "How does Bardella want to change France's immigration policy?",
    "What happened to people after collisions with police vessels?",
    "Explain the one-in-one-out deal.",
    "Did France permit the pushback tactic in the past?",
    "What did Bardella tell The Telegraph?",
    "Who is Mette Frederiksen?",  # the answer is what the sentence says about her
])
def test_questions_answered_by_the_whole_sentence_mark_no_words(question: str) -> None:
    assert read_question(question) is None
    for text in ARTICLE.replace("\n\n", " ").split(". "):
        assert answer_span(question, text) is None


def test_a_sentence_without_a_new_expression_of_the_asked_kind_marks_nothing() -> None:
    no_number = sentence("The market stays open every weekend")
    assert marked("How many stalls does the winter market have?", no_number) is None
    # the only name is the one the question already says
    assert marked("Who is the Prime Minister's Danish counterpart?",
                  "The Prime Minister called the figures unacceptable.") is None


def test_a_name_the_question_already_names_is_not_its_answer() -> None:
    text = sentence("Jordan Bardella, the leader")
    assert marked("Who denounced Starmer's one-in-one-out deal?", text) != "Sir Keir Starmer"
    assert marked("Whose one-in-one-out deal did Jordan Bardella denounce?", text) \
        == "Sir Keir Starmer"


def wiki_questions() -> list[tuple[str, str]]:
    """(question, the sentence holding its answer) of the Wikipedia training questions, when
    `../shared/train` (or CITEBOT_TRAIN_DIR) holds them."""
    default = Path(__file__).resolve().parents[3] / "shared" / "train"
    folder = Path(os.environ.get("CITEBOT_TRAIN_DIR", str(default)))
    docs_path = folder / "wiki_train_documents.jsonl.gz"
    if not docs_path.is_file():
        return []
    with gzip.open(docs_path, "rt", encoding="utf-8") as fh:
        docs = {d["doc_id"]: d for d in map(json.loads, fh)}
    with gzip.open(folder / "wiki_train_questions.jsonl.gz", "rt", encoding="utf-8") as fh:
        questions = [json.loads(line) for line in fh][:3000]
    out = []
    for q in questions:
        doc = docs[q["doc_id"]]
        for s, e in doc["sent_spans"]:
            if s <= q["answer_start"] < e:
                out.append((q["question"], doc["text"][s:e]))
    return out


def test_every_marked_span_is_a_part_of_its_sentence_on_thousands_of_questions() -> None:
    pairs = wiki_questions() or [(q, text) for q in (
        "Who is the leader of the National Rally?", "How long have police used pushback?",
        "Which country is least attractive?", "When was the deal made?")
        for text in ARTICLE.split(". ")]
    marked_any = 0
    for question, text in pairs:
        span = answer_span(question, text)
        if span is None:
            continue
        marked_any += 1
        start, end = span
        assert 0 <= start < end <= len(text)
        words = text[start:end]
        assert words == words.strip()
        assert words[0].isalnum() or words[0] in "$£€¥’'"
        assert len(words.split()) <= 12  # a few words, not the sentence
    assert marked_any >= min(20, len(pairs) // 10)


def test_a_marked_citation_survives_its_json_and_older_json_still_reads() -> None:
    from index.types import Citation

    c = Citation("d", "T", None, 1, 2, 10, 40, "Jordan Bardella, the leader spoke.", 0.5,
                 "2026-12-01", 10, 25)
    assert Citation.from_json(c.to_json()) == c
    older = {k: v for k, v in c.to_json().items() if k != "answer"}
    assert Citation.from_json(older).answer is None
    with pytest.raises(ValueError):
        Citation("d", "T", None, 1, 2, 10, 40, "x" * 30, 0.5, None, 5, 12)  # outside the quote


@pytest.mark.parametrize(("question", "text", "words"), [
    ("How often will the ferry sail in winter?",
     "The island ferry will sail twice a day during the winter months.", "twice a day"),
    ("How long is each episode?", "The network was pleased with the weekly 30-minute show.",
     "30-minute"),
    ("What is the name of Joan Shelley's guitar player?",
     "Although Ms. Shelley leads a band, her backup was just her guitar and Nathan Salsburg.",
     "Nathan Salsburg"),
    ("What was the name of his memoir?",
     "Blue Rider Press expected to publish his book, “Every Day I Fight.”", "Every Day I Fight"),
    ("Where is Reza Fakhari from?", "Reza Fakhari, Brooklyn, N.Y.", "Brooklyn"),
])
def test_frequencies_hyphenated_durations_titles_and_home_towns(question: str, text: str,
                                                               words: str) -> None:
    assert marked(question, text) == words


@pytest.mark.parametrize(("question", "text", "words"), [
    ("How fast was the train going?",
     "The train roared through a curve at 120 miles per hour and derailed.",
     "120 miles per hour"),
    ("For how long did G.M. not disclose the defect?",
     "It failed to report the defect for more than a decade.", "more than a decade"),
    ("When does the show end?", "The show runs through Sept. 7 at the museum.", "Sept. 7"),
])
def test_units_modifiers_and_abbreviated_months_belong_to_the_answer(question: str, text: str,
                                                                     words: str) -> None:
    assert marked(question, text) == words
