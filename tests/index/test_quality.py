"""Answer quality on the seed questions about the bundled article (skipped without eval data)."""

import pytest

from index import IndexSettings
from index.cli.evaluate import SEED, eval_dir, seed_index, seed_results

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (eval_dir() / SEED).is_file(),
                                 reason="evaluation data not present")]


@pytest.fixture(scope="module")
def results(bundled_settings: IndexSettings):
    return seed_results(seed_index(bundled_settings), eval_dir())


def test_every_answerable_seed_question_is_answered_with_its_sentence_quoted(results) -> None:
    # how often that sentence is the top quote is a quality figure, reported by
    # `citebot-index eval` (13/13 where the ranker was fitted, 12/13 with the versions of
    # constraints.txt: README, "How good it is"), not a pass/fail line
    missed = [(r.id, r.question, r.top) for r in results
              if r.answerable and (r.abstained or not r.quoted)]
    assert missed == []


def test_every_unanswerable_seed_question_is_refused(results) -> None:
    answered = [(r.id, r.question, r.top) for r in results if not r.answerable and not r.correct]
    assert answered == []
