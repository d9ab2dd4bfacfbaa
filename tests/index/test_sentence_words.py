"""The word pairs a question shares with a sentence, read from the words kept at build,
are exactly those found by tokenizing the sentence's text (the ranker was fitted on them)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

QUESTIONS = [
    "What did Bardella say about joint patrols with Britain?",
    "Who paid for the fireworks display at the harbour festival?",
    "How many visitors did the harbour festival draw on Saturday?",
    "Which glacier did the survey team measure?",
    "What is the National Rally's position on small boats crossing the Channel?",
    "Where is the Alder station?",
    "Channel crossings small boats Border Force",
    "the the the",  # no content words: no pairs
]


def test_stored_words_give_the_same_pairs_as_the_text(bot_index: Any) -> None:
    ranker = bot_index.ranker
    lexicon = ranker.version.lexicon
    assert lexicon.words is not None, "a new build keeps each sentence's words"
    rows = np.arange(ranker.n)
    rng = np.random.default_rng(1)
    allowed = rng.random(ranker.n) > 0.3
    for question in QUESTIONS:
        evidence = ranker.version.evidence(question, np.zeros(384, dtype=np.float32))
        for mask in (None, allowed):
            fast = ranker._bigrams(question, rows, mask, evidence)  # the stored words
            slow = ranker._bigrams(question, rows, mask)  # tokenizing each sentence's text
            np.testing.assert_array_equal(fast[0], slow[0], err_msg=question)
            np.testing.assert_array_equal(fast[1], slow[1], err_msg=question)
    # the questions above do share pairs with some sentences (the check is not vacuous)
    shared = ranker._bigrams(QUESTIONS[1], rows, None)[0]
    assert shared.max() > 0


def test_an_index_built_before_the_words_were_kept_still_answers(
        bot_index_settings: Any, tmp_path: Any) -> None:
    import shutil

    from index import Index
    from index.storage import store, versions

    data = tmp_path / "data"
    shutil.copytree(bot_index_settings.data_dir, data, symlinks=True)
    settings = replace(bot_index_settings, data_dir=data)
    version = versions.current_version(data)
    manifest = store.read_manifest(version)
    for name in ("words-starts.npy", "words-ids.npy"):
        (version / "lexicon" / name).unlink()
        del manifest["files"][f"lexicon/{name}"]  # type: ignore[attr-defined]
    store.write_manifest(version, manifest)
    old = Index.open(settings)
    assert old.ranker.version.lexicon.words is None
    new = Index.open(bot_index_settings)
    for question in QUESTIONS[:6]:
        a, b = old.answer(question), new.answer(question)
        assert [c.text for c in a.citations] == [c.text for c in b.citations]
        assert a.confidence == pytest.approx(b.confidence, abs=1e-6)
