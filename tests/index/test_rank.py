"""The reference sample the ranking z-scores are measured against (index/answer/rank.py)."""

import numpy as np

from index.answer.rank import SAMPLE_ROWS, reference_sample


def corpus(lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(row -> article, sentences per article) of articles of these lengths."""
    counts = np.array(lengths)
    return np.repeat(np.arange(len(counts)), counts), counts


def test_a_few_long_articles_do_not_fill_the_reference_sample() -> None:
    # 380 news stories of 16 sentences and 48 Wikipedia articles of 160 (the eval with
    # distractors): by sentence the long ones would be 56% of the sample
    row_article, counts = corpus([16] * 380 + [160] * 48)
    sample = reference_sample(row_article, counts)
    long_share = float(np.mean(row_article[sample] >= 380))
    assert len(sample) == SAMPLE_ROWS
    assert long_share < 0.2


def test_the_sample_is_distinct_sorted_rows_the_same_every_time() -> None:
    row_article, counts = corpus([3, 700, 40, 900, 12])
    sample = reference_sample(row_article, counts)
    assert np.array_equal(sample, np.unique(sample))
    assert np.array_equal(sample, reference_sample(row_article, counts))
    assert sample[0] >= 0 and sample[-1] < len(row_article)


def test_a_collection_smaller_than_the_sample_is_its_own_reference() -> None:
    row_article, counts = corpus([5, 2, 30])
    assert np.array_equal(reference_sample(row_article, counts), np.arange(37))
