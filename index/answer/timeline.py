"""A story's timeline: for a topic, one dated quote per article about it, oldest first.

The articles are those of the topic's best-ranked sentences; each is ranked on its own
(the ranking `/ask source:` uses) and kept only when the abstention evidence of answers
says its best sentence answers or states the topic: an article that merely shares a word
is left out the way an answer would abstain. That sentence is its quote. Articles about the
topic without a date cannot be placed, and are counted instead of shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from index.answer.rank import Ranking

#: the topic's ranking is read this far down for articles to consider
CANDIDATE_ROWS = 200


@dataclass(frozen=True)
class Entry:
    article: int
    row: int
    score: float
    confidence: float


def select(ranking: Ranking, row_article: np.ndarray, days: np.ndarray, n: int,
           in_article: Callable[[int], Ranking], threshold: float,
           most_articles: int) -> tuple[list[Entry], int, int]:
    """(the entries, oldest first; how many articles about the topic have no date; how
    many dated ones beyond the `n` most confident were left out). `days` holds each
    article's day ordinal, 0 for undated articles and -1 for those not to be shown."""
    articles = list(dict.fromkeys(int(a) for a in row_article[ranking.rows[:CANDIDATE_ROWS]]))
    on_topic: list[Entry] = []
    for article in articles[:most_articles]:
        alone = in_article(article)
        if len(alone.rows) and alone.confidence >= threshold:
            on_topic.append(Entry(article, int(alone.rows[0]), float(alone.scores[0]),
                                  alone.confidence))
    dated = [e for e in on_topic if days[e.article] > 0]
    chosen = sorted(dated, key=lambda e: (-e.confidence, -e.score))[:n]
    chosen.sort(key=lambda e: (int(days[e.article]), e.article))
    undated = sum(1 for e in on_topic if days[e.article] == 0)
    return chosen, undated, len(dated) - len(chosen)
