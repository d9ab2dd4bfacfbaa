"""Follow-up questions in the core: read in the context of earlier answers, on the real
index of the bundled article."""

from __future__ import annotations

from index import Answer, Citation, Index
from index.answer.followup import marker, pointing_back, read

POLICY = "What does Bardella want to do with France's immigration policy?"
POLICY_QUOTE = "Mr Bardella wants to completely overhaul France’s immigration policy"


def top(answer: Answer) -> str:
    return answer.citations[0].text if answer.citations else ""


def test_a_pronoun_is_read_in_the_previous_answers_context(bundled: Index) -> None:
    first = bundled.answer(POLICY)
    follow = bundled.answer("What would that include?", context=(first,))
    assert follow.follow_up_of == POLICY
    assert top(follow).startswith("This includes relocating asylum processing")


def test_an_elliptical_question_borrows_the_rest_of_the_previous_one(bundled: Index) -> None:
    first = bundled.answer(POLICY)
    follow = bundled.answer("And the Calais border?", context=(first,))
    assert follow.follow_up_of == POLICY
    assert "completely close the Calais border" in top(follow)


def test_context_answers_what_the_question_alone_cannot(bundled: Index) -> None:
    first = bundled.answer("Which treaty does Starmer want reinterpreted?")
    question = "Who joined him in that call?"
    alone = bundled.answer(question)  # "him", "that call": the question alone names neither
    assert "Mette Frederiksen" not in top(alone)
    follow = bundled.answer(question, context=(first,))
    assert "his Danish counterpart Mette Frederiksen" in top(follow)


def test_a_follow_up_does_not_quote_the_previous_answer_again(bundled: Index) -> None:
    first = bundled.answer(POLICY)
    assert POLICY_QUOTE in top(first)
    follow = bundled.answer("What else does he want?", context=(first,))
    assert all(POLICY_QUOTE not in c.text for c in follow.citations)


def test_a_question_naming_its_own_subject_is_answered_as_if_new(bundled: Index) -> None:
    first = bundled.answer("Who leads the National Rally?")
    for question in ("What did Mette Frederiksen call for?", "Who won the 2022 World Cup?"):
        switched = bundled.answer(question, context=(first,))
        assert switched.follow_up_of is None
        assert switched == bundled.answer(question)


def test_without_context_the_answer_is_the_standalone_one(bundled: Index) -> None:
    for question in (POLICY, "What would that include?", "Who won the 2022 World Cup?"):
        assert bundled.answer(question, context=()) == bundled.answer(question)
        assert bundled.answer(question).follow_up_of is None


def test_the_json_says_what_a_question_followed_up(bundled: Index) -> None:
    first = bundled.answer(POLICY)
    assert bundled.answer("What would that include?", context=(first,)).to_json()[
        "follow_up_of"] == POLICY
    assert first.to_json()["follow_up_of"] is None


# --- reading rules, without an index ---------------------------------------------------------

def _turn(question: str, quote: str) -> Answer:
    return Answer(question, (Citation("a", "A", None, 1, 1, 0, len(quote), quote, 1.0),),
                  False, 0.9)


TURN = _turn("Who leads the Republican majority in the Senate?",
             "Senator Mitch McConnell of Kentucky, the majority leader, spoke on Tuesday.")


def test_a_pronoun_before_any_name_points_back() -> None:
    assert pointing_back("Who does he reckon will win Britain's election?") == "pronoun"
    assert pointing_back("Which governor does Michel Faulkner say he likes?") is None
    assert pointing_back("Why?") == "ellipsis"
    assert pointing_back("What about the trade pact?") == "ellipsis"


def test_the_answer_to_a_who_question_is_borrowed_as_the_next_subject() -> None:
    reading = read("What does he rate as his biggest win?", [TURN], lambda doc_id: "")
    assert reading.kind == "pronoun" and reading.follow_up_of == TURN.question
    assert "Mitch McConnell" in reading.borrowed


def test_a_definite_reference_counts_only_when_the_conversation_used_its_noun() -> None:
    assert read("What did the majority leader say?", [TURN], lambda d: "").kind == "definite"
    assert read("Will the weather stay dry for the harvest?", [TURN], lambda d: "").kind == "new"


def test_a_new_name_is_a_topic_switch() -> None:
    reading = read("Why did the BBC drop Jeremy Clarkson?", [TURN], lambda d: "")
    assert reading.kind == "switch" and reading.follow_up_of is None


def test_an_ellipsis_after_a_who_question_still_borrows_its_verb() -> None:
    reading = read("And the Democrats?", [TURN], lambda d: "")
    assert reading.kind == "ellipsis"
    assert "leads" in reading.borrowed and "Mitch McConnell" in reading.borrowed
    pronoun = read("Where was he born?", [TURN], lambda d: "")
    assert "leads" not in pronoun.borrowed and "Mitch McConnell" in pronoun.borrowed


def test_an_existential_there_does_not_point_back() -> None:
    assert pointing_back("Is there a deadline for the reform bill?") is None
    assert pointing_back("How many people live there?") == "pronoun"


def test_a_relative_that_does_not_point_back() -> None:
    assert pointing_back("How are prosecutors reducing the cases that go to trial?") is None
    assert pointing_back("What would that involve?") == "pronoun"


def test_that_as_an_object_still_points_back() -> None:
    assert marker("Has France allowed that before?", set()) == "pronoun"
    assert pointing_back("Who said that a deal was near?") is None
