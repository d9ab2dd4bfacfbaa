"""The `milvus` storage backend: index versions as collections of a Milvus server (standalone,
a cluster, or Milvus Lite's server), so that answerers on several machines share one index
and need no local index files.

One version `vNNNNNN` is three collections, written completely before it becomes visible:

    <prefix>_vNNNNNN_sentences  one record per sentence row: its text, article, paragraph,
                                sentence number, span, published date and collection; the
                                sentence's vector and the passage vector (the sentence read
                                in its article); its BM25 weights alone and in its context
                                as sparse vectors (word id -> BM25 of the word in it)
    <prefix>_vNNNNNN_articles   one record per article: its metadata (JSON) and the BM25
                                weights of the whole article (sparse)
    <prefix>_vNNNNNN_meta       the manifest, the vocabulary with its IDF, the sentence spans
                                and the articles' texts, in chunks

The alias `<prefix>_current` names the sentences collection of the version being served:
one `alter_alias` makes a new version visible to every answerer at once (Milvus's own way
to switch), and a build that dies before it leaves nothing visible. BM25 weights are
computed at build time (as for the files backend), so an inner product of a question's
word ids (weight 1) with a stored sparse vector is exactly the BM25 of the files backend.

An answerer reads at opening (once per version) the articles, spans and vocabulary; per
question it searches the vectors and the sparse weights in Milvus and reads its
candidates' vectors and weights by id (a filtered approximate search over few rows is
unreliable, so a small allowed set is scored exactly from its stored vectors), and checks
every quote against the sentence text stored in Milvus. It follows a new version within
`milvus_poll_seconds` (`watch`). A Milvus it cannot reach is `IndexUnreachable`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import IndexDamaged, IndexNotFound, IndexUnreachable
from index.settings import IndexSettings
from index.storage import store
from index.storage.backend import top_items
from index.storage.lexical import LEVELS, Lexicon, Postings, QueryTerms
from index.storage.vectors import HNSW_EF_CONSTRUCTION, HNSW_M, faiss_kind, hnsw_ef_search

log = logging.getLogger(__name__)

TOKEN_ENV = "CITEBOT_MILVUS_TOKEN"
VERSION = re.compile(r"^v(\d{6,})$")
#: a VARCHAR holds at most 65,535 bytes: text in chunks of characters that fit in UTF-8
TEXT_CHUNK = 16_000
BLOB_CHUNK = 60_000
#: rows and articles written per insert call
INSERT_BATCH = 2_000
#: an allowed set of at most this many rows is scored exactly from its stored vectors and
#: weights instead of by a filtered approximate search
EXACT_BELOW = 3_000
#: the stored evidence of this many rows is remembered per opened version (the reference
#: sample, read by every question, stays)
ROW_CACHE = 20_000
GET_BATCH = 4_000
#: versions kept in Milvus: the current one, and the previous one for answerers that have
#: not switched yet
KEEP_VERSIONS = 2


def token(settings: IndexSettings) -> str:
    """The Milvus token: the `milvus_token_file`'s content, else CITEBOT_MILVUS_TOKEN, else
    none. Read when connecting, never kept in the settings (nor logged)."""
    if settings.milvus_token_file:
        path = Path(settings.milvus_token_file).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise IndexUnreachable(f"the Milvus token file {path} cannot be read "
                                   f"({exc.strerror})") from None
    return os.environ.get(TOKEN_ENV, "").strip()


def names(settings: IndexSettings, version: str) -> dict[str, str]:
    base = f"{settings.milvus_prefix}_{version}"
    return {"sentences": f"{base}_sentences", "articles": f"{base}_articles",
            "meta": f"{base}_meta"}


def alias(settings: IndexSettings) -> str:
    return f"{settings.milvus_prefix}_current"


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


@contextlib.contextmanager
def reachable(what: str = "Milvus") -> Iterator[None]:
    """Errors of the Milvus client (server down, network, timeouts) as IndexUnreachable."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except (MilvusException, ConnectionError, TimeoutError) as exc:
        log.warning("%s is unreachable: %s", what, _describe(exc))
        raise IndexUnreachable() from None
    except Exception as exc:  # grpc errors are not MilvusExceptions
        if type(exc).__module__.startswith("grpc"):
            log.warning("%s is unreachable: %s", what, _describe(exc))
            raise IndexUnreachable() from None
        raise


def connect(settings: IndexSettings) -> Any:
    """A client of the `milvus_uri` server (IndexUnreachable if it does not answer)."""
    from pymilvus import MilvusClient

    # it logs every failed call with a traceback (and a missing alias as an error);
    # `reachable` logs one line instead
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

    secret = token(settings)
    with reachable(settings.milvus_uri):
        return MilvusClient(uri=settings.milvus_uri, token=secret,
                            timeout=settings.milvus_timeout)


def current_name(client: Any, settings: IndexSettings) -> str | None:
    """The version the alias names (None: no version was published yet)."""
    from pymilvus.exceptions import MilvusException

    with reachable():
        try:
            described = client.describe_alias(alias(settings))
        except MilvusException as exc:
            if "not" in str(exc).lower() and ("exist" in str(exc).lower()
                                               or "found" in str(exc).lower()):
                return None
            raise
    target = str(described.get("collection_name", ""))
    version = target[len(settings.milvus_prefix) + 1:].split("_", 1)[0]
    return version if VERSION.match(version) else None


def _published(client: Any, settings: IndexSettings) -> dict[str, list[str]]:
    """The collections of every version in Milvus, by version name."""
    found: dict[str, list[str]] = {}
    start = settings.milvus_prefix + "_"
    with reachable():
        listed = client.list_collections()
    for name in listed:
        if name.startswith(start):
            version = name[len(start):].split("_", 1)[0]
            if VERSION.match(version):
                found.setdefault(version, []).append(name)
    return found


# --- writing a version ----------------------------------------------------------------------

def _chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _blob(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _unblob(text: str, dtype: Any) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def _sparse_rows(postings: Postings) -> list[dict[int, float]]:
    """Per item, its BM25 weights by word id (the postings turned around)."""
    words = np.repeat(np.arange(len(postings.starts) - 1, dtype=np.int64),
                      np.diff(postings.starts))
    items = np.asarray(postings.items, dtype=np.int64)
    order = np.argsort(items, kind="stable")
    items, words, weights = items[order], words[order], np.asarray(postings.bm25)[order]
    bounds = np.searchsorted(items, np.arange(postings.size + 1))
    words_list, weights_list = words.tolist(), weights.tolist()
    return [dict(zip(words_list[bounds[i]:bounds[i + 1]], weights_list[bounds[i]:bounds[i + 1]],
                     strict=True)) for i in range(postings.size)]


def _schemas(client: Any, dim: int) -> dict[str, Any]:
    from pymilvus import DataType

    sentences = client.create_schema(auto_id=False, enable_dynamic_field=False)
    sentences.add_field("row", DataType.INT64, is_primary=True)
    for field in ("article", "paragraph", "sentence", "start", "end"):
        sentences.add_field(field, DataType.INT64)
    sentences.add_field("text", DataType.VARCHAR, max_length=65_535)
    sentences.add_field("published", DataType.VARCHAR, max_length=64)
    sentences.add_field("collection", DataType.VARCHAR, max_length=64)
    sentences.add_field("sentence_vector", DataType.FLOAT_VECTOR, dim=dim)
    sentences.add_field("passage_vector", DataType.FLOAT_VECTOR, dim=dim)
    sentences.add_field("bm25_sentence", DataType.SPARSE_FLOAT_VECTOR)
    sentences.add_field("bm25_context", DataType.SPARSE_FLOAT_VECTOR)
    articles = client.create_schema(auto_id=False, enable_dynamic_field=False)
    articles.add_field("id", DataType.INT64, is_primary=True)
    articles.add_field("info", DataType.VARCHAR, max_length=65_535)
    articles.add_field("bm25_article", DataType.SPARSE_FLOAT_VECTOR)
    meta = client.create_schema(auto_id=False, enable_dynamic_field=False)
    meta.add_field("key", DataType.VARCHAR, max_length=128, is_primary=True)
    meta.add_field("data", DataType.VARCHAR, max_length=65_535)
    meta.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # a collection needs a vector
    return {"sentences": sentences, "articles": articles, "meta": meta}


def _index_params(client: Any, part: str, kind: str) -> Any:
    params = client.prepare_index_params()
    if part == "sentences":
        for field in ("sentence_vector", "passage_vector"):
            if kind == "hnsw":
                params.add_index(field, index_type="HNSW", metric_type="IP",
                                 params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
            else:
                params.add_index(field, index_type="FLAT", metric_type="IP")
        for field in ("bm25_sentence", "bm25_context"):
            params.add_index(field, index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    elif part == "articles":
        params.add_index("bm25_article", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    else:
        params.add_index("unused", index_type="FLAT", metric_type="L2")
    return params


def publish(settings: IndexSettings, version_dir: Path,
            progress: Callable[[int, int], None] | None = None) -> str:
    """Write the files version `version_dir` (complete) into Milvus as a new version and make
    it the current one; returns its name there. The caller holds the build lock."""
    client = connect(settings)
    manifest = store.read_manifest(version_dir)
    db = store.open_readonly(version_dir / "meta.sqlite")
    try:
        articles = store.load_articles(db)
        table = store.load_sentence_table(db)
    finally:
        db.close()
    sentence_vectors = np.load(version_dir / "sentences.npy", mmap_mode="r")
    passage_vectors = np.load(version_dir / "passages.npy", mmap_mode="r")
    spans = np.load(version_dir / "rows.npy")
    lexicon = Lexicon.load(version_dir / "lexicon")
    n, dim = int(sentence_vectors.shape[0]), int(sentence_vectors.shape[1])

    published = _published(client, settings)
    current = current_name(client, settings)
    numbers = [int(v[1:]) for v in published] + [int(version_dir.name[1:])]
    name = version_dir.name if int(version_dir.name[1:]) > max(
        [int(v[1:]) for v in published], default=0) else f"v{max(numbers) + 1:06d}"
    collections = names(settings, name)
    kind = faiss_kind(settings.faiss_index, n)
    with reachable():
        for part, schema in _schemas(client, dim).items():
            client.create_collection(collections[part], schema=schema,
                                     index_params=_index_params(client, part, kind))

        by_article = {a.id: a for a in articles}
        sparse = {level: _sparse_rows(lexicon.postings[level]) for level in LEVELS}
        done = 0
        for start in range(0, n, INSERT_BATCH):
            stop = min(n, start + INSERT_BATCH)
            batch = []
            for row in range(start, stop):
                article, paragraph, sentence, begin, end, text = table[row]
                a = by_article[article]
                batch.append({
                    "row": row, "article": article, "paragraph": paragraph,
                    "sentence": sentence, "start": begin, "end": end, "text": text,
                    "published": a.published or "", "collection": a.collection,
                    "sentence_vector": np.asarray(sentence_vectors[row], dtype=np.float32),
                    "passage_vector": np.asarray(passage_vectors[row], dtype=np.float32),
                    "bm25_sentence": sparse["sentence"][row],
                    "bm25_context": sparse["context"][row]})
            client.insert(collections["sentences"], batch)
            done = stop
            if progress:
                progress(done, n)
        for start in range(0, len(articles), INSERT_BATCH):
            client.insert(collections["articles"], [
                {"id": a.id, "info": json.dumps({k: v for k, v in asdict(a).items()
                                                 if k != "text"}),
                 "bm25_article": sparse["article"][a.id]}
                for a in articles[start:start + INSERT_BATCH]])

        words = sorted(lexicon.vocab, key=lexicon.vocab.__getitem__)
        blobs = {
            "manifest": json.dumps({**{k: v for k, v in manifest.items() if k != "files"},
                                    "version": name}),
            "vocab": json.dumps({"words": words, "stopwords": sorted(lexicon.stopwords)}),
            "idf": _blob(np.asarray(lexicon.idf, dtype=np.float32)),
            "spans": _blob(np.asarray(spans, dtype=np.int32)),
        }
        rows: list[dict[str, Any]] = []
        for key, value in blobs.items():
            pieces = _chunks(value, BLOB_CHUNK if key != "vocab" else TEXT_CHUNK)
            rows.extend({"key": f"{key}/{i:06d}", "data": piece, "unused": [0.0, 0.0]}
                        for i, piece in enumerate(pieces))
        for a in articles:
            rows.extend({"key": f"text/{a.id:09d}/{i:06d}", "data": piece,
                         "unused": [0.0, 0.0]}
                        for i, piece in enumerate(_chunks(a.text, TEXT_CHUNK)))
        # the count is written last: a version without it (or with fewer chunks) is not read
        rows.append({"key": "complete", "data": json.dumps({"chunks": len(rows)}),
                     "unused": [0.0, 0.0]})
        for start in range(0, len(rows), 500):
            client.insert(collections["meta"], rows[start:start + 500])
        for part in ("sentences", "articles", "meta"):
            client.flush(collections[part])
            client.load_collection(collections[part])
        if current is None:
            client.create_alias(collections["sentences"], alias(settings))
        else:
            client.alter_alias(collections["sentences"], alias(settings))
        log.info("Milvus %s now serves version %s (%d sentences)", settings.milvus_uri,
                 name, n)
        # keep the version switched to and the one before (answerers may not have followed
        # yet); drop older ones and what dead builds left
        keep = {name} | ({current} if current else set())
        for version, parts in _published(client, settings).items():
            if version not in keep:
                for part in parts:
                    with contextlib.suppress(Exception):
                        client.drop_collection(part)
    return name


def remove_unfinished(settings: IndexSettings) -> None:
    """Drop the collections of versions newer than the current one (a build that died before
    switching left them). The caller holds the build lock."""
    client = connect(settings)
    current = current_name(client, settings)
    for version, parts in _published(client, settings).items():
        if current is None or int(version[1:]) > int(current[1:]):
            for part in parts:
                with reachable():
                    client.drop_collection(part)


def current_fingerprint(settings: IndexSettings) -> object:
    """The fingerprint of the version Milvus serves (None: none), to tell whether a build
    of an unchanged corpus must still publish."""
    client = connect(settings)
    name = current_name(client, settings)
    if name is None:
        return None
    with reachable():
        found = client.get(names(settings, name)["meta"], ids=["manifest/000000"],
                           output_fields=["data"])
    if not found:
        return None
    try:
        return json.loads(found[0]["data"]).get("fingerprint")
    except ValueError:
        return None


# --- reading a version ----------------------------------------------------------------------

class MilvusVersion:
    """One version in Milvus, opened: its articles, spans and vocabulary are held here; its
    vectors, weights and sentence texts are read from Milvus per question."""

    def __init__(self, settings: IndexSettings, client: Any, name: str) -> None:
        self.settings = settings
        self.client = client
        self.name = name
        self.collections = names(settings, name)
        where = f"{settings.milvus_uri} ({self.collections['sentences']})"
        blobs: dict[str, list[tuple[str, str]]] = {}
        with reachable():
            iterator = client.query_iterator(self.collections["meta"], batch_size=1000,
                                             filter='key != ""', output_fields=["key", "data"])
            try:
                while page := iterator.next():
                    for record in page:
                        key = str(record["key"])
                        blobs.setdefault(key.rsplit("/", 1)[0], []).append(
                            (key, str(record["data"])))
            finally:
                iterator.close()

        def joined(key: str) -> str:
            return "".join(data for _, data in sorted(blobs.get(key, [])))

        try:
            complete = json.loads(joined("complete"))
            if sum(len(v) for k, v in blobs.items() if k != "complete") != complete["chunks"]:
                raise ValueError("chunks are missing")
            manifest = json.loads(joined("manifest"))
            vocab = json.loads(joined("vocab"))
            idf = _unblob(joined("idf"), np.float32)
            spans = _unblob(joined("spans"), np.int32).reshape(-1, 5)
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexDamaged(f"index version {name} in Milvus {where} is incomplete or "
                               f"damaged ({exc}); run `citebot-index build`") from None
        from index.storage.files import check_format

        check_format(f"index version {name} in Milvus {where}", manifest)
        self.manifest: dict[str, object] = manifest
        self.spans = np.array(spans)
        self.n = len(self.spans)
        if self.n != int(str(manifest.get("sentences", -1))):
            raise IndexDamaged(f"index version {name} in Milvus {where} is damaged (its spans "
                               "do not match its manifest); run `citebot-index build`")
        words: list[str] = vocab["words"]
        self.lexicon = Lexicon({w: i for i, w in enumerate(words)}, np.array(idf), {},
                               frozenset(vocab["stopwords"]))
        infos: list[dict[str, Any]] = []
        with reachable():
            iterator = client.query_iterator(self.collections["articles"], batch_size=1000,
                                             filter="id >= 0", output_fields=["id", "info"])
            try:
                while page := iterator.next():
                    infos.extend(json.loads(str(r["info"])) for r in page)
            finally:
                iterator.close()
        infos.sort(key=lambda info: int(info["id"]))
        self.articles = [store.ArticleRow(**{**info, "text": joined(f"text/{info['id']:09d}")})
                         for info in infos]
        if len(self.articles) != int(str(manifest.get("articles", -1))):
            raise IndexDamaged(f"index version {name} in Milvus {where} is damaged (articles "
                               "are missing); run `citebot-index build`")
        self.ef = hnsw_ef_search(settings.hnsw_ef_search, self.n)
        self._rows: OrderedDict[int, tuple[np.ndarray, np.ndarray, dict[int, float],
                                           dict[int, float]]] = OrderedDict()
        self._article_weights: dict[int, dict[int, float]] = {}
        self._lock = threading.Lock()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`client.<method>(...)`; a restarted Milvus that released the collections has them
        loaded again first."""
        from pymilvus.exceptions import MilvusException

        with reachable():
            try:
                return getattr(self.client, method)(*args, **kwargs)
            except MilvusException as exc:
                if "load()" not in str(exc) and "not loaded" not in str(exc):
                    raise
                self._load()
                return getattr(self.client, method)(*args, **kwargs)

    def _load(self) -> None:
        """Load the version's collections, and wait (up to 5 timeouts) until the server
        says they are loaded: a busy restarted server may answer a load before it is done."""
        from pymilvus.client.types import LoadState

        deadline = time.monotonic() + 5 * self.settings.milvus_timeout
        for collection in self.collections.values():
            self.client.load_collection(collection)
            while (self.client.get_load_state(collection)["state"] != LoadState.Loaded
                   and time.monotonic() < deadline):
                time.sleep(0.1)

    # --- per row evidence, remembered ----------------------------------------------------
    def fetch(self, rows: np.ndarray) -> None:
        """Read the vectors and weights of those of `rows` not remembered yet."""
        with self._lock:
            missing = [int(r) for r in rows.tolist() if int(r) not in self._rows]
        for start in range(0, len(missing), GET_BATCH):
            ids = missing[start:start + GET_BATCH]
            found = self.call("get", self.collections["sentences"], ids=ids,
                              output_fields=["sentence_vector", "passage_vector",
                                             "bm25_sentence", "bm25_context"])
            with self._lock:
                for record in found:
                    self._rows[int(record["row"])] = (
                        np.asarray(record["sentence_vector"], dtype=np.float32),
                        np.asarray(record["passage_vector"], dtype=np.float32),
                        _as_sparse(record["bm25_sentence"]), _as_sparse(record["bm25_context"]))
                while len(self._rows) > ROW_CACHE:
                    self._rows.popitem(last=False)
            if len(found) != len(ids):
                raise IndexDamaged(f"index version {self.name} in Milvus lacks sentence rows; "
                                   "run `citebot-index build`")

    def row(self, row: int) -> tuple[np.ndarray, np.ndarray, dict[int, float], dict[int, float]]:
        with self._lock:
            found = self._rows.get(row)
            if found is not None:
                self._rows.move_to_end(row)
                return found
        self.fetch(np.array([row]))
        with self._lock:
            return self._rows[row]

    def article_weights(self, articles: np.ndarray) -> list[dict[int, float]]:
        missing = [int(a) for a in articles.tolist() if int(a) not in self._article_weights]
        for start in range(0, len(missing), GET_BATCH):
            found = self.call("get", self.collections["articles"],
                              ids=missing[start:start + GET_BATCH],
                              output_fields=["bm25_article"])
            with self._lock:
                for record in found:
                    self._article_weights[int(record["id"])] = _as_sparse(record["bm25_article"])
        return [self._article_weights.get(int(a), {}) for a in articles.tolist()]

    def evidence(self, question: str, q: np.ndarray) -> MilvusEvidence:
        return MilvusEvidence(self, question, q)

    def stored_texts(self, rows: Sequence[int]) -> list[str | None]:
        wanted = [int(r) for r in rows]
        if not wanted:
            return []
        found = self.call("get", self.collections["sentences"], ids=wanted,
                          output_fields=["text"])
        texts = {int(r["row"]): str(r["text"]) for r in found}
        return [texts.get(r) for r in wanted]


def _as_sparse(value: Any) -> dict[int, float]:
    if isinstance(value, dict):
        return {int(k): float(v) for k, v in value.items()}
    if hasattr(value, "tocoo"):  # a scipy row
        coo = value.tocoo()
        return {int(k): float(v) for k, v in zip(coo.col, coo.data, strict=True)}
    return {}


def _filter(allowed: np.ndarray, row_article: np.ndarray) -> str:
    """A Milvus filter expression selecting the rows of `allowed`: the articles with an
    allowed row, less the rows of theirs that are not allowed."""
    articles = np.unique(row_article[allowed])
    inside = np.isin(row_article, articles)
    left_out = np.flatnonzero(inside & ~allowed)
    all_articles = int(row_article.max()) + 1 if len(row_article) else 0
    if len(articles) * 2 > all_articles:
        outside = np.setdiff1d(np.arange(all_articles), articles)
        expr = f"article not in {outside.tolist()}" if len(outside) else ""
    else:
        expr = f"article in {articles.tolist()}"
    if len(left_out):
        expr = f"({expr}) and row not in {left_out.tolist()}" if expr \
            else f"row not in {left_out.tolist()}"
    return expr


class MilvusEvidence:
    """A question's evidence from a version in Milvus."""

    FIELDS = {"sentences": "sentence_vector", "passages": "passage_vector",
              "sentence": "bm25_sentence", "context": "bm25_context"}

    def __init__(self, version: MilvusVersion, question: str, q: np.ndarray) -> None:
        self.version = version
        self.q = q
        self.terms: QueryTerms = version.lexicon.query(question)
        self.words = [int(w) for w in self.terms.ids]
        self._row_article = np.asarray(version.spans[:, 0], dtype=np.int64)

    def _search(self, field: str, data: Any, k: int, allowed: np.ndarray | None,
                collection: str = "sentences") -> np.ndarray:
        expr = "" if allowed is None else (
            _filter(allowed, self._row_article) if collection == "sentences"
            else f"id in {np.flatnonzero(allowed).tolist()}")
        params: dict[str, Any] = {"metric_type": "IP"}
        if field.endswith("_vector"):
            params["params"] = {"ef": max(self.version.ef, k)}
        found = self.version.call(
            "search", self.version.collections[collection], data=[data], anns_field=field,
            limit=k, filter=expr, search_params=params, output_fields=[])
        hits = found[0] if found else []
        key = "id" if collection == "articles" else "row"
        return np.array([int(h[key]) if key in h else int(h["id"]) for h in hits
                         if not field.startswith("bm25") or float(h["distance"]) > 0],
                        dtype=np.int64)

    def dense(self, kind: str, k: int, allowed: np.ndarray | None) -> np.ndarray:
        k = min(k, self.version.n)
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        if allowed is not None:
            rows = np.flatnonzero(allowed)
            if len(rows) == 0:
                return rows.astype(np.int64)
            if len(rows) <= EXACT_BELOW:
                scores = self.vectors(kind, rows) @ self.q
                return rows[np.argsort(-scores, kind="stable")[:k]].astype(np.int64)
        return self._search(self.FIELDS[kind], np.asarray(self.q, dtype=np.float32), k, allowed)

    def top(self, level: str, k: int, allowed: np.ndarray | None) -> np.ndarray:
        if not self.words:
            return np.zeros(0, dtype=np.int64)
        query = dict.fromkeys(self.words, 1.0)
        if level == "article":
            return self._search("bm25_article", query, k, allowed, "articles")
        if allowed is not None:
            rows = np.flatnonzero(allowed)
            if len(rows) <= EXACT_BELOW:
                scores = np.zeros(self.version.n, dtype=np.float32)
                scores[rows] = self.bm25(level, rows)
                return top_items(scores, k, allowed)
        return self._search(self.FIELDS[level], query, k, allowed)

    def prefetch(self, rows: np.ndarray, articles: np.ndarray) -> None:
        self.version.fetch(rows)
        self.version.article_weights(articles)

    def _weights(self, level: str, items: np.ndarray) -> list[dict[int, float]]:
        if level == "article":
            return self.version.article_weights(np.asarray(items))
        self.version.fetch(np.asarray(items))
        slot = 2 if level == "sentence" else 3
        return [self.version.row(int(i))[slot] for i in np.asarray(items).tolist()]  # type: ignore[misc]

    def vectors(self, kind: str, rows: np.ndarray) -> np.ndarray:
        self.version.fetch(np.asarray(rows))
        slot = 0 if kind == "sentences" else 1
        if len(rows) == 0:
            return np.zeros((0, len(self.q)), dtype=np.float32)
        return np.stack([self.version.row(int(r))[slot] for r in np.asarray(rows).tolist()])  # type: ignore[misc]

    def bm25(self, level: str, items: np.ndarray) -> np.ndarray:
        words = self.words
        return np.array([sum(w.get(t, 0.0) for t in words) for w in self._weights(level, items)],
                        dtype=np.float32)

    def coverage(self, level: str, items: np.ndarray) -> np.ndarray:
        terms = self.terms
        if terms.empty or terms.total_idf <= 0:
            return np.zeros(len(items), dtype=np.float32)
        idf = terms.idf.astype(np.float32).tolist()
        found = np.array([sum(weight for t, weight in zip(self.words, idf, strict=True)
                              if t in w) for w in self._weights(level, items)],
                         dtype=np.float32)
        return found / np.float32(terms.total_idf)

    def names(self, level: str, items: np.ndarray) -> np.ndarray:
        terms = self.terms
        if terms.name_count == 0:
            return np.ones(len(items), dtype=np.float32)
        if len(terms.name_ids) == 0:
            return np.zeros(len(items), dtype=np.float32)
        wanted = [int(t) for t in terms.name_ids]
        found = np.array([sum(t in w for t in wanted) for w in self._weights(level, items)],
                         dtype=np.float32)
        return found / terms.name_count

    def pairs_found(self, question: str, groups: Sequence[np.ndarray]
                    ) -> tuple[np.ndarray, int] | None:
        return None  # no sentence words in Milvus: the ranker tokenizes the texts


def open_current(settings: IndexSettings, client: Any | None = None) -> MilvusVersion:
    """The version the alias names. IndexNotFound if none was published, IndexUnreachable
    if Milvus does not answer."""
    client = client or connect(settings)
    name = current_name(client, settings)
    if name is None:
        raise IndexNotFound(f"no index in Milvus {settings.milvus_uri} yet (no alias "
                            f"{alias(settings)}); run `citebot-index build` to build one")
    return MilvusVersion(settings, client, name)
