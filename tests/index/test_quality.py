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


def test_every_answerable_seed_question_gets_a_correct_top_citation(results) -> None:
    wrong = [(r.id, r.question, r.top) for r in results if r.answerable and not r.correct]
    assert wrong == []


def test_every_unanswerable_seed_question_is_refused(results) -> None:
    answered = [(r.id, r.question, r.top) for r in results if not r.answerable and not r.correct]
    assert answered == []
