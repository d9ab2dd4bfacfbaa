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


def zipf_lexicon(sentences: int = 4000, seed: int = 3) -> tuple[Lexicon, list[str]]:
    """A corpus whose words follow Zipf's law, as news words do (a few words in most
    sentences): the common words' postings are the ones the top-k search may skip."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}x" for i in range(3000)]
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
    p /= p.sum()
    texts = [" ".join(rng.choice(vocab, size=int(rng.integers(4, 20)), p=p))
             for _ in range(sentences)]
    tokens = [tokenize(t) for t in texts]
    contexts = [tokens[max(0, i - 1)] + tokens[i] + tokens[min(len(tokens) - 1, i + 1)]
                for i in range(len(tokens))]
    articles = [sum(tokens[i:i + 16], []) for i in range(0, len(tokens), 16)]
    questions = []
    for _ in range(150):
        words = texts[int(rng.integers(0, sentences))].split()
        questions.append(" ".join(rng.choice(words, size=min(len(words), 6), replace=False)))
    return Lexicon.build(tokens, contexts, articles), questions


def assert_same_best(lex: Lexicon, level: str, terms, k: int,  # type: ignore[no-untyped-def]
                     allowed: np.ndarray | None) -> None:
    """`Lexicon.top` picks the items that scoring every item would: the k best above 0
    (of those tied at the k-th score, the first ones)."""
    scores = lex.bm25_scores(level, terms)
    eligible = np.flatnonzero((scores > 0) & (True if allowed is None else allowed))
    expected = eligible[np.lexsort((eligible, -scores[eligible]))][:k]  # best, then first
    found = lex.top(level, terms, k, allowed)
    assert sorted(found.tolist()) == sorted(expected.tolist())


def test_top_items_equal_those_of_scoring_every_item() -> None:
    lex, questions = zipf_lexicon()
    rng = np.random.default_rng(0)
    for i, question in enumerate(questions):
        terms = lex.query(question)
        for level in ("sentence", "context", "article"):
            size = lex.postings[level].size
            allowed = rng.random(size) > 0.4 if i % 3 == 0 else None
            for k in (1, 3, 10, 100):
                assert_same_best(lex, level, terms, k, allowed)


def test_top_items_on_the_test_corpus(bot_index) -> None:  # type: ignore[no-untyped-def]
    lex = bot_index.ranker.version.lexicon
    from tests.index.test_sentence_words import QUESTIONS

    for question in [*QUESTIONS, "Who leads the National Rally party?"]:
        terms = lex.query(question)
        for level in ("sentence", "context", "article"):
            for k in (1, 3, 10, 100):
                assert_same_best(lex, level, terms, k, None)


def test_bm25_of_some_items_is_that_of_every_item() -> None:
    lex, questions = zipf_lexicon(sentences=1500)
    rng = np.random.default_rng(1)
    for question in questions[:40]:
        terms = lex.query(question)
        for level in ("sentence", "context", "article"):
            size = lex.postings[level].size
            items = rng.integers(0, size, 300)  # unsorted, with repeats
            np.testing.assert_array_equal(lex.bm25(level, terms, items),
                                          lex.bm25_scores(level, terms)[items])
            distinct = np.unique(items)
            np.testing.assert_array_equal(lex.bm25(level, terms, distinct, distinct=True),
                                          lex.bm25_scores(level, terms)[distinct])


def test_coverage_and_names_of_some_items_follow_their_words() -> None:
    lex, questions = zipf_lexicon(sentences=1500)
    rng = np.random.default_rng(2)
    rows = rng.integers(0, 1500, 200)
    for question in questions[:20]:
        terms = lex.query(question)
        postings = lex.postings["context"]
        present = np.array([[r in set(postings.items[postings.of(int(w))].tolist())
                             for w in terms.ids] for r in rows.tolist()]).reshape(len(rows), -1)
        expected = (present * terms.idf).sum(axis=1) / terms.total_idf
        np.testing.assert_allclose(lex.coverage("context", terms, rows), expected, rtol=1e-5)
        for column, word in enumerate(terms.ids.tolist()):
            np.testing.assert_array_equal(lex.holds("context", word, rows), present[:, column])


def test_answers_are_the_same_whichever_way_the_word_candidates_are_found(  # type: ignore[no-untyped-def]
        bot_index, monkeypatch) -> None:
    # a small index scores every item; a large one finds its best items by the bounds
    from index.storage import files
    from tests.index.test_sentence_words import QUESTIONS

    def quotes() -> list[list[tuple[str, float]]]:
        return [[(c.text, round(c.score, 4)) for c in bot_index.answer(q).citations]
                for q in QUESTIONS]

    every_item = quotes()
    monkeypatch.setattr(files, "SCORE_EVERY_ITEM_BELOW", 0)
    assert quotes() == every_item
    assert any(every_item)
