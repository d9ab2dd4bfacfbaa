"""`Index`: one opened index version, answering questions with verified citations."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index import segment, store, versions
from index.builder import FORMAT, hnsw_ef_search
from index.embed import Encoder, load_encoder
from index.errors import IndexDamaged, IndexNotFound
from index.lexical import Lexicon
from index.retrieve import Ranker, Ranking
from index.settings import IndexSettings
from index.types import Answer, ArticleInfo, Citation

log = logging.getLogger(__name__)


class CitationMismatch(AssertionError):
    """A quote does not match the stored article text at its span: a bug, never shown as an
    answer."""


@dataclass(frozen=True)
class _Row:
    article: int
    paragraph: int
    sentence: int
    start: int
    end: int
    text: str


class Index:
    """An opened index version. Thread-safe for concurrent `answer` calls.

    Open with `Index.open(settings)`; a newer version built meanwhile is picked up by
    opening again (the old object keeps serving its own version until dropped).
    """

    def __init__(self, settings: IndexSettings, version_dir: Path, encoder: Encoder,
                 articles: list[store.ArticleRow], rows: list[_Row], ranker: Ranker) -> None:
        self.settings = settings
        self.version_dir = version_dir
        self.version = version_dir.name
        self.encoder = encoder
        self.articles = articles
        self.rows = rows
        self.ranker = ranker

    # --- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: IndexSettings) -> Index:
        """Open the current version; if it is damaged, the newest intact older one.

        Raises IndexNotFound when nothing was built yet, IndexDamaged when no version is
        usable (the message names the file and says what to run).
        """
        try:
            current = versions.current_version(settings.data_dir)
            return cls._open_version(settings, current)
        except IndexNotFound:
            raise
        except IndexDamaged as damage:
            for older in reversed(versions.complete_versions(settings.data_dir)):
                try:
                    index = cls._open_version(settings, older)
                except IndexDamaged:
                    continue
                log.warning("%s; serving the last good version %s instead", damage, older.name)
                return index
            raise

    @classmethod
    def _open_version(cls, settings: IndexSettings, version_dir: Path) -> Index:
        import faiss

        manifest = store.read_manifest(version_dir)
        store.verify(version_dir, manifest)
        db = store.open_readonly(version_dir / "meta.sqlite")
        try:
            articles = store.load_articles(db)
            table = store.load_sentence_table(db)
        except Exception as exc:  # sqlite3.DatabaseError and friends on a damaged file
            raise IndexDamaged(f"{version_dir / 'meta.sqlite'} is damaged ({exc}); "
                               "run `citebot-index build`") from None
        finally:
            db.close()
        rows = [_Row(*r) for r in table]

        def load_array(name: str) -> np.ndarray:
            path = version_dir / name
            try:
                # mapped, not read: the pages are shared with the OS cache, and a large
                # corpus does not hold a second copy of its vectors in the process
                array = np.load(path, mmap_mode="r")
            except (OSError, ValueError, EOFError) as exc:
                raise IndexDamaged(f"{path} is damaged or missing ({exc}); "
                                   "run `citebot-index build`") from None
            if array.ndim != 2 or array.shape[0] != len(rows) or array.dtype != np.float32:
                raise IndexDamaged(f"{path} does not match {version_dir / 'meta.sqlite'}; "
                                   "run `citebot-index build`")
            return array

        def load_faiss(name: str) -> object:
            path = version_dir / name
            try:
                index = faiss.read_index(str(path))
            except RuntimeError as exc:
                raise IndexDamaged(f"{path} is damaged or missing ({str(exc).splitlines()[0]}); "
                                   "run `citebot-index build`") from None
            if index.ntotal != len(rows):
                raise IndexDamaged(f"{path} does not match {version_dir / 'meta.sqlite'}; "
                                   "run `citebot-index build`")
            inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
            if hasattr(inner, "hnsw"):
                inner.hnsw.efSearch = hnsw_ef_search(settings.hnsw_ef_search, index.ntotal)
            return index

        sentences = load_array("sentences.npy")
        passages = load_array("passages.npy")
        faiss_sentences = load_faiss("sentences.faiss")
        faiss_passages = load_faiss("passages.faiss")
        try:
            lexicon = Lexicon.load(version_dir / "lexicon")
        except (OSError, ValueError, KeyError) as exc:
            raise IndexDamaged(f"{version_dir / 'lexicon'} is damaged or missing ({exc}); "
                               "run `citebot-index build`") from None
        if manifest.get("format") != FORMAT:
            raise IndexDamaged(f"{version_dir} was built by another version of citebot "
                               f"(index format {manifest.get('format')}, this one reads "
                               f"{FORMAT}); run `citebot-index build` to rebuild it")
        encoder = load_encoder(settings)
        if manifest.get("model") != encoder.label:
            raise IndexDamaged(
                f"{version_dir} was built with the model {manifest.get('model')!r}, but the "
                f"settings ask for {encoder.label!r}; run `citebot-index build`")
        row_article = np.array([r.article for r in rows], dtype=np.int64)
        first = np.array([a.first_row for a in articles], dtype=np.int64)
        counts = np.array([a.n_sentences for a in articles], dtype=np.int64)
        ranker = Ranker(sentences, passages, faiss_sentences, faiss_passages, lexicon,
                        row_article, first, counts, texts=[r.text for r in rows])
        return cls(settings, version_dir, encoder, articles, rows, ranker)

    # --- facts --------------------------------------------------------------------------
    @property
    def article_count(self) -> int:
        return len(self.articles)

    @property
    def sentence_count(self) -> int:
        return len(self.rows)

    def sources(self, collections: Collection[str] | None = None) -> list[ArticleInfo]:
        """The indexed articles (in `collections`, when given), in index order."""
        return [ArticleInfo(a.doc_id, a.title, a.url, a.n_sentences, a.indexed_at, a.source,
                            a.collection)
                for a in self.articles if collections is None or a.collection in collections]

    def paragraph_text(self, citation: Citation) -> str:
        """The whole paragraph a citation was quoted from."""
        article = self._article_at(citation)
        for start, end in segment.paragraphs(article.text):
            if start <= citation.start < end:
                return article.text[start:end]
        return citation.text

    def _article_at(self, citation: Citation) -> store.ArticleRow:
        for a in self.articles:
            if a.doc_id == citation.doc_id and a.text[citation.start:citation.end] == citation.text:
                return a
        raise KeyError(f"{citation.doc_id} is not in index version {self.version}")

    # --- answering ----------------------------------------------------------------------
    def allowed_rows(self, collections: Collection[str] | None = None,
                     doc_ids: Collection[str] | None = None,
                     exclude_doc_ids: Collection[str] = ()) -> np.ndarray | None:
        """Boolean row mask: articles in `collections` and in `doc_ids` (None: no limit),
        less `exclude_doc_ids`. None when nothing is filtered."""
        if collections is None and doc_ids is None and not exclude_doc_ids:
            return None
        # plain set membership: NumPy string arrays would drop trailing NULs and let
        # "doc\0" match "doc"
        colls = None if collections is None else set(collections)
        wanted = None if doc_ids is None else set(doc_ids)
        unwanted = set(exclude_doc_ids)
        ok = np.fromiter(((colls is None or a.collection in colls)
                          and (wanted is None or a.doc_id in wanted)
                          and a.doc_id not in unwanted for a in self.articles),
                         dtype=bool, count=len(self.articles))
        return ok[self.ranker.row_article]

    def rank(self, question: str, allowed: np.ndarray | None = None) -> Ranking:
        q = self.encoder.encode([question])[0]
        return self.ranker.rank(question, q, allowed)

    def answer(self, question: str, k: int | None = None,
               collections: Collection[str] | None = None,
               doc_ids: Collection[str] | None = None,
               exclude_doc_ids: Collection[str] = ()) -> Answer:
        """The sentences that answer `question`, best first, or an abstention.

        `collections` and `doc_ids` limit the articles searched (None: all of them);
        `exclude_doc_ids` leaves articles out.
        """
        k = self.settings.max_citations if k is None else k
        question = question.strip()
        if not question or self.sentence_count == 0:
            return Answer(question, (), True, 0.0, None)
        ranking = self.rank(question, self.allowed_rows(collections, doc_ids, exclude_doc_ids))
        if len(ranking.rows) == 0:
            return Answer(question, (), True, 0.0, None)
        citations = self._cite(ranking, k)
        if ranking.confidence < self.settings.abstain_threshold:
            return Answer(question, (), True, ranking.confidence, citations[0])
        return Answer(question, tuple(citations), False, ranking.confidence, None)

    def _cite(self, ranking: Ranking, k: int) -> list[Citation]:
        """The top sentence, plus runners-up that score close to it (at most `k`)."""
        top = float(ranking.scores[0])
        chosen = [0]
        for i in range(1, min(len(ranking.rows), 10)):
            if len(chosen) >= k:
                break
            if float(ranking.scores[i]) >= top - CITE_MARGIN:
                chosen.append(i)
        return [self.citation(int(ranking.rows[i]), float(ranking.scores[i])) for i in chosen]

    def citation(self, row: int, score: float) -> Citation:
        """The citation for a sentence row, verified against the stored article text."""
        r = self.rows[row]
        a = self.articles[r.article]
        quoted = a.text[r.start:r.end]
        if quoted != r.text or not quoted.strip():
            raise CitationMismatch(
                f"row {row} of {self.version}: stored sentence {r.text!r} does not match "
                f"the article text at [{r.start}, {r.end}): {quoted!r}")
        return Citation(a.doc_id, a.title, a.url, r.paragraph, r.sentence, r.start, r.end,
                        quoted, score)


#: runners-up within this fused-score distance of the best sentence are cited too
CITE_MARGIN = 0.3
