"""The generated training data (training/generate_questions.py, generate_conversations.py):
questions whose answers are where they say, worded like a person's question, and
conversations whose second turn points back."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from index import Index
from index.answer import answer_types, followup
from index.cli.evaluate import conversation_results, eval_dir
from training import generate_conversations, generate_questions

SENTENCE = ("Jordan Bardella, the leader of the National Rally party, said on Tuesday that "
            "France would send 40 officers to patrol beaches in Calais.")


def test_a_sentence_gives_who_when_howmany_and_where_questions_with_their_answers() -> None:
    places = answer_types.country_words() | answer_types.place_words() | {"calais"}
    found = {q["kind"]: q for q in generate_questions.questions_of(SENTENCE, 100, places)}
    assert found["who"]["answer"] == "Jordan Bardella"
    assert found["who"]["question"].startswith("Who ")
    assert found["when"]["answer"] == "Tuesday"
    assert found["howmany"]["question"].startswith("How many officers")
    assert found["howmany"]["answer"] == "40"
    assert found["where"]["answer"] == "Calais"
    for q in found.values():
        start = q["answer_start"] - 100
        assert SENTENCE[start:start + len(q["answer"])] == q["answer"]
        assert q["answer"] not in q["question"]  # the answer is asked for, not given


def test_a_second_question_naming_the_first_ones_subject_is_rewritten_to_point_back() -> None:
    turn2 = generate_conversations.rewrite("When was the American Jobs Act proposed?",
                                           "What was included in the American Jobs Act?")
    assert turn2 == "What was included in it?"
    assert followup.pointing_back(turn2) == "pronoun"
    assert generate_conversations.rewrite("When was the American Jobs Act proposed?",
                                          "Who founded the Boston Tea Party?") is None


def _training_documents() -> list[dict[str, object]]:
    path = eval_dir().parent / "train" / "wiki_train_documents.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_thousands_of_generated_questions_of_every_kind_point_at_their_answers() -> None:
    docs = _training_documents()
    found = generate_questions.generate(docs)
    texts = {d["doc_id"]: str(d["text"]) for d in docs}
    kinds = {q["kind"] for q in found}
    assert kinds == set(generate_questions.KINDS)
    assert len(found) > 5000
    copied = 0
    for q in found:
        text = texts[q["doc_id"]]
        assert text[q["answer_start"]:q["answer_start"] + len(q["answer"])] == q["answer"]
        copied += q["question"].rstrip("?") in text
    assert copied < len(found) / 50  # worded apart from the sentence, not copied out of it


def test_a_generated_conversation_is_asked_in_its_context_and_scored_by_its_answer(
        bundled: Index, tmp_path: Path) -> None:
    """`citebot-index eval --conversations`: turn 2 is read as a follow-up of turn 1 and
    counted right when its top quote holds the answer; only the chosen split is asked."""
    [article] = bundled.articles
    text = article.text

    def turn(question: str, answer: str) -> dict[str, object]:
        return {"question": question, "answer": answer, "answer_start": text.index(answer)}

    item = {"doc_id": article.doc_id, "kind": "pronoun", "turns": [
        turn("What is the name of the National Rally leader?", "Jordan Bardella"),
        turn("Who does he believe will lead Reform UK to victory?", "Nigel Farage")]}
    path = tmp_path / "conversations.jsonl"
    path.write_text("".join(json.dumps({**item, "id": f"c{i}", "split": split}) + "\n"
                            for i, split in enumerate(("held", "train", "train"))))
    held = conversation_results(bundled, path, "held")
    assert (held.conversations, held.turn1_correct, held.read_as_follow_up,
            held.correct_in_context) == (1, 1, 1, 1)
    assert conversation_results(bundled, path, "train").conversations == 2
