"""Word evidence: BM25 from the stored postings equals bm25s's own scores; coverage counts
a question's words in each item."""

from __future__ import annotations

import numpy as np

from index.storage.lexical import Lexicon, _import_bm25s, tokenize

SENTENCES = [
    "Jordan Bardella leads the National Rally party.",
    "The party wants to close the Calais border.",
    "",
    "Keir Starmer met the Danish prime minister; the prime minister spoke first.",
    "Borders, borders and more borders were discussed by the party.",
]


def lexicon() -> tuple[Lexicon, list[list[str]]]:
    tokens = [tokenize(s) for s in SENTENCES]
    return Lexicon.build(tokens, tokens, tokens), tokens


def test_bm25_equals_the_scores_of_bm25s() -> None:
    lex, tokens = lexicon()
    reference = _import_bm25s().BM25()
    reference.index([t or ["\0"] for t in tokens], show_progress=False)
    for question in ("Who leads the party?", "prime minister borders", "Calais"):
        terms = lex.query(question)
        expected = reference.get_scores(terms.tokens)
        assert np.allclose(lex.bm25_scores("sentence", terms), expected, atol=1e-6)


def test_bm25_survives_saving_and_loading(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lex, _ = lexicon()
    lex.save(tmp_path / "lexicon")
    loaded = Lexicon.load(tmp_path / "lexicon")
    terms = loaded.query("Which party wants to close the border?")
    assert np.array_equal(loaded.bm25_scores("context", terms), lex.bm25_scores("context", terms))
    assert loaded.bm25_scores("sentence", terms).argmax() == 1


def test_coverage_is_the_share_of_the_questions_word_weight() -> None:
    lex, _ = lexicon()
    terms = lex.query("Did Bardella lead the party in Paris?")  # "Paris": unknown, lowers all
    cover = lex.coverage("sentence", terms, np.arange(len(SENTENCES)))
    assert cover[0] > cover[1] > 0 and cover[2] == 0 and cover[0] < 1
    assert lex.name_coverage("sentence", terms, 0) == 0.5  # Bardella yes, Paris no
    assert lex.name_coverage("sentence", terms, 1) == 0.0
