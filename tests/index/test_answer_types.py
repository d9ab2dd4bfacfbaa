"""Answer-type evidence: what a question asks for, what a sentence holds, and that the real
Index prefers the sentence holding the asked kind of thing over one that merely shares the
question's words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import Index, IndexSettings, build
from index.answer.answer_types import (
    E_COUNTRY,
    E_DATE,
    E_DURATION,
    E_MONEY,
    E_NUMBER,
    E_PERCENT,
    E_PERSON,
    E_REASON,
    QUESTION_TYPES,
    expressions,
    question_type,
)


@pytest.mark.parametrize(("question", "kind"), [
    ("How many people live in the valley?", "number"),
    ("How much will the bridge cost?", "money"),
    ("What percentage of voters backed the plan?", "percent"),
    ("When did the dam open?", "date"),
    ("How long did the strike last?", "date"),
    ("In what year was the club founded?", "date"),
    ("Which country does the new coach come from?", "country"),
    ("What nationality is the pilot?", "country"),
    ("Where did the storm hit first?", "place"),
    ("In what city was the final held?", "place"),
    ("Who leads the inquiry?", "person"),
    ("Which company bought the mill?", "organisation"),
    ("Why was the vote delayed?", "reason"),
    ("Is the museum open on Sundays?", "yesno"),
    ("What did the mayor promise?", "other"),
])
def test_the_question_wording_gives_the_expected_answer_type(question: str, kind: str) -> None:
    assert QUESTION_TYPES[question_type(question)] == kind


@pytest.mark.parametrize(("sentence", "bit"), [
    ("Forty volunteers joined the cleanup.", E_NUMBER),
    ("The bridge will cost 4 million pounds.", E_MONEY),
    ("The repairs cost $12,000.", E_MONEY),
    ("Turnout rose to 61 percent.", E_PERCENT),
    ("The dam opened on March 3, 2019.", E_DATE),
    ("The strike lasted three weeks.", E_DURATION),
    ("He met his Portuguese counterpart in Lisbon.", E_COUNTRY),
    ("The talks were hosted by Norway.", E_COUNTRY),
    ("The inquiry is led by Judge Alice Warren.", E_PERSON),
    ("The vote was delayed because the hall flooded.", E_REASON),
])
def test_a_sentence_holding_a_typed_expression_is_detected(sentence: str, bit: int) -> None:
    assert bit in expressions(sentence)


def test_a_sentence_without_the_expression_is_not_flagged() -> None:
    found = expressions("Volunteers from the neighbourhood joined the cleanup with enthusiasm.")
    assert not {E_NUMBER, E_MONEY, E_PERCENT, E_DATE, E_COUNTRY} & set(found)


# --- through the real Index -----------------------------------------------------------------

#: each article: a sentence that shares the question's words but holds no answer of the
#: asked kind, and one that holds it
ARTICLES = {
    "cleanup.txt": ("River cleanup",
                    "Volunteers joined the river cleanup along the north bank. "
                    "Forty people took part in the cleanup."),
    "dam.txt": ("Valley dam",
                "The valley dam opened with a ribbon ceremony. "
                "The dam opened to visitors in March 2019."),
    "coach.txt": ("Coach appointment",
                  "The club's new coach comes from a long line of football managers. "
                  "The club's new coach is Portuguese and managed teams in Lisbon."),
    "ferry.txt": ("Ferry fares",
                  "Fares on the island route will rise, the ferry company said. "
                  "The increase amounts to 12 percent."),
    "bridge.txt": ("Harbour bridge",
                   "The council voted to build the new harbour bridge after a debate about "
                   "cost. The bridge will take 4 million pounds to build."),
}

QUESTIONS = [
    ("How many volunteers joined the river cleanup?", "Forty people"),
    ("When did the valley dam open?", "in March 2019"),
    ("Which country does the club's new coach come from?", "is Portuguese"),
    ("By what percentage will fares on the island route rise?", "12 percent"),
    ("How much will the new harbour bridge cost?", "4 million pounds"),
]


@pytest.fixture(scope="module")
def typed_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder: Path = tmp_path_factory.mktemp("typed") / "corpus"
    folder.mkdir()
    for name, (title, text) in ARTICLES.items():
        (folder / name).write_text(f"---\ntitle: {title}\n---\n{text}\n", encoding="utf-8")
    settings = IndexSettings(data_dir=folder.parent / "data", sources=(folder,))
    build(settings)
    return Index.open(settings)


@pytest.mark.slow
@pytest.mark.parametrize(("question", "expected"), QUESTIONS)
def test_the_sentence_holding_the_asked_kind_of_answer_is_quoted_first(
        typed_index: Index, question: str, expected: str) -> None:
    answer = typed_index.answer(question)
    top = answer.citations[0] if answer.citations else answer.closest
    assert top is not None
    assert expected in top.text, (question, top.text)


@pytest.mark.slow
def test_abstention_hears_whether_the_best_article_holds_the_asked_kind_anywhere(
        typed_index: Index) -> None:
    from index.answer.rank import ABSTAIN_FEATURES

    def evidence(question: str) -> dict[str, float]:
        q = typed_index.encoder.encode([question])[0]
        _, x = typed_index.ranker.rank_with_evidence(question, q)
        assert x is not None
        return dict(zip(ABSTAIN_FEATURES, x.tolist(), strict=True))

    # the coach's article holds no number at all; the cleanup's does
    assert evidence("How many teams did the club's new coach manage?")["type_article"] == 0.0
    assert evidence("How many volunteers joined the river cleanup?")["type_article"] == 1.0
    # a question asking for no particular kind is not held against any article
    plain = evidence("What did the club's new coach do before?")
    assert plain["typed"] == 0.0 and plain["type_article"] == 1.0


def test_the_packaged_ranker_model_loads_offline_and_matches_the_features() -> None:
    from index.answer import rank as retrieve

    model = retrieve.load_model()
    assert retrieve.MODEL_FILE.stat().st_size < 2_000_000
    assert model.weights.shape == (len(retrieve.RANK_FEATURES),)
    assert model.abstain_coef.shape == (len(retrieve.ABSTAIN_FEATURES),)
    assert np.isfinite(model.weights).all() and np.isfinite(model.abstain_coef).all()
