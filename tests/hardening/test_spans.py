"""Property-based tests of the sentence splitter and span bookkeeping: every sentence and
every citation's span slices the stored article text exactly, whatever the text."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import Index, IndexSettings, build
from index.ingest.segment import paragraphs, sentences
from index.ingest.sources import parse_text
from index.storage.versions import current_version

# Letters of several scripts, digits, punctuation that ends (or pretends to end) sentences,
# quotes, combining marks, emoji, zero-width and directional characters, odd spaces.
ALPHABET = st.one_of(
    st.characters(blacklist_categories=("Cs",)),
    st.sampled_from(list("abc XYZ .!?…;:,\"'“”‘’«»()[]-–—\t\n\r\u00a0\u2028\u200b\u202e\u0301"
                         "éßøΩЖ中文العربية🙂🇫🇷0123456789") + ["Mr.", "U.S.", "No. 10", "\n\n",
                                                          "\r\n\r\n", "...", "e.g."]),
)
TEXTS = st.lists(ALPHABET, max_size=300).map("".join)
WORDS = st.lists(st.sampled_from(["The", "harbour", "opened", "Mr.", "Smith", "said", "it",
                                  "closed", "U.S.", "on", "3.5", "“Yes,”", "day", "—"]),
                 min_size=1, max_size=12).map(" ".join)
ENDINGS = st.sampled_from([". ", "! ", "? ", ".\n\n", "\n\n", "… ", " "])
ARTICLE_BODIES = st.lists(st.tuples(WORDS, ENDINGS), min_size=1, max_size=15).map(
    lambda parts: "".join(a + b for a, b in parts))


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_every_sentence_lies_in_its_paragraph_and_slices_the_text(text: str) -> None:
    spans = paragraphs(text)
    for s in sentences(text):
        assert text[s.start:s.end] == s.text and s.text == s.text.strip()
        p_start, p_end = spans[s.paragraph - 1]
        assert p_start <= s.start < s.end <= p_end


@settings(max_examples=200, deadline=None)
@given(st.booleans(), st.booleans(), WORDS, ARTICLE_BODIES)
def test_spans_slice_the_text_an_article_file_yields(bom: bool, crlf: bool, title: str,
                                                    body: str) -> None:
    raw = f"---\ntitle: {title}\n---\n{body}"
    if crlf:
        raw = raw.replace("\n", "\r\n")
    data = ("\ufeff" if bom else "").encode() + raw.encode("utf-8")
    try:
        article = parse_text(Path("article.txt"), data)
    except ValueError:  # nothing but front matter: refused, with a reason
        return
    assert "\r" not in article.text
    numbering = [(s.paragraph, s.sentence) for s in sentences(article.text)]
    assert numbering == sorted(numbering)
    for s in sentences(article.text):
        assert article.text[s.start:s.end] == s.text


def test_every_stored_row_of_the_session_index_slices_its_article(bot_index: Index) -> None:
    for row in range(bot_index.sentence_count):
        c = bot_index.citation(row, 0.0)
        article = next(a for a in bot_index.articles if a.doc_id == c.doc_id)
        assert article.text[c.start:c.end] == c.text
    db = sqlite3.connect(bot_index.version_dir / "meta.sqlite")
    mismatched = db.execute(
        "SELECT count(*) FROM sentences s JOIN articles a ON a.id = s.article "
        "WHERE substr(a.text, s.start + 1, s.end - s.start) != s.text").fetchone()[0]
    assert mismatched == 0


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ARTICLE_BODIES, min_size=1, max_size=3), st.data())
def test_every_citation_of_a_freshly_built_index_slices_the_stored_text(
        bodies: list[str], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i, body in enumerate(bodies):
            (corpus / f"a{i}.txt").write_text(body, encoding="utf-8")
        settings_ = IndexSettings(data_dir=Path(tmp) / "data", sources=(corpus,))
        report = build(settings_)
        if report.sentences == 0:
            return
        index = Index.open(settings_)
        assert current_version(settings_.data_dir).name == index.version
        texts = {a.doc_id: a.text for a in index.articles}
        for row in range(index.sentence_count):
            c = index.citation(row, 0.0)
            assert texts[c.doc_id][c.start:c.end] == c.text
        question = data.draw(st.sampled_from([r.text for r in index.rows]))
        answer = index.answer(question)
        for c in (*answer.citations, *([answer.closest] if answer.closest else [])):
            assert texts[c.doc_id][c.start:c.end] == c.text
