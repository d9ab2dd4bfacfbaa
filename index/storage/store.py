"""One index version on disk: SQLite metadata, embedding matrices and FAISS indexes.

Layout of a version directory::

    meta.sqlite          articles (with their full text) and sentence rows (with their text)
    sentences.npy        float32 [n, dim] embeddings of each sentence alone
    passages.npy         float32 [n, dim] embeddings of each sentence read in its article
                         (one encoder pass over title, previous sentence and what follows)
    rows.npy             int32 [n, 5]: article, paragraph, sentence, start, end of each row
    sentences.faiss      FAISS index over sentences.npy (FAISS id = sentence row): flat, or
                         HNSW over 8-bit codes; answering reads vectors from here (vectors.py)
    passages.faiss       FAISS index over passages.npy
    lexicon/             vocabulary, IDF, and per level the postings (items and BM25 scores
                         of every word; see lexical.py)
    manifest.json        version, model, counts and the sha256 of every other file; written
                         last (a version without it is incomplete)
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.errors import IndexDamaged

SCHEMA = """
CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    published TEXT,
    author TEXT,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    indexed_at TEXT NOT NULL,
    first_row INTEGER NOT NULL,
    n_sentences INTEGER NOT NULL,
    UNIQUE (collection, doc_id)
);
CREATE TABLE sentences (
    row INTEGER PRIMARY KEY,
    article INTEGER NOT NULL REFERENCES articles(id),
    paragraph INTEGER NOT NULL,
    sentence INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX articles_hash ON articles(content_hash);
"""

#: bump when the on-disk layout or the meaning of a stored vector changes; older versions are
#: then neither reused nor opened (2: passages are sentences read in one pass over windows)
FORMAT = 2
#: bump when sentence splitting or word handling changes: unchanged corpora are then rebuilt
#: (embeddings of unchanged sentences are still reused)
TEXT_FORMAT = 2

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ArticleRow:
    id: int
    doc_id: str
    collection: str
    title: str
    url: str | None
    published: str | None
    author: str | None
    source: str
    text: str
    content_hash: str
    indexed_at: str
    first_row: int
    n_sentences: int


@dataclass(frozen=True)
class SentenceRow:
    row: int
    article: int
    paragraph: int
    sentence: int
    start: int
    end: int
    text: str


def create(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    return db


def insert_article(db: sqlite3.Connection, a: ArticleRow,
                   sentences: Iterable[SentenceRow]) -> None:
    db.execute(
        "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (a.id, a.doc_id, a.collection, a.title, a.url, a.published, a.author, a.source,
         a.text, a.content_hash, a.indexed_at, a.first_row, a.n_sentences),
    )
    db.executemany(
        "INSERT INTO sentences VALUES (?,?,?,?,?,?,?)",
        ((s.row, s.article, s.paragraph, s.sentence, s.start, s.end, s.text)
         for s in sentences),
    )


def open_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise IndexDamaged(f"{path} is missing; run `citebot-index build` to rebuild the index")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True,
                             check_same_thread=False)
        db.execute("SELECT count(*) FROM articles").fetchone()
        return db
    except sqlite3.DatabaseError as exc:
        raise IndexDamaged(f"{path} is damaged ({exc}); run `citebot-index build` "
                           "to rebuild the index") from None


def load_articles(db: sqlite3.Connection) -> list[ArticleRow]:
    rows = db.execute("SELECT * FROM articles ORDER BY first_row").fetchall()
    return [ArticleRow(*r) for r in rows]


def load_sentence_table(db: sqlite3.Connection
                        ) -> Sequence[tuple[int, int, int, int, int, str]]:
    """(article, paragraph, sentence, start, end, text) for every row, in row order."""
    return db.execute(
        "SELECT article, paragraph, sentence, start, end, text FROM sentences ORDER BY row"
    ).fetchall()


def sentence_text(db: sqlite3.Connection, row: int) -> str | None:
    """The text stored for sentence `row` when the version was built (None if absent)."""
    found = db.execute("SELECT text FROM sentences WHERE row = ?", (row,)).fetchone()
    return None if found is None else str(found[0])


def write_manifest(version_dir: Path, manifest: dict[str, object]) -> None:
    tmp = version_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    tmp.replace(version_dir / MANIFEST)


def read_manifest(version_dir: Path) -> dict[str, object]:
    path = version_dir / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexDamaged(f"{path} is missing (an incomplete build); "
                           "run `citebot-index build`") from None
    except (OSError, ValueError) as exc:
        raise IndexDamaged(f"{path} is damaged ({exc}); run `citebot-index build`") from None
    if not isinstance(data, dict):
        raise IndexDamaged(f"{path} is damaged; run `citebot-index build`")
    return data


def seal_files(version_dir: Path) -> dict[str, str]:
    """Flush every file of a version to disk; returns their sha256 by relative path (for the
    manifest, so that `verify` can tell a damaged file from a good one)."""
    sealed = {}
    for path in sorted(version_dir.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
            sealed[path.relative_to(version_dir).as_posix()] = _sha256(path)
    return sealed


def verify(version_dir: Path, manifest: dict[str, object],
           names: Iterable[str] | None = None) -> None:
    """IndexDamaged, naming the file, if a file the manifest lists (or those of them in
    `names`) is missing or no longer what was written. Older manifests list no files."""
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        return
    wanted = None if names is None else set(names)
    for name, digest in listed.items():
        if wanted is not None and name not in wanted:
            continue
        path = version_dir / name
        try:
            actual = _sha256(path)
        except FileNotFoundError:
            raise IndexDamaged(f"{path} is missing; run `citebot-index build` "
                               "to rebuild the index") from None
        except OSError as exc:
            raise IndexDamaged(f"{path} is unreadable ({exc.strerror}); "
                               "run `citebot-index build`") from None
        if actual != digest:
            raise IndexDamaged(f"{path} is damaged (it no longer matches the checksum in "
                               f"{MANIFEST}); run `citebot-index build`")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
